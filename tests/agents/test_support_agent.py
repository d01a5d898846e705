"""Tests of the Support agent served over loopback HTTP.

AgentCore Memory is moto's. A handler in botocore's ``before-send`` event
returns the ``InvokeAgentRuntime`` response after SigV4 signing, so each test
inspects the exact request that would go on the wire. The model is a ScriptedModel, or
Bedrock Converse behind botocore's Stubber.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.stub import ANY, Stubber
from mesh_identity.constants import (
    AUTHORIZATION_HEADER,
    RUNTIME_SESSION_ID_HEADER,
    SCOPE_ACCOUNTS_READ,
    SCOPE_TRANSACTIONS_READ,
    USER_TOKEN_HEADER,
)
from mesh_identity.logger import AccountIdMaskingFormatter
from mesh_identity.signing import signed_header_names
from moto import mock_aws
from support_agent import answers
from support_agent.app import build_app
from support_agent.conversation import SERVICE_NAME, SYSTEM_PROMPT, SupportAgent
from support_agent.model import BedrockConverseModel, ModelTurn, ScriptedModel, keyword_script, text_turn, tool_turn
from support_agent.tools import SEED_TOOLS

from tests.agents.conftest import SECRET_MARKERS, SESSION_ID, RunningApp
from tests.agents.http_client import HttpReply, request_json
from tests.support.sigv4 import verify_sigv4

ALICE = "7c1e0f7a-1111-4a6b-9d2e-a11ce0000001"
REGION = "us-east-1"
RUNTIME_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/transaction_agent-AbCdEf0123"
MEMORY_ID = "support_memory-AbCdEf0123"
MODEL_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"
# The runtime client points at a closed loopback port. Every call gets its
# response in before-send, so nothing is sent, and a mistake fails with "connection refused".
UNUSED_LOOPBACK_ENDPOINT = "http://127.0.0.1:9"
BALANCE = {"amount": "5000.00", "currency": "USD", "account": "****1234"}
ALL_SCOPES = (SCOPE_ACCOUNTS_READ, SCOPE_TRANSACTIONS_READ)


class _RawBody:
    """The part of urllib3's response that botocore reads a streaming body from."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._buffer.read()

    def read(self, amt: int | None = None, **_: Any) -> bytes:
        return self._buffer.read(amt) if amt is not None else self._buffer.read()

    def close(self) -> None:
        pass


