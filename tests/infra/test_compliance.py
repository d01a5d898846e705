"""cdk-nag: the mesh has zero unacknowledged findings, and the checks do catch a bad construct."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs

import constructs.compliance as compliance
from tests.support.cdk_app import build_test_app, mesh_test_context

pytestmark = pytest.mark.slow


def _violations(error: Exception) -> set[tuple[str, str]]:
    """(construct path, finding id) pairs from the validation report the error points at."""
    match = re.search(r"found in: (\S+validation-report\.json)", str(error))
    assert match, f"no validation report in: {str(error)[:500]}"
    report = json.loads(Path(match.group(1)).read_text())
    return {
        (construct["constructPath"], violation["ruleName"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def test_app_synthesizes_with_all_packs(tmp_path: Path) -> None:
    app, _stacks = build_test_app(tmp_path, compliance=True)
    assembly = app.synth()
    assert len(assembly.stacks) == 3


def test_noncompliant_construct_is_caught(tmp_path: Path) -> None:
    app, stacks = build_test_app(tmp_path, compliance=True)
    sqs.Queue(stacks["mesh"], "UnencryptedQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(RuntimeError, match="ValidationFailed") as error:
        app.synth()
    violations = _violations(error.value)
    assert ("AgentMeshMesh/UnencryptedQueue/Resource", "AwsSolutions-SQS4") in violations
    assert {path for path, _rule in violations} == {"AgentMeshMesh/UnencryptedQueue/Resource"}


def test_wildcard_grant_is_caught(tmp_path: Path) -> None:
    app, stacks = build_test_app(tmp_path, compliance=True)
    stacks["mesh"].agents["support"].add_to_policy(
        iam.PolicyStatement(actions=["dynamodb:*"], resources=["*"])
    )
    with pytest.raises(RuntimeError, match="ValidationFailed") as error:
        app.synth()
    assert ("AgentMeshMesh/SupportAgent/Policy/Resource", "AwsSolutions-IAM5[Action::dynamodb:*]") in _violations(error.value)


def test_every_acknowledgement_matches_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without acknowledgements, each one must correspond to a finding cdk-nag reports.
    recorded: set[tuple[str, str]] = set()
    monkeypatch.setattr(compliance, "_apply", lambda resource, finding, reason: recorded.add((resource.node.path, finding)))
    app, _stacks = build_test_app(tmp_path, compliance=True)
    with pytest.raises(RuntimeError, match="ValidationFailed") as error:
        app.synth()
    assert recorded - _violations(error.value) == set()


def test_acknowledgement_rejects_whole_stack(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Any")
    with pytest.raises(ValueError, match="whole stack"):
        compliance.acknowledge(stack, ["AwsSolutions-IAM5[Resource::*]"], "x" * 60)


def test_acknowledgement_rejects_short_reason(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Any")
    queue = sqs.Queue(stack, "Queue")
    with pytest.raises(ValueError, match="at least 40 characters"):
        compliance.acknowledge(queue, ["AwsSolutions-SQS4"], "false positive")


def test_acknowledgements_are_written_to_templates(tmp_path: Path) -> None:
    app, _stacks = build_test_app(tmp_path, compliance=True)
    app.synth()
    template = json.loads((tmp_path / "AgentMeshMesh.template.json").read_text())
    suppressed = [
        rule["id"]
        for resource in template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert "AwsSolutions-IAM5[Resource::*]" in suppressed


def test_known_environment_passes_all_packs(tmp_path: Path) -> None:
    # Finding ids contain the region once it is known; acknowledgements must follow.
    context = mesh_test_context(**{"mesh:account": "111111111111", "mesh:region": "eu-central-1"})
    app, stacks = build_test_app(tmp_path, compliance=True, context=context)
    assembly = app.synth()
    assert stacks["mesh"].region == "eu-central-1"
    assert len(assembly.stacks) == 3
    # No context lookup is left to do, so the CLI needs no credentials either.
    assert "missing" not in json.loads((tmp_path / "manifest.json").read_text())
    assert stacks["network"].vpc.availability_zones == ["eu-central-1a", "eu-central-1b"]
