"""Reading the mesh's identity headers from a request, strictly.

HTTP header names are case-insensitive, so they are compared that way.
Custom headers have been observed to reach a Gateway interceptor in lower
case. A header the mesh relies on must appear exactly once. Two copies, even
with different letter case, are rejected rather than resolved, because a
proxy and this code could pick different ones.

Comma-joined values are not split. An intermediary that folds two header
lines into one produces ``"a, b"``, which fails the value checks instead:
a JWT contains no comma or space, and neither does a valid session id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final, Union

from . import constants
from .errors import DuplicateHeader, InvalidHeader, MissingHeader

HeaderSource = Union[Mapping[str, object], Iterable[tuple[str, object]]]

# Characters of a runtime session id: the pattern AWS documents for AgentCore
# Runtime session ids in the AWS Assurance SessionDetail API, less "/", which
# the ledger rejects because the id becomes part of keys and log fields.
_SESSION_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_BEARER_PATTERN: Final = re.compile(r"Bearer +([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)
_USER_TOKEN_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]+")


def find_single_header(headers: HeaderSource | None, name: str) -> str:
    """Return the value of header ``name``, which must appear exactly once.

    ``headers`` is a mapping (values may be strings or single-item lists, as
    in multi-value header maps) or an iterable of ``(name, value)`` pairs.
    Surrounding whitespace is stripped from the value.

    Raises `MissingHeader` if the header is absent or empty, `DuplicateHeader`
    if it appears more than once under any letter case, and `InvalidHeader`
    if its value is not a string.
    """
    expected_name = name.lower()
    values: list[object] = []
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for header_name, value in pairs:
        if isinstance(header_name, str) and header_name.lower() == expected_name:
            if isinstance(value, (list, tuple)):
                values.extend(value)
            else:
                values.append(value)

    if len(values) > 1:
        raise DuplicateHeader(f"Header {name} appears {len(values)} times; send it exactly once")
    if not values or values[0] is None:
        raise MissingHeader(f"Header {name} is missing")

    value = values[0]
    if not isinstance(value, str):
        raise InvalidHeader(f"Header {name} must be a string, received {type(value).__name__}")
    value = value.strip()
    if not value:
        raise MissingHeader(f"Header {name} is empty")
    return value


def bearer_token(authorization_value: str) -> str:
    """Return the token of an ``Authorization: Bearer <token>`` value.

    The scheme is matched case-insensitively. Raises `MissingHeader` for an
    empty value and `InvalidHeader` for any other scheme or form.
    """
    if not isinstance(authorization_value, str) or not authorization_value.strip():
        raise MissingHeader(f"Header {constants.AUTHORIZATION_HEADER} is empty")
    match = _BEARER_PATTERN.fullmatch(authorization_value.strip())
    if match is None:
        raise InvalidHeader(
            f"Header {constants.AUTHORIZATION_HEADER} must have the form 'Bearer <token>'"
        )
    return match.group(1)


def user_token_from_headers(headers: HeaderSource | None) -> str:
    """Return the raw user access token from the mesh's user-token header.

    The header carries the token itself, without a ``Bearer`` prefix, and at
    most `MAX_HEADER_VALUE_BYTES` bytes (the AgentCore Runtime limit).
    """
    value = find_single_header(headers, constants.USER_TOKEN_HEADER)
    return validate_user_token(value)


def session_id_from_headers(headers: HeaderSource | None) -> str:
    """Return the runtime session id from the mesh's session header, validated."""
    value = find_single_header(headers, constants.SESSION_ID_HEADER)
    return validate_session_id(value)


def validate_user_token(value: str) -> str:
    """Return ``value`` if it has the form of a raw JWT that fits a header; raise `InvalidHeader`."""
    if len(value) > constants.MAX_HEADER_VALUE_BYTES:
        raise InvalidHeader(
            f"Header {constants.USER_TOKEN_HEADER} is longer than {constants.MAX_HEADER_VALUE_BYTES} bytes"
        )
    if _USER_TOKEN_PATTERN.fullmatch(value) is None:
        raise InvalidHeader(
            f"Header {constants.USER_TOKEN_HEADER} must contain only the raw access token "
            "(base64url segments and dots, no 'Bearer ' prefix)"
        )
    return value


def validate_session_id(value: str) -> str:
    """Return ``value`` if it is a valid runtime session id; raise `InvalidHeader` otherwise.

    A valid id has `MIN_SESSION_ID_LENGTH` to `MAX_SESSION_ID_LENGTH`
    characters: letters, digits and ``. _ : -``, starting with a letter or digit.
    """
    length = len(value)
    if not constants.MIN_SESSION_ID_LENGTH <= length <= constants.MAX_SESSION_ID_LENGTH:
        raise InvalidHeader(
            f"The session id has {length} characters; expected "
            f"{constants.MIN_SESSION_ID_LENGTH} to {constants.MAX_SESSION_ID_LENGTH}"
        )
    if _SESSION_ID_PATTERN.fullmatch(value) is None:
        raise InvalidHeader(
            "The session id may contain only letters, digits and . _ : - and must start with a letter or digit"
        )
    return value
