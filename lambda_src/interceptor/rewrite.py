"""Rewriting of tool arguments: drop caller-supplied identity, inject the verified one.

The ledger reads the customer only from `VERIFIED_IDENTITY_KEY`. These
functions make sure that key contains what the interceptor verified, and that no
other argument that names a customer or user reaches the tool either, at any
depth. Defence in depth: a tool bug that reads such an argument still gets
nothing from the caller.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from mesh_identity.constants import VERIFIED_IDENTITY_KEY
from mesh_identity.tokens import VerifiedClaims

from interceptor.errors import MalformedRequest

# Argument names, after `normalize_key`, that claim to say who the customer
# or user is. Compared after normalisation so that customer_id, customerId,
# CustomerID, customer-id and "customer id" all match.
IDENTITY_KEYS: Final = frozenset(
    {
        "customerid",
        "customer",
        "customerids",
        "sub",
        "subject",
        "userid",
        "user",
        "username",
        "accountowner",
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


def is_identity_key(key: str) -> bool:
    """Return True if an argument named ``key`` claims an identity or the reserved key."""
    normalized = normalize_key(key)
    return normalized in IDENTITY_KEYS or normalized == _RESERVED_KEY_NORMALIZED


def strip_identity_arguments(arguments: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Return a copy of ``arguments`` without identity keys at any depth, and how many were removed.

    Values are copied structurally. Strings stay strings, so text such as
    ``'{"customer_id": "alice"}'`` is never parsed into a key.
    Raises `MalformedRequest` if the arguments nest deeper than `MAX_ARGUMENT_DEPTH`.
    """
    removed = [0]
    cleaned = _strip(arguments, depth=1, removed=removed)
    return cleaned, removed[0]


def _strip(value: Any, *, depth: int, removed: list[int]) -> Any:
    if depth > MAX_ARGUMENT_DEPTH:
        raise MalformedRequest(
            f"Tool arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels", reason="mcp_arguments_too_deep"
        )

    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or is_identity_key(key):
                removed[0] += 1
                continue
            cleaned[key] = _strip(item, depth=depth + 1, removed=removed)
        return cleaned

    if isinstance(value, list):
        return [_strip(item, depth=depth + 1, removed=removed) for item in value]
    return value


def verified_identity(claims: VerifiedClaims, session_id: str) -> dict[str, Any]:
    """Return the identity object the ledger expects under `VERIFIED_IDENTITY_KEY`."""
    return {
        "sub": claims.sub,
        "scopes": sorted(claims.scopes),
        "client_id": claims.client_id,
        "session_id": session_id,
    }


def rewrite_tool_call_body(
    body: Mapping[str, Any], arguments: Mapping[str, Any], identity: Mapping[str, Any]
) -> tuple[dict[str, Any], int]:
    """Return a new ``tools/call`` body whose arguments carry only the verified identity.

    ``body`` is not modified. Returns the new body and the number of
    caller-supplied identity keys removed from the arguments.
    """
    cleaned, removed = strip_identity_arguments(arguments)
    cleaned[VERIFIED_IDENTITY_KEY] = dict(identity)

    params = dict(body["params"])
    params["arguments"] = cleaned
    new_body = dict(body)
    new_body["params"] = params
    return new_body, removed
