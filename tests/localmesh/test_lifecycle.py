"""Starting and stopping the local mesh: the demo's entry point, clean stops, and stops after a failed start."""

from __future__ import annotations

import copy
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import localmesh.__main__ as demo
from localmesh import agents
from localmesh.mesh import LocalMesh
from localmesh.template import MeshTemplate, TemplateError

pytestmark = pytest.mark.slow


def _thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def _accepts_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False


def test_demo_main_runs_scenarios_and_bench(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, mesh_template: MeshTemplate
) -> None:
    monkeypatch.setattr(demo, "load_mesh_template", lambda: mesh_template)
    log_file = tmp_path / "mesh.jsonl"

    exit_code = demo.main(["--requests", "3", "--log-file", str(log_file)])

    output = capsys.readouterr().out
    log_lines = log_file.read_text(encoding="utf-8").splitlines()
    assert exit_code == 0, output
    assert "SCRIPTED MODEL" in output
    assert "8 of 8 scenarios had their expected outcome." in output
    assert "Per-hop latency over 3 requests (0 failed)" in output
    assert "Wall time:" in output
    assert sum('"audit"' in line for line in log_lines) > 50
    assert [line for line in log_lines if "eyJ" in line] == [], "a component logged something shaped like a JWT"


def test_mesh_stop_leaves_no_thread_or_port(mesh_template: MeshTemplate) -> None:
    before = _thread_names()
    mesh = LocalMesh(mesh_template)
    mesh.start()
    urls = [mesh.dataplane_url, mesh.gateway_url, mesh.aws.url, mesh.issuer.base_url, mesh.agent_url("support")]

    mesh.stop()

    assert _thread_names() - before == set()
    assert [url for url in urls if _accepts_connections(url)] == []


def test_mesh_start_failure_stops_started_components(
    monkeypatch: pytest.MonkeyPatch, mesh_template: MeshTemplate
) -> None:
    before = _thread_names()

    def broken_build(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the agent failed its cold start")

    monkeypatch.setattr(agents, "build_support", broken_build)
    mesh = LocalMesh(mesh_template)

    with pytest.raises(RuntimeError, match="cold start"):
        mesh.start()

    assert _thread_names() - before == set()


def test_mesh_start_rejects_function_gateway_may_not_invoke(mesh_template: MeshTemplate) -> None:
    # GIVEN a template whose ledger function lost its Lambda permission for the Gateway's role
    template = copy.deepcopy(dict(mesh_template.template))
    target_function = mesh_template.gateway.targets[0].function.logical_id
    template["Resources"] = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if not (
            resource["Type"] == "AWS::Lambda::Permission"
            and resource["Properties"]["FunctionName"].get("Fn::GetAtt", [None])[0] == target_function
        )
    }
    mesh = LocalMesh(MeshTemplate.from_template(template, source="edited"))

    # WHEN the mesh starts, THEN the Gateway refuses to call the function, naming it
    with pytest.raises(TemplateError, match=target_function):
        mesh.start()
