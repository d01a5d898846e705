"""The stand-ins decide from the template: change the template and the mesh's decisions change with it.

The template here is the synthesized one with two edits: the Support role
loses every grant to invoke the Transaction runtime (identity statements and
the runtime's resource policy), and the Transaction runtime loses its
MESH_GATEWAY_TARGET_NAME variable.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from mesh_identity.constants import ENV_GATEWAY_TARGET_NAME
from support_agent import answers

from localmesh.dataplane import AUDIT_HOP as RUNTIME_HOP
from localmesh.mesh import LocalMesh
from localmesh.policy_graph import INVOKE_RUNTIME
from localmesh.template import MeshTemplate
from tests.localmesh.conftest import reasons

pytestmark = pytest.mark.slow


def _without_invoke_grants(template: dict[str, Any], role: str, runtime: str) -> dict[str, Any]:
    edited = copy.deepcopy(template)
    resources = edited["Resources"]
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role} in resource[
            "Properties"
        ].get("Roles", []):
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [
                statement for statement in document["Statement"] if INVOKE_RUNTIME not in _actions(statement)
            ]
    edited["Resources"] = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if not (
            resource["Type"] == "AWS::BedrockAgentCore::ResourcePolicy"
            and resource["Properties"]["ResourceArn"]["Fn::GetAtt"][0] == runtime
        )
    }
    edited["Resources"][runtime]["Properties"]["EnvironmentVariables"].pop(ENV_GATEWAY_TARGET_NAME, None)
    return edited


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return actions if isinstance(actions, list) else [actions]


@pytest.fixture(scope="module")
def edited_mesh(mesh_template: MeshTemplate) -> Iterator[LocalMesh]:
    role = mesh_template.role_of_agent("support")
    runtime = mesh_template.runtimes["transaction"].logical_id
    edited = MeshTemplate.from_template(
        _without_invoke_grants(dict(mesh_template.template), role, runtime), source="edited"
    )
    with LocalMesh(edited) as running:
        yield running


def test_edited_template_has_no_support_edge(edited_mesh: LocalMesh) -> None:
    assert edited_mesh.template.policy.allowed_edges() == set()


def test_dataplane_denies_edge_missing_from_template(edited_mesh: LocalMesh) -> None:
    mark = edited_mesh.audit_log.mark()

    response = edited_mesh.ask_support(
        edited_mesh.user_token("alice"), "What is my balance?", session_id=edited_mesh.new_session_id()
    )

    assert response.json()["answer"] == answers.ACCOUNT_UNAVAILABLE
    assert reasons(edited_mesh, mark, RUNTIME_HOP) == ["runtime_invocation_forwarded", "caller_not_allowed_by_policy"]


def test_mesh_reports_missing_gateway_target_variable(edited_mesh: LocalMesh) -> None:
    assert any(ENV_GATEWAY_TARGET_NAME in gap for gap in edited_mesh.template_gaps)
