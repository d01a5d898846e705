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
            audit={"inbound": "mesh", "source": "agents/transaction", "calls": ["transaction"], "required_scopes": ["agent-mesh/accounts.read"]}
        ),
        "the calls form a cycle",
    ),
    ("user-facing-callee", lambda d: d["agents"]["transaction"].update(inbound="user"), "'transaction', which is user-facing"),
    ("unknown-tool", lambda d: d["agents"]["transaction"].update(tools=["payments"]), "unknown tool 'payments'"),
    ("invalid-name", lambda d: d["agents"].update({"Risk-Engine": {"inbound": "mesh", "source": "agents/transaction", "required_scopes": ["agent-mesh/accounts.read"]}}), "name 'Risk-Engine' is invalid"),
    ("colliding-names", lambda d: d["tools"].update(support=copy.deepcopy(d["tools"]["ledger"])), "name 'support' collides with 'support'"),
    ("unknown-agent-key", lambda d: d["agents"]["support"].update(callz=["transaction"]), "unknown key 'callz' in agents.support"),
    ("unknown-top-key", lambda d: d.update(agent={}), "unknown key 'agent' in the top level"),
    ("bad-inbound", lambda d: d["agents"]["support"].update(inbound="oauth"), "agents.support.inbound is 'oauth'"),
    ("missing-source", lambda d: d["agents"]["support"].update(source="agents/nowhere"), "agents.support.source is 'agents/nowhere'"),
    ("duplicate-call", lambda d: d["agents"]["support"].update(calls=["transaction", "transaction"]), "lists ['transaction'] more than once"),
    ("bad-version", lambda d: d.update(version=2), "version is 2; set version = 1"),
    ("no-scope-operation", lambda d: d["tools"]["ledger"]["operations"]["get_balance"].pop("scope"), "operations.get_balance.scope is None"),
    ("mesh-agent-without-scopes", lambda d: d["agents"]["transaction"].pop("required_scopes"), "agents.transaction.required_scopes is empty"),
    ("user-agent-without-scopes", lambda d: d["agents"]["support"].pop("required_scopes"), "agents.support.required_scopes is empty"),
    ("empty-scopes", lambda d: d["agents"]["transaction"].update(required_scopes=[]), "agents.transaction.required_scopes is empty"),
    ("unknown-scope", lambda d: d["agents"]["support"].update(required_scopes=["agent-mesh/admin.write"]), "which the user pool does not define"),
    ("newline-in-name", lambda d: d["agents"].update({"audit\n": {"inbound": "mesh", "source": "agents/transaction", "required_scopes": ["agent-mesh/accounts.read"]}}), "name 'audit\\n' is invalid"),
    ("version-true", lambda d: d.update(version=True), "version is True"),
    ("version-float", lambda d: d.update(version=1.0), "version is 1.0"),
    ("description-number", lambda d: d["agents"]["support"].update(description=5), "agents.support.description must be a string"),
    ("source-outside-repository", lambda d: d["agents"]["support"].update(source="../outside"), "outside the repository"),
    ("schema-outside-tool", lambda d: d["tools"]["ledger"].update(schema="os:environ"), "must be inside the tool's package"),
    ("schema-not-definitions", lambda d: d["tools"]["ledger"].update(schema="ledger.tool_schema:MAX_PAGE_SIZE"), "is not a list of MCP tool definitions"),
    ("tool-source-missing", lambda d: d["tools"]["ledger"].update(source="nosuchfolder"), "lambda_src/nosuchfolder/handler.py does not exist"),
    ("operations-differ", lambda d: d["tools"]["ledger"]["operations"].update(list_transfers=d["tools"]["ledger"]["operations"].pop("list_transactions")), "the schema defines"),
    ("scope-differs-from-interceptor", lambda d: d["tools"]["ledger"]["operations"]["list_transactions"].update(scope="agent-mesh/accounts.read"), "but the interceptor enforces"),
    ("shared-tool-source", lambda d: d["tools"].update(archive=copy.deepcopy(d["tools"]["ledger"])), "is already the function of tools.ledger"),
    ("partial-tool-list", lambda d: d["tools"].update(archive={**copy.deepcopy(d["tools"]["ledger"]), "source": "interceptor"}), "IAM cannot limit an agent to some of them"),
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


@pytest.mark.parametrize(
    "content", [bytes(range(256)) * 4, b"\xff\xfe" + "version = 1".encode("utf-16-le")], ids=["binary", "utf16"]
)
def test_mesh_file_unreadable_bytes_are_reported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mesh.toml"
    path.write_bytes(content)
    with pytest.raises(MeshFileError, match="not UTF-8 text"):
        load_mesh_file(path, root=REPOSITORY_ROOT)


def test_mesh_file_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(MeshFileError, match="cannot be read"):
        load_mesh_file(tmp_path, root=REPOSITORY_ROOT)


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
