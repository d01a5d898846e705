"""Proof: the agent-to-agent and agent-to-gateway edges IAM allows are exactly those mesh.toml declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from localmesh.policy_graph import build_policy_graph
from stacks.mesh_file import load_mesh_file
from tests.support.cdk_app import REPOSITORY_ROOT, build_test_app, mesh_test_context

FOUR_AGENTS = Path(__file__).parent / "meshes" / "four_agents.toml"


def _synthesize(tmp_path: Path, mesh_file: str, tamper=None) -> dict:
    app, stacks = build_test_app(tmp_path, context=mesh_test_context(**{"mesh:file": mesh_file}))
    if tamper is not None:
        tamper(stacks["mesh"])
    return Template.from_stack(stacks["mesh"]).to_json()


@pytest.fixture(scope="module")
def seed_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _synthesize(tmp_path_factory.mktemp("seed"), "mesh.toml")


@pytest.fixture(scope="module")
def four_agent_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _synthesize(tmp_path_factory.mktemp("four"), str(FOUR_AGENTS))


def test_seed_mesh_allowed_edges_equal_declared(seed_template: dict) -> None:
    declared = load_mesh_file(REPOSITORY_ROOT / "mesh.toml", root=REPOSITORY_ROOT)
    graph = build_policy_graph(seed_template)
    assert graph.allowed_edges() == declared.agent_edges()


def test_seed_mesh_identity_and_resource_policies_agree(seed_template: dict) -> None:
    # Each side alone grants exactly the declared IAM-inbound edges.
    graph = build_policy_graph(seed_template)
    assert graph.identity_edges() == graph.resource_edges()


def test_seed_mesh_gateway_callers_equal_declared(seed_template: dict) -> None:
    declared = load_mesh_file(REPOSITORY_ROOT / "mesh.toml", root=REPOSITORY_ROOT)
    graph = build_policy_graph(seed_template)
    assert graph.gateway_callers() == {agent for agent, _tool in declared.tool_edges()}


def test_four_agent_mesh_allowed_edges_equal_declared(four_agent_template: dict) -> None:
    declared = load_mesh_file(FOUR_AGENTS, root=REPOSITORY_ROOT)
    graph = build_policy_graph(four_agent_template)
    assert graph.allowed_edges() == declared.agent_edges()


def test_four_agent_mesh_gateway_callers_equal_declared(four_agent_template: dict) -> None:
    declared = load_mesh_file(FOUR_AGENTS, root=REPOSITORY_ROOT)
    graph = build_policy_graph(four_agent_template)
    assert graph.gateway_callers() == {agent for agent, _tool in declared.tool_edges()}


def test_four_agent_mesh_resource_policies_admit_declared_callers(four_agent_template: dict) -> None:
    graph = build_policy_graph(four_agent_template)
    assert graph.resource_edges() == {("support", "transaction"), ("support", "advisor"), ("branch", "advisor"), ("advisor", "transaction")}


def _grant_by_name_pattern(mesh_stack) -> None:
    # A reference to the support runtime itself would form a dependency cycle
    # that CDK rejects; a name pattern is how a hand-written grant would look.
    mesh_stack.agents["transaction"].add_to_policy(
        iam.PolicyStatement(
            actions=["bedrock-agentcore:InvokeAgentRuntime"],
            resources=[mesh_stack.format_arn(service="bedrock-agentcore", resource="runtime", resource_name="AgentMesh_support-*")],
        )
    )


def _admit_in_resource_policy(mesh_stack) -> None:
    support = mesh_stack.agents["support"]
    transaction = mesh_stack.agents["transaction"]
    document = iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                principals=[iam.ArnPrincipal(transaction.role.role_arn)],
                actions=["bedrock-agentcore:InvokeAgentRuntime"],
                resources=[support.runtime_arn],
            )
        ]
    )
    agentcore.CfnResourcePolicy(
        mesh_stack, "HandWrittenPolicy", resource_arn=support.runtime_arn, policy=mesh_stack.to_json_string(document.to_json())
    )


def _grant_wildcard(mesh_stack) -> None:
    mesh_stack.agents["transaction"].add_to_policy(
        iam.PolicyStatement(actions=["bedrock-agentcore:*"], resources=["*"])
    )


@pytest.mark.parametrize(
    ("tamper", "extra_edge"),
    [
        (_grant_by_name_pattern, ("transaction", "support")),
        (_grant_wildcard, ("transaction", "support")),
        (_admit_in_resource_policy, ("transaction", "support")),
    ],
    ids=["name-pattern-grant", "action-and-resource-wildcard", "resource-policy-grant"],
)
def test_proof_detects_edge_granted_by_hand(tmp_path: Path, tamper, extra_edge: tuple[str, str]) -> None:
    template = _synthesize(tmp_path, "mesh.toml", tamper=tamper)
    graph = build_policy_graph(template)
    assert extra_edge in graph.allowed_edges()


def test_proof_detects_gateway_grant_by_hand(tmp_path: Path) -> None:
    def grant(mesh_stack) -> None:
        mesh_stack.agents["support"].add_to_policy(
            iam.PolicyStatement(actions=["bedrock-agentcore:InvokeGateway"], resources=[mesh_stack.gateway.gateway_arn])
        )

    graph = build_policy_graph(_synthesize(tmp_path, "mesh.toml", tamper=grant))
    assert "support" in graph.gateway_callers()


def _all_statements(template: dict):
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            for statement in properties["PolicyDocument"]["Statement"]:
                yield logical_id, statement
        for inline in properties.get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []:
            for statement in inline["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def _as_list(value):
    return value if isinstance(value, list) else [value]


# Services whose actions the mesh grants on specific resources; "*" must never appear with them.
SCOPED_SERVICES = ("bedrock-agentcore:", "dynamodb:", "kms:", "lambda:", "ssm:", "sts:", "s3:", "bedrock:", "sqs:")


def test_no_action_wildcard_on_mesh_services(seed_template: dict) -> None:
    wildcards = [
        (logical_id, action)
        for logical_id, statement in _all_statements(seed_template)
        for action in _as_list(statement["Action"])
        if action == "*" or action.endswith(":*")
    ]
    assert wildcards == []


def test_no_resource_wildcard_on_scoped_actions(seed_template: dict) -> None:
    offenders = [
        (logical_id, statement.get("Sid"))
        for logical_id, statement in _all_statements(seed_template)
        if statement["Effect"] == "Allow"
        and "*" in _as_list(statement["Resource"])
        and any(str(action).startswith(SCOPED_SERVICES) for action in _as_list(statement["Action"]))
    ]
    assert offenders == []
