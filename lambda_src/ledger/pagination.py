"""Opaque pagination tokens, authenticated with a KMS HMAC key and bound to one customer.

A token has the form ``v1.<body>.<mac>``, both parts base64url without padding.
The body is JSON with the sort key of the last returned item (``k``), an expiry
in Unix seconds (``e``) and a digest of the query filters (``f``). The MAC is
KMS ``GenerateMac`` with ``HMAC_SHA_256`` over a message that contains the
customer ``sub`` and the exact body bytes. The ``sub`` itself is not in the
token, so a token issued for one customer fails verification for any other,
and the partition key of the next page always comes from the verified ``sub``.
"""

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from ledger.errors import InvalidPaginationTokenError, LedgerUnavailableError
from ledger.schema import TRANSACTION_SORT_KEY_PATTERN

TOKEN_VERSION: Final = "v1"
MAC_ALGORITHM: Final = "HMAC_SHA_256"
# Lifetime of a token in seconds. A customer paging through results needs minutes, not hours.
DEFAULT_TOKEN_TTL_SECONDS: Final = 900

_MAC_LENGTH_BYTES: Final = 32  # HMAC-SHA-256 output
_MESSAGE_PREFIX: Final = b"zero-trust-agent-mesh/ledger/next_token/v1\x00"
_BASE64URL_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]+")
# Audit reason of a MAC that does not verify: the token was altered, or issued for another customer.
_BAD_MAC: Final = "pagination_token_bad_mac"


class PaginationTokenCodec:
    """Issue and open pagination tokens with a KMS HMAC key (key spec HMAC_256)."""

    def __init__(
        self,
        kms_client: Any,
        key_id: str,
        *,
        ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._kms = kms_client
        self._key_id = key_id
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def issue(self, *, sub: str, last_sort_key: str, filter_fingerprint: str) -> str:
        """Return a token that resumes after ``last_sort_key`` for this ``sub`` and these filters."""
        body = {
            "k": last_sort_key,
            "e": int(self._clock()) + self._ttl_seconds,
            "f": _digest(filter_fingerprint),
        }
        body_bytes = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

        try:
            response = self._kms.generate_mac(
                KeyId=self._key_id, Message=_mac_message(sub, body_bytes), MacAlgorithm=MAC_ALGORITHM
            )
        except (ClientError, BotoCoreError) as error:
            raise LedgerUnavailableError(f"KMS GenerateMac failed: {_error_code(error)}") from error

        return ".".join((TOKEN_VERSION, _encode(body_bytes), _encode(response["Mac"])))

    def open(self, token: str, *, sub: str, filter_fingerprint: str) -> str:
        """Verify a token for this ``sub`` and these filters and return the sort key to resume after.

        Raises InvalidPaginationTokenError when the token is malformed, its MAC
        does not verify (tampered, or issued for another customer), it has
        expired, or it was issued for other filters.
        """
        body_bytes, mac = _split(token)
        self._verify_mac(_mac_message(sub, body_bytes), mac)
        body = _parse_body(body_bytes)

        if body["e"] < self._clock():
            raise InvalidPaginationTokenError("next_token expired", reason="pagination_token_expired")
        if body["f"] != _digest(filter_fingerprint):
            raise InvalidPaginationTokenError(
                "next_token was issued for other filters", reason="pagination_token_other_filters"
            )
        return body["k"]

    def _verify_mac(self, message: bytes, mac: bytes) -> None:
        try:
            response = self._kms.verify_mac(
                KeyId=self._key_id, Message=message, Mac=mac, MacAlgorithm=MAC_ALGORITHM
            )
        except ClientError as error:
            if _error_code(error) == "KMSInvalidMacException":
                raise InvalidPaginationTokenError("next_token MAC did not verify", reason=_BAD_MAC) from error
            raise LedgerUnavailableError(f"KMS VerifyMac failed: {_error_code(error)}") from error
        except BotoCoreError as error:
            raise LedgerUnavailableError(f"KMS VerifyMac failed: {type(error).__name__}") from error

        # KMS raises on an invalid MAC. This check guards against a response without the flag.
        if response.get("MacValid") is not True:
            raise InvalidPaginationTokenError("next_token MAC did not verify", reason=_BAD_MAC)


def _mac_message(sub: str, body_bytes: bytes) -> bytes:
    # The sub cannot contain NUL (the identity check restricts its characters), so the split is unambiguous.
    return _MESSAGE_PREFIX + sub.encode() + b"\x00" + body_bytes


def _digest(filter_fingerprint: str) -> str:
    return hashlib.sha256(filter_fingerprint.encode()).hexdigest()[:32]


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(part: str) -> bytes:
    if not _BASE64URL_PATTERN.fullmatch(part):
        raise InvalidPaginationTokenError("next_token is not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidPaginationTokenError("next_token is not base64url") from error


def _split(token: str) -> tuple[bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise InvalidPaginationTokenError("next_token does not have the form v1.<body>.<mac>")

    body_bytes = _decode(parts[1])
    mac = _decode(parts[2])
    if len(mac) != _MAC_LENGTH_BYTES:
        raise InvalidPaginationTokenError("next_token MAC has the wrong length")
    return body_bytes, mac


def _parse_body(body_bytes: bytes) -> dict[str, Any]:
    try:
        body = json.loads(body_bytes)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidPaginationTokenError("next_token body is not JSON") from error

    # The MAC already proved that the ledger wrote this body, so these checks only guard against a bug in issue().
    if not isinstance(body, dict):
        raise InvalidPaginationTokenError("next_token body is not an object")
    if not isinstance(body.get("k"), str) or not TRANSACTION_SORT_KEY_PATTERN.fullmatch(body["k"]):
        raise InvalidPaginationTokenError("next_token sort key is invalid")
    if not isinstance(body.get("e"), int) or isinstance(body.get("e"), bool):
        raise InvalidPaginationTokenError("next_token expiry is invalid")
    if not isinstance(body.get("f"), str):
        raise InvalidPaginationTokenError("next_token filter digest is invalid")
    return body


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__
