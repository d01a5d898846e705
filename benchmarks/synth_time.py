"""Time synthesis of the whole app with and without the cdk-nag packs, in one process.

Bundling is skipped in both runs, so the difference is the cost of the five
rule packs. Run: .venv/bin/python benchmarks/synth_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

from tests.support.node import use_project_node  # noqa: E402

use_project_node()

from tests.support.cdk_app import build_test_app  # noqa: E402


def _synthesize(compliance: bool) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        start = time.perf_counter()
        app, _stacks = build_test_app(outdir, compliance=compliance)
        app.synth()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="synthesis runs per variant (default 3)")
    arguments = parser.parse_args()

    _synthesize(False)  # warms up the jsii runtime, which the first synthesis would otherwise pay for
    for compliance in (False, True):
        times = [_synthesize(compliance) for _ in range(arguments.runs)]
        label = "with cdk-nag packs" if compliance else "without packs"
        print(f"{label:>20}: median {statistics.median(times):.2f} s over {arguments.runs} runs")


if __name__ == "__main__":
    main()
