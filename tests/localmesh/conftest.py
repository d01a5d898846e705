"""Fixtures of the local-mesh tests: the template, synthesized once per session, and a mesh per module.

The template is always synthesized from the source (bundling skipped), never
read from cdk.out, so the tests check the code as it is, not an older build.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localmesh.audit_log import AuditEntry
from localmesh.mesh import LocalMesh
from localmesh.template import MeshTemplate, synthesize_mesh_template


@pytest.fixture(scope="session")
def mesh_template() -> MeshTemplate:
    """The mesh stack's template, synthesized in-process without bundling."""
    return MeshTemplate.from_template(synthesize_mesh_template(), source="synthesized for the tests")


@pytest.fixture(scope="module")
def mesh(mesh_template: MeshTemplate) -> Iterator[LocalMesh]:
    """A running local mesh, shared by the tests of one module and always stopped after them."""
    with LocalMesh(mesh_template) as running:
        yield running


def records(mesh: LocalMesh, mark: int, hop: str | None = None) -> list[AuditEntry]:
    """The audit records written since ``mark``, optionally only those of one hop."""
    return [entry for entry in mesh.audit_log.since(mark) if hop is None or entry.hop == hop]


def reasons(mesh: LocalMesh, mark: int, hop: str) -> list[str]:
    """The reasons of one hop's audit records written since ``mark``."""
    return [entry.reason for entry in records(mesh, mark, hop)]


def record_of(mesh: LocalMesh, mark: int, hop: str) -> dict[str, Any]:
    """The single audit record one hop wrote since ``mark``; fails if there is not exactly one."""
    entries = records(mesh, mark, hop)
    assert len(entries) == 1, f"expected one {hop} record, found {[entry.reason for entry in entries]}"
    return dict(entries[0].record)
