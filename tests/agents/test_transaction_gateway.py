"""Tests of the Transaction agent's MCP client for the Gateway, against loopback servers."""

from __future__ import annotations

import json

import pytest
from botocore.credentials import Credentials
from transaction_agent.gateway import GatewayCallFailed, GatewayClient, ToolReportedError
from transaction_agent.tools import TOOL_POLICIES

from tests.agents.conftest import SESSION_ID, CannedResponse, RecordedRequest, jsonrpc_result, ledger_text_result

CREDENTIALS = Credentials("AKIDTRANSACTIONROLE", "transaction-role-secret")
USER_TOKEN = "header.payload.signature"
GET_BALANCE = TOOL_POLICIES["get_balance"]


def make_client(url: str, *, timeout_seconds: float = 2.0, credentials=CREDENTIALS) -> GatewayClient:
    return GatewayClient(
        url=url,
        target_name="ledger",
        region="us-east-1",
        credentials_provider=lambda: credentials,
        timeout_seconds=timeout_seconds,
    )


def call(client: GatewayClient):
    return client.call_tool(GET_BALANCE, {}, user_token=USER_TOKEN, session_id=SESSION_ID)


def reply_with(document_for_id) -> callable:
    def respond(request: RecordedRequest) -> CannedResponse:
        return CannedResponse(body=json.dumps(document_for_id(json.loads(request.body)["id"])).encode())

    return respond


def test_gateway_client_returns_json_decoded_text_content(fake_server):
    server = fake_server(jsonrpc_result(ledger_text_result({"amount": "12.50"})))

    assert call(make_client(server.url())) == {"amount": "12.50"}


def test_gateway_client_prefers_structured_content(fake_server):
    result = {"content": [{"type": "text", "text": "ignored"}], "structuredContent": {"amount": "1.00"}}
    server = fake_server(jsonrpc_result(result))

    assert call(make_client(server.url())) == {"amount": "1.00"}


def test_gateway_client_reads_event_stream_response(fake_server):
    def respond(request: RecordedRequest) -> CannedResponse:
        request_id = json.loads(request.body)["id"]
        message = {"jsonrpc": "2.0", "id": request_id, "result": ledger_text_result({"amount": "3.00"})}
        body = f"event: message\ndata: {json.dumps(message)}\n\n".encode()
        return CannedResponse(headers={"Content-Type": "text/event-stream"}, body=body)

    server = fake_server(respond)

    assert call(make_client(server.url())) == {"amount": "3.00"}


@pytest.mark.parametrize(
    ("respond", "reason"),
    [
        (lambda request: CannedResponse(status=403, body=b'{"message":"denied"}'), "gateway_http_403"),
        (lambda request: CannedResponse(status=500, body=b"oops"), "gateway_http_500"),
        (
            reply_with(
                lambda request_id: {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": "bad"}}
            ),
            "gateway_jsonrpc_error_32602",
        ),
        (
            reply_with(
                lambda request_id: {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "result": {"content": [{"type": "text", "text": "denied"}], "isError": True},
                }
            ),
            "tool_error",
        ),
        (
            reply_with(lambda request_id: {"jsonrpc": "2.0", "id": "another-id", "result": {}}),
            "gateway_response_invalid",
        ),
        (lambda request: CannedResponse(body=b"not json"), "gateway_response_invalid"),
        (
            reply_with(lambda request_id: {"jsonrpc": "2.0", "id": request_id, "result": {"content": []}}),
            "gateway_response_invalid",
        ),
    ],
    ids=["http-403", "http-500", "jsonrpc-error", "tool-error", "wrong-id", "not-json", "no-content"],
)
def test_gateway_client_maps_failure_to_reason(fake_server, respond, reason):
    server = fake_server(respond)

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(server.url()))

    assert raised.value.reason == reason


def test_gateway_client_does_not_follow_redirect(fake_server):
    elsewhere = fake_server(jsonrpc_result(ledger_text_result({"amount": "0"})))
    redirecting = fake_server(lambda request: CannedResponse(status=307, headers={"Location": elsewhere.url()}))

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(redirecting.url()))

    assert raised.value.reason == "gateway_http_307"
    assert elsewhere.requests == []


def test_gateway_client_times_out(fake_server):
    server = fake_server(lambda request: CannedResponse(delay_seconds=1.0))

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(server.url(), timeout_seconds=0.2))

    assert raised.value.reason == "gateway_timeout"


def test_gateway_client_reports_unreachable_gateway(fake_server):
    server = fake_server(jsonrpc_result({}))
    url = server.url()
    server.__exit__(None, None, None)

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(url))

    assert raised.value.reason == "gateway_unreachable"


def test_gateway_client_requires_credentials(fake_server):
    server = fake_server(jsonrpc_result({}))

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(server.url(), credentials=None))

    assert raised.value.reason == "no_credentials"
    assert server.requests == []


def test_gateway_client_failure_message_omits_token(fake_server):
    server = fake_server(lambda request: CannedResponse(status=401, body=USER_TOKEN.encode()))

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(server.url()))

    assert USER_TOKEN not in str(raised.value)


def ledger_error(code: str, message: str = "The request was denied."):
    return jsonrpc_result(ledger_text_result({"error": {"code": code, "message": message, "request_id": "r-1"}}))


@pytest.mark.parametrize(
    ("respond", "reason"),
    [
        (lambda request: CannedResponse(status=403, body=b'{"message":"denied"}'), "gateway_http_403"),
        (
            reply_with(
                lambda request_id: {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "error": {"code": -32001, "message": "Request denied"},
                }
            ),
            "gateway_jsonrpc_error_32001",
        ),
        (ledger_error("access_denied"), "tool_access_denied"),
    ],
    ids=["http-403", "interceptor-denial", "ledger-access-denied"],
)
def test_gateway_client_marks_denials(fake_server, respond, reason):
    server = fake_server(respond)

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(server.url()))

    assert raised.value.reason == reason
    assert raised.value.denied is True


@pytest.mark.parametrize("code", ["internal_error", "unknown_tool"])
def test_gateway_client_reports_ledger_failure(fake_server, code):
    server = fake_server(ledger_error(code, "The ledger could not complete the request. Try again later."))

    with pytest.raises(GatewayCallFailed) as raised:
        call(make_client(server.url()))

    assert raised.value.reason == f"tool_{code}"
    assert raised.value.denied is False


def test_gateway_client_passes_correctable_ledger_error(fake_server):
    message = "Invalid limit: received 500; expected an integer from 1 to 100."
    server = fake_server(ledger_error("invalid_argument", message))

    with pytest.raises(ToolReportedError) as raised:
        call(make_client(server.url()))

    assert raised.value.code == "invalid_argument"
    assert raised.value.message == message
