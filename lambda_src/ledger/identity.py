"""The verified identity that the Gateway REQUEST interceptor writes into the tool arguments.

The interceptor verifies the user's access token, removes any caller-supplied
value under ``VERIFIED_IDENTITY_KEY`` and writes
``{"sub", "scopes", "client_id", "session_id"}`` there. The ledger trusts this
key because only the Gateway's role may invoke the function. It never reads a
customer id from any other argument.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mesh_identity.constants import VERIFIED_IDENTITY_KEY
from mesh_identity.errors import InvalidHeader
from mesh_identity.headers import validate_session_id

from ledger.errors import AccessDeniedError

# Characters that STS accepts in a session tag value and that cannot break a
# log line or a DynamoDB key. A Cognito sub is a UUID, which fits.
_SUB_PATTERN: Final = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")
# Cognito app client ids are up to 128 word characters.
_CLIENT_ID_PATTERN: Final = re.compile(r"[\w+-]{1,128}", re.ASCII)
_SCOPE_PATTERN: Final = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,256}")
_MAX_SCOPES: Final = 50
_MALFORMED: Final = "identity_malformed"


@dataclass(frozen=True)
class VerifiedIdentity:
    """The end user on whose behalf the tool runs, as verified by the interceptor."""

    sub: str
    scopes: frozenset[str]
    client_id: str
    session_id: str


def parse_verified_identity(event: Mapping[str, Any]) -> VerifiedIdentity:
    """Read the verified identity from the event, raising AccessDeniedError if it is missing or malformed.

    ``scopes`` may be a list of scope strings or one space-separated string,
    the form of the ``scope`` claim. Extra members are ignored.
    """
    raw = event.get(VERIFIED_IDENTITY_KEY)
    if raw is None:
        raise AccessDeniedError("verified identity missing from the event", reason="identity_missing")
    if not isinstance(raw, Mapping):
        raise AccessDeniedError(
            f"verified identity is a {type(raw).__name__}, expected an object", reason=_MALFORMED
        )

    sub = _require_string(raw, "sub", _SUB_PATTERN)
    client_id = _require_string(raw, "client_id", _CLIENT_ID_PATTERN)
    session_id = _require_session_id(raw)
    scopes = _parse_scopes(raw.get("scopes"))

    return VerifiedIdentity(sub=sub, scopes=scopes, client_id=client_id, session_id=session_id)


def _require_string(raw: Mapping[str, Any], member: str, pattern: re.Pattern[str]) -> str:
    value = raw.get(member)
    if not isinstance(value, str):
        raise AccessDeniedError(f"verified identity member {member} is missing or not a string", reason=_MALFORMED)
    if not pattern.fullmatch(value):
        raise AccessDeniedError(f"verified identity member {member} has an invalid format", reason=_MALFORMED)
    return value


def _require_session_id(raw: Mapping[str, Any]) -> str:
    value = raw.get("session_id")
    if not isinstance(value, str):
        raise AccessDeniedError("verified identity member session_id is missing or not a string", reason=_MALFORMED)
    # The same rule as the session header that the interceptor read the value from.
    try:
        return validate_session_id(value)
    except InvalidHeader as error:
        raise AccessDeniedError(
            "verified identity member session_id has an invalid format", reason=_MALFORMED
        ) from error


def _parse_scopes(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        scopes = value.split()
    elif isinstance(value, (list, tuple)) and all(isinstance(scope, str) for scope in value):
        scopes = list(value)
    else:
        raise AccessDeniedError(
            "verified identity member scopes is missing or not a list of strings", reason=_MALFORMED
        )

    if len(scopes) > _MAX_SCOPES:
        raise AccessDeniedError(f"verified identity has more than {_MAX_SCOPES} scopes", reason=_MALFORMED)
    if not all(_SCOPE_PATTERN.fullmatch(scope) for scope in scopes):
        raise AccessDeniedError("verified identity member scopes contains an invalid scope", reason=_MALFORMED)
    return frozenset(scopes)
