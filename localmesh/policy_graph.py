"""Read the synthesized mesh template and compute which agent may call which.

This is an evaluator of the IAM policies exactly as CloudFormation would
create them: identity policies attached to each agent's role, the runtime
resource policies, explicit denies, and action or resource wildcards. It
works on the template JSON (from ``cdk.out`` or `Template.to_json`), so what
it proves is what would be deployed. The local mesh uses it to decide which
SigV4 callers its stand-in data plane admits.

Scope: same-account evaluation of Allow and Deny statements with
``Action``/``Resource`` (``NotAction``/``NotResource`` are rejected as
unsupported, so nothing passes silently). Conditions are not evaluated; a
statement with conditions counts as allowing, which can only over-report
edges and so never hides one.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh_identity import constants

INVOKE_RUNTIME = "bedrock-agentcore:InvokeAgentRuntime"
INVOKE_GATEWAY = "bedrock-agentcore:InvokeGateway"
# MeshAgent tags its role and runtime with the agent's name from mesh.toml.
AGENT_TAG = constants.AGENT_TAG_KEY


class UnsupportedPolicy(ValueError):
    """A policy uses a form the evaluator does not model; the proof must not pass over it."""


@dataclass
class PolicyGraph:
    """Agents, their roles and runtimes, and the edges the policies allow."""

    # Logical id of each agent's role and runtime, keyed by construct name (for example "SupportAgent").
    roles: dict[str, str] = field(default_factory=dict)
    runtimes: dict[str, str] = field(default_factory=dict)
    gateways: set[str] = field(default_factory=set)
    # role logical id -> list of identity policy statements
    identity_statements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # runtime logical id -> list of resource policy statements
    resource_statements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def agent_names(self) -> list[str]:
        return sorted(self.roles)

    def identity_edges(self, action: str = INVOKE_RUNTIME) -> set[tuple[str, str]]:
        """(caller, callee) pairs that the callers' identity policies allow, after explicit denies."""
        edges = set()
        for caller, role in self.roles.items():
            statements = self.identity_statements.get(role, [])
            for callee, runtime in self.runtimes.items():
                if _decide(statements, action, {runtime}):
                    edges.add((caller, callee))
        return edges

    def resource_edges(self) -> set[tuple[str, str]]:
        """(caller, callee) pairs that the callees' runtime resource policies allow."""
        edges = set()
        for callee, runtime in self.runtimes.items():
            statements = self.resource_statements.get(runtime, [])
            for caller, role in self.roles.items():
                if _decide(statements, INVOKE_RUNTIME, {runtime}, principal=role):
                    edges.add((caller, callee))
        return edges

    def gateway_callers(self) -> set[str]:
        """Agents whose identity policies allow InvokeGateway on a gateway of the template."""
        callers = set()
        for caller, role in self.roles.items():
            if _decide(self.identity_statements.get(role, []), INVOKE_GATEWAY, self.gateways):
                callers.add(caller)
        return callers

    def allowed_edges(self) -> set[tuple[str, str]]:
        """Edges IAM allows in one account: an identity policy or a resource policy grants it."""
        denied = {
            (caller, callee)
            for caller, role in self.roles.items()
            for callee, runtime in self.runtimes.items()
            if _explicitly_denied(self.identity_statements.get(role, []), INVOKE_RUNTIME, {runtime})
            or _explicitly_denied(self.resource_statements.get(runtime, []), INVOKE_RUNTIME, {runtime}, principal=role)
        }
        return (self.identity_edges() | self.resource_edges()) - denied


def build_policy_graph(template: Mapping[str, Any]) -> PolicyGraph:
    """Collect the agents' roles, runtimes, gateways and policies from a mesh template."""
    resources: Mapping[str, Mapping[str, Any]] = template["Resources"]
    graph = PolicyGraph()
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        agent = _agent_tag(resource.get("Properties", {}).get("Tags"))
        if kind == "AWS::IAM::Role" and agent:
            graph.roles[agent] = logical_id
        elif kind == "AWS::BedrockAgentCore::Runtime":
            if not agent:
                raise UnsupportedPolicy(f"runtime {logical_id} has no {AGENT_TAG} tag; it is not a mesh agent")
            graph.runtimes[agent] = logical_id
        elif kind == "AWS::BedrockAgentCore::Gateway":
            graph.gateways.add(logical_id)

    for logical_id, resource in resources.items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        if kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            for role in _referenced_ids(properties.get("Roles", [])):
                graph.identity_statements.setdefault(role, []).extend(_statements(properties["PolicyDocument"]))
        elif kind == "AWS::IAM::Role":
            for inline in properties.get("Policies", []):
                graph.identity_statements.setdefault(logical_id, []).extend(_statements(inline["PolicyDocument"]))
        elif kind == "AWS::BedrockAgentCore::ResourcePolicy":
            runtime = _single_reference(properties["ResourceArn"])
            document = parse_policy_string(properties["Policy"])
            graph.resource_statements.setdefault(runtime, []).extend(_statements(document))
    return graph


