# SPDX-License-Identifier: Apache-2.0
"""Audit reason codes built from AWS errors, in the snake_case form the audit record requires."""

from __future__ import annotations

import re
from typing import Final

from botocore.exceptions import ClientError

_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_SNAKE: Final = re.compile(r"[^a-z0-9_]+")
# Audit reasons are at most 64 characters; prefixes such as "list_events_" take up to 16.
_MAX_FRAGMENT: Final = 48


def snake_case(name: str) -> str:
    """Turn an AWS error code or exception name into a snake_case fragment.

    For example ``AccessDeniedException`` becomes ``access_denied_exception``.
    """
    cleaned = _NOT_SNAKE.sub("_", _CAMEL_BOUNDARY.sub("_", name).lower()).strip("_")
    return (cleaned or "unknown")[:_MAX_FRAGMENT]


def error_reason(prefix: str, error: Exception) -> str:
    """Return ``<prefix>_<error code>`` for a botocore ClientError, else ``<prefix>_<exception name>``."""
    if isinstance(error, ClientError):
        name = str(error.response.get("Error", {}).get("Code") or "Unknown")
    else:
        name = type(error).__name__
    return f"{prefix}_{snake_case(name)}"
