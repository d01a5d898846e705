#!/usr/bin/env python3
"""Synthesize the Zero Trust Agent Mesh: `cdk synth` runs this file (see cdk.json)."""

import sys
from pathlib import Path

# The Lambda code's shared library defines the header and scope names the
# stacks configure; it lives in lambda_src/ so it can be bundled as is.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda_src"))

import aws_cdk as cdk  # noqa: E402

from stacks.mesh_app import build_mesh  # noqa: E402

app = cdk.App()
build_mesh(app)
app.synth()
