# SPDX-License-Identifier: Apache-2.0
"""The mesh tools the Support agent may offer to its model, and the peer agent that serves each."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from mesh_identity.constants import TOOL_REQUIRED_SCOPES


@dataclass(frozen=True, slots=True)
class MeshTool:
    """A tool that the model may request and a peer agent runs.

    ``name`` is both the Converse tool name and the tool the peer receives.
    ``required_scope`` is checked again by the peer; the Support agent uses it
    only to hide tools that the user's token cannot use.
    """

    name: str
    description: str
    peer: str
    required_scope: str
    input_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )

    def tool_spec(self) -> dict[str, Any]:
        """Return the tool as a Converse ``toolSpec``."""
        return {
            "toolSpec": {
                "name": self.name,
                "description": self.description,
                "inputSchema": {"json": dict(self.input_schema)},
            }
        }


# NOTE: these argument schemas copy the ledger target's input schemas and
# limits (lambda_src/ledger/tool_schema.py and arguments.py); change them together.
# No schema has a customer or account id, because the ledger identifies the
# customer from the verified token.
SEED_TOOLS: Final[tuple[MeshTool, ...]] = (
    MeshTool(
        name="get_balance",
        description="Return the signed-in customer's current account balance and currency.",
        peer="transaction",
        required_scope=TOOL_REQUIRED_SCOPES["get_balance"],
    ),
    MeshTool(
        name="list_transactions",
        description="List the signed-in customer's most recent account transactions, newest first.",
        peer="transaction",
        required_scope=TOOL_REQUIRED_SCOPES["list_transactions"],
        input_schema={
            "type": "object",
            "properties": {
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 100,
                    "description": "Maximum number of transactions to return, 1 to 100. Default 25.",
                },
                "from_date": {
                    "type": "string",
                    "maxLength": 10,
                    "description": "Earliest booking date, inclusive, as YYYY-MM-DD (UTC).",
                },
                "to_date": {
                    "type": "string",
                    "maxLength": 10,
                    "description": "Latest booking date, inclusive, as YYYY-MM-DD (UTC).",
                },
                "min_amount": {
                    "type": "string",
                    "maxLength": 32,
                    "description": 'Minimum absolute amount as a decimal string such as "100.00".',
                },
                "next_token": {
                    "type": "string",
                    "maxLength": 2048,
                    "description": "The next_token of the previous response, to continue the listing.",
                },
            },
            "additionalProperties": False,
        },
    ),
)


class ToolConfigurationError(ValueError):
    """The configured tool list names an unknown tool or a peer without a runtime ARN."""


class ToolCatalog:
    """The tools this agent may offer, indexed by name."""

    def __init__(self, tools: Iterable[MeshTool]) -> None:
        by_name: dict[str, MeshTool] = {}
        for tool in tools:
            if tool.name in by_name:
                raise ToolConfigurationError(f"tool {tool.name!r} is defined twice")
            by_name[tool.name] = tool
        self._tools = MappingProxyType(by_name)

    @classmethod
    def select(
        cls, names: Sequence[str] | None, peers: Collection[str], available: Iterable[MeshTool] = SEED_TOOLS
    ) -> ToolCatalog:
        """Pick the named tools (all of ``available`` when ``names`` is None) and check each has a peer."""
        known = {tool.name: tool for tool in available}
        chosen = list(known) if names is None else list(names)

        unknown = [name for name in chosen if name not in known]
        if unknown:
            raise ToolConfigurationError(f"unknown tools {unknown}; known tools are {sorted(known)}")
        unserved = [name for name in chosen if known[name].peer not in peers]
        if unserved:
            raise ToolConfigurationError(
                f"tools {unserved} need a runtime ARN for their peer agent; configured peers are {sorted(peers)}"
            )
        return cls(known[name] for name in chosen)

    def get(self, name: str) -> MeshTool | None:
        """Return the tool called ``name``, or None if this agent does not offer it."""
        return self._tools.get(name)

    def allowed_for(self, scopes: Collection[str]) -> tuple[MeshTool, ...]:
        """Return the tools whose required scope is among ``scopes``."""
        return tuple(tool for tool in self._tools.values() if tool.required_scope in scopes)

    def __len__(self) -> int:
        return len(self._tools)


class InvalidToolArguments(ValueError):
    """The model's arguments for a tool do not match the tool's input schema; the message names the field."""


def validate_arguments(tool: MeshTool, arguments: Any) -> dict[str, Any]:
    """Check the model's arguments against the subset of JSON Schema the seed tools use.

    Supported: an object, its declared properties, ``additionalProperties:
    false``, and ``integer`` and ``string`` properties with ``minimum``,
    ``maximum`` and ``maxLength``.

    Raises
    ------
    InvalidToolArguments
        The arguments are not an object, contain an undeclared property, or a
        property has the wrong type or is out of range.
    """
    if not isinstance(arguments, Mapping):
        raise InvalidToolArguments(f"arguments must be an object; received {type(arguments).__name__}")

    properties: Mapping[str, Any] = tool.input_schema.get("properties", {})
    if tool.input_schema.get("additionalProperties") is False:
        undeclared = sorted(str(key) for key in arguments if key not in properties)
        if undeclared:
            raise InvalidToolArguments(f"unexpected arguments {undeclared}; {tool.name} accepts {sorted(properties)}")

    for name in tool.input_schema.get("required", ()):
        if name not in arguments:
            raise InvalidToolArguments(f"missing required argument {name!r}")

    for name, value in arguments.items():
        schema = properties.get(name)
        if schema is not None:
            _check_property(name, value, schema)
    return dict(arguments)


def _check_property(name: str, value: Any, schema: Mapping[str, Any]) -> None:
    expected = schema.get("type")
    if expected == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidToolArguments(f"{name} must be an integer; received {type(value).__name__}")
        if "minimum" in schema and value < schema["minimum"]:
            raise InvalidToolArguments(f"{name} must be at least {schema['minimum']}; received {value}")
        if "maximum" in schema and value > schema["maximum"]:
            raise InvalidToolArguments(f"{name} must be at most {schema['maximum']}; received {value}")
    elif expected == "string":
        if not isinstance(value, str):
            raise InvalidToolArguments(f"{name} must be a string; received {type(value).__name__}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise InvalidToolArguments(f"{name} must be at most {schema['maxLength']} characters long")
