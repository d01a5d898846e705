"""cfn-lint finds no errors in any synthesized template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

pytestmark = pytest.mark.slow

REGIONS = ["us-east-1", "us-west-2", "eu-central-1"]


@pytest.mark.parametrize("stack", ["network", "identity", "mesh"])
def test_template_has_no_cfn_lint_errors(synthesized, stack: str, tmp_path: Path) -> None:
    template = synthesized.template_json(stack)
    path = tmp_path / f"{stack}.template.json"
    path.write_text(json.dumps(template))
    matches = lint(path.read_text(), config=ManualArgs(regions=REGIONS))
    errors = [f"{match.rule.id} {match.message}" for match in matches if match.rule.id.startswith("E")]
    assert errors == []


def test_cfn_lint_catches_a_broken_template() -> None:
    # Guards the check itself: an invalid property must be reported as an error.
    broken = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"NoSuchProperty": 1}}}}
    matches = lint(json.dumps(broken), config=ManualArgs(regions=REGIONS))
    assert [match.rule.id for match in matches if match.rule.id.startswith("E")] != []
