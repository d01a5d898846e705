"""Parse and validate mesh.toml, the one source of who may call whom.

Every invoke permission, resource policy and gateway target of the mesh is
derived from the `MeshDefinition` this module returns. A file with any
problem raises `MeshFileError` listing every problem, each naming the entry
and the fix, before any construct is created.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_identity import constants

# AgentCore runtime names allow letters, digits and underscores. The mesh
# also uses the name in construct ids and environment variables, so names
# are lowercase and short.
# Patterns are used with fullmatch, so a trailing newline does not pass.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
INBOUND_KINDS = ("user", "mesh")
# The scopes the identity stack's resource server defines; a scope outside
# this set could never be in a user's token.
KNOWN_SCOPES = frozenset(constants.RESOURCE_SERVER_SCOPES)

_TOP_LEVEL_KEYS = {"version", "agents", "tools"}
_AGENT_KEYS = {"description", "inbound", "source", "memory", "model", "calls", "tools", "required_scopes", "invoke_for_user"}
_TOOL_KEYS = {"description", "source", "schema", "operations"}
_OPERATION_KEYS = {"scope"}


class MeshFileError(ValueError):
    """mesh.toml is invalid. ``problems`` lists each problem with its fix."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{path} is invalid; nothing was synthesized:\n{listing}")


@dataclass(frozen=True)
class AgentSpec:
    """One agent: how callers authenticate to it and what it may call."""

    name: str
    description: str
    inbound: str
    source: str
    memory: bool
    model: bool
    calls: tuple[str, ...]
    tools: tuple[str, ...]
    required_scopes: tuple[str, ...]
    invoke_for_user: bool

    @property
    def user_facing(self) -> bool:
        return self.inbound == "user"


@dataclass(frozen=True)
class ToolSpec:
    """One tool: a Lambda target of the mesh gateway and the scope each operation needs."""

    name: str
    description: str
    source: str
    schema: str
    operation_scopes: Mapping[str, str]
    # The MCP tool definitions the schema variable holds, checked against the operations.
    definitions: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class MeshDefinition:
    """The validated mesh."""

    agents: Mapping[str, AgentSpec]
    tools: Mapping[str, ToolSpec]

    def agent_edges(self) -> set[tuple[str, str]]:
        """Return every declared (caller, callee) pair of agents."""
        return {(agent.name, callee) for agent in self.agents.values() for callee in agent.calls}

    def tool_edges(self) -> set[tuple[str, str]]:
        """Return every declared (agent, tool) pair."""
        return {(agent.name, tool) for agent in self.agents.values() for tool in agent.tools}

    def callers_of(self, name: str) -> list[str]:
        return sorted(caller for caller, callee in self.agent_edges() if callee == name)

    def ordered_agents(self) -> list[AgentSpec]:
        """Agents with every callee before its callers, so ARNs exist before they are granted."""
        ordered: list[AgentSpec] = []
        placed: set[str] = set()
        while len(ordered) < len(self.agents):
            for agent in sorted(self.agents.values(), key=lambda spec: spec.name):
                if agent.name not in placed and set(agent.calls) <= placed:
                    ordered.append(agent)
                    placed.add(agent.name)
        return ordered


