"""Tests of both agents' start-up configuration: environment parsing, cold-start failures, entry points."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from mesh_identity.constants import (
    ENV_AGENTCORE_ENDPOINT_URL,
    ENV_GATEWAY_URL,
    ENV_MEMORY_ID,
    ENV_MODEL_ID,
    ENV_PEER_RUNTIME_ARNS,
)
from support_agent.settings import ENV_SUPPORT_TOOLS, SupportSettings
from support_agent.settings import SettingsError as SupportSettingsError
from support_agent.tools import ToolCatalog, ToolConfigurationError
from transaction_agent.settings import ENV_AGENT_PORT, ENV_GATEWAY_TARGET_NAME, TransactionSettings
from transaction_agent.settings import SettingsError as TransactionSettingsError

AGENTS = Path(__file__).resolve().parents[2] / "agents"
RUNTIME_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/transaction_agent-AbCdEf0123"
MEMORY_ID = "support_memory-AbCdEf0123"

TRANSACTION_ENV = {
    ENV_GATEWAY_URL: "https://mesh-gateway-abcdefghij.gateway.bedrock-agentcore.us-east-1.amazonaws.com/mcp",
    ENV_GATEWAY_TARGET_NAME: "ledger",
    "AWS_REGION": "us-east-1",
}
SUPPORT_ENV = {
    ENV_MEMORY_ID: MEMORY_ID,
    ENV_MODEL_ID: "anthropic.claude-sonnet-4-5-20250929-v1:0",
    ENV_PEER_RUNTIME_ARNS: json.dumps({"transaction": RUNTIME_ARN}),
    "AWS_REGION": "us-east-1",
}


def load_entry_point(agent: str):
    """Import agents/<agent>/main.py under a unique module name (both files are called main.py)."""
    spec = importlib.util.spec_from_file_location(f"{agent}_entry_point", AGENTS / agent / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Transaction agent ----------------------------------------------------------


def test_transaction_settings_read_environment():
    settings = TransactionSettings.from_environment(TRANSACTION_ENV)

    assert settings.gateway_target_name == "ledger"
    assert settings.port == 8080
    assert settings.host == "0.0.0.0"


@pytest.mark.parametrize("name", [ENV_GATEWAY_URL, ENV_GATEWAY_TARGET_NAME, "AWS_REGION"])
def test_transaction_settings_name_missing_variable(name):
    environment = {key: value for key, value in TRANSACTION_ENV.items() if key != name}

    with pytest.raises(TransactionSettingsError, match=name):
        TransactionSettings.from_environment(environment)


@pytest.mark.parametrize(
    "url",
    [
        "http://mesh-gateway.example.com/mcp",
        "https://user:secret@mesh-gateway.example.com/mcp",
        "https://mesh-gateway.example.com/mcp?debug=1",
        "mesh-gateway/mcp",
    ],
    ids=["plain-http", "credentials", "query", "relative"],
)
def test_transaction_settings_reject_unsafe_gateway_url(url):
    with pytest.raises(TransactionSettingsError, match=ENV_GATEWAY_URL):
        TransactionSettings.from_environment({**TRANSACTION_ENV, ENV_GATEWAY_URL: url})


def test_transaction_settings_accept_plain_http_on_loopback():
    settings = TransactionSettings.from_environment({**TRANSACTION_ENV, ENV_GATEWAY_URL: "http://127.0.0.1:8443/mcp"})

    assert settings.gateway_url == "http://127.0.0.1:8443/mcp"


@pytest.mark.parametrize("target", ["ledger___x", "-ledger", "ledger--x", "a" * 101])
def test_transaction_settings_reject_invalid_target_name(target):
    with pytest.raises(TransactionSettingsError, match=ENV_GATEWAY_TARGET_NAME):
        TransactionSettings.from_environment({**TRANSACTION_ENV, ENV_GATEWAY_TARGET_NAME: target})


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_transaction_settings_reject_invalid_port(port):
    with pytest.raises(TransactionSettingsError, match=ENV_AGENT_PORT):
        TransactionSettings.from_environment({**TRANSACTION_ENV, ENV_AGENT_PORT: port})


def test_transaction_main_requires_gateway_url(monkeypatch):
    monkeypatch.delenv(ENV_GATEWAY_URL, raising=False)
    entry_point = load_entry_point("transaction")

    with pytest.raises(TransactionSettingsError, match=ENV_GATEWAY_URL):
        entry_point.main()


def test_transaction_app_builds_from_environment(monkeypatch, mesh_verifier_env):
    for name, value in TRANSACTION_ENV.items():
        monkeypatch.setenv(name, value)
    from transaction_agent.app import build_app_from_environment

    app, settings = build_app_from_environment()

    assert settings.gateway_url == TRANSACTION_ENV[ENV_GATEWAY_URL]
    assert app.handlers["main"] is not None


# --- Support agent ----------------------------------------------------------------


def test_support_settings_read_environment():
    settings = SupportSettings.from_environment(SUPPORT_ENV)

    assert settings.peer_runtime_arns == {"transaction": RUNTIME_ARN}
    assert settings.agentcore_endpoint_url is None
    assert settings.tool_names is None


@pytest.mark.parametrize("name", [ENV_MEMORY_ID, ENV_MODEL_ID, ENV_PEER_RUNTIME_ARNS, "AWS_REGION"])
def test_support_settings_name_missing_variable(name):
    environment = {key: value for key, value in SUPPORT_ENV.items() if key != name}

    with pytest.raises(SupportSettingsError, match=name):
        SupportSettings.from_environment(environment)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        "{}",
        json.dumps({"transaction": "arn:aws:lambda:us-east-1:123456789012:function:ledger"}),
        json.dumps({"Transaction!": RUNTIME_ARN}),
    ],
    ids=["not-json", "array", "empty", "not-a-runtime-arn", "bad-name"],
)
def test_support_settings_reject_invalid_peer_arns(raw):
    with pytest.raises(SupportSettingsError, match=ENV_PEER_RUNTIME_ARNS):
        SupportSettings.from_environment({**SUPPORT_ENV, ENV_PEER_RUNTIME_ARNS: raw})


def test_support_settings_reject_remote_plain_http_endpoint():
    with pytest.raises(SupportSettingsError, match=ENV_AGENTCORE_ENDPOINT_URL):
        SupportSettings.from_environment({**SUPPORT_ENV, ENV_AGENTCORE_ENDPOINT_URL: "http://agentcore.example.com"})


def test_support_settings_accept_loopback_endpoint():
    settings = SupportSettings.from_environment({**SUPPORT_ENV, ENV_AGENTCORE_ENDPOINT_URL: "http://127.0.0.1:9000"})

    assert settings.agentcore_endpoint_url == "http://127.0.0.1:9000"


def test_support_settings_read_tool_list():
    settings = SupportSettings.from_environment({**SUPPORT_ENV, ENV_SUPPORT_TOOLS: "get_balance, list_transactions"})

    assert settings.tool_names == ("get_balance", "list_transactions")


def test_support_tool_catalog_rejects_unknown_tool():
    with pytest.raises(ToolConfigurationError, match="delete_account"):
        ToolCatalog.select(["delete_account"], peers={"transaction"})


def test_support_tool_catalog_rejects_tool_without_peer():
    with pytest.raises(ToolConfigurationError, match="get_balance"):
        ToolCatalog.select(["get_balance"], peers={"payments"})


def test_support_main_requires_memory_id(monkeypatch):
    monkeypatch.delenv(ENV_MEMORY_ID, raising=False)
    entry_point = load_entry_point("support")

    with pytest.raises(SupportSettingsError, match=ENV_MEMORY_ID):
        entry_point.main()


def test_support_app_builds_from_environment(monkeypatch, mesh_verifier_env):
    for name, value in SUPPORT_ENV.items():
        monkeypatch.setenv(name, value)
    from support_agent.app import build_app_from_environment

    app, settings = build_app_from_environment()

    assert settings.memory_id == MEMORY_ID
    assert app.handlers["main"] is not None