@dataclass
class PeerReply:
    """What the fake Transaction runtime returns: HTTP status, JSON body, and an AWS error type for errors."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"tool": "get_balance", "result": BALANCE})
    error_type: str | None = None


class FakeTransactionRuntime:
    """A stand-in for the Transaction runtime that returns ``reply`` after signing and records each signed request."""

    def __init__(self, client: Any, reply: PeerReply | None = None) -> None:
        self.reply = reply or PeerReply()
        self.delay_seconds = 0.0
        self.requests: list[AWSPreparedRequest] = []
        self._lock = threading.Lock()
        # The pause comes after the call started and before its headers are
        # set and signed, so concurrent requests overlap where per-client
        # state would mix one user's token into another user's request.
        client.meta.events.register("before-call.bedrock-agentcore.InvokeAgentRuntime", self._pause)
        client.meta.events.register("before-send.bedrock-agentcore.InvokeAgentRuntime", self._answer)

    def _pause(self, **_: Any) -> None:
        time.sleep(self.delay_seconds)

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        with self._lock:
            self.requests.append(request)
        headers = {"Content-Type": "application/json"}
        if self.reply.error_type:
            headers["x-amzn-ErrorType"] = self.reply.error_type
        body = json.dumps(self.reply.body).encode()
        return AWSResponse(request.url, self.reply.status, headers, _RawBody(body))

    def header(self, name: str, index: int = 0) -> str | None:
        value = self.requests[index].headers.get(name)
        return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def memory_client(aws) -> Any:
    return boto3.client("bedrock-agentcore", region_name=REGION)


@pytest.fixture
def runtime_client(aws) -> Any:
    return boto3.client("bedrock-agentcore", region_name=REGION, endpoint_url=UNUSED_LOOPBACK_ENDPOINT)


@pytest.fixture
def transaction_runtime(runtime_client) -> FakeTransactionRuntime:
    return FakeTransactionRuntime(runtime_client)


@pytest.fixture
def alice_token(oidc_issuer) -> str:
    return oidc_issuer.mint_access_token(ALICE, scopes=ALL_SCOPES)


@pytest.fixture
def start_support(
    serve_app, token_verifier, runtime_client, memory_client, captured_logger
) -> Callable[[Any], RunningApp]:
    """Serve a Support agent with the given model; the other dependencies are the test doubles above."""

    def start(model: Any) -> RunningApp:
        app = build_app(
            verifier=token_verifier,
            agentcore_client=runtime_client,
            memory_client=memory_client,
            model=model,
            memory_id=MEMORY_ID,
            peer_runtime_arns={"transaction": RUNTIME_ARN},
            logger=captured_logger.logger,
        )
        return serve_app(app)

    return start


def ask(
    app: RunningApp,
    token: str | None,
    prompt: str = "What is my balance?",
    *,
    session_id: str = SESSION_ID,
    extra_headers=(),
) -> HttpReply:
    headers = [(RUNTIME_SESSION_ID_HEADER, session_id)]
    if token is not None:
        headers.append((AUTHORIZATION_HEADER, f"Bearer {token}"))
    headers.extend(extra_headers)
    return request_json("POST", f"{app.base_url}/invocations", headers=headers, payload={"prompt": prompt})


def balance_script() -> ScriptedModel:
    return ScriptedModel([tool_turn("get_balance"), text_turn("Your balance is 5000.00 USD.")])


def stored_events(memory_client, actor_id: str = ALICE, session_id: str = SESSION_ID) -> list[dict[str, Any]]:
    return memory_client.list_events(memoryId=MEMORY_ID, actorId=actor_id, sessionId=session_id, includePayloads=True)[
        "events"
    ]


@dataclass
class BalanceTurn:
    """Everything one answered balance question left behind."""

    reply: HttpReply
    token: str
    runtime: FakeTransactionRuntime
    model: ScriptedModel
    events: list[dict[str, Any]]
    log_text: str


@pytest.fixture
def balance_turn(start_support, transaction_runtime, memory_client, alice_token, captured_logger, capfd) -> BalanceTurn:
    model = balance_script()
    app = start_support(model)

    reply = ask(app, alice_token)

    return BalanceTurn(
        reply=reply,
        token=alice_token,
        runtime=transaction_runtime,
        model=model,
        events=stored_events(memory_client),
        log_text=captured_logger.text + "".join(capfd.readouterr()),
    )


# --- the hop to the Transaction agent ----------------------------------------------


def test_support_answers_balance_question(balance_turn):
    assert balance_turn.reply.status == 200
    assert balance_turn.reply.body == {"answer": "Your balance is 5000.00 USD."}


def test_support_sends_user_token_in_custom_header(balance_turn):
    assert balance_turn.runtime.header(USER_TOKEN_HEADER) == balance_turn.token


def test_support_signs_user_token_header(balance_turn):
    signed = signed_header_names(balance_turn.runtime.header("Authorization"))

    assert USER_TOKEN_HEADER.lower() in signed


def test_support_signs_with_own_role(balance_turn):
    authorization = balance_turn.runtime.header("Authorization")

    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/")


def test_support_peer_call_signature_verifies(balance_turn):
    request = balance_turn.runtime.requests[0]
    headers = {name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()}

    assert verify_sigv4(
        request.method, request.url, headers, request.body, secret_key=os.environ["AWS_SECRET_ACCESS_KEY"]
    )


def test_support_keeps_token_out_of_peer_body(balance_turn):
    body = balance_turn.runtime.requests[0].body

    assert balance_turn.token.encode() not in body
    assert json.loads(body) == {"tool": "get_balance", "arguments": {}}


def test_support_sends_no_authorization_bearer_to_peer(balance_turn):
    assert "Bearer" not in balance_turn.runtime.header("Authorization")


def test_support_passes_session_id_unchanged(balance_turn):
    assert balance_turn.runtime.header(RUNTIME_SESSION_ID_HEADER) == SESSION_ID


def test_support_signs_session_id_header(balance_turn):
    signed = signed_header_names(balance_turn.runtime.header("Authorization"))

    assert RUNTIME_SESSION_ID_HEADER.lower() in signed


def test_support_invokes_configured_runtime_arn(balance_turn):
    assert "transaction_agent-AbCdEf0123" in balance_turn.runtime.requests[0].url


# --- what Memory, the model and the logs receive -------------------------------------


def test_support_keeps_token_out_of_memory_events(balance_turn):
    stored = json.dumps(balance_turn.events, default=str)

    assert balance_turn.token not in stored
    assert "eyJ" not in stored


def test_support_stores_exchange_in_memory(balance_turn):
    payload = balance_turn.events[0]["payload"]

    assert [item["conversational"]["role"] for item in payload] == ["USER", "ASSISTANT"]
    assert payload[0]["conversational"]["content"]["text"] == "What is my balance?"
    assert payload[1]["conversational"]["content"]["text"] == "Your balance is 5000.00 USD."


def test_support_keeps_token_out_of_model_messages(balance_turn):
    sent = json.dumps([(call.system, call.messages) for call in balance_turn.model.calls])

    assert balance_turn.token not in sent
    assert "eyJ" not in sent


def test_support_gives_model_the_tool_result(balance_turn):
    tool_result = balance_turn.model.calls[1].messages[-1]["content"][0]["toolResult"]

    assert tool_result["status"] == "success"
    assert tool_result["content"] == [{"json": BALANCE}]


def test_support_logs_contain_no_token_or_signature(balance_turn):
    for marker in SECRET_MARKERS:
        assert marker not in balance_turn.log_text


def test_support_default_logger_masks_account_ids(token_verifier):
    SupportAgent(verifier=token_verifier, memory=None, model=None, peers=None, tools=None)  # type: ignore[arg-type]

    # Powertools returns the logger already configured for the service name.
    assert isinstance(Logger(service=SERVICE_NAME).registered_formatter, AccountIdMaskingFormatter)


def test_support_audits_answered_question(balance_turn):
    records = [json.loads(line)["audit"] for line in balance_turn.log_text.splitlines() if '"audit"' in line]

    assert records[-1]["decision"] == "allow"
    assert records[-1]["sub"] == ALICE
    assert records[-1]["session_id"] == SESSION_ID


# --- refusals and failures downstream ------------------------------------------------


@pytest.mark.parametrize(
    "peer_reply",
    [
        PeerReply(status=403, body={"message": "not authorized"}, error_type="AccessDeniedException"),
        PeerReply(status=424, body={"message": "agent returned 403"}, error_type="RuntimeClientError"),
        PeerReply(status=200, body={"error": "forbidden", "message": "The request was rejected."}),
        PeerReply(status=200, body={"error": "unauthorized", "message": "The request was rejected."}),
    ],
    ids=["access-denied", "runtime-client-error", "peer-forbidden", "peer-unauthorized"],
)
def test_support_maps_refused_call_to_generic_answer(start_support, transaction_runtime, alice_token, peer_reply):
    transaction_runtime.reply = peer_reply
    model = balance_script()
    app = start_support(model)

    reply = ask(app, alice_token)

    assert reply.status == 200
    assert reply.body == {"answer": answers.ACCOUNT_UNAVAILABLE}
    assert len(model.calls) == 1


@pytest.mark.parametrize(
    "peer_reply",
    [
        PeerReply(status=429, body={"message": "slow down"}, error_type="ThrottlingException"),
        PeerReply(status=500, body={"message": "internal"}, error_type="InternalServerException"),
        PeerReply(status=200, body={"error": "upstream_failed", "message": "The data service is unavailable."}),
        PeerReply(status=200, body={"unexpected": True}),
    ],
    ids=["throttled", "internal-error", "peer-upstream-failed", "no-result"],
)
def test_support_maps_unavailable_peer_to_retry_answer(start_support, transaction_runtime, alice_token, peer_reply):
    transaction_runtime.reply = peer_reply
    app = start_support(balance_script())

    reply = ask(app, alice_token)

    assert reply.body == {"answer": answers.SERVICE_UNAVAILABLE}


def test_support_audits_refused_call_with_reason(start_support, transaction_runtime, alice_token, captured_logger):
    transaction_runtime.reply = PeerReply(status=403, body={"message": "denied"}, error_type="AccessDeniedException")
    app = start_support(balance_script())

    ask(app, alice_token)

    record = captured_logger.audit_records()[-1]
    assert record["decision"] == "deny"
    assert record["reason"] == "peer_access_denied_exception"
    assert record["tool"] == "get_balance"


def test_support_refusal_answer_leaks_no_detail(start_support, transaction_runtime, alice_token):
    transaction_runtime.reply = PeerReply(
        status=403, body={"message": "User 7c1e0f7a lacks scope"}, error_type="AccessDeniedException"
    )
    app = start_support(balance_script())

    reply = ask(app, alice_token)

    assert "scope" not in json.dumps(reply.body)


# --- the user's own request -------------------------------------------------------------


def test_support_rejects_missing_authorization(start_support, transaction_runtime):
    model = balance_script()
    app = start_support(model)

    reply = ask(app, None)

    assert reply.status == 401
    assert reply.body["answer"] == answers.SIGN_IN_AGAIN
    assert model.calls == []


def test_support_rejects_duplicated_authorization(start_support, transaction_runtime, oidc_issuer, alice_token):
    other = oidc_issuer.mint_access_token("someone-else", scopes=ALL_SCOPES)
    model = balance_script()
    app = start_support(model)

    reply = ask(app, alice_token, extra_headers=((AUTHORIZATION_HEADER.lower(), f"Bearer {other}"),))

    assert reply.status == 401
    assert model.calls == []


def test_support_rejects_token_of_wrong_client(start_support, transaction_runtime, oidc_issuer, captured_logger):
    token = oidc_issuer.mint_access_token(ALICE, client_id="someotherappclient000000a", scopes=ALL_SCOPES)
    app = start_support(balance_script())

    reply = ask(app, token)

    assert reply.status == 401
    assert captured_logger.audit_records()[-1]["reason"] == "token_client_not_allowed"
    assert transaction_runtime.requests == []


@pytest.mark.parametrize(
    "session_id",
    [
        "short-session",
        "mesh:session:0123456789abcdef0123456789ab",
        "mesh.session.0123456789abcdef0123456789",
        "x" * 101,
    ],
    ids=["too-short", "colon-not-allowed-by-memory", "dot-not-allowed-by-memory", "too-long-for-memory"],
)
def test_support_rejects_session_id_memory_cannot_store(start_support, alice_token, session_id):
    model = balance_script()
    app = start_support(model)

    reply = ask(app, alice_token, session_id=session_id)

    assert reply.status == 400
    assert model.calls == []


@pytest.mark.parametrize("payload", [{}, {"prompt": ""}, {"prompt": 42}, {"prompt": "x" * 4001}, ["prompt"]])
def test_support_rejects_invalid_prompt(start_support, alice_token, payload):
    app = start_support(balance_script())

    reply = request_json(
        "POST",
        f"{app.base_url}/invocations",
        headers=[(RUNTIME_SESSION_ID_HEADER, SESSION_ID), (AUTHORIZATION_HEADER, f"Bearer {alice_token}")],
        payload=payload,
    )

    assert reply.status == 400
    assert reply.body["answer"] == answers.INVALID_PROMPT


def test_support_ping_reports_healthy(start_support):
    app = start_support(balance_script())

    reply = request_json("GET", f"{app.base_url}/ping")

    assert reply.body["status"] == "Healthy"


def test_support_logs_no_secret_on_failures(
    start_support, transaction_runtime, oidc_issuer, alice_token, captured_logger, capfd
):
    wrong_client = oidc_issuer.mint_access_token(ALICE, client_id="someotherappclient000000a", scopes=ALL_SCOPES)
    transaction_runtime.reply = PeerReply(status=403, body={"message": alice_token}, error_type="AccessDeniedException")
    app = start_support(ScriptedModel(keyword_script))

    ask(app, wrong_client)
    ask(app, alice_token, extra_headers=((AUTHORIZATION_HEADER, f"Bearer {wrong_client}"),))
    ask(app, "not-a-jwt")
    ask(app, alice_token)

    output = captured_logger.text + "".join(capfd.readouterr())
    assert len(captured_logger.audit_records()) == 4
    for marker in SECRET_MARKERS:
        assert marker not in output


# --- tools and the model ------------------------------------------------------------------


def test_support_offers_only_tools_within_scopes(start_support, transaction_runtime, oidc_issuer):
    token = oidc_issuer.mint_access_token(ALICE, scopes=[SCOPE_ACCOUNTS_READ])
    model = ScriptedModel([text_turn("Hello.")])
    app = start_support(model)

    ask(app, token, "Hello")

    assert model.calls[0].tool_names == ("get_balance",)


def test_support_rejects_tool_not_offered(start_support, transaction_runtime, oidc_issuer):
    token = oidc_issuer.mint_access_token(ALICE, scopes=[SCOPE_ACCOUNTS_READ])
    model = ScriptedModel([tool_turn("list_transactions", {"limit": 5}), text_turn("I can't list transactions.")])
    app = start_support(model)

    reply = ask(app, token, "List my transactions")

    tool_result = model.calls[1].messages[-1]["content"][0]["toolResult"]
    assert tool_result["status"] == "error"
    assert transaction_runtime.requests == []
    assert reply.body == {"answer": "I can't list transactions."}


def test_support_returns_error_result_for_invalid_arguments(start_support, transaction_runtime, alice_token):
    model = ScriptedModel([tool_turn("list_transactions", {"limit": 500}), text_turn("Please ask for fewer.")])
    app = start_support(model)

    ask(app, alice_token, "List all my transactions")

    tool_result = model.calls[1].messages[-1]["content"][0]["toolResult"]
    assert tool_result["status"] == "error"
    assert transaction_runtime.requests == []


def test_support_returns_peer_tool_error_to_model(start_support, transaction_runtime, alice_token):
    message = "Invalid limit: received 500; expected an integer from 1 to 100."
    transaction_runtime.reply = PeerReply(
        body={"tool": "list_transactions", "tool_error": {"code": "invalid_argument", "message": message}}
    )
    model = ScriptedModel(
        [tool_turn("list_transactions", {"limit": 50}), text_turn("Please ask for fewer transactions.")]
    )
    app = start_support(model)

    reply = ask(app, alice_token, "List my transactions")

    tool_result = model.calls[1].messages[-1]["content"][0]["toolResult"]
    assert tool_result["status"] == "error"
    assert message in tool_result["content"][0]["text"]
    assert reply.body == {"answer": "Please ask for fewer transactions."}


def test_support_stops_after_tool_round_limit(start_support, transaction_runtime, alice_token):
    model = ScriptedModel(lambda messages: tool_turn("get_balance"))
    app = start_support(model)

    reply = ask(app, alice_token)

    assert reply.body == {"answer": answers.REQUEST_TOO_COMPLEX}
    assert len(transaction_runtime.requests) == 4


def test_support_answers_model_failure_generically(start_support, transaction_runtime, alice_token):
    app = start_support(ScriptedModel([]))

    reply = ask(app, alice_token)

    assert reply.status == 503
    assert reply.body["answer"] == answers.MODEL_UNAVAILABLE


def test_support_gives_model_earlier_exchanges(start_support, transaction_runtime, alice_token):
    model = ScriptedModel([text_turn("Hello, how can I help?"), text_turn("You asked about help.")])
    app = start_support(model)

    ask(app, alice_token, "Hello")
    ask(app, alice_token, "What did I say?")

    assert model.calls[1].messages == [
        {"role": "user", "content": [{"text": "Hello"}]},
        {"role": "assistant", "content": [{"text": "Hello, how can I help?"}]},
        {"role": "user", "content": [{"text": "What did I say?"}]},
    ]


def test_support_keeps_other_users_history_apart(
    start_support, transaction_runtime, oidc_issuer, alice_token, memory_client
):
    bob_token = oidc_issuer.mint_access_token("7c1e0f7a-2222-4a6b-9d2e-b0b000000002", scopes=ALL_SCOPES)
    model = ScriptedModel([text_turn("Hello Alice."), text_turn("Hello Bob.")])
    app = start_support(model)

    ask(app, alice_token, "Hello")
    ask(app, bob_token, "Hello", session_id="mesh-session-b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0")

    assert model.calls[1].messages == [{"role": "user", "content": [{"text": "Hello"}]}]


def test_support_answers_without_history_when_memory_fails(
    serve_app, token_verifier, runtime_client, transaction_runtime, alice_token, captured_logger
):
    broken_memory = boto3.client("bedrock-agentcore", region_name=REGION, endpoint_url=UNUSED_LOOPBACK_ENDPOINT)
    model = ScriptedModel([text_turn("Hello.")])
    app = serve_app(
        build_app(
            verifier=token_verifier,
            agentcore_client=runtime_client,
            memory_client=broken_memory,
            model=model,
            memory_id=MEMORY_ID,
            peer_runtime_arns={"transaction": RUNTIME_ARN},
            logger=captured_logger.logger,
        )
    )

    reply = ask(app, alice_token, "Hello")

    assert reply.body == {"answer": "Hello."}
    assert "Conversation history unavailable" in captured_logger.text


def test_scripted_keyword_script_calls_balance_tool():
    turn = keyword_script([{"role": "user", "content": [{"text": "What's my balance?"}]}])

    assert [use.name for use in turn.tool_uses] == ["get_balance"]


# --- Bedrock Converse behind botocore's Stubber --------------------------------------------


def converse_response(message: dict[str, Any], stop_reason: str) -> dict[str, Any]:
    return {
        "output": {"message": message},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 12},
    }


def test_bedrock_model_runs_tool_loop_through_converse(start_support, transaction_runtime, alice_token):
    bedrock = boto3.client("bedrock-runtime", region_name=REGION)
    stubber = Stubber(bedrock)
    tool_config = {"tools": [tool.tool_spec() for tool in SEED_TOOLS]}
    inference = {"maxTokens": 1024, "temperature": 0.0}
    question = {"role": "user", "content": [{"text": "What is my balance?"}]}
    tool_use = {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "tooluse-1", "name": "get_balance", "input": {}}}],
    }
    tool_result = {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "tooluse-1", "content": [{"json": BALANCE}], "status": "success"}}],
    }
    expected = {
        "modelId": MODEL_ID,
        "system": [{"text": SYSTEM_PROMPT}],
        "inferenceConfig": inference,
        "toolConfig": tool_config,
    }
    stubber.add_response("converse", converse_response(tool_use, "tool_use"), {**expected, "messages": [question]})
    stubber.add_response(
        "converse",
        converse_response({"role": "assistant", "content": [{"text": "You have 5000.00 USD."}]}, "end_turn"),
        {**expected, "messages": [question, tool_use, tool_result]},
    )
    app = start_support(BedrockConverseModel(bedrock, MODEL_ID))

    with stubber:
        reply = ask(app, alice_token)

    assert reply.body == {"answer": "You have 5000.00 USD."}
    stubber.assert_no_pending_responses()


def test_bedrock_model_maps_throttling_to_generic_answer(
    start_support, transaction_runtime, alice_token, captured_logger
):
    bedrock = boto3.client("bedrock-runtime", region_name=REGION)
    stubber = Stubber(bedrock)
    stubber.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    app = start_support(BedrockConverseModel(bedrock, MODEL_ID))

    with stubber:
        reply = ask(app, alice_token)

    assert reply.body["answer"] == answers.MODEL_UNAVAILABLE
    assert captured_logger.audit_records()[-1]["reason"] == "converse_throttling_exception"


def test_bedrock_model_omits_empty_tool_config():
    bedrock = boto3.client("bedrock-runtime", region_name=REGION)
    stubber = Stubber(bedrock)
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    stubber.add_response(
        "converse",
        converse_response({"role": "assistant", "content": [{"text": "Hello."}]}, "end_turn"),
        {"modelId": MODEL_ID, "system": [{"text": "s"}], "messages": messages, "inferenceConfig": ANY},
    )

    with stubber:
        turn: ModelTurn = BedrockConverseModel(bedrock, MODEL_ID).converse(system="s", messages=messages, tools=())

    assert turn.text == "Hello."


# --- concurrency and retries -----------------------------------------------------------------


def test_support_sends_token_header_on_each_retry(start_support, transaction_runtime, alice_token):
    transaction_runtime.reply = PeerReply(status=429, body={"message": "slow down"}, error_type="ThrottlingException")
    app = start_support(balance_script())

    ask(app, alice_token)

    sent = [transaction_runtime.header(USER_TOKEN_HEADER, index) for index in range(len(transaction_runtime.requests))]
    assert sent == [alice_token] * 3


def test_support_keeps_tokens_apart_under_concurrent_requests(start_support, transaction_runtime, oidc_issuer):
    users = [f"7c1e0f7a-{index:04d}-4a6b-9d2e-000000000000" for index in range(6)]
    tokens = {
        f"mesh-session-{index:02d}-0123456789abcdef0123456789ab": oidc_issuer.mint_access_token(sub, scopes=ALL_SCOPES)
        for index, sub in enumerate(users)
    }
    transaction_runtime.delay_seconds = 0.1
    app = start_support(ScriptedModel(keyword_script))

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        replies = list(pool.map(lambda item: ask(app, item[1], session_id=item[0]), tokens.items()))

    sent = {
        transaction_runtime.header(RUNTIME_SESSION_ID_HEADER, index): transaction_runtime.header(
            USER_TOKEN_HEADER, index
        )
        for index in range(len(transaction_runtime.requests))
    }
    assert [reply.status for reply in replies] == [200] * len(tokens)
    assert sent == tokens