def load_mesh_file(path: str | Path, *, root: Path | None = None) -> MeshDefinition:
    """Read and validate a mesh file; ``root`` resolves the agents' ``source`` folders."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise MeshFileError(str(path), ["file not found; set context mesh:file to the mesh definition"]) from error
    except (IsADirectoryError, PermissionError) as error:
        raise MeshFileError(str(path), [f"cannot be read ({error.strerror}); point mesh:file at a readable file"]) from error
    except UnicodeDecodeError as error:
        raise MeshFileError(str(path), [f"is not UTF-8 text (byte {error.start}); save it as UTF-8 TOML"]) from error
    except tomllib.TOMLDecodeError as error:
        # tomllib reports duplicate tables and keys here, with the line.
        raise MeshFileError(str(path), [f"not valid TOML ({error}); a name defined twice is reported here too"]) from error
    return parse_mesh(raw, source_name=str(path), root=root or path.resolve().parent)


def parse_mesh(raw: Mapping[str, Any], *, source_name: str = "mesh.toml", root: Path | None = None) -> MeshDefinition:
    """Validate the parsed TOML document and build the `MeshDefinition`."""
    problems: list[str] = []
    _unknown_keys(raw, _TOP_LEVEL_KEYS, "the top level", problems)
    version = raw.get("version")
    if type(version) is not int or version != 1:
        problems.append(f"version is {version!r}; set version = 1")

    agents = {name: _agent(name, entry, problems, root) for name, entry in _tables(raw, "agents", problems).items()}
    tools = {name: _tool(name, entry, problems, root) for name, entry in _tables(raw, "tools", problems).items()}
    _check_names(list(agents) + list(tools), problems)
    if not agents:
        problems.append("no agents defined; add at least one [agents.<name>] table")

    valid_tools = {name: tool for name, tool in tools.items() if tool is not None}
    _check_edges(agents, set(tools), problems)
    _check_tool_sources(valid_tools, problems)
    _check_tool_reach(agents, set(tools), problems)
    if not problems:
        _check_cycles(agents, problems)
    if problems:
        raise MeshFileError(source_name, list(dict.fromkeys(problems)))
    return MeshDefinition(agents=agents, tools=valid_tools)


def _tables(raw: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, Mapping[str, Any]]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        problems.append(f"{key} must be a table of [{key}.<name>] entries, got {type(value).__name__}")
        return {}
    tables = {}
    for name, entry in value.items():
        if not isinstance(entry, Mapping):
            problems.append(f"{key}.{name} must be a table, got {type(entry).__name__}")
            continue
        tables[name] = entry
    return tables


def _unknown_keys(entry: Mapping[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(entry) - allowed):
        problems.append(f"unknown key {key!r} in {where}; allowed keys are {', '.join(sorted(allowed))}")


def _string_list(entry: Mapping[str, Any], key: str, where: str, problems: list[str]) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{where}.{key} must be a list of strings, got {value!r}")
        return ()
    duplicates = sorted({item for item in value if value.count(item) > 1})
    if duplicates:
        problems.append(f"{where}.{key} lists {duplicates} more than once; list each name once")
    return tuple(dict.fromkeys(value))


def _text(entry: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        problems.append(f"{where}.{key} must be a string, got {value!r}")
        return ""
    return value


def _boolean(entry: Mapping[str, Any], key: str, where: str, problems: list[str]) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        problems.append(f"{where}.{key} must be true or false, got {value!r}")
        return False
    return value


def _agent(name: str, entry: Mapping[str, Any], problems: list[str], root: Path | None) -> AgentSpec:
    # The spec is returned even when this entry has problems, so the edge
    # checks can still report problems of other entries in the same run.
    where = f"agents.{name}"
    _unknown_keys(entry, _AGENT_KEYS, where, problems)
    inbound = entry.get("inbound")
    if inbound not in INBOUND_KINDS:
        problems.append(
            f'{where}.inbound is {inbound!r}; use "user" (Cognito JWT from the front end) or "mesh" (SigV4 from other agents)'
        )
    source = entry.get("source", f"agents/{name}")
    if not isinstance(source, str):
        problems.append(f"{where}.source must be a folder path, got {source!r}")
    elif root is not None and not _inside(root, source):
        problems.append(f"{where}.source is {source!r}, which is outside the repository; use a path like agents/{name}")
    elif root is not None and not (root / source / "main.py").is_file():
        problems.append(f"{where}.source is {source!r}, which has no main.py; point it at the agent's code folder")
    scopes = _string_list(entry, "required_scopes", where, problems)
    if not scopes:
        # Without a scope, any token of the front-end client would be enough.
        problems.append(f"{where}.required_scopes is empty or missing; list the scopes a user's token must carry")
    for scope in scopes:
        if scope not in KNOWN_SCOPES:
            problems.append(
                f"{where}.required_scopes contains {scope!r}, which the user pool does not define; "
                f"use one of {sorted(KNOWN_SCOPES)}"
            )
    spec = AgentSpec(
        name=name,
        description=_text(entry, "description", where, problems),
        inbound=str(inbound),
        source=str(source),
        memory=_boolean(entry, "memory", where, problems),
        model=_boolean(entry, "model", where, problems),
        calls=_string_list(entry, "calls", where, problems),
        tools=_string_list(entry, "tools", where, problems),
        required_scopes=scopes,
        invoke_for_user=_boolean(entry, "invoke_for_user", where, problems),
    )
    return spec


def _tool(name: str, entry: Mapping[str, Any], problems: list[str], root: Path | None) -> ToolSpec | None:
    where = f"tools.{name}"
    count = len(problems)
    _unknown_keys(entry, _TOOL_KEYS, where, problems)
    source = entry.get("source", name)
    if not isinstance(source, str) or not NAME_PATTERN.fullmatch(source):
        problems.append(f"{where}.source is {source!r}; name the function folder under lambda_src/")
        source = ""
    elif root is not None and not (root / "lambda_src" / source / "handler.py").is_file():
        problems.append(f"{where}.source is {source!r}, but lambda_src/{source}/handler.py does not exist")
    operations = entry.get("operations", {})
    scopes: dict[str, str] = {}
    if not isinstance(operations, Mapping) or not operations:
        problems.append(f"{where}.operations must list at least one [{where}.operations.<name>] table")
    else:
        for operation, settings in operations.items():
            if not isinstance(settings, Mapping):
                problems.append(f"{where}.operations.{operation} must be a table with a scope")
                continue
            _unknown_keys(settings, _OPERATION_KEYS, f"{where}.operations.{operation}", problems)
            scope = settings.get("scope")
            if scope not in KNOWN_SCOPES:
                problems.append(
                    f"{where}.operations.{operation}.scope is {scope!r}; use one of {sorted(KNOWN_SCOPES)}"
                )
                continue
            enforced = constants.TOOL_REQUIRED_SCOPES.get(operation)
            if enforced != scope:
                problems.append(
                    f"{where}.operations.{operation}.scope is {scope!r} but the interceptor enforces {enforced!r} "
                    "(mesh_identity.constants.TOOL_REQUIRED_SCOPES); make them the same"
                )
            scopes[operation] = scope
    schema = entry.get("schema", "")
    definitions = _tool_definitions(where, source, schema, problems) if source else ()
    names = {definition["name"] for definition in definitions}
    declared = set(operations) if isinstance(operations, Mapping) else set()
    if definitions and names != declared:
        problems.append(
            f"{where}: the schema defines {sorted(names)} but the operations are {sorted(declared)}; list the same in both"
        )
    spec = ToolSpec(
        name=name,
        description=_text(entry, "description", where, problems),
        source=str(source),
        schema=str(schema),
        operation_scopes=scopes,
        definitions=definitions,
    )
    return spec if len(problems) == count else None


def _tool_definitions(where: str, source: str, schema: Any, problems: list[str]) -> tuple[Mapping[str, Any], ...]:
    """Import the tool's MCP definitions; only a module inside the tool's own package may be named."""
    example = f'"{source}.tool_schema:TOOL_DEFINITIONS"'
    if not isinstance(schema, str) or schema.count(":") != 1:
        problems.append(f"{where}.schema is {schema!r}; use \"<module>:<variable>\", for example {example}")
        return ()
    module_name, variable = schema.split(":")
    if not module_name.startswith(f"{source}."):
        problems.append(f"{where}.schema names module {module_name!r}; it must be inside the tool's package, like {example}")
        return ()
    try:
        definitions = getattr(importlib.import_module(module_name), variable)
    except (ImportError, AttributeError) as error:
        problems.append(f"{where}.schema is {schema!r}, which cannot be loaded ({error}); use {example}")
        return ()
    valid = isinstance(definitions, (list, tuple)) and all(
        isinstance(tool, Mapping) and isinstance(tool.get("name"), str) and isinstance(tool.get("inputSchema"), Mapping)
        for tool in definitions
    )
    if not valid or not definitions:
        problems.append(f"{where}.schema {schema!r} is not a list of MCP tool definitions with name and inputSchema")
        return ()
    return tuple(definitions)


def _inside(root: Path, source: str) -> bool:
    return (root / source).resolve().is_relative_to(root.resolve())


def _check_tool_sources(tools: Mapping[str, ToolSpec], problems: list[str]) -> None:
    by_source: dict[str, str] = {}
    for tool in tools.values():
        if tool.source in by_source:
            problems.append(
                f"tools.{tool.name}.source {tool.source!r} is already the function of tools.{by_source[tool.source]}; "
                "each tool has a function of its own"
            )
        by_source.setdefault(tool.source, tool.name)


def _check_tool_reach(agents: Mapping[str, AgentSpec], tool_names: set[str], problems: list[str]) -> None:
    # bedrock-agentcore:InvokeGateway is granted on the whole gateway, so an
    # agent that may call one tool can call them all. The file must declare that.
    for agent in agents.values():
        if agent.tools and set(agent.tools) != tool_names:
            problems.append(
                f"agents.{agent.name}.tools lists {sorted(agent.tools)}, but InvokeGateway reaches every tool of "
                f"the mesh gateway {sorted(tool_names)} and IAM cannot limit an agent to some of them; list all tools"
            )


def _check_names(names: list[str], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if not NAME_PATTERN.fullmatch(name):
            problems.append(
                f"name {name!r} is invalid; use 1 to 32 lowercase letters, digits or underscores, starting with a letter"
            )
        key = name.lower().replace("_", "")
        if key in seen:
            problems.append(
                f"name {name!r} collides with {seen[key]!r} (agents and tools share one namespace); rename one of them"
            )
        seen.setdefault(key, name)


def _check_edges(agents: Mapping[str, AgentSpec], tool_names: set[str], problems: list[str]) -> None:
    for agent in agents.values():
        where = f"agents.{agent.name}"
        for callee in agent.calls:
            if callee == agent.name:
                problems.append(f"{where}.calls contains itself; an agent cannot call itself, remove {callee!r}")
            elif callee not in agents:
                problems.append(f"{where}.calls names unknown agent {callee!r}; define [agents.{callee}] or remove it")
            elif agents[callee].user_facing:
                problems.append(
                    f'{where}.calls names {callee!r}, which is user-facing (inbound = "user") and accepts only '
                    f'end-user tokens; set agents.{callee}.inbound = "mesh" or remove the call'
                )
        for tool in agent.tools:
            if tool not in tool_names:
                problems.append(f"{where}.tools names unknown tool {tool!r}; define [tools.{tool}] or remove it")


def _check_cycles(agents: Mapping[str, AgentSpec], problems: list[str]) -> None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name):], name])
            problems.append(f"the calls form a cycle ({cycle}); a request must not come back to an agent, remove one call")
            return
        visiting.append(name)
        for callee in agents[name].calls:
            visit(callee)
        visiting.pop()
        done.add(name)

    for name in sorted(agents):
        visit(name)
