# SPDX-License-Identifier: Apache-2.0
"""The tools the Transaction agent serves, the scope each requires, and request validation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from mesh_identity.constants import TOOL_REQUIRED_SCOPES, VERIFIED_IDENTITY_KEY

# AgentCore Gateway names a tool "<target name>___<tool name>" (three underscores)
# in tools/list and expects that name in tools/call.
GATEWAY_TOOL_NAME_SEPARATOR: Final = "___"

# Upper bound on the serialized tool arguments (bytes, UTF-8 JSON). The ledger
# tools take a few short fields, so anything larger is not a genuine request.
MAX_ARGUMENTS_BYTES: Final = 4096
# Upper bound on the nesting of the tool arguments (objects and arrays).
MAX_ARGUMENTS_DEPTH: Final = 4


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
    verified customer id. A caller-supplied value under the interceptor's
    reserved key is rejected here as well, so a forged identity never leaves
    this agent.

    Raises
    ------
    InvalidToolRequest
        The payload is not an object, names an unknown tool, or its arguments
        are not a small JSON object.
    """
    if not isinstance(payload, Mapping):
        raise InvalidToolRequest(f"the payload must be a JSON object; received {type(payload).__name__}")

    unexpected = set(payload) - {"tool", "arguments"}
    if unexpected:
        raise InvalidToolRequest(f"the payload has unexpected fields {sorted(map(str, unexpected))}")

    tool_name = payload.get("tool")
    if not isinstance(tool_name, str) or tool_name not in policies:
        raise InvalidToolRequest(f"'tool' must be one of {sorted(policies)}")

    arguments = payload.get("arguments", {})
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise InvalidToolRequest(f"'arguments' must be a JSON object; received {type(arguments).__name__}")
    if VERIFIED_IDENTITY_KEY in arguments:
        raise InvalidToolRequest(f"'arguments' must not contain the reserved key {VERIFIED_IDENTITY_KEY!r}")

    _check_depth(arguments, depth=1)
    encoded = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(encoded) > MAX_ARGUMENTS_BYTES:
        raise InvalidToolRequest(
            f"'arguments' must be at most {MAX_ARGUMENTS_BYTES} bytes as JSON; received {len(encoded)}"
        )

    return ToolRequest(policy=policies[tool_name], arguments=dict(arguments))


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_ARGUMENTS_DEPTH:
        raise InvalidToolRequest(f"'arguments' must be nested at most {MAX_ARGUMENTS_DEPTH} levels deep")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidToolRequest("'arguments' keys must be strings")
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)
