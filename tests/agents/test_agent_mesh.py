"""Tests of the two agents wired together: Support -> (AgentCore stand-in) -> Transaction -> fake Gateway.

Both agents run under uvicorn on loopback. The stand-in for AgentCore Runtime
is a handler in the ``before-send`` event of Support's client. It checks the
SigV4 signature the way AWS does and forwards the allowlisted headers to the
Transaction agent over HTTP. An error reply of the agent becomes
``RuntimeClientError``, as a guess at how the runtime reports it. This checks the contract between the agents (payload,
header names, result shape) with real tokens and real signatures.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.credentials import Credentials
from mesh_identity.constants import (
    AUTHORIZATION_HEADER,
    RUNTIME_SESSION_ID_HEADER,
    SCOPE_ACCOUNTS_READ,
    SCOPE_TRANSACTIONS_READ,
    SESSION_ID_HEADER,
    USER_TOKEN_HEADER,
)
from mesh_identity.signing import signed_header_names
from moto import mock_aws
from support_agent import answers
from support_agent.app import build_app as build_support_app
from support_agent.model import ScriptedModel, keyword_script
from transaction_agent.app import build_app as build_transaction_app
from transaction_agent.gateway import GatewayClient

from tests.agents.conftest import SESSION_ID, RunningApp, jsonrpc_result, ledger_text_result
from tests.agents.http_client import request_json
from tests.support.sigv4 import verify_sigv4

ALICE = "7c1e0f7a-1111-4a6b-9d2e-a11ce0000001"
BOB = "7c1e0f7a-2222-4a6b-9d2e-b0b000000002"
REGION = "us-east-1"
RUNTIME_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/transaction_agent-AbCdEf0123"
MEMORY_ID = "support_memory-AbCdEf0123"
BALANCE = {"amount": "5000.00", "currency": "USD", "account": "****1234"}
TRANSACTION_ROLE = Credentials("AKIDTRANSACTIONROLE", "transaction-role-secret")
# Headers AgentCore Runtime hands to the Transaction agent: its allowlist plus the session id.
FORWARDED_HEADERS = (USER_TOKEN_HEADER.lower(), RUNTIME_SESSION_ID_HEADER.lower(), "content-type")


class _RawBody:
    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def stream(self, **_: Any):
        yield self._buffer.read()

    def read(self, amt: int | None = None, **_: Any) -> bytes:
        return self._buffer.read(amt) if amt is not None else self._buffer.read()

    def close(self) -> None:
        pass


class AgentCoreStandIn:
    """Checks SigV4 like AgentCore, then forwards the invocation to the Transaction agent's /invocations."""

    def __init__(self, client: Any, transaction: RunningApp) -> None:
        self.transaction = transaction
        self.forwarded: list[dict[str, str]] = []
        client.meta.events.register("before-send.bedrock-agentcore.InvokeAgentRuntime", self._invoke)

    def _invoke(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        headers = {
            name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()
        }
        if not verify_sigv4(
            request.method, request.url, headers, request.body, secret_key=os.environ["AWS_SECRET_ACCESS_KEY"]
        ):
            return self._error(403, "AccessDeniedException")
        if RUNTIME_ARN not in unquote(request.url):
            return self._error(404, "ResourceNotFoundException")

        forwarded = [(name, value) for name, value in headers.items() if name.lower() in FORWARDED_HEADERS]
        self.forwarded.append(dict(forwarded))
        reply = request_json(
            "POST", f"{self.transaction.base_url}/invocations", headers=forwarded, payload=json.loads(request.body)
        )
        if reply.status != 200:
            return self._error(424, "RuntimeClientError")
        return AWSResponse(
            request.url, 200, {"Content-Type": "application/json"}, _RawBody(json.dumps(reply.body).encode())
        )

    @staticmethod
    def _error(status: int, error_type: str) -> AWSResponse:
        body = json.dumps({"message": error_type}).encode()
        return AWSResponse(
            "", status, {"x-amzn-ErrorType": error_type, "Content-Type": "application/json"}, _RawBody(body)
        )


@pytest.fixture
def mesh(serve_app, fake_server, token_verifier, captured_logger):
    gateway = fake_server(jsonrpc_result(ledger_text_result(BALANCE)))
    gateway_client = GatewayClient(
        url=gateway.url(),
        target_name="ledger",
        region=REGION,
        credentials_provider=lambda: TRANSACTION_ROLE,
        timeout_seconds=2.0,
    )
    transaction = serve_app(
        build_transaction_app(verifier=token_verifier, gateway=gateway_client, logger=captured_logger.logger)
    )

    with mock_aws():
        runtime_client = boto3.client("bedrock-agentcore", region_name=REGION, endpoint_url="http://127.0.0.1:9")
        stand_in = AgentCoreStandIn(runtime_client, transaction)
        support = serve_app(
            build_support_app(
                verifier=token_verifier,
                agentcore_client=runtime_client,
                memory_client=boto3.client("bedrock-agentcore", region_name=REGION),
                model=ScriptedModel(keyword_script),
                memory_id=MEMORY_ID,
                peer_runtime_arns={"transaction": RUNTIME_ARN},
                logger=captured_logger.logger,
            )
        )
        yield support, stand_in, gateway


def ask(support: RunningApp, token: str, prompt: str, session_id: str = SESSION_ID):
    headers = [(RUNTIME_SESSION_ID_HEADER, session_id), (AUTHORIZATION_HEADER, f"Bearer {token}")]
    return request_json("POST", f"{support.base_url}/invocations", headers=headers, payload={"prompt": prompt})


def test_mesh_answers_balance_from_gateway(mesh, oidc_issuer):
    support, _, _ = mesh
    token = oidc_issuer.mint_access_token(ALICE, scopes=[SCOPE_ACCOUNTS_READ, SCOPE_TRANSACTIONS_READ])

    reply = ask(support, token, "What is my balance?")

    assert reply.status == 200
    assert "5000.00" in reply.body["answer"]


def test_mesh_gateway_gets_signed_identity_headers(mesh, oidc_issuer):
    support, _, gateway = mesh
    token = oidc_issuer.mint_access_token(ALICE, scopes=[SCOPE_ACCOUNTS_READ])

    ask(support, token, "What is my balance?")

    request = gateway.requests[0]
    signed = signed_header_names(request.header("Authorization"))
    assert request.header(USER_TOKEN_HEADER) == token
    assert request.header(SESSION_ID_HEADER) == SESSION_ID
    assert USER_TOKEN_HEADER.lower() in signed
    assert SESSION_ID_HEADER.lower() in signed


def test_mesh_transaction_gets_user_session_id(mesh, oidc_issuer):
    support, stand_in, _ = mesh
    token = oidc_issuer.mint_access_token(ALICE, scopes=[SCOPE_ACCOUNTS_READ])

    ask(support, token, "What is my balance?")

    forwarded = {name.lower(): value for name, value in stand_in.forwarded[0].items()}
    assert forwarded[RUNTIME_SESSION_ID_HEADER.lower()] == SESSION_ID


def test_mesh_maps_transaction_refusal_to_generic_answer(mesh, oidc_issuer):
    support, _, gateway = mesh
    # Bob's request reuses Alice's runtime session id. The Transaction agent
    # rejects the session, and Support gives the generic answer.
    alice = oidc_issuer.mint_access_token(ALICE, scopes=[SCOPE_ACCOUNTS_READ])
    bob = oidc_issuer.mint_access_token(BOB, scopes=[SCOPE_ACCOUNTS_READ])
    ask(support, alice, "What is my balance?")

    reply = ask(support, bob, "What is my balance?")

    assert reply.body == {"answer": answers.ACCOUNT_UNAVAILABLE}
    assert len(gateway.requests) == 1
