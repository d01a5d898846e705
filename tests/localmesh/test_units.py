"""Units of the local mesh that need no running mesh: SigV4 verification, header forwarding, value resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mesh_identity.constants import RUNTIME_SESSION_ID_HEADER, USER_TOKEN_HEADER

from localmesh.bench import percentile
from localmesh.dataplane import MAX_HEADER_VALUE_BYTES, forwarded_headers
from localmesh.environment import LocalValues
from localmesh.sigv4 import (
    MAX_CLOCK_SKEW_SECONDS,
    CredentialRegistry,
    ReceivedRequest,
    SigV4Rejected,
    SigV4Verifier,
    sign_headers,
)
from localmesh.template import TemplateError

pytestmark = pytest.mark.slow

ENCODED_ARN = "arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fx-abcdefghij"
URL = f"http://127.0.0.1:8123/runtimes/{ENCODED_ARN}/invocations"
SIGNED_AT = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
SESSION_ID = "unit-session-0123456789abcdef0123456789"


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now


def _signed_request(
    registry: CredentialRegistry,
    headers: list[tuple[str, str]],
    *,
    region: str = "us-east-1",
    service: str = "bedrock-agentcore",
) -> ReceivedRequest:
    principal = registry.by_name("support")
    body = b'{"tool": "get_balance"}'
    lines = sign_headers(
        "POST",
        URL,
        headers=headers,
        body=body,
        credentials=principal.credentials,
        region=region,
        service=service,
        signed_at=SIGNED_AT,
    )
    return ReceivedRequest(method="POST", target=URL.removeprefix("http://127.0.0.1:8123"), headers=lines, body=body)


@pytest.fixture
def registry() -> CredentialRegistry:
    registry = CredentialRegistry()
    registry.issue(
        "support", role_arn="arn:aws:iam::123456789012:role/SupportAgentRole", role_logical_id="SupportAgentRole"
    )
    return registry


def _verifier(registry: CredentialRegistry, seconds_after_signing: float) -> SigV4Verifier:
    return SigV4Verifier(
        registry,
        region="us-east-1",
        service="bedrock-agentcore",
        clock=FixedClock(SIGNED_AT + timedelta(seconds=seconds_after_signing)),
    )


@pytest.mark.parametrize("seconds", [0, MAX_CLOCK_SKEW_SECONDS, -MAX_CLOCK_SKEW_SECONDS])
def test_sigv4_accepts_signature_within_skew(registry: CredentialRegistry, seconds: float) -> None:
    request = _signed_request(registry, [("Content-Type", "application/json")])

    principal = _verifier(registry, seconds).verify(request)

    assert principal.name == "support"


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [
        (MAX_CLOCK_SKEW_SECONDS + 1, "sigv4_signature_expired"),
        (-MAX_CLOCK_SKEW_SECONDS - 1, "sigv4_signature_not_yet_valid"),
    ],
)
def test_sigv4_rejects_signature_beyond_skew(registry: CredentialRegistry, seconds: float, reason: str) -> None:
    request = _signed_request(registry, [("Content-Type", "application/json")])

    with pytest.raises(SigV4Rejected) as raised:
        _verifier(registry, seconds).verify(request)

    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("scope", "reason"),
    [({"region": "eu-west-1"}, "sigv4_wrong_region"), ({"service": "execute-api"}, "sigv4_wrong_service")],
)
def test_sigv4_rejects_other_credential_scope(registry: CredentialRegistry, scope: dict[str, str], reason: str) -> None:
    request = _signed_request(registry, [("Content-Type", "application/json")], **scope)

    with pytest.raises(SigV4Rejected) as raised:
        _verifier(registry, 0).verify(request)

    assert raised.value.reason == reason


def test_sigv4_verifies_repeated_signed_header(registry: CredentialRegistry) -> None:
    request = _signed_request(registry, [(USER_TOKEN_HEADER, "a.b.c"), (USER_TOKEN_HEADER, "d.e.f")])

    principal = _verifier(registry, 0).verify(request, must_sign=[USER_TOKEN_HEADER])

    assert principal.name == "support"


def test_sigv4_rejects_dropped_copy_of_repeated_header(registry: CredentialRegistry) -> None:
    signed = _signed_request(registry, [(USER_TOKEN_HEADER, "a.b.c"), (USER_TOKEN_HEADER, "d.e.f")])
    headers = list(signed.headers)
    headers.remove((USER_TOKEN_HEADER, "d.e.f"))
    request = ReceivedRequest(method=signed.method, target=signed.target, headers=headers, body=signed.body)

    with pytest.raises(SigV4Rejected) as raised:
        _verifier(registry, 0).verify(request)

    assert raised.value.reason == "sigv4_signature_mismatch"


def test_sigv4_rejects_unsigned_header_that_must_be_signed(registry: CredentialRegistry) -> None:
    signed = _signed_request(registry, [("Content-Type", "application/json")])
    request = ReceivedRequest(
        method=signed.method,
        target=signed.target,
        headers=[*signed.headers, (USER_TOKEN_HEADER, "a.b.c")],
        body=signed.body,
    )

    with pytest.raises(SigV4Rejected) as raised:
        _verifier(registry, 0).verify(request, must_sign=[USER_TOKEN_HEADER])

    assert raised.value.reason == "sigv4_header_not_signed"


def test_sigv4_rejects_changed_body(registry: CredentialRegistry) -> None:
    signed = _signed_request(registry, [("Content-Type", "application/json")])
    request = ReceivedRequest(
        method=signed.method, target=signed.target, headers=signed.headers, body=b'{"tool": "list_transactions"}'
    )

    with pytest.raises(SigV4Rejected) as raised:
        _verifier(registry, 0).verify(request)

    assert raised.value.reason == "sigv4_signature_mismatch"


def _received(headers: list[tuple[str, str]]) -> ReceivedRequest:
    return ReceivedRequest(method="POST", target="/runtimes/x/invocations", headers=headers, body=b"{}")


@pytest.mark.parametrize(
    ("sent", "expected_extra"),
    [
        ([(USER_TOKEN_HEADER, "a.b.c")], [(USER_TOKEN_HEADER, "a.b.c")]),
        (
            [(USER_TOKEN_HEADER.lower(), "a.b.c"), (USER_TOKEN_HEADER, "d.e.f")],
            [(USER_TOKEN_HEADER.lower(), "a.b.c"), (USER_TOKEN_HEADER, "d.e.f")],
        ),
        ([("X-User-Token", "a.b.c")], []),
        ([("Authorization", "AWS4-HMAC-SHA256 Credential=...")], []),
        ([("X-Amz-Security-Token", "secret")], []),
        ([(USER_TOKEN_HEADER, "x" * (MAX_HEADER_VALUE_BYTES + 1))], []),
    ],
    ids=[
        "allowlisted",
        "repeated-allowlisted",
        "not-allowlisted",
        "sigv4-authorization",
        "security-token",
        "over-4-kb",
    ],
)
def test_forwarded_headers_keep_only_allowlisted(
    sent: list[tuple[str, str]], expected_extra: list[tuple[str, str]]
) -> None:
    request = _received([("Content-Type", "application/json"), *sent])

    headers = forwarded_headers(request, session_id=SESSION_ID, allowlist=[USER_TOKEN_HEADER])

    assert headers == [("Content-Type", "application/json"), (RUNTIME_SESSION_ID_HEADER, SESSION_ID), *expected_extra]


def test_forwarded_headers_replace_caller_session_header() -> None:
    request = _received([(RUNTIME_SESSION_ID_HEADER, "caller-value-0123456789abcdef0123456789")])

    headers = forwarded_headers(request, session_id=SESSION_ID, allowlist=[])

    assert [value for name, value in headers if name == RUNTIME_SESSION_ID_HEADER] == [SESSION_ID]


def test_local_values_resolve_join_of_references() -> None:
    values = LocalValues(
        region="us-east-1", account_id="123456789012", attributes={("Runtime", "AgentRuntimeArn"): "arn:local"}
    )
    expression: dict[str, Any] = {
        "Fn::Join": ["", ['{"transaction":"', {"Fn::GetAtt": ["Runtime", "AgentRuntimeArn"]}, '"}']]
    }

    assert values.resolve(expression, where="test") == '{"transaction":"arn:local"}'


def test_local_values_name_unresolvable_variable() -> None:
    values = LocalValues(region="us-east-1", account_id="123456789012")
    imported = {"Fn::GetStackOutput": {"StackName": "Identity", "OutputName": "UserPool"}}

    with pytest.raises(TemplateError, match="MESH_TOKEN_ISSUER"):
        values.environment({"MESH_TOKEN_ISSUER": imported}, owner="runtime Support")


def test_local_values_override_imported_variable() -> None:
    values = LocalValues(
        region="us-east-1", account_id="123456789012", overrides={"MESH_TOKEN_ISSUER": "http://127.0.0.1:1/pool"}
    )

    environment = values.environment({"MESH_TOKEN_ISSUER": {"Fn::GetStackOutput": {}}}, owner="runtime Support")

    assert environment == {"MESH_TOKEN_ISSUER": "http://127.0.0.1:1/pool"}


def test_percentile_uses_nearest_rank() -> None:
    values = [float(value) for value in range(1, 201)]

    assert percentile(values, 0.99) == 198.0
