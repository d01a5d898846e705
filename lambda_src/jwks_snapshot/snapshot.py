"""The snapshot step: fetch, validate, compare, and write only a changed, valid JWKS."""

from collections.abc import Callable
from dataclasses import dataclass

from jwks_snapshot.store import SnapshotParameter, choose_tier
from jwks_snapshot.validation import validate_jwks


@dataclass(frozen=True)
class SnapshotResult:
    """The outcome of one refresh: the keys now in the parameter and whether this run wrote them."""

    parameter_name: str
    kids: tuple[str, ...]
    changed: bool
    version: int | None
    tier: str | None


class JwksSnapshotter:
    """Copy the JWKS at a URL into the snapshot parameter.

    The parameter is written only after the fetched document passed
    validation and only when its canonical form differs from the stored one.
    A failed fetch or an invalid document raises before any write, so a good
    snapshot is never replaced by a bad one.
    """

    def __init__(self, jwks_url: str, parameter: SnapshotParameter, fetch: Callable[[str], bytes]) -> None:
        self._jwks_url = jwks_url
        self._parameter = parameter
        self._fetch = fetch

    @property
    def parameter_name(self) -> str:
        """Name of the SSM parameter this snapshotter writes."""
        return self._parameter.name

    def refresh(self) -> SnapshotResult:
        """Fetch and validate the JWKS, then write it if it changed. Raises a SnapshotError on failure."""
        validated = validate_jwks(self._fetch(self._jwks_url))
        previous_value = self._parameter.read()

        if previous_value == validated.canonical_json:
            return SnapshotResult(self._parameter.name, validated.kids, changed=False, version=None, tier=None)

        tier = choose_tier(validated.canonical_json, previous_value)
        version = self._parameter.write(validated.canonical_json, tier=tier)
        return SnapshotResult(self._parameter.name, validated.kids, changed=True, version=version, tier=tier)

    def delete(self) -> bool:
        """Delete the snapshot parameter and return True, or return False if it did not exist."""
        return self._parameter.delete()
