"""Synthesize the mesh once per session; template tests share the result."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from tests.support.cdk_app import build_test_app


@dataclass
class SynthesizedMesh:
    app: cdk.App
    stacks: dict[str, cdk.Stack]
    templates: dict[str, Template]

    def template_json(self, name: str) -> dict:
        return self.templates[name].to_json()


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedMesh:
    app, stacks = build_test_app(tmp_path_factory.mktemp("cdk.out"))
    templates = {name: Template.from_stack(stack) for name, stack in stacks.items()}
    return SynthesizedMesh(app=app, stacks=stacks, templates=templates)


@pytest.fixture(scope="session")
def network_template(synthesized: SynthesizedMesh) -> Template:
    return synthesized.templates["network"]


@pytest.fixture(scope="session")
def identity_template(synthesized: SynthesizedMesh) -> Template:
    return synthesized.templates["identity"]


@pytest.fixture(scope="session")
def mesh_template(synthesized: SynthesizedMesh) -> Template:
    return synthesized.templates["mesh"]
