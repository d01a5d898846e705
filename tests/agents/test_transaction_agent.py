"""Tests of the Transaction agent served over loopback HTTP, with a local issuer and a fake Gateway.

The agent runs under uvicorn exactly as on AgentCore Runtime. Requests carry
real RS256 tokens from the local issuer; the fake Gateway records what the
agent sends, so the tests can recompute its SigV4 signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.credentials import Credentials
from mesh_identity.constants import (
    RUNTIME_SESSION_ID_HEADER,
    SCOPE_ACCOUNTS_READ,
    SCOPE_TRANSACTIONS_READ,
    SESSION_ID_HEADER,
    USER_TOKEN_HEADER,
    VERIFIED_IDENTITY_KEY,
)
from mesh_identity.logger import AccountIdMaskingFormatter
from mesh_identity.signing import signed_header_names
from transaction_agent.app import build_app
from transaction_agent.gateway import GatewayClient
from transaction_agent.handler import SERVICE_NAME, TransactionHandler
from transaction_agent.sessions import SessionBindings

from tests.agents.conftest import (
    SECRET_MARKERS,
    SESSION_ID,
    CannedResponse,
    FakeHttpServer,
    RunningApp,
    jsonrpc_result,
    ledger_text_result,
)
from tests.agents.http_client import HttpReply, request_json
from tests.support.sigv4 import verify_sigv4

ALICE = "7c1e0f7a-1111-4a6b-9d2e-a11ce0000001"
BOB = "7c1e0f7a-2222-4a6b-9d2e-b0b000000002"
OTHER_SESSION_ID = "mesh-session-fedcba9876543210fedcba9876543210"
TARGET = "ledger"
CREDENTIALS = Credentials("AKIDTRANSACTIONROLE", "transaction-role-secret", "transaction-role-session")
BALANCE = {"amount": "5000.00", "currency": "USD", "account": "****1234"}
ALL_SCOPES = (SCOPE_ACCOUNTS_READ, SCOPE_TRANSACTIONS_READ)


@pytest.fixture
def gateway(fake_server: Callable[..., FakeHttpServer]) -> FakeHttpServer:
    return fake_server(jsonrpc_result(ledger_text_result(BALANCE)))


@pytest.fixture
def transaction(serve_app, token_verifier, gateway, captured_logger) -> RunningApp:
    client = GatewayClient(
        url=gateway.url(),
        target_name=TARGET,
        region="us-east-1",
        credentials_provider=lambda: CREDENTIALS,
        timeout_seconds=2.0,
    )
    return serve_app(build_app(verifier=token_verifier, gateway=client, logger=captured_logger.logger))


@pytest.fixture
def alice_token(oidc_issuer) -> str:
    return oidc_issuer.mint_access_token(ALICE, scopes=ALL_SCOPES)


def invoke(
    app: RunningApp,
    token: str | None,
    *,
    tool: str = "get_balance",
    arguments: dict | None = None,
    session_id: str = SESSION_ID,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> HttpReply:
    headers = [(RUNTIME_SESSION_ID_HEADER, session_id)]
    if token is not None:
        headers.append((USER_TOKEN_HEADER, token))
    headers.extend(extra_headers)
    return request_json(
        "POST", f"{app.base_url}/invocations", headers=headers, payload={"tool": tool, "arguments": arguments or {}}
    )


def last_audit_reason(captured_logger) -> str:
    return captured_logger.audit_records()[-1]["reason"]


# --- accepted calls ---------------------------------------------------------


def test_transaction_returns_gateway_result_for_verified_user(transaction, alice_token):
    reply = invoke(transaction, alice_token)

    assert reply.status == 200
    assert reply.body == {"tool": "get_balance", "result": BALANCE}


def test_transaction_audits_allowed_call(transaction, alice_token, captured_logger):
    invoke(transaction, alice_token)

    record = captured_logger.audit_records()[-1]
    assert record["decision"] == "allow"
    assert record["sub"] == ALICE
    assert record["session_id"] == SESSION_ID
    assert record["tool"] == "get_balance"


def test_transaction_ping_reports_healthy(transaction):
    reply = request_json("GET", f"{transaction.base_url}/ping")

    assert reply.status == 200
    assert reply.body["status"] == "Healthy"


# --- refused calls ------------------------------------------------------------


def test_transaction_rejects_missing_token(transaction, gateway, captured_logger):
    reply = invoke(transaction, None)

    assert reply.status == 401
    assert reply.body["error"] == "unauthorized"
    assert last_audit_reason(captured_logger) == "user_token_header_missing"
    assert gateway.requests == []


@pytest.mark.parametrize(
    "second_name",
    [USER_TOKEN_HEADER, USER_TOKEN_HEADER.lower(), USER_TOKEN_HEADER.upper()],
    ids=["same-case", "lower-case", "upper-case"],
)
def test_transaction_rejects_duplicated_token_header(
    transaction, gateway, oidc_issuer, alice_token, second_name, captured_logger
):
    bob_token = oidc_issuer.mint_access_token(BOB, scopes=ALL_SCOPES)

    reply = invoke(transaction, alice_token, extra_headers=((second_name, bob_token),))

    assert reply.status == 401
    assert last_audit_reason(captured_logger) == "user_token_header_duplicate"
    assert gateway.requests == []


def test_transaction_rejects_bearer_prefixed_token(transaction, gateway, alice_token, captured_logger):
    reply = invoke(transaction, f"Bearer {alice_token}")

    assert reply.status == 401
    assert last_audit_reason(captured_logger) == "user_token_header_invalid"


def test_transaction_rejects_token_of_wrong_client(transaction, gateway, oidc_issuer, captured_logger):
    token = oidc_issuer.mint_access_token(ALICE, client_id="someotherappclient000000a", scopes=ALL_SCOPES)

    reply = invoke(transaction, token)

    assert reply.status == 401
    assert last_audit_reason(captured_logger) == "token_client_not_allowed"
    assert gateway.requests == []


def test_transaction_rejects_token_signed_by_unknown_key(transaction, gateway, oidc_issuer, captured_logger):
    with type(oidc_issuer)(fresh_keys=True) as other_issuer:
        forged = other_issuer.mint_access_token(ALICE, scopes=ALL_SCOPES, issuer=oidc_issuer.issuer)

    reply = invoke(transaction, forged)

    assert reply.status == 401
    assert gateway.requests == []


def test_transaction_rejects_id_token(transaction, gateway, oidc_issuer, captured_logger):
    reply = invoke(transaction, oidc_issuer.mint_id_token(ALICE))

    assert reply.status == 401
    assert last_audit_reason(captured_logger) == "token_wrong_use"


@pytest.mark.parametrize(
    ("tool", "granted_scope"),
    [("get_balance", SCOPE_TRANSACTIONS_READ), ("list_transactions", SCOPE_ACCOUNTS_READ)],
)
def test_transaction_rejects_missing_scope(transaction, gateway, oidc_issuer, tool, granted_scope, captured_logger):
    token = oidc_issuer.mint_access_token(ALICE, scopes=[granted_scope])

    reply = invoke(transaction, token, tool=tool)

    assert reply.status == 403
    assert reply.body["error"] == "forbidden"
    assert last_audit_reason(captured_logger) == "token_scope_missing"
    assert gateway.requests == []


def test_transaction_rejects_session_reused_by_other_user(
    transaction, gateway, oidc_issuer, alice_token, captured_logger
):
    bob_token = oidc_issuer.mint_access_token(BOB, scopes=ALL_SCOPES)

    first = invoke(transaction, alice_token)
    second = invoke(transaction, bob_token)

    assert first.status == 200
    assert second.status == 403
    assert last_audit_reason(captured_logger) == "session_bound_to_other_user"
    assert len(gateway.requests) == 1


def test_transaction_accepts_same_user_again_in_session(transaction, gateway, oidc_issuer, alice_token):
    second_token = oidc_issuer.mint_access_token(ALICE, scopes=ALL_SCOPES)

    invoke(transaction, alice_token)
    reply = invoke(transaction, second_token)

    assert reply.status == 200


def test_transaction_accepts_other_user_in_own_session(transaction, oidc_issuer, alice_token):
    bob_token = oidc_issuer.mint_access_token(BOB, scopes=ALL_SCOPES)

    invoke(transaction, alice_token)
    reply = invoke(transaction, bob_token, session_id=OTHER_SESSION_ID)

    assert reply.status == 200


@pytest.mark.parametrize(
    "session_id",
    ["too-short-0123456789", "mesh session with spaces 0123456789abcdef", "mesh/session/0123456789abcdef0123456789"],
    ids=["short", "spaces", "slash"],
)
def test_transaction_rejects_invalid_session_id(transaction, gateway, alice_token, session_id, captured_logger):
    reply = invoke(transaction, alice_token, session_id=session_id)

    assert reply.status == 400
    assert last_audit_reason(captured_logger) == "session_id_header_invalid"
    assert gateway.requests == []


def test_transaction_rejects_duplicated_session_id(transaction, gateway, alice_token, captured_logger):
    reply = invoke(transaction, alice_token, extra_headers=((RUNTIME_SESSION_ID_HEADER, OTHER_SESSION_ID),))

    assert reply.status == 400
    assert last_audit_reason(captured_logger) == "session_id_header_duplicate"


@pytest.mark.parametrize(
    "payload",
    [
        {"tool": "delete_account", "arguments": {}},
        {"tool": "get_balance", "arguments": {VERIFIED_IDENTITY_KEY: {"sub": BOB}}},
        {"tool": "get_balance", "arguments": ["not", "an", "object"]},
        {"tool": "get_balance", "arguments": {"note": "x" * 5000}},
        {"tool": "get_balance", "arguments": {}, "customer_id": BOB},
        ["get_balance"],
    ],
    ids=["unknown-tool", "forged-identity", "arguments-list", "arguments-too-large", "extra-field", "payload-list"],
)
def test_transaction_rejects_invalid_tool_request(transaction, gateway, alice_token, payload, captured_logger):
    reply = request_json(
        "POST",
        f"{transaction.base_url}/invocations",
        headers=[(RUNTIME_SESSION_ID_HEADER, SESSION_ID), (USER_TOKEN_HEADER, alice_token)],
        payload=payload,
    )

    assert reply.status == 400
    assert last_audit_reason(captured_logger) == "invalid_request"
    assert gateway.requests == []


# Each case hides the interceptor's reserved key in another spelling or deeper in the arguments.
FORGED_IDENTITY_ARGUMENTS: dict[str, dict[str, Any]] = {
    "upper_case": {"__MESH_VERIFIED_IDENTITY": {"sub": BOB}},
    "hyphens": {"__mesh-verified-identity": {"sub": BOB}},
    "fullwidth": {"＿＿ｍｅｓｈ＿ｖｅｒｉｆｉｅｄ＿ｉｄｅｎｔｉｔｙ": {"sub": BOB}},
    "nested_object": {"filter": {VERIFIED_IDENTITY_KEY: {"sub": BOB}}},
    "inside_list": {"items": [{VERIFIED_IDENTITY_KEY: BOB}]},
}


@pytest.mark.parametrize("case", FORGED_IDENTITY_ARGUMENTS, ids=list(FORGED_IDENTITY_ARGUMENTS))
def test_transaction_rejects_forged_identity_spelling(transaction, gateway, alice_token, case, captured_logger):
    reply = invoke(transaction, alice_token, arguments=FORGED_IDENTITY_ARGUMENTS[case])

    assert reply.status == 400
    assert last_audit_reason(captured_logger) == "invalid_request"
    assert gateway.requests == []


def test_transaction_strips_identity_arguments(transaction, gateway, alice_token):
    arguments = {"customer_id": BOB, "limit": 5, "filter": {"sub": BOB, "currency": "USD"}, "cust_id": BOB}

    invoke(transaction, alice_token, tool="list_transactions", arguments=arguments)
    forwarded = json.loads(gateway.requests[0].body)["params"]["arguments"]

    assert forwarded == {"limit": 5, "filter": {"currency": "USD"}}


def test_transaction_audits_removed_identity_arguments(transaction, alice_token, captured_logger):
    invoke(transaction, alice_token, arguments={"customer_id": BOB, "userId": BOB})

    assert captured_logger.audit_records()[-1]["removed_identity_arguments"] == 2


# Each case is an argument name with a character outside ASCII, such as a look-alike of "customer_id".
NON_ASCII_ARGUMENTS: dict[str, dict[str, Any]] = {
    "cyrillic_es": {"\u0441ustomer_id": BOB},
    "greek_omicron": {"\u03bfwner": BOB},
    "accented_name": {"d\u00e9but": "2025-01-01"},
    "nested": {"filter": {"\u0441ustomer_id": BOB}},
}


@pytest.mark.parametrize("case", NON_ASCII_ARGUMENTS, ids=list(NON_ASCII_ARGUMENTS))
def test_transaction_rejects_non_ascii_argument_name(transaction, gateway, alice_token, case, captured_logger):
    reply = invoke(transaction, alice_token, arguments=NON_ASCII_ARGUMENTS[case])

    assert reply.status == 400
    assert last_audit_reason(captured_logger) == "invalid_request"
    assert gateway.requests == []


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), [1, float("nan")]],
    ids=["nan", "infinity", "negative_infinity", "nan_in_list"],
)
def test_transaction_rejects_non_finite_number(transaction, gateway, alice_token, value, captured_logger):
    # json.dumps in the test client writes these as the bare literals NaN and Infinity.
    reply = invoke(transaction, alice_token, tool="list_transactions", arguments={"min_amount": value})

    assert reply.status == 400
    assert last_audit_reason(captured_logger) == "invalid_request"
    assert gateway.requests == []


def test_transaction_reports_gateway_failure_as_upstream_error(
    serve_app, token_verifier, fake_server, alice_token, captured_logger
):
    failing = fake_server(lambda request: _status(503))
    client = GatewayClient(
        url=failing.url(),
        target_name=TARGET,
        region="us-east-1",
        credentials_provider=lambda: CREDENTIALS,
        timeout_seconds=2.0,
    )
    app = serve_app(build_app(verifier=token_verifier, gateway=client, logger=captured_logger.logger))

    reply = invoke(app, alice_token)

    assert reply.status == 502
    assert reply.body["error"] == "upstream_failed"
    assert last_audit_reason(captured_logger) == "gateway_http_503"


def start_with_gateway(serve_app, token_verifier, fake_server, captured_logger, respond) -> RunningApp:
    gateway = fake_server(respond)
    client = GatewayClient(
        url=gateway.url(),
        target_name=TARGET,
        region="us-east-1",
        credentials_provider=lambda: CREDENTIALS,
        timeout_seconds=2.0,
    )
    return serve_app(build_app(verifier=token_verifier, gateway=client, logger=captured_logger.logger))


def test_transaction_reports_gateway_denial_as_forbidden(
    serve_app, token_verifier, fake_server, alice_token, captured_logger
):
    app = start_with_gateway(serve_app, token_verifier, fake_server, captured_logger, lambda request: _status(403))

    reply = invoke(app, alice_token)

    assert reply.status == 403
    assert reply.body["error"] == "forbidden"
    assert last_audit_reason(captured_logger) == "gateway_http_403"


def test_transaction_returns_correctable_tool_error(
    serve_app, token_verifier, fake_server, alice_token, captured_logger
):
    message = "Invalid limit: received 500; expected an integer from 1 to 100."
    ledger_reply = ledger_text_result({"error": {"code": "invalid_argument", "message": message, "request_id": "r-1"}})
    app = start_with_gateway(serve_app, token_verifier, fake_server, captured_logger, jsonrpc_result(ledger_reply))

    reply = invoke(app, alice_token, tool="list_transactions", arguments={"limit": 500})

    assert reply.status == 200
    assert reply.body == {"tool": "list_transactions", "tool_error": {"code": "invalid_argument", "message": message}}
    assert last_audit_reason(captured_logger) == "tool_error_returned"


# --- the Gateway hop ----------------------------------------------------------


def test_transaction_gateway_signs_user_token(transaction, gateway, alice_token):
    invoke(transaction, alice_token)

    signed = signed_header_names(gateway.requests[0].header("Authorization"))
    assert USER_TOKEN_HEADER.lower() in signed


def test_transaction_gateway_signs_session_id(transaction, gateway, alice_token):
    invoke(transaction, alice_token)

    signed = signed_header_names(gateway.requests[0].header("Authorization"))
    assert SESSION_ID_HEADER.lower() in signed


def test_transaction_gateway_headers_unchanged(transaction, gateway, alice_token):
    invoke(transaction, alice_token)

    request = gateway.requests[0]
    assert request.header(USER_TOKEN_HEADER) == alice_token
    assert request.header(SESSION_ID_HEADER) == SESSION_ID


def test_transaction_gateway_signature_verifies(transaction, gateway, alice_token):
    invoke(transaction, alice_token)

    request = gateway.requests[0]
    headers = dict(request.headers)
    assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={CREDENTIALS.access_key}/")
    assert verify_sigv4(
        "POST", gateway.url(), headers, request.body, secret_key=CREDENTIALS.secret_key, session_token=CREDENTIALS.token
    )


def test_transaction_gateway_signature_covers_token(transaction, gateway, oidc_issuer, alice_token):
    invoke(transaction, alice_token)

    request = gateway.requests[0]
    tampered = {name: value for name, value in request.headers if name.lower() != USER_TOKEN_HEADER.lower()}
    tampered[USER_TOKEN_HEADER] = oidc_issuer.mint_access_token(BOB, scopes=ALL_SCOPES)
    assert not verify_sigv4("POST", gateway.url(), tampered, request.body, secret_key=CREDENTIALS.secret_key)


def test_transaction_gateway_prefixes_target_name(transaction, gateway, alice_token):
    invoke(transaction, alice_token, tool="list_transactions", arguments={"limit": 5})

    message = json.loads(gateway.requests[0].body)
    assert message["method"] == "tools/call"
    assert message["params"] == {"name": "ledger___list_transactions", "arguments": {"limit": 5}}


def test_transaction_gateway_body_omits_token(transaction, gateway, alice_token):
    invoke(transaction, alice_token)

    assert alice_token.encode() not in gateway.requests[0].body


# --- logs -----------------------------------------------------------------------


def test_transaction_logs_contain_no_token_or_signature(
    transaction, gateway, oidc_issuer, alice_token, captured_logger, capfd
):
    bob_token = oidc_issuer.mint_access_token(BOB, scopes=ALL_SCOPES)
    wrong_client = oidc_issuer.mint_access_token(ALICE, client_id="someotherappclient000000a", scopes=ALL_SCOPES)
    invoke(transaction, alice_token)
    invoke(transaction, bob_token)
    invoke(transaction, wrong_client, session_id=OTHER_SESSION_ID)
    invoke(transaction, alice_token, extra_headers=((USER_TOKEN_HEADER, bob_token),))
    invoke(transaction, f"Bearer {alice_token}")

    output = captured_logger.text + "".join(capfd.readouterr())
    assert len(captured_logger.audit_records()) == 5
    for marker in SECRET_MARKERS:
        assert marker not in output


@pytest.mark.parametrize(
    "field_name",
    ["eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2ln", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x", "Bearer abc"],
    ids=["jwt", "sigv4", "bearer"],
)
def test_transaction_unexpected_field_name_redacted_in_log(transaction, alice_token, captured_logger, field_name):
    headers = [(RUNTIME_SESSION_ID_HEADER, SESSION_ID), (USER_TOKEN_HEADER, alice_token)]

    request_json(
        "POST",
        f"{transaction.base_url}/invocations",
        headers=headers,
        payload={"tool": "get_balance", "arguments": {}, field_name: 1},
    )
    text = captured_logger.text

    assert "[redacted]" in text
    for marker in (*SECRET_MARKERS, "Bearer abc"):
        assert marker not in text


def test_transaction_default_logger_masks_account_ids(token_verifier):
    TransactionHandler(verifier=token_verifier, gateway=object())  # type: ignore[arg-type]

    # Powertools returns the logger already configured for the service name.
    assert isinstance(Logger(service=SERVICE_NAME).registered_formatter, AccountIdMaskingFormatter)


# --- session bindings -------------------------------------------------------------


def test_session_bindings_reject_second_user():
    bindings = SessionBindings()
    bindings.bind(SESSION_ID, ALICE)

    assert bindings.bind(SESSION_ID, BOB) is False


def test_session_bindings_drop_least_recently_used_binding():
    bindings = SessionBindings(max_bindings=2)
    bindings.bind("session-a", ALICE)
    bindings.bind("session-b", ALICE)
    bindings.bind("session-a", ALICE)  # session-b is now the least recently used
    bindings.bind("session-c", ALICE)

    assert len(bindings) == 2
    assert bindings.bind("session-a", BOB) is False
    assert bindings.bind("session-b", BOB) is True


def _status(status: int) -> CannedResponse:
    return CannedResponse(status=status, body=b'{"message": "unavailable"}')
