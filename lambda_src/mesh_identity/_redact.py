"""Detection and removal of credentials and account numbers in text that is about to be logged or raised."""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "[redacted]"

# A JWT's header is base64url of a JSON object, so it starts with "eyJ" ('{"'),
# matched case-sensitively. A SigV4 Authorization value starts with the
# algorithm name, and presigned URLs or partial copies still carry
# "Signature=" or "X-Amz-Signature=". A bearer credential follows "Bearer ".
_SECRET_PATTERN: Final = re.compile(
    r"(?-i:eyJ[A-Za-z0-9_.-]*)"
    r"|AWS4-HMAC-SHA256"
    r"|(?:X-Amz-)?Signature=[0-9a-f]*"
    r"|Bearer\s+\S+",
    re.IGNORECASE,
)
# A digit run bordered by a letter, digit or hyphen belongs to an identifier
# (the last group of a Cognito sub, for example) and is left alone.
_ACCOUNT_ID_PATTERN: Final = re.compile(r"(?<![0-9A-Za-z-])\d{4,}(\d{4})(?![0-9A-Za-z-])")


def contains_secret(text: str) -> bool:
    """Return True if ``text`` contains something that looks like a JWT or a SigV4 value."""
    return _SECRET_PATTERN.search(text) is not None


def redact_secrets(text: str) -> str:
    """Replace every JWT-like or SigV4-like fragment of ``text`` with ``[redacted]``."""
    return _SECRET_PATTERN.sub(REDACTED, text)


def mask_account_ids(text: str) -> str:
    """Replace each account or card number in ``text`` with asterisks and its last 4 digits."""
    return _ACCOUNT_ID_PATTERN.sub(lambda match: "*" * (len(match.group(0)) - 4) + match.group(1), text)
