"""Caller-supplied identity in tool arguments: detection and removal, shared by every hop.

The ledger reads the customer only from `VERIFIED_IDENTITY_KEY`, which the
Gateway interceptor writes. The interceptor removes every argument that
claims an identity before the call reaches the tool, and the Transaction agent
removes them before the call reaches the Gateway. Defence in depth: a tool bug that reads such an
argument still gets nothing from the caller.

Argument names are compared after `normalize_key` (NFKC, case-folded, letters
and digits only), so ``customer_id``, ``CustomerID``, ``customer-id``, a
fullwidth ``ｃｕｓｔｏｍｅｒ_ｉｄ`` and ``customer\\u200bid`` all match. A
look-alike letter of another script, such as the Cyrillic ``с`` in
``сustomer_id``, survives NFKC unchanged, so no name comparison catches it.
Any key that still contains a non-ASCII character after stripping is
therefore rejected: the mesh's tool schemas name every argument in ASCII.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from .constants import VERIFIED_IDENTITY_KEY
from .errors import InvalidArguments

# Argument names, after `normalize_key`, that claim to say who the customer
# or user is.
# NOTE: this is a deny-list of common names. An argument named in some other
# way (``client_ref``, say) still reaches the tool, which must read the
# customer only from the verified identity.
IDENTITY_KEYS: Final = frozenset(
    {
        "customerid",
        "customer",
        "customerids",
        "custid",
        "customerno",
        "customernumber",
        "sub",
        "subject",
        "userid",
        "user",
        "username",
        "accountowner",
        "accountholder",
        "owner",
        "principal",
        "identity",
    }
)
# Nesting deeper than this is rejected (levels of objects and arrays). Tool
# arguments of the mesh are flat.
MAX_ARGUMENT_DEPTH: Final = 32


def normalize_key(key: str) -> str:
    """Return ``key`` folded for comparison: NFKC, case-folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", key).casefold()
    return "".join(character for character in folded if character.isalnum())


_RESERVED_KEY_NORMALIZED: Final = normalize_key(VERIFIED_IDENTITY_KEY)


def is_reserved_key(key: str) -> bool:
    """Return True if ``key`` is `VERIFIED_IDENTITY_KEY` in any case or spelling of separators."""
    return normalize_key(key) == _RESERVED_KEY_NORMALIZED


def is_identity_key(key: str) -> bool:
    """Return True if an argument named ``key`` claims an identity or is the reserved key."""
    normalized = normalize_key(key)
    return normalized in IDENTITY_KEYS or normalized == _RESERVED_KEY_NORMALIZED


def strip_identity_arguments(
    arguments: Mapping[str, Any], *, max_depth: int = MAX_ARGUMENT_DEPTH
) -> tuple[dict[str, Any], int]:
    """Return a copy of ``arguments`` without identity keys at any depth, and how many were removed.

    Values are copied structurally. Strings stay strings, so text such as
    ``'{"customer_id": "alice"}'`` is never parsed into a key. Keys that are
    not strings are removed too.

    Raises `InvalidArguments` if the arguments nest deeper than ``max_depth``
    levels (reason ``arguments_too_deep``), or if a key that is not an
    identity key contains a non-ASCII character (reason ``argument_key_not_ascii``).
    The message never quotes a key or a value.
    """
    removed = [0]
    cleaned = _strip(arguments, depth=1, max_depth=max_depth, removed=removed)
    return cleaned, removed[0]


def contains_reserved_key(arguments: Mapping[str, Any], *, max_depth: int = MAX_ARGUMENT_DEPTH) -> bool:
    """Return True if any key at any depth of ``arguments`` is the reserved key in some spelling.

    Raises `InvalidArguments` if the arguments nest deeper than ``max_depth`` levels.
    """
    pending: list[tuple[Any, int]] = [(arguments, 1)]
    while pending:
        value, depth = pending.pop()
        _check_depth(depth, max_depth)
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and is_reserved_key(key):
                    return True
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return False


def _strip(value: Any, *, depth: int, max_depth: int, removed: list[int]) -> Any:
    _check_depth(depth, max_depth)

    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or is_identity_key(key):
                removed[0] += 1
                continue
            if not key.isascii():
                raise InvalidArguments(
                    "A tool argument name contains a non-ASCII character; the mesh's tools name arguments in ASCII",
                    reason="argument_key_not_ascii",
                )
            cleaned[key] = _strip(item, depth=depth + 1, max_depth=max_depth, removed=removed)
        return cleaned

    if isinstance(value, list):
        return [_strip(item, depth=depth + 1, max_depth=max_depth, removed=removed) for item in value]
    return value


def _check_depth(depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise InvalidArguments(
            f"Tool arguments nest deeper than {max_depth} levels", reason="arguments_too_deep"
        )
