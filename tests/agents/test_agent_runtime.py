"""Unit tests of mesh_identity.agent_runtime, the settings and app code that both agents share."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.datastructures import Headers
from support_agent.settings import SettingsError as SupportSettingsError
from transaction_agent.settings import SettingsError as TransactionSettingsError

from mesh_identity.agent_runtime import (
    DEFAULT_AGENT_HOST,
    DEFAULT_AGENT_PORT,
    SettingsError,
    build_runtime_app,
    check_secure_url,
    is_loopback_host,
    read_host,
    read_port,
    read_region,
    read_required,
    request_headers,
)
from mesh_identity.constants import ENV_AGENT_HOST, ENV_AGENT_PORT
from tests.agents.http_client import request_json

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
VARIABLE = "MESH_EXAMPLE_URL"


# -- settings -------------------------------------------------------------------


def test_settings_error_shared_by_both_agents():
    assert SupportSettingsError is SettingsError
    assert TransactionSettingsError is SettingsError


def test_read_required_strips_value():
    assert read_required({"NAME": "  value  "}, "NAME", "a value") == "value"


@pytest.mark.parametrize("env", [{}, {"NAME": ""}, {"NAME": "   "}])
def test_read_required_missing_names_variable(env):
    with pytest.raises(SettingsError, match="NAME is not set; set it to the thing to set"):
        read_required(env, "NAME", "the thing to set")


def test_read_region_prefers_aws_region():
    assert read_region({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}) == "eu-west-1"


def test_read_region_falls_back_to_default_region():
    assert read_region({"AWS_DEFAULT_REGION": "us-east-1"}) == "us-east-1"


@pytest.mark.parametrize("env", [{}, {"AWS_REGION": ""}, {"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}])
def test_read_region_missing_rejected(env):
    with pytest.raises(SettingsError, match="AWS_REGION is not set"):
        read_region(env)


def test_read_host_default():
    assert read_host({}) == DEFAULT_AGENT_HOST


def test_read_host_from_environment():
    assert read_host({ENV_AGENT_HOST: "127.0.0.1"}) == "127.0.0.1"


@pytest.mark.parametrize("env", [{}, {ENV_AGENT_PORT: ""}, {ENV_AGENT_PORT: "  "}])
def test_read_port_default(env):
    assert read_port(env) == DEFAULT_AGENT_PORT


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("9000", 9000), (" 65535 ", 65535)])
def test_read_port_valid(raw, expected):
    assert read_port({ENV_AGENT_PORT: raw}) == expected


@pytest.mark.parametrize("raw", ["0", "65536", "-1", "+80", "80.0", "0x50", "eighty", "8 0", "\u0668\u0660", "\u00b2"])
def test_read_port_invalid_rejected(raw):
    with pytest.raises(SettingsError, match=ENV_AGENT_PORT):
        read_port({ENV_AGENT_PORT: raw})


@pytest.mark.parametrize(
    "url",
    [
        "https://gateway.example.com/mcp",
        "https://gateway.example.com:8443/mcp",
        "http://127.0.0.1:8080/mcp",
        "http://127.5.6.7/mcp",
        "http://localhost:9000/",
        "http://[::1]:9000/mcp",
    ],
)
def test_check_secure_url_accepted(url):
    check_secure_url(url, variable=VARIABLE)


@pytest.mark.parametrize(
    "url",
    [
        "http://gateway.example.com/mcp",
        "http://10.0.0.1/mcp",
        "http://127.0.0.1.example.com/mcp",
        "http://localhost.example.com/mcp",
        "ftp://127.0.0.1/mcp",
        "file:///etc/passwd",
        "gateway.example.com/mcp",
        "https:///mcp",
        "https://user:secret@gateway.example.com/mcp",
        "https://user@gateway.example.com/mcp",
        "https://gateway.example.com/mcp?target=other",
        "https://gateway.example.com/mcp#fragment",
    ],
)
def test_check_secure_url_rejected(url):
    with pytest.raises(SettingsError, match=VARIABLE):
        check_secure_url(url, variable=VARIABLE)


def test_check_secure_url_error_shows_example():
    with pytest.raises(SettingsError, match="such as https://host/mcp"):
        check_secure_url("https://host/mcp?x=1", variable=VARIABLE, example="https://host/mcp")


def test_check_secure_url_error_without_example():
    with pytest.raises(SettingsError) as raised:
        check_secure_url("https://host/mcp?x=1", variable=VARIABLE)

    assert "such as" not in str(raised.value)


def test_check_secure_url_plain_http_error_names_rule():
    with pytest.raises(SettingsError, match=r"http is accepted only for a loopback host"):
        check_secure_url("http://gateway.example.com/mcp", variable=VARIABLE)


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("LOCALHOST", False),
        ("localhost.example.com", False),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("::", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(hostname, expected):
    assert is_loopback_host(hostname) is expected


# -- runtime app ----------------------------------------------------------------


def test_request_headers_without_context():
    assert request_headers(None) == []


def test_request_headers_without_request():
    assert request_headers(SimpleNamespace(request=None)) == []


def test_request_headers_keeps_duplicates_and_order():
    raw = [(b"authorization", b"Bearer one"), (b"x-other", b"1"), (b"authorization", b"Bearer two")]
    context = SimpleNamespace(request=SimpleNamespace(headers=Headers(raw=raw)))

    assert request_headers(context) == [
        ("authorization", "Bearer one"),
        ("x-other", "1"),
        ("authorization", "Bearer two"),
    ]


@dataclass(frozen=True)
class _Reply:
    status: int
    body: dict[str, Any]


@dataclass
class _RecordingHandler:
    """A handler that records each call and returns a fixed reply."""

    reply: _Reply
    calls: list[tuple[Any, list[tuple[str, str]]]] = field(default_factory=list)

    def handle(self, payload: Any, headers: Sequence[tuple[str, str]]) -> _Reply:
        self.calls.append((payload, list(headers)))
        return self.reply


def test_build_runtime_app_returns_handler_reply(serve_app):
    handler = _RecordingHandler(_Reply(403, {"error": "forbidden"}))
    running = serve_app(build_runtime_app(handler))

    reply = request_json("POST", f"{running.base_url}/invocations", payload={"prompt": "hello"})

    assert reply.status == 403
    assert reply.body == {"error": "forbidden"}


def test_build_runtime_app_passes_payload_and_every_header(serve_app):
    handler = _RecordingHandler(_Reply(200, {"ok": True}))
    running = serve_app(build_runtime_app(handler))

    request_json(
        "POST",
        f"{running.base_url}/invocations",
        headers=[("X-Token", "first"), ("X-Token", "second")],
        payload={"prompt": "hello"},
    )

    assert len(handler.calls) == 1
    payload, headers = handler.calls[0]
    assert payload == {"prompt": "hello"}
    assert [value for name, value in headers if name == "x-token"] == ["first", "second"]


def test_build_runtime_app_serves_ping(serve_app):
    running = serve_app(build_runtime_app(_RecordingHandler(_Reply(200, {}))))

    reply = request_json("GET", f"{running.base_url}/ping")

    assert reply.status == 200


def test_agent_runtime_import_loads_no_sdk():
    # The Lambda functions ship mesh_identity without the bedrock-agentcore SDK
    # and Starlette, so importing the module must not load them.
    script = (
        "import sys, mesh_identity, mesh_identity.agent_runtime\n"
        "loaded = sorted(name for name in ('bedrock_agentcore', 'starlette') if name in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT / "lambda_src")}

    result = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True, timeout=60
    )

    assert result.stdout.strip() == ""
