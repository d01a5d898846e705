"""mesh.toml validation: every bad file fails with a message naming the entry and the fix."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from stacks.mesh_file import MeshFileError, load_mesh_file, parse_mesh
from tests.support.cdk_app import REPOSITORY_ROOT, build_test_app, mesh_test_context

SEED = tomllib.loads((REPOSITORY_ROOT / "mesh.toml").read_text())


def _with(change) -> dict:
    document = copy.deepcopy(SEED)
    change(document)
    return document


def _problems(document: dict) -> str:
    with pytest.raises(MeshFileError) as error:
        parse_mesh(document, root=REPOSITORY_ROOT)
    return str(error.value)


def test_mesh_file_seed_is_valid() -> None:
    mesh = load_mesh_file(REPOSITORY_ROOT / "mesh.toml", root=REPOSITORY_ROOT)
    assert mesh.agent_edges() == {("support", "transaction")}


def test_mesh_file_seed_tool_edges() -> None:
    mesh = load_mesh_file(REPOSITORY_ROOT / "mesh.toml", root=REPOSITORY_ROOT)
    assert mesh.tool_edges() == {("transaction", "ledger")}


def test_mesh_file_orders_callees_first() -> None:
    mesh = load_mesh_file(REPOSITORY_ROOT / "mesh.toml", root=REPOSITORY_ROOT)
    assert [agent.name for agent in mesh.ordered_agents()] == ["transaction", "support"]


BAD_FILES = [
    ("unknown-agent", lambda d: d["agents"]["support"].update(calls=["payments"]), "agents.support.calls names unknown agent 'payments'"),
    ("self-call", lambda d: d["agents"]["transaction"].update(calls=["transaction"]), "agents.transaction.calls contains itself"),
    (
        "cycle",
        lambda d: d["agents"]["transaction"].update(calls=["audit"]) or d["agents"].update(
            audit={"inbound": "mesh", "source": "agents/transaction", "calls": ["transaction"], "required_scopes": []}
        ),
        "the calls form a cycle",
    ),
    ("user-facing-callee", lambda d: d["agents"]["transaction"].update(inbound="user"), "'transaction', which is user-facing"),
    ("unknown-tool", lambda d: d["agents"]["transaction"].update(tools=["payments"]), "unknown tool 'payments'"),
    ("invalid-name", lambda d: d["agents"].update({"Risk-Engine": {"inbound": "mesh", "required_scopes": []}}), "name 'Risk-Engine' is invalid"),
    ("colliding-names", lambda d: d["tools"].update(support=copy.deepcopy(d["tools"]["ledger"])), "name 'support' collides with 'support'"),
    ("unknown-agent-key", lambda d: d["agents"]["support"].update(callz=["transaction"]), "unknown key 'callz' in agents.support"),
    ("unknown-top-key", lambda d: d.update(agent={}), "unknown key 'agent' in the top level"),
    ("bad-inbound", lambda d: d["agents"]["support"].update(inbound="oauth"), "agents.support.inbound is 'oauth'"),
    ("missing-source", lambda d: d["agents"]["support"].update(source="agents/nowhere"), "agents.support.source is 'agents/nowhere'"),
    ("duplicate-call", lambda d: d["agents"]["support"].update(calls=["transaction", "transaction"]), "lists ['transaction'] more than once"),
    ("bad-version", lambda d: d.update(version=2), "version is 2; set version = 1"),
    ("no-scope-operation", lambda d: d["tools"]["ledger"]["operations"]["get_balance"].pop("scope"), "operations.get_balance.scope is None"),
    ("mesh-agent-without-scopes", lambda d: d["agents"]["transaction"].pop("required_scopes"), "must list required_scopes"),
]


@pytest.mark.parametrize(("change", "expected"), [(change, expected) for _, change, expected in BAD_FILES], ids=[case for case, _, _ in BAD_FILES])
def test_mesh_file_rejects_bad_entry(change, expected: str) -> None:
    assert expected in _problems(_with(change))


def test_mesh_file_reports_every_problem() -> None:
    document = _with(lambda d: d["agents"]["support"].update(calls=["payments"], inbound="oauth"))
    message = _problems(document)
    assert "unknown agent 'payments'" in message
    assert "inbound is 'oauth'" in message


def test_mesh_file_duplicate_table_is_reported(tmp_path: Path) -> None:
    text = (REPOSITORY_ROOT / "mesh.toml").read_text() + '\n[agents.support]\ninbound = "user"\n'
    path = tmp_path / "mesh.toml"
    path.write_text(text)
    with pytest.raises(MeshFileError, match="not valid TOML"):
        load_mesh_file(path, root=REPOSITORY_ROOT)


def test_mesh_file_missing_file_names_setting(tmp_path: Path) -> None:
    with pytest.raises(MeshFileError, match="mesh:file"):
        load_mesh_file(tmp_path / "absent.toml", root=REPOSITORY_ROOT)


def test_bad_mesh_file_synthesizes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((REPOSITORY_ROOT / "mesh.toml").read_text().replace('calls = ["transaction"]', 'calls = ["payments"]'))
    context = mesh_test_context(**{"mesh:file": str(bad)})
    with pytest.raises(MeshFileError):
        build_test_app(tmp_path / "out", context=context)
    assert not (tmp_path / "out" / "manifest.json").exists()
