"""Rewriting of tool arguments: drop caller-supplied identity, inject the verified one.

The ledger reads the customer only from `VERIFIED_IDENTITY_KEY`. These
functions make sure that key contains what the interceptor verified, and that no
other argument whose name is on the identity deny-list
(`mesh_identity.arguments.IDENTITY_KEYS`) reaches the tool either, at any
depth. Argument names with a non-ASCII character are rejected, because a
look-alike letter of another script could hide an identity key. The rules
themselves live in `mesh_identity.arguments`, so the Transaction agent applies
the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_identity.arguments import MAX_ARGUMENT_DEPTH, is_identity_key, normalize_key
from mesh_identity.arguments import strip_identity_arguments as _strip_identity_arguments
from mesh_identity.constants import VERIFIED_IDENTITY_KEY
from mesh_identity.errors import InvalidArguments
from mesh_identity.tokens import VerifiedClaims

from interceptor.errors import MalformedRequest

__all__ = [
    "MAX_ARGUMENT_DEPTH",
    "is_identity_key",
    "normalize_key",
    "rewrite_tool_call_body",
    "strip_identity_arguments",
    "verified_identity",
]


def strip_identity_arguments(arguments: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Return a copy of ``arguments`` without identity keys at any depth, and how many were removed.

    Raises `MalformedRequest` if the arguments nest deeper than
    `MAX_ARGUMENT_DEPTH` (reason ``mcp_arguments_too_deep``) or an argument
    name contains a non-ASCII character (reason ``mcp_argument_key_not_ascii``).
    """
    try:
        return _strip_identity_arguments(arguments, max_depth=MAX_ARGUMENT_DEPTH)
    except InvalidArguments as error:
        raise MalformedRequest(str(error), reason=f"mcp_{error.reason}") from error


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
    caller-supplied identity keys removed from the arguments. Raises
    `MalformedRequest` for arguments that `strip_identity_arguments` rejects.
    """
    cleaned, removed = strip_identity_arguments(arguments)
    cleaned[VERIFIED_IDENTITY_KEY] = dict(identity)

    params = dict(body["params"])
    params["arguments"] = cleaned
    new_body = dict(body)
    new_body["params"] = params
    return new_body, removed
