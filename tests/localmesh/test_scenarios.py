"""The demo's scenarios, driven through the local mesh over real HTTP."""

from __future__ import annotations

import pytest

from localmesh.dataplane import AUDIT_HOP as RUNTIME_HOP
from localmesh.mesh import LocalMesh
from localmesh.scenarios import SCENARIOS, Scenario, run_scenario

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_scenario_has_expected_outcome(mesh: LocalMesh, scenario: Scenario) -> None:
    outcome = run_scenario(mesh, scenario)

    assert outcome.passed, f"{scenario.expectation}; received {outcome.summary}; failed checks: {outcome.failures}"


def test_scenario_writes_audit_record_per_hop(mesh: LocalMesh) -> None:
    # GIVEN Alice's honest request, WHEN it crosses the mesh, THEN every hop it crosses writes a record.
    outcome = run_scenario(mesh, SCENARIOS[0])

    hops = [entry.hop for entry in outcome.audit]
    assert hops == [
        RUNTIME_HOP,
        RUNTIME_HOP,
        "gateway_standin",
        "gateway_interceptor",
        "ledger",
        "transaction_agent",
        "support_agent",
    ]


def test_scenario_records_keep_tokens_out(mesh: LocalMesh) -> None:
    outcome = run_scenario(mesh, SCENARIOS[0])

    logged = repr([entry.record for entry in outcome.audit])
    assert "eyJ" not in logged, "an audit record contains something shaped like a JWT"
