# SPDX-License-Identifier: Apache-2.0
"""The tools the Transaction agent serves, the scope each requires, and request validation."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from mesh_identity import redact_secrets
from mesh_identity.arguments import contains_reserved_key, strip_identity_arguments
from mesh_identity.constants import TOOL_REQUIRED_SCOPES, VERIFIED_IDENTITY_KEY
from mesh_identity.errors import InvalidArguments

# AgentCore Gateway names a tool "<target name>___<tool name>" (three underscores)
# in tools/list and expects that name in tools/call.
GATEWAY_TOOL_NAME_SEPARATOR: Final = "___"

# Upper bound on the serialized tool arguments (bytes, UTF-8 JSON). The ledger
# tools take a few short fields, so anything larger is not a genuine request.
MAX_ARGUMENTS_BYTES: Final = 4096
# Upper bound on the nesting of the tool arguments (objects and arrays).
MAX_ARGUMENTS_DEPTH: Final = 4
# Unexpected payload field names quoted in an error message, and the characters kept of each.
_MAX_QUOTED_FIELDS: Final = 5
_MAX_QUOTED_FIELD_CHARS: Final = 40


class InvalidToolRequest(ValueError):
    """The invocation payload is not a valid tool request; the message names the field."""


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """One tool of the agent: the OAuth scope it requires and its name on the Gateway target."""

    name: str
    required_scope: str
    gateway_tool: str

    def gateway_tool_name(self, target_name: str) -> str:
        """Return the tool name that the Gateway lists for this tool on ``target_name``."""
        return f"{target_name}{GATEWAY_TOOL_NAME_SEPARATOR}{self.gateway_tool}"


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """A validated request to run one tool."""

    policy: ToolPolicy
    arguments: Mapping[str, Any] = field(default_factory=dict)
    # How many caller-supplied identity arguments were removed, for the audit record.
    removed_identity_arguments: int = 0


def _policies(*policies: ToolPolicy) -> Mapping[str, ToolPolicy]:
    return MappingProxyType({policy.name: policy for policy in policies})


# get_balance requires accounts.read and list_transactions requires
# transactions.read (TOOL_REQUIRED_SCOPES). Both tools are on one Gateway
# target under the same names.
TOOL_POLICIES: Final[Mapping[str, ToolPolicy]] = _policies(
    *(ToolPolicy(name=name, required_scope=scope, gateway_tool=name) for name, scope in TOOL_REQUIRED_SCOPES.items())
)


def parse_tool_request(payload: Any, policies: Mapping[str, ToolPolicy] = TOOL_POLICIES) -> ToolRequest:
    """Validate an invocation payload ``{"tool": <name>, "arguments": {...}}``.

    The arguments are passed on to the Gateway, whose interceptor injects the
    verified customer id. The interceptor's reserved key, in any case or
    separator spelling and at any depth, is rejected here, and every other
    argument that names a customer or user (`mesh_identity.arguments`) is
    removed, so a forged identity never leaves this agent.

    Raises
    ------
    InvalidToolRequest
        The payload is not an object, names an unknown tool, or its arguments
        are not a small JSON object of finite numbers and ASCII names, or
        contain the reserved key. The message quotes no argument name or
        value, and names of unexpected payload fields only redacted and
        truncated.
    """
    if not isinstance(payload, Mapping):
        raise InvalidToolRequest(f"the payload must be a JSON object; received {type(payload).__name__}")

    unexpected = set(payload) - {"tool", "arguments"}
    if unexpected:
        # The names are caller-chosen text and the message is logged, so only a few
        # short prefixes are quoted, with JWT-like and SigV4-like text redacted first.
        names = sorted(redact_secrets(str(name))[:_MAX_QUOTED_FIELD_CHARS] for name in unexpected)
        names = names[:_MAX_QUOTED_FIELDS]
        raise InvalidToolRequest(f"the payload has {len(unexpected)} unexpected field(s), such as {names}")

    tool_name = payload.get("tool")
    if not isinstance(tool_name, str) or tool_name not in policies:
        raise InvalidToolRequest(f"'tool' must be one of {sorted(policies)}")

    arguments = payload.get("arguments", {})
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise InvalidToolRequest(f"'arguments' must be a JSON object; received {type(arguments).__name__}")

    _check_depth(arguments, depth=1)
    encoded = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(encoded) > MAX_ARGUMENTS_BYTES:
        raise InvalidToolRequest(
            f"'arguments' must be at most {MAX_ARGUMENTS_BYTES} bytes as JSON; received {len(encoded)}"
        )

    try:
        if contains_reserved_key(arguments, max_depth=MAX_ARGUMENTS_DEPTH):
            raise InvalidToolRequest(f"'arguments' must not contain the reserved key {VERIFIED_IDENTITY_KEY!r}")
        cleaned, removed = strip_identity_arguments(arguments, max_depth=MAX_ARGUMENTS_DEPTH)
    except InvalidArguments as error:
        raise InvalidToolRequest(f"'arguments' are invalid: {error}") from error

    return ToolRequest(policy=policies[tool_name], arguments=cleaned, removed_identity_arguments=removed)


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_ARGUMENTS_DEPTH:
        raise InvalidToolRequest(f"'arguments' must be nested at most {MAX_ARGUMENTS_DEPTH} levels deep")
    # The runtime SDK decodes the payload with Python's json module, which accepts
    # NaN and Infinity and reads 1e309 as infinity. RFC 8259 JSON has none of them.
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidToolRequest("'arguments' must contain only finite numbers")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidToolRequest("'arguments' keys must be strings")
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)
