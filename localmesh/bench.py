"""Latency each hop of the mesh adds, measured on the local mesh.

``python -m localmesh.bench --requests 200`` starts the mesh, sends warm-up
requests, then sends Alice's balance question N times in sequence, each in a
new session, and reports the median and the 99th percentile of each step.

The stand-ins time their own steps (`SpanRecorder`). An agent's own time is
the time the data plane waited for it, less the time spent in the hop it
called. Everything runs in one Python process on loopback, with moto for
AWS, so the numbers show the relative cost of the checks, not AWS latency.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .mesh import LocalMesh
from .template import load_mesh_template

DEFAULT_REQUESTS: Final = 200
WARM_UP_REQUESTS: Final = 5

# (label, how to compute the step's duration from one request's spans), in request order.
# An agent's row covers its own code and its HTTP exchanges, less the hop it calls.
STEP_LABELS: Final = (
    ("hop 1  data plane: JWT authorizer", "support_authorize"),
    ("hop 1  Support agent: token, Memory, scripted model", "support_own"),
    ("hop 2  data plane: SigV4 + policy", "transaction_authorize"),
    ("hop 2  Transaction agent: token, session, MCP client", "transaction_own"),
    ("hop 3  Gateway: SigV4 + policy", "gateway_authorize"),
    ("hop 3  interceptor function: token, rewrite", "interceptor"),
    ("hop 3  ledger function: STS + DynamoDB on moto", "ledger"),
    ("end to end, measured by the front end", "end_to_end"),
)
# The steps that are trust checks of the mesh, summed per request as "added by the checks".
CHECK_STEPS: Final = ("support_authorize", "transaction_authorize", "gateway_authorize", "interceptor")


@dataclass(frozen=True)
class BenchResult:
    """Durations (seconds) of each step over the measured requests."""

    requests: int
    failures: int
    steps: dict[str, list[float]]


def measure(mesh: LocalMesh, requests: int = DEFAULT_REQUESTS) -> BenchResult:
    """Send ``requests`` balance questions as Alice and return the duration of each step."""
    token = mesh.user_token("alice")
    for _ in range(WARM_UP_REQUESTS):
        mesh.ask_support(token, "What is my balance?", session_id=mesh.new_session_id("warmup"))

    steps: dict[str, list[float]] = {key: [] for _, key in STEP_LABELS}
    steps["checks_total"] = []
    failures = 0
    mesh.spans.enable()
    try:
        for _ in range(requests):
            mesh.spans.take()
            started = time.perf_counter()
            response = mesh.ask_support(token, "What is my balance?", session_id=mesh.new_session_id("bench"))
            elapsed = time.perf_counter() - started
            spans = mesh.spans.take()
            if response.status != 200 or not _complete(spans):
                failures += 1
                continue
            for key, value in _steps_of(spans, elapsed).items():
                steps[key].append(value)
    finally:
        mesh.spans.disable()
    return BenchResult(requests=requests, failures=failures, steps=steps)


_REQUIRED_SPANS: Final = (
    "support:authorize", "support:agent", "transaction:authorize", "transaction:agent",
    "gateway:authorize", "gateway:interceptor", "gateway:target",
)  # fmt: skip


def _complete(spans: dict[str, list[float]]) -> bool:
    return all(len(spans.get(name, ())) == 1 for name in _REQUIRED_SPANS)


def _steps_of(spans: dict[str, list[float]], end_to_end: float) -> dict[str, float]:
    span = {name: values[0] for name, values in spans.items()}
    gateway_total = span["gateway:authorize"] + span["gateway:interceptor"] + span["gateway:target"]
    steps = {
        "support_authorize": span["support:authorize"],
        "support_own": span["support:agent"] - span["transaction:authorize"] - span["transaction:agent"],
        "transaction_authorize": span["transaction:authorize"],
        "transaction_own": span["transaction:agent"] - gateway_total,
        "gateway_authorize": span["gateway:authorize"],
        "interceptor": span["gateway:interceptor"],
        "ledger": span["gateway:target"],
        "end_to_end": end_to_end,
    }
    steps["checks_total"] = sum(steps[key] for key in CHECK_STEPS)
    return steps


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` 0.99 for p99)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def format_report(result: BenchResult) -> str:
    """Render the result as a table in milliseconds, with the machine it ran on."""
    measured = result.requests - result.failures
    lines = [
        f"Per-hop latency over {measured} requests ({result.failures} failed), milliseconds:",
        f"  {'step':<56}{'median':>9}{'p99':>9}",
    ]
    for label, key in (*STEP_LABELS, ("stand-in checks + interceptor, summed per request", "checks_total")):
        values = result.steps.get(key) or []
        if values:
            lines.append(
                f"  {label:<56}{statistics.median(values) * 1000:>9.2f}{percentile(values, 0.99) * 1000:>9.2f}"
            )
    lines.append(
        f"  measured on {platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        "all components in one process on loopback (moto for AWS)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the mesh, measure, print the table; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m localmesh.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=DEFAULT_REQUESTS, help="number of measured requests (default 200)"
    )
    arguments = parser.parse_args(argv)
    if arguments.requests < 1:
        parser.error("--requests must be at least 1")

    template = load_mesh_template()
    print(f"Template: {template.source}")
    with LocalMesh(template) as mesh:
        result = measure(mesh, arguments.requests)
    print(format_report(result))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
