"""Parse and validate mesh.toml, the one source of who may call whom.

Every invoke permission, resource policy and gateway target of the mesh is
derived from the `MeshDefinition` this module returns. A file with any
problem raises `MeshFileError` listing every problem, each naming the entry
and the fix, before any construct is created.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# AgentCore runtime names allow letters, digits and underscores. The mesh
# also uses the name in construct ids and environment variables, so names
# are lowercase and short.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SCOPE_PATTERN = re.compile(r"^[A-Za-z0-9_.:/-]{1,256}$")
INBOUND_KINDS = ("user", "mesh")

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
    except tomllib.TOMLDecodeError as error:
        # tomllib reports duplicate tables and keys here, with the line.
        raise MeshFileError(str(path), [f"not valid TOML ({error}); a name defined twice is reported here too"]) from error
    return parse_mesh(raw, source_name=str(path), root=root or path.resolve().parent)


def parse_mesh(raw: Mapping[str, Any], *, source_name: str = "mesh.toml", root: Path | None = None) -> MeshDefinition:
    """Validate the parsed TOML document and build the `MeshDefinition`."""
    problems: list[str] = []
    _unknown_keys(raw, _TOP_LEVEL_KEYS, "the top level", problems)
    if raw.get("version") != 1:
        problems.append(f"version is {raw.get('version')!r}; set version = 1")

    agents = {name: _agent(name, entry, problems, root) for name, entry in _tables(raw, "agents", problems).items()}
    tools = {name: _tool(name, entry, problems) for name, entry in _tables(raw, "tools", problems).items()}
    _check_names(list(agents) + list(tools), problems)
    if not agents:
        problems.append("no agents defined; add at least one [agents.<name>] table")

    valid_tools = {name: tool for name, tool in tools.items() if tool is not None}
    _check_edges(agents, set(tools), problems)
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
    elif root is not None and not (root / source / "main.py").is_file():
        problems.append(f"{where}.source is {source!r}, which has no main.py; point it at the agent's code folder")
    scopes = _string_list(entry, "required_scopes", where, problems)
    for scope in scopes:
        if not SCOPE_PATTERN.match(scope):
            problems.append(f"{where}.required_scopes contains {scope!r}, which is not an OAuth scope name")
    if inbound == "mesh" and "required_scopes" not in entry:
        problems.append(f"{where} is called by agents and must list required_scopes its callers' users need")
    spec = AgentSpec(
        name=name,
        description=str(entry.get("description", "")),
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


def _tool(name: str, entry: Mapping[str, Any], problems: list[str]) -> ToolSpec | None:
    where = f"tools.{name}"
    count = len(problems)
    _unknown_keys(entry, _TOOL_KEYS, where, problems)
    source = entry.get("source", name)
    if not isinstance(source, str) or not NAME_PATTERN.match(source):
        problems.append(f"{where}.source is {source!r}; name the function folder under lambda_src/")
    schema = entry.get("schema", "")
    if not isinstance(schema, str) or ":" not in schema:
        problems.append(f'{where}.schema is {schema!r}; use "<module>:<variable>", for example "ledger.tool_schema:TOOL_DEFINITIONS"')
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
            if not isinstance(scope, str) or not SCOPE_PATTERN.match(scope):
                problems.append(f"{where}.operations.{operation}.scope is {scope!r}; name the OAuth scope the user needs")
                continue
            scopes[operation] = scope
    spec = ToolSpec(
        name=name,
        description=str(entry.get("description", "")),
        source=str(source),
        schema=str(schema),
        operation_scopes=scopes,
    )
    return spec if len(problems) == count else None


def _check_names(names: list[str], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if not NAME_PATTERN.match(name):
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
