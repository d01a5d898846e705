"""One structured audit record per trust decision, on every hop of the mesh.

Each record states the hop, the decision (``allow`` or ``deny``), the reason
code, the calling principal, the user's ``sub`` and the session id, plus any
extra identifiers the caller passes. The record is logged under the key
``audit`` through a Powertools `Logger`, so CloudWatch Logs Insights can
query ``audit.decision`` or ``audit.reason``.

Three guards keep secrets out of the log:

- runs of 8 or more digits in any value are masked to their last 4 digits.
  That covers AWS account ids and bank account and card numbers. A run that
  is part of a longer word, such as a group of a UUID, is left alone;
- a value that looks like a JWT (``eyJ...``), a SigV4 value
  (``AWS4-HMAC-SHA256``, ``Signature=``) or a bearer credential is replaced
  with ``[redacted]``;
- a value under a key that names a credential (token, authorization,
  signature, secret, password, credential, cookie) is replaced too, whatever
  it looks like.
"""

from __future__ import annotations

import os
import re
from typing import Any, Final

from aws_lambda_powertools import Logger

from ._redact import REDACTED, contains_secret, mask_account_ids
from .logger import create_logger

DEFAULT_SERVICE_NAME: Final = "agent-mesh"
AUDIT_MESSAGE: Final = "mesh trust decision"
DECISIONS: Final = frozenset({"allow", "deny"})
# Maximum length of a string value in a record (characters). Identifiers are far shorter.
MAX_VALUE_CHARS: Final = 256

_REASON_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ID_KEY_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SECRET_KEY_WORDS: Final = ("token", "authorization", "signature", "secret", "password", "credential", "cookie")

_default_logger: Logger | None = None


def audit(
    hop: str,
    decision: str,
    reason: str,
    *,
    principal: str | None = None,
    sub: str | None = None,
    session_id: str | None = None,
    logger: Logger | None = None,
    **ids: Any,
) -> dict[str, Any]:
    """Log one audit record for a trust decision and return the record as logged.

    ``reason`` is a snake_case code, such as an error's ``reason``. ``ids``
    are extra identifiers (snake_case keys, scalar values), such as the tool
    name or the token's ``jti``. Never pass payloads or customer data.

    Raises `ValueError` for a decision other than allow or deny, a reason or
    id key that is not snake_case, or an empty hop.
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be 'allow' or 'deny', received {decision!r}")
    if not isinstance(reason, str) or _REASON_PATTERN.fullmatch(reason) is None:
        raise ValueError(f"reason must be a snake_case code, received {reason!r}")
    if not isinstance(hop, str) or not hop:
        raise ValueError("hop must name the hop that made the decision, received an empty value")

    record: dict[str, Any] = {
        "hop": _clean_value("hop", hop),
        "decision": decision,
        "reason": reason,
        "principal": _clean_value("principal", principal),
        "sub": _clean_value("sub", sub),
        "session_id": _clean_value("session_id", session_id),
    }
    for key, value in ids.items():
        if _ID_KEY_PATTERN.fullmatch(key) is None:
            raise ValueError(f"audit id key {key!r} must be snake_case")
        record[key] = _clean_value(key, value)

    (logger or _logger()).info(AUDIT_MESSAGE, extra={"audit": record})
    return record


def _clean_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if any(word in key for word in _SECRET_KEY_WORDS):
        return REDACTED
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        # An account id passed as a number is masked like one in a string.
        masked = mask_account_ids(str(value))
        return value if masked == str(value) else masked

    text = value if isinstance(value, str) else str(value)
    if contains_secret(text):
        return REDACTED
    text = mask_account_ids(text)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + "...[truncated]"
    return text


def _logger() -> Logger:
    global _default_logger
    if _default_logger is None:
        _default_logger = create_logger(os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME)
    return _default_logger
