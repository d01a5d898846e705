"""Tests of the JWKS snapshot function's environment and its Lambda entry point."""

import io
from typing import Any

import pytest

from jwks_snapshot import handler
from jwks_snapshot.config import SnapshotConfig
from jwks_snapshot.errors import ConfigurationError
from tests.jwks_snapshot.conftest import PARAMETER_NAME, SCHEDULE_EVENT, JwksServer

COGNITO_URL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json"


def environment(**overrides: str) -> dict[str, str]:
    return {"JWKS_URL": COGNITO_URL, "JWKS_PARAMETER_NAME": PARAMETER_NAME, **overrides}


def test_config_accepts_cognito_url() -> None:
    config = SnapshotConfig.from_environment(environment())

    assert config.jwks_url == COGNITO_URL
    assert config.parameter_name == PARAMETER_NAME
    assert config.allow_loopback_http is False


@pytest.mark.parametrize("name", ["JWKS_URL", "JWKS_PARAMETER_NAME"])
def test_config_names_missing_variable(name: str) -> None:
    values = {key: value for key, value in environment().items() if key != name}

    with pytest.raises(ConfigurationError, match=f"Missing environment variable {name}"):
        SnapshotConfig.from_environment(values)


@pytest.mark.parametrize(
    ("url", "allow", "problem"),
    [
        ("http://127.0.0.1:8080/jwks.json", "", "http is allowed only for 127.0.0.1 with JWKS_ALLOW_LOOPBACK_HTTP"),
        ("http://example.com/jwks.json", "true", "http is allowed only for 127.0.0.1"),
        ("http://localhost:8080/jwks.json", "true", "http is allowed only for 127.0.0.1"),
        ("ftp://example.com/jwks.json", "", "the scheme 'ftp' is not https"),
        ("file:///etc/passwd", "", "it has no host"),
        ("https://user:secret@example.com/jwks.json", "", "it contains credentials"),
        ("https:///jwks.json", "", "it has no host"),
        ("https://example.com/" + "a" * 2100, "", "longer than 2048 characters"),
    ],
)
def test_config_rejects_unsafe_url(url: str, allow: str, problem: str) -> None:
    values = environment(JWKS_URL=url, JWKS_ALLOW_LOOPBACK_HTTP=allow)

    with pytest.raises(ConfigurationError, match=f"Invalid environment variable JWKS_URL=.*{problem}"):
        SnapshotConfig.from_environment(values)


def test_config_accepts_loopback_http_when_allowed() -> None:
    values = environment(JWKS_URL="http://127.0.0.1:8080/jwks.json", JWKS_ALLOW_LOOPBACK_HTTP="true")

    assert SnapshotConfig.from_environment(values).allow_loopback_http is True


@pytest.mark.parametrize("name", ["", "no spaces allowed", "/trailing/", "a//b", "/" + "/".join(["x"] * 16)])
def test_config_rejects_invalid_parameter_name(name: str) -> None:
    with pytest.raises(ConfigurationError, match="JWKS_PARAMETER_NAME"):
        SnapshotConfig.from_environment(environment(JWKS_PARAMETER_NAME=name))


# --- the Lambda entry point ---------------------------------------------------------------------------------


class FakeLambdaContext:
    function_name = "jwks-snapshot"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:jwks-snapshot"
    aws_request_id = "0f5e3c1a-0000-4000-8000-00000000abcd"


@pytest.fixture
def snapshot_environment(jwks_server: JwksServer, ssm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("JWKS_URL", jwks_server.url)
    monkeypatch.setenv("JWKS_PARAMETER_NAME", PARAMETER_NAME)
    monkeypatch.setenv("JWKS_ALLOW_LOOPBACK_HTTP", "true")
    handler._default_snapshotter.cache_clear()
    yield handler
    handler._default_snapshotter.cache_clear()


def test_lambda_handler_refreshes_on_schedule(snapshot_environment: Any, ssm: Any) -> None:
    summary = snapshot_environment.lambda_handler(SCHEDULE_EVENT, FakeLambdaContext())

    assert summary["kids"] == ["kid-0", "kid-1"]
    assert ssm.get_parameter(Name=PARAMETER_NAME)["Parameter"]["Version"] == 1


def test_lambda_handler_logs_mask_account_id(snapshot_environment: Any, snapshot_log: io.StringIO) -> None:
    # The fake context's function ARN contains account 123456789012, as a real one does.
    snapshot_environment.lambda_handler(SCHEDULE_EVENT, FakeLambdaContext())
    output = snapshot_log.getvalue()

    assert "arn:aws:lambda:us-east-1:********9012:function:jwks-snapshot" in output
    assert "123456789012" not in output


def test_lambda_handler_requires_url(snapshot_environment: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWKS_URL")

    with pytest.raises(ConfigurationError, match="Missing environment variable JWKS_URL"):
        snapshot_environment.lambda_handler(SCHEDULE_EVENT, FakeLambdaContext())
