"""``python -m localmesh``: run the mesh's scenarios on loopback and print each outcome with its audit records.

Exits 0 when every scenario has its expected outcome, 1 when one does not,
and 2 when the mesh cannot start.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mesh_identity import mask_account_ids

from .audit_log import AuditEntry
from .bench import format_report, measure
from .mesh import USERS, LocalMesh
from .scenarios import SCENARIOS, Outcome, Scenario, run_scenario
from .template import TemplateError, load_mesh_template

_SUB_NAMES = {sub: name for name, sub in USERS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo and return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m localmesh", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=0, metavar="N",
        help="after the scenarios, measure per-hop latency over N requests (200 gives a stable p99)",
    )  # fmt: skip
    parser.add_argument("--log-file", type=Path, help="write every component's JSON log lines to this file")
    arguments = parser.parse_args(argv)
    if arguments.requests < 0:
        parser.error("--requests must be 0 or more")

    started = time.perf_counter()
    try:
        template = load_mesh_template()
    except TemplateError as error:
        print(f"Cannot read the mesh template: {error}", file=sys.stderr)
        return 2
    print(f"Template: {template.source}")

    mesh = LocalMesh(template, log_file=arguments.log_file)
    try:
        mesh.start()
    except Exception as error:  # noqa: BLE001 - the cause is printed; a traceback would add nothing a user can act on
        print(f"The local mesh failed to start: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    try:
        _print_components(mesh)
        outcomes = [(scenario, run_scenario(mesh, scenario)) for scenario in SCENARIOS]
        for number, (scenario, outcome) in enumerate(outcomes, start=1):
            _print_outcome(number, scenario, outcome)
        if arguments.requests:
            print()
            print(format_report(measure(mesh, arguments.requests)))
    finally:
        mesh.stop()

    failed = [scenario.name for scenario, outcome in outcomes if not outcome.passed]
    print()
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} scenarios had their expected outcome.")
    for name in failed:
        print(f"  UNEXPECTED: {name}")
    print(f"Wall time: {time.perf_counter() - started:.2f} s, from reading the template to the last component stopped.")
    if arguments.log_file:
        print(f"Component logs: {arguments.log_file}")
    return 1 if failed else 0


def _print_components(mesh: LocalMesh) -> None:
    print("Local mesh on 127.0.0.1, everything stopped on exit:")
    print(f"  OIDC issuer (Cognito-shaped)   {mesh.issuer.issuer}")
    print(f"  moto (DynamoDB, STS, KMS, SSM, AgentCore Memory)  {mesh.aws.url}")
    print(f"  AgentCore data plane stand-in  {mesh.dataplane_url}")
    print(f"  Gateway stand-in               {mesh.gateway_url}")
    for agent in sorted(mesh.template.runtimes):
        print(f"  {agent + ' agent':<31}{mesh.agent_url(agent)}  ({mask_account_ids(mesh.runtime_arn(agent))})")
    print("  Model: SCRIPTED MODEL (keyword_script), not Bedrock: it picks a tool by keyword and repeats its result")
    for gap in mesh.template_gaps:
        print(f"  TEMPLATE GAP: {gap}")


def _print_outcome(number: int, scenario: Scenario, outcome: Outcome) -> None:
    verdict = "as expected" if outcome.passed else "UNEXPECTED"
    print()
    print(f"[{number}] {scenario.name}: {verdict} ({outcome.seconds * 1000:.0f} ms)")
    print(f"    expected: {scenario.expectation}")
    print(f"    received: {outcome.summary}")
    for failure in outcome.failures:
        print(f"    FAILED CHECK: {failure}")
    for entry in outcome.audit:
        print(f"    audit  {_format_entry(entry)}")


def _format_entry(entry: AuditEntry) -> str:
    record = entry.record
    sub = record.get("sub")
    user = f"user={_SUB_NAMES.get(sub, sub)}" if sub else "user=-"
    extras = [
        f"{key}={record[key]}"
        for key in ("runtime", "tool", "removed_identity_arguments")
        if record.get(key) is not None
    ]
    principal = record.get("principal") or "-"
    line = f"{entry.hop:<20} {entry.decision:<5} {entry.reason:<30} {user:<11} principal={principal}"
    return f"{line} {' '.join(extras)}".rstrip()


if __name__ == "__main__":
    sys.exit(main())
