"""SigV4 verification on the receiving side, the way an AWS endpoint checks a request.

`SigV4Verifier` takes the ``Authorization`` header apart and looks the access
key up in a `CredentialRegistry`. It rebuilds the canonical request from only
the headers listed in ``SignedHeaders`` (every copy of a repeated header, as
sent), signs it again with botocore's `SigV4Auth` and the request's own
``X-Amz-Date``, and compares the signatures in constant time. botocore does the
canonicalisation, so a mismatch points at the request, not at a second SigV4
implementation.

Checks beyond the signature itself:

- the credential scope names this endpoint's region and signing name, and the
  date of ``X-Amz-Date``;
- ``X-Amz-Date`` lies at most 5 minutes from the verifier's clock, the skew
  AWS allows, so a request captured and replayed later is rejected;
- the session token in ``X-Amz-Security-Token`` belongs to the access key;
- every header the endpoint relies on (passed to the agent or the
  interceptor) is inside ``SignedHeaders``.

Like AWS, the verifier keeps no nonce, so the same signed request replayed
within the 5-minute window verifies again. TLS is what stops capture.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM: Final = "AWS4-HMAC-SHA256"
# Maximum difference between X-Amz-Date and the receiver's clock (seconds).
MAX_CLOCK_SKEW_SECONDS: Final = 300
AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
# Headers that SigV4 requires in SignedHeaders whenever they are sent.
_ALWAYS_SIGNED: Final = frozenset({"host", "x-amz-date", "x-amz-security-token"})
_SIGNATURE_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
_ACCESS_KEY_ALPHABET: Final = string.ascii_uppercase + string.digits


class SigV4Rejected(Exception):
    """The request failed SigV4 verification.

    ``error_code`` is the AWS error type the endpoint returns,
    ``reason`` the snake_case code for the audit record.
    """

    def __init__(self, error_code: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """An IAM role of the local mesh and the temporary credentials issued for it.

    ``role_logical_id`` is the role's logical id in the mesh template, or None
    for a role that the template does not define (an intruder).
    """

    name: str
    role_arn: str
    role_logical_id: str | None
    credentials: Credentials = field(repr=False)


class CredentialRegistry:
    """Issue role credentials and find the principal that owns an access key."""

    def __init__(self) -> None:
        self._by_access_key: dict[str, Principal] = {}
        self._by_name: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def issue(self, name: str, *, role_arn: str, role_logical_id: str | None) -> Principal:
        """Create random temporary credentials for the role and register them under ``name``."""
        # "ASIA" marks temporary (STS) access keys, like the credentials of an assumed role.
        access_key = "ASIA" + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(16))
        credentials = Credentials(access_key, secrets.token_urlsafe(30), secrets.token_urlsafe(48))
        principal = Principal(name=name, role_arn=role_arn, role_logical_id=role_logical_id, credentials=credentials)
        with self._lock:
            if name in self._by_name:
                raise ValueError(f"principal {name!r} is already registered")
            self._by_access_key[access_key] = principal
            self._by_name[name] = principal
        return principal

    def by_access_key(self, access_key: str) -> Principal | None:
        """Return the principal that owns ``access_key``, or None."""
        with self._lock:
            return self._by_access_key.get(access_key)

    def by_name(self, name: str) -> Principal:
        """Return the principal registered under ``name``; raise KeyError naming the known ones."""
        with self._lock:
            principal = self._by_name.get(name)
            if principal is None:
                raise KeyError(f"no principal {name!r}; known principals are {sorted(self._by_name)}")
            return principal


@dataclass(frozen=True)
class ReceivedRequest:
    """An HTTP request as the endpoint received it.

    ``target`` is the request target exactly as sent (path and query, still
    percent-encoded), because SigV4 signs the encoded form. ``headers`` keeps
    every header line in order, duplicates included.
    """

    method: str
    target: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        """Return every value of header ``name`` (compared case-insensitively)."""
        wanted = name.lower()
        return [value for header, value in self.headers if header.lower() == wanted]

    def header_names(self) -> set[str]:
        """Return the lower-case names of the headers present."""
        return {header.lower() for header, _ in self.headers}


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class SigV4Verifier:
    """Verify SigV4-signed requests for one endpoint (region and signing name).

    Parameters
    ----------
    registry:
        The credentials the endpoint accepts.
    region, service:
        The credential scope the endpoint accepts.
    clock:
        Seconds since the epoch; tests move it to check the skew rule.
    """

    def __init__(
        self,
        registry: CredentialRegistry,
        *,
        region: str,
        service: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._region = region
        self._service = service
        self._clock = clock

    def verify(self, request: ReceivedRequest, *, must_sign: Iterable[str] = ()) -> Principal:
        """Return the principal that signed ``request``, or raise `SigV4Rejected`.

        ``must_sign`` names headers that must be inside the signature when
        they are present, because the endpoint passes them on.
        """
        authorization = _single_header(request, "authorization", "MissingAuthenticationTokenException")
        parsed = _parse_authorization(authorization)
        self._check_scope(parsed)
        amz_date = _single_header(request, "x-amz-date", "IncompleteSignatureException")
        self._check_date(parsed, amz_date)
        _check_signed_headers(request, parsed, must_sign)

        principal = self._registry.by_access_key(parsed.access_key)
        if principal is None:
            raise SigV4Rejected(
                "UnrecognizedClientException",
                "sigv4_unknown_access_key",
                "The security token included in the request is invalid.",
            )
        _check_session_token(request, principal)

        expected = _expected_signature(request, parsed, amz_date, principal.credentials)
        if not hmac.compare_digest(expected, parsed.signature):
            raise SigV4Rejected(
                "InvalidSignatureException",
                "sigv4_signature_mismatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return principal

    def _check_scope(self, parsed: _Authorization) -> None:
        if parsed.region != self._region:
            raise SigV4Rejected(
                "InvalidSignatureException",
                "sigv4_wrong_region",
                f"Credential should be scoped to region {self._region!r}, not {parsed.region[:32]!r}.",
            )
        if parsed.service != self._service:
            raise SigV4Rejected(
                "InvalidSignatureException",
                "sigv4_wrong_service",
                f"Credential should be scoped to correct service: {self._service!r}.",
            )

    def _check_date(self, parsed: _Authorization, amz_date: str) -> None:
        try:
            signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise SigV4Rejected(
                "IncompleteSignatureException",
                "sigv4_date_invalid",
                f"X-Amz-Date must have the form {AMZ_DATE_FORMAT}.",
            ) from None
        if not amz_date.startswith(parsed.date):
            raise SigV4Rejected(
                "InvalidSignatureException",
                "sigv4_scope_date_mismatch",
                "The credential scope date differs from X-Amz-Date.",
            )
        skew = signed_at - self._clock()
        if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
            raise SigV4Rejected(
                "InvalidSignatureException",
                "sigv4_signature_expired" if skew < 0 else "sigv4_signature_not_yet_valid",
                f"Signature expired: X-Amz-Date {amz_date} is more than {MAX_CLOCK_SKEW_SECONDS} seconds "
                "from the current time.",
            )


def _single_header(request: ReceivedRequest, name: str, error_code: str) -> str:
    values = request.header_values(name)
    if not values:
        raise SigV4Rejected(error_code, f"sigv4_{name.replace('-', '_')}_missing", f"The request has no {name} header.")
    if len(values) > 1:
        raise SigV4Rejected(
            "IncompleteSignatureException",
            f"sigv4_{name.replace('-', '_')}_duplicate",
            f"The {name} header appears {len(values)} times.",
        )
    return values[0].strip()


def _parse_authorization(value: str) -> _Authorization:
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Rejected(
            "IncompleteSignatureException", "sigv4_algorithm_invalid", f"Authorization must use {ALGORITHM}."
        )
    parts: dict[str, str] = {}
    for component in rest.split(","):
        name, separator, component_value = component.strip().partition("=")
        if not separator or name in parts:
            raise SigV4Rejected(
                "IncompleteSignatureException", "sigv4_authorization_malformed", "Authorization is malformed."
            )
        parts[name] = component_value
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise SigV4Rejected(
            "IncompleteSignatureException",
            "sigv4_authorization_malformed",
            "Authorization must contain exactly Credential, SignedHeaders and Signature.",
        )

    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise SigV4Rejected(
            "IncompleteSignatureException",
            "sigv4_credential_malformed",
            "Credential must have the form <access key>/<date>/<region>/<service>/aws4_request.",
        )
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if list(signed_headers) != sorted(set(signed_headers)) or any(
        name != name.lower() or not name for name in signed_headers
    ):
        raise SigV4Rejected(
            "IncompleteSignatureException",
            "sigv4_signed_headers_malformed",
            "SignedHeaders must list distinct lower-case header names in sorted order.",
        )
    if _SIGNATURE_PATTERN.fullmatch(parts["Signature"]) is None:
        raise SigV4Rejected(
            "IncompleteSignatureException", "sigv4_signature_malformed", "Signature must be 64 lower-case hex digits."
        )
    return _Authorization(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=signed_headers,
        signature=parts["Signature"],
    )


def _check_signed_headers(request: ReceivedRequest, parsed: _Authorization, must_sign: Iterable[str]) -> None:
    signed = set(parsed.signed_headers)
    present = request.header_names()
    absent = sorted(signed - present)
    if absent:
        raise SigV4Rejected(
            "InvalidSignatureException",
            "sigv4_signed_header_absent",
            f"Signed headers are not in the request: {absent}.",
        )
    required = (_ALWAYS_SIGNED | {name.lower() for name in must_sign}) & present
    unsigned = sorted(required - signed)
    if unsigned:
        raise SigV4Rejected(
            "InvalidSignatureException",
            "sigv4_header_not_signed",
            f"These headers must be inside the signature: {unsigned}. Set them before signing.",
        )


def _check_session_token(request: ReceivedRequest, principal: Principal) -> None:
    tokens = request.header_values("x-amz-security-token")
    expected = principal.credentials.token
    if expected is None:
        valid = not tokens
    else:
        valid = len(tokens) == 1 and hmac.compare_digest(tokens[0].strip(), expected)
    if not valid:
        raise SigV4Rejected(
            "UnrecognizedClientException",
            "sigv4_session_token_invalid",
            "The security token included in the request is invalid.",
        )


def _expected_signature(
    request: ReceivedRequest, parsed: _Authorization, amz_date: str, credentials: Credentials
) -> str:
    host = request.header_values("host")[0] if request.header_values("host") else ""
    rebuilt = AWSRequest(method=request.method, url=f"http://{host}{request.target}", data=request.body)
    # botocore's HTTPHeaders appends on assignment, so repeated headers keep every
    # value; the canonical form joins them with commas, as the sender's signer did.
    for name, value in request.headers:
        if name.lower() in parsed.signed_headers:
            rebuilt.headers[name] = value
    rebuilt.context["timestamp"] = amz_date

    signer = SigV4Auth(
        Credentials(parsed.access_key, credentials.secret_key, credentials.token), parsed.service, parsed.region
    )
    canonical_request = signer.canonical_request(rebuilt)
    string_to_sign = signer.string_to_sign(rebuilt, canonical_request)
    return signer.signature(string_to_sign, rebuilt)


def sign_headers(
    method: str,
    url: str,
    *,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    signed_at: datetime | None = None,
) -> list[tuple[str, str]]:
    """Sign a request and return every header line to send, ``Authorization`` last.

    Unlike `mesh_identity.signing.sign_request`, this keeps repeated headers
    repeated (each is signed as the receiver canonicalises it) and can sign
    at a chosen time, so tests can build requests that only a hostile or
    broken client would send.
    """
    amz_date = (signed_at or datetime.now(UTC)).strftime(AMZ_DATE_FORMAT)
    host = urlsplit(url).netloc
    lines = [(name, value) for name, value in headers if name.lower() != "host"]
    lines += [("Host", host), ("X-Amz-Date", amz_date)]
    if credentials.token:
        lines.append(("X-Amz-Security-Token", credentials.token))

    request = AWSRequest(method=method, url=url, data=body)
    for name, value in lines:
        request.headers[name] = value
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(credentials, service, region)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    signed_names = signer.signed_headers(signer.headers_to_sign(request))
    authorization = (
        f"{ALGORITHM} Credential={signer.scope(request)}, SignedHeaders={signed_names}, Signature={signature}"
    )
    return [*lines, ("Authorization", authorization)]