def _agent_tag(tags: Any) -> str | None:
    # IAM renders tags as [{"Key", "Value"}]; AgentCore as a {"key": "value"} map.
    if isinstance(tags, Mapping):
        value = tags.get(AGENT_TAG)
        return value if isinstance(value, str) else None
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, Mapping) and tag.get("Key") == AGENT_TAG:
                return tag.get("Value")
    return None


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    for statement in statements:
        for unsupported in ("NotAction", "NotResource", "NotPrincipal"):
            if unsupported in statement:
                raise UnsupportedPolicy(f"statement {statement.get('Sid', '?')} uses {unsupported}; the evaluator does not model it")
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(pattern).lower()) for pattern in _as_list(statement.get("Action", [])))


def _resource_ids(value: Any, *, allow: bool) -> set[str]:
    """Logical ids a resource entry points at, with "*" standing for "any runtime or gateway".

    An entry that is neither a reference to a resource of the template nor
    such a reference plus a literal suffix (".../runtime-endpoint/DEFAULT")
    cannot be resolved offline: a hard-coded ARN, a name pattern such as
    "runtime/AgentMesh_*", or "*". For an Allow it counts as matching
    everything, so the proof over-reports and never misses an edge. For a
    Deny it counts only if it is literally "*".
    """
    if isinstance(value, str):
        return {"*"} if (allow or value == "*") else set()
    if isinstance(value, Mapping):
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::Join" in value:
            parts = value["Fn::Join"][1]
            references = [part for part in parts if isinstance(part, Mapping)]
            literal = "".join(part for part in parts if isinstance(part, str))
            resolved = set().union(*(_resource_ids(part, allow=allow) for part in references)) if references else set()
            resolved -= {"*"}
            if resolved and references == parts[: len(references)] and "*" not in literal:
                return resolved
            return {"*"} if allow else set()
    return {"*"} if allow else set()


def _resource_matches(statement: Mapping[str, Any], targets: set[str]) -> bool:
    allow = statement.get("Effect") == "Allow"
    for resource in _as_list(statement.get("Resource", [])):
        ids = _resource_ids(resource, allow=allow)
        if "*" in ids or ids & targets:
            return True
    return False


def _principal_matches(statement: Mapping[str, Any], role: str | None) -> bool:
    if role is None:
        return True
    allow = statement.get("Effect") == "Allow"
    principal = statement.get("Principal")
    if principal == "*":
        return True
    entries = _as_list(principal.get("AWS", [])) if isinstance(principal, Mapping) else []
    for entry in entries:
        ids = _resource_ids(entry, allow=allow)
        if "*" in ids or role in ids:
            return True
    return False


def _matching(statements: Iterable[Mapping[str, Any]], effect: str, action: str, targets: set[str], principal: str | None) -> bool:
    return any(
        statement.get("Effect") == effect
        and _action_matches(statement, action)
        and _resource_matches(statement, targets)
        and _principal_matches(statement, principal)
        for statement in statements
    )


def _explicitly_denied(statements: Iterable[Mapping[str, Any]], action: str, targets: set[str], principal: str | None = None) -> bool:
    return _matching(list(statements), "Deny", action, targets, principal)


def _decide(statements: list[Mapping[str, Any]], action: str, targets: set[str], principal: str | None = None) -> bool:
    if _explicitly_denied(statements, action, targets, principal):
        return False
    return _matching(statements, "Allow", action, targets, principal)


def _referenced_ids(values: Iterable[Any]) -> list[str]:
    return [value["Ref"] for value in values if isinstance(value, Mapping) and "Ref" in value]


def _single_reference(value: Any) -> str:
    ids = _resource_ids(value, allow=False)
    if len(ids) != 1 or "*" in ids:
        raise UnsupportedPolicy(f"resource policy target {value!r} is not one runtime of the template")
    return next(iter(ids))


def parse_policy_string(value: Any) -> dict[str, Any]:
    """Parse a policy that CloudFormation receives as a JSON string with embedded intrinsics."""
    if isinstance(value, str):
        return json.loads(value)
    if isinstance(value, Mapping) and "Fn::Join" in value:
        placeholders: dict[str, Any] = {}
        text = ""
        for part in value["Fn::Join"][1]:
            if isinstance(part, str):
                text += part
            else:
                key = f"__intrinsic_{len(placeholders)}__"
                placeholders[key] = part
                text += key
        return _restore(json.loads(text), placeholders)
    raise UnsupportedPolicy(f"policy {value!r} is neither a JSON string nor an Fn::Join of one")


def _restore(node: Any, placeholders: Mapping[str, Any]) -> Any:
    if isinstance(node, str):
        return placeholders.get(node, node)
    if isinstance(node, list):
        return [_restore(item, placeholders) for item in node]
    if isinstance(node, dict):
        return {key: _restore(item, placeholders) for key, item in node.items()}
    return node
