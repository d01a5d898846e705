"""Build the mesh app for tests: cdk.json's context, no bundling, fixed values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from stacks.mesh_app import build_mesh

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def mesh_test_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context with bundling skipped and every synth-time value fixed."""
    context = dict(json.loads((REPOSITORY_ROOT / "cdk.json").read_text())["context"])
    context.update(
        {
            # Tests never run pip: assets hold only their source folders.
            "aws:cdk:bundling-stacks": [],
            "mesh:deployNonce": "test-nonce",
        }
    )
    context.update(overrides)
    return context


def build_test_app(
    outdir: str | Path, *, compliance: bool = False, context: Mapping[str, Any] | None = None
) -> tuple[cdk.App, dict[str, cdk.Stack]]:
    """Create the app and its stacks; synthesis is left to the caller."""
    app = cdk.App(context=dict(context or mesh_test_context()), outdir=str(outdir))
    stacks = build_mesh(app, compliance=compliance)
    return app, stacks
