"""Hostile and malformed requests at every hop of the local mesh, over real HTTP.

Hop 1 is the front end calling the Support runtime with a bearer token,
hop 2 a SigV4-signed call of the Transaction runtime, hop 3 a signed MCP call
of the Gateway. Each test checks the reply and the audit record that names
the reason, so a rejection for the wrong reason fails.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from mesh_identity.constants import (
    AUTHORIZATION_HEADER,
    RUNTIME_SESSION_ID_HEADER,
    SCOPE_TRANSACTIONS_READ,
    SESSION_ID_HEADER,
    USER_TOKEN_HEADER,
    VERIFIED_IDENTITY_KEY,
)
from mesh_identity.signing import identity_headers

from localmesh.dataplane import AUDIT_HOP as RUNTIME_HOP
from localmesh.dataplane import RUNTIME_USER_ID_HEADER
from localmesh.gateway import AUDIT_HOP as GATEWAY_HOP
from localmesh.http import send_raw
from localmesh.ledger_data import ALICE, BOB
from localmesh.mesh import INTRUDER, REGION, LocalMesh, replace_header, without_headers
from localmesh.sigv4 import sign_headers
from tests.localmesh.conftest import reasons, record_of

pytestmark = pytest.mark.slow

SHORT_SESSION_ID = "s" * 32  # one character below AgentCore's minimum of 33
BALANCE_REQUEST = {"tool": "get_balance", "arguments": {}}


def _balance_call(mesh: LocalMesh, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": mesh.ledger_tool_name("get_balance"), "arguments": arguments},
    }


def _tool_result(response_body: Any) -> dict[str, Any]:
    return json.loads(response_body["result"]["content"][0]["text"])


# -- hop 1: the front end calls the Support runtime ----------------------------------


def test_hop1_rejects_duplicated_authorization_header(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()
    token = mesh.user_token("alice")

    response = mesh.ask_support(
        token,
        "What is my balance?",
        session_id=mesh.new_session_id(),
        extra_headers=[(AUTHORIZATION_HEADER, f"Bearer {mesh.user_token('bob')}")],
    )

    assert response.status == 401
    assert reasons(mesh, mark, RUNTIME_HOP) == ["authorization_duplicate"]
    assert reasons(mesh, mark, "support_agent") == []


@pytest.mark.parametrize(
    ("session_id", "reason"),
    [
        (None, "session_id_missing"),
        (SHORT_SESSION_ID, "session_id_invalid"),
        ("bad id with spaces " + "x" * 30, "session_id_invalid"),
    ],
    ids=["missing", "too-short", "spaces"],
)
def test_hop1_rejects_bad_session_id(mesh: LocalMesh, session_id: str | None, reason: str) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.ask_support(mesh.user_token("alice"), "What is my balance?", session_id=session_id)

    assert response.status == 400
    assert response.header("x-amzn-ErrorType") == "ValidationException"
    assert reasons(mesh, mark, RUNTIME_HOP) == [reason]


def test_hop1_rejects_missing_token(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.ask_support(None, "What is my balance?", session_id=mesh.new_session_id())

    assert response.status == 401
    assert reasons(mesh, mark, RUNTIME_HOP) == ["bearer_token_missing"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"client_id": "someotherappclient000000a"}, "jwt_client_not_allowed"),
        ({"scopes": (SCOPE_TRANSACTIONS_READ,)}, "jwt_scope_missing"),
        ({"alg": "none"}, "jwt_algorithm_not_allowed"),
        ({"alg": "HS256"}, "jwt_algorithm_not_allowed"),
        ({"issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"}, "jwt_wrong_issuer"),
        ({"kid": "unknown-kid"}, "jwt_unknown_key"),
        ({"nbf": int(time.time()) + 3600}, "jwt_not_yet_valid"),
    ],
    ids=["other-client", "no-allowed-scope", "alg-none", "alg-hs256", "other-issuer", "unknown-kid", "not-yet-valid"],
)
def test_hop1_rejects_hostile_token(mesh: LocalMesh, claims: dict[str, Any], reason: str) -> None:
    mark = mesh.audit_log.mark()
    token = mesh.user_token("alice", **claims)

    response = mesh.ask_support(token, "What is my balance?", session_id=mesh.new_session_id())

    assert response.status == 401
    assert reasons(mesh, mark, RUNTIME_HOP) == [reason]


def test_hop1_rejects_id_token(mesh: LocalMesh) -> None:
    # An ID token has aud instead of client_id, so the allowed-clients check fails.
    mark = mesh.audit_log.mark()

    response = mesh.ask_support(
        mesh.issuer.mint_id_token(ALICE.sub), "What is my balance?", session_id=mesh.new_session_id()
    )

    assert response.status == 401
    assert reasons(mesh, mark, RUNTIME_HOP) == ["jwt_client_not_allowed"]


def test_hop1_rejects_sigv4_on_jwt_runtime(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "support", principal="transaction", payload={"prompt": "hi"}, user_token=None, session_id=mesh.new_session_id()
    )

    assert response.status == 403
    assert reasons(mesh, mark, RUNTIME_HOP) == ["authorization_method_mismatch"]


def test_support_agent_rejects_direct_call_without_session_id(mesh: LocalMesh) -> None:
    # Defence in depth: the agent's own check still rejects a request that bypasses the data plane.
    mark = mesh.audit_log.mark()
    headers = [("Content-Type", "application/json"), (AUTHORIZATION_HEADER, f"Bearer {mesh.user_token('alice')}")]

    response = send_raw(
        "POST", f"{mesh.agent_url('support')}/invocations", headers=headers, body=b'{"prompt": "balance?"}'
    )

    assert response.status == 400
    assert reasons(mesh, mark, "support_agent") == ["session_id_invalid"]


# -- hop 2: a signed call of the Transaction runtime ---------------------------------


def test_hop2_accepts_boto3_call_from_support_role(mesh: LocalMesh) -> None:
    # The SDK path: botocore builds, encodes and signs the request, so the stand-in's REST shape must match.
    client = _runtime_client(mesh, "support")

    with identity_headers(client, user_token=mesh.user_token("alice")):
        response = client.invoke_agent_runtime(
            agentRuntimeArn=mesh.runtime_arn("transaction"),
            runtimeSessionId=mesh.new_session_id(),
            payload=json.dumps(BALANCE_REQUEST).encode(),
            contentType="application/json",
        )

    assert json.loads(response["response"].read())["result"]["balance"] == str(ALICE.balance)


def test_hop2_boto3_call_from_intruder_raises_access_denied(mesh: LocalMesh) -> None:
    client = _runtime_client(mesh, INTRUDER)

    with pytest.raises(ClientError) as raised, identity_headers(client, user_token=mesh.user_token("alice")):
        client.invoke_agent_runtime(
            agentRuntimeArn=mesh.runtime_arn("transaction"),
            runtimeSessionId=mesh.new_session_id(),
            payload=json.dumps(BALANCE_REQUEST).encode(),
        )

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def test_hop2_rejects_duplicated_user_token_header(mesh: LocalMesh) -> None:
    # Both copies are inside the signature, so only the agent's own header check can catch this.
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload=BALANCE_REQUEST,
        user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(),
        extra_headers=[(USER_TOKEN_HEADER, mesh.user_token("bob"))],
    )

    assert response.status == 424
    assert reasons(mesh, mark, "transaction_agent") == ["user_token_header_duplicate"]
    assert reasons(mesh, mark, "ledger") == []


@pytest.mark.parametrize(
    ("session_id", "reason"),
    [(None, "session_id_missing"), (SHORT_SESSION_ID, "session_id_invalid")],
    ids=["missing", "too-short"],
)
def test_hop2_rejects_bad_session_id(mesh: LocalMesh, session_id: str | None, reason: str) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload=BALANCE_REQUEST,
        user_token=mesh.user_token("alice"),
        session_id=session_id,
    )

    assert response.status == 400
    assert reasons(mesh, mark, RUNTIME_HOP) == [reason]


def test_hop2_rejects_signature_of_unknown_key(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()
    unknown = Credentials("ASIAUNKNOWNKEY000000", "not-a-secret-the-mesh-knows", "some-session-token")
    url = f"{mesh.dataplane_url}/runtimes/{_quoted(mesh.runtime_arn('transaction'))}/invocations"
    body = json.dumps(BALANCE_REQUEST).encode()
    headers = [
        ("Content-Type", "application/json"),
        (RUNTIME_SESSION_ID_HEADER, mesh.new_session_id()),
        (USER_TOKEN_HEADER, mesh.user_token("alice")),
    ]

    response = send_raw(
        "POST", url, body=body,
        headers=sign_headers(
            "POST", url, headers=headers, body=body, credentials=unknown, region=REGION, service="bedrock-agentcore"
        ),
    )  # fmt: skip

    assert response.status == 403
    assert response.header("x-amzn-ErrorType") == "UnrecognizedClientException"
    assert reasons(mesh, mark, RUNTIME_HOP) == ["sigv4_unknown_access_key"]


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(timedelta(minutes=-6), "sigv4_signature_expired"), (timedelta(minutes=6), "sigv4_signature_not_yet_valid")],
    ids=["replayed-6-minutes-later", "signed-6-minutes-ahead"],
)
def test_hop2_rejects_signature_outside_clock_skew(mesh: LocalMesh, offset: timedelta, reason: str) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload=BALANCE_REQUEST,
        user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(),
        signed_at=datetime.now(UTC) + offset,
    )

    assert response.status == 403
    assert reasons(mesh, mark, RUNTIME_HOP) == [reason]


def test_hop2_accepts_signature_within_clock_skew(mesh: LocalMesh) -> None:
    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload=BALANCE_REQUEST,
        user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(),
        signed_at=datetime.now(UTC) - timedelta(minutes=4),
    )

    assert response.status == 200


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (without_headers(["X-Amz-Security-Token"]), "sigv4_signed_header_absent"),
        (
            replace_header(RUNTIME_SESSION_ID_HEADER, "replaced-session-0123456789abcdef0123456789"),
            "sigv4_signature_mismatch",
        ),
        (replace_header("Authorization", "AWS4-HMAC-SHA256 Credential=x"), "sigv4_authorization_malformed"),
        (without_headers(["Authorization"]), "sigv4_authorization_missing"),
    ],
    ids=["session-token-removed", "session-id-replaced", "authorization-mangled", "unsigned"],
)
def test_hop2_rejects_request_changed_after_signing(mesh: LocalMesh, tamper: Any, reason: str) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction", principal="support", payload=BALANCE_REQUEST, user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(), tamper=tamper,
    )  # fmt: skip

    assert response.status == 403
    assert reasons(mesh, mark, RUNTIME_HOP) == [reason]


def test_hop2_rejects_user_token_added_after_signing(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction", principal="support", payload=BALANCE_REQUEST, user_token=None, session_id=mesh.new_session_id(),
        tamper=lambda headers: [*headers, (USER_TOKEN_HEADER, mesh.user_token("alice"))],
    )  # fmt: skip

    assert response.status == 403
    assert reasons(mesh, mark, RUNTIME_HOP) == ["sigv4_header_not_signed"]


def test_hop2_rejects_bearer_token_on_iam_runtime(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()
    url = f"{mesh.dataplane_url}/runtimes/{_quoted(mesh.runtime_arn('transaction'))}/invocations"
    headers = [
        ("Content-Type", "application/json"),
        (AUTHORIZATION_HEADER, f"Bearer {mesh.user_token('alice')}"),
        (RUNTIME_SESSION_ID_HEADER, mesh.new_session_id()),
    ]

    response = send_raw("POST", url, headers=headers, body=json.dumps(BALANCE_REQUEST).encode())

    assert response.status == 403
    assert reasons(mesh, mark, RUNTIME_HOP) == ["authorization_method_mismatch"]


def test_hop2_rejects_runtime_user_id_header(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction", principal="support", payload=BALANCE_REQUEST, user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(), extra_headers=[(RUNTIME_USER_ID_HEADER, ALICE.sub)],
    )  # fmt: skip

    assert response.status == 403
    assert reasons(mesh, mark, RUNTIME_HOP) == ["invoke_for_user_denied"]


def test_hop2_rejects_unknown_runtime(mesh: LocalMesh) -> None:
    url = f"{mesh.dataplane_url}/runtimes/{_quoted(mesh.runtime_arn('transaction') + 'x')}/invocations"

    response = send_raw("POST", url, headers=[("Content-Type", "application/json")], body=b"{}")

    assert response.status == 404


def test_hop2_rejects_other_endpoint_qualifier(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()
    url = f"{mesh.dataplane_url}/runtimes/{_quoted(mesh.runtime_arn('transaction'))}/invocations?qualifier=canary"
    body = json.dumps(BALANCE_REQUEST).encode()
    headers = [
        ("Content-Type", "application/json"),
        (RUNTIME_SESSION_ID_HEADER, mesh.new_session_id()),
        (USER_TOKEN_HEADER, mesh.user_token("alice")),
    ]
    credentials = mesh.principal("support").credentials

    response = send_raw(
        "POST", url, body=body,
        headers=sign_headers(
            "POST", url, headers=headers, body=body, credentials=credentials, region=REGION, service="bedrock-agentcore"
        ),
    )  # fmt: skip

    assert response.status == 404
    assert reasons(mesh, mark, RUNTIME_HOP) == ["endpoint_not_found"]


def test_hop2_rejects_second_user_in_bound_session(mesh: LocalMesh) -> None:
    session_id = mesh.new_session_id()
    mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload=BALANCE_REQUEST,
        user_token=mesh.user_token("alice"),
        session_id=session_id,
    )
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload=BALANCE_REQUEST,
        user_token=mesh.user_token("bob"),
        session_id=session_id,
    )

    assert response.status == 424
    assert reasons(mesh, mark, "transaction_agent") == ["session_bound_to_other_user"]


def test_hop2_rejects_caller_supplied_verified_identity(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()
    forged = {"tool": "get_balance", "arguments": {VERIFIED_IDENTITY_KEY: {"sub": ALICE.sub}}}

    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload=forged,
        user_token=mesh.user_token("bob"),
        session_id=mesh.new_session_id(),
    )

    assert response.status == 424
    assert reasons(mesh, mark, "transaction_agent") == ["invalid_request"]


def test_hop2_forwards_only_allowlisted_headers(mesh: LocalMesh) -> None:
    # A header outside the allowlist never reaches the agent, so a token hidden there is ignored.
    mark = mesh.audit_log.mark()

    response = mesh.invoke_runtime(
        "transaction", principal="support", payload=BALANCE_REQUEST, user_token=None, session_id=mesh.new_session_id(),
        extra_headers=[("X-User-Token", mesh.user_token("alice"))],
    )  # fmt: skip

    assert response.status == 424
    assert reasons(mesh, mark, "transaction_agent") == ["user_token_header_missing"]


# -- hop 3: a signed MCP call of the Gateway -----------------------------------------


def test_hop3_rejects_unknown_mcp_method(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.call_gateway(
        principal="transaction",
        message={"jsonrpc": "2.0", "id": 9, "method": "resources/list", "params": {}},
        user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(),
    )

    assert response.status == 403
    assert response.json()["error"]["code"] == -32001
    assert reasons(mesh, mark, "gateway_interceptor") == ["mcp_method_not_allowed"]


def test_hop3_rejects_unknown_tool(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()
    message = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": mesh.ledger_tool_name("delete_account"), "arguments": {}},
    }

    response = mesh.call_gateway(
        principal="transaction", message=message, user_token=mesh.user_token("alice"), session_id=mesh.new_session_id()
    )

    assert response.status == 403
    assert reasons(mesh, mark, "gateway_interceptor") == ["tool_not_allowed"]


@pytest.mark.parametrize("principal", ["support", INTRUDER, "ledger-tool"])
def test_hop3_rejects_role_without_invoke_gateway(mesh: LocalMesh, principal: str) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.call_gateway(
        principal=principal,
        message=_balance_call(mesh),
        user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(),
    )

    assert response.status == 403
    assert reasons(mesh, mark, GATEWAY_HOP) == ["caller_not_allowed_by_policy"]
    assert reasons(mesh, mark, "gateway_interceptor") == []


def test_hop3_replaces_forged_verified_identity(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()
    message = _balance_call(
        mesh, **{VERIFIED_IDENTITY_KEY: {"sub": ALICE.sub, "scopes": [], "client_id": "x", "session_id": "y" * 40}}
    )

    response = mesh.call_gateway(
        principal="transaction", message=message, user_token=mesh.user_token("bob"), session_id=mesh.new_session_id()
    )

    assert response.status == 200
    assert _tool_result(response.json())["balance"] == str(BOB.balance)
    assert record_of(mesh, mark, "ledger")["sub"] == BOB.sub


def test_hop3_rejects_missing_user_token(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.call_gateway(
        principal="transaction", message=_balance_call(mesh), user_token=None, session_id=mesh.new_session_id()
    )

    assert response.status == 403
    assert reasons(mesh, mark, "gateway_interceptor") == ["header_missing"]


def test_hop3_rejects_duplicated_user_token_header(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.call_gateway(
        principal="transaction", message=_balance_call(mesh), user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(), extra_headers=[(USER_TOKEN_HEADER, mesh.user_token("bob"))],
    )  # fmt: skip

    assert response.status == 403
    assert reasons(mesh, mark, "gateway_interceptor") == ["header_invalid"]


def test_hop3_rejects_missing_session_id(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.call_gateway(
        principal="transaction", message=_balance_call(mesh), user_token=mesh.user_token("alice"), session_id=None
    )

    assert response.status == 403
    assert reasons(mesh, mark, "gateway_interceptor") == ["header_missing"]


def test_hop3_rejects_replayed_request(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.call_gateway(
        principal="transaction", message=_balance_call(mesh), user_token=mesh.user_token("alice"),
        session_id=mesh.new_session_id(), signed_at=datetime.now(UTC) - timedelta(minutes=6),
    )  # fmt: skip

    assert response.status == 403
    assert reasons(mesh, mark, GATEWAY_HOP) == ["sigv4_signature_expired"]


def test_hop3_rejects_token_changed_after_signing(mesh: LocalMesh) -> None:
    mark = mesh.audit_log.mark()

    response = mesh.call_gateway(
        principal="transaction", message=_balance_call(mesh), user_token=mesh.user_token("bob"),
        session_id=mesh.new_session_id(), tamper=replace_header(USER_TOKEN_HEADER, mesh.user_token("alice")),
    )  # fmt: skip

    assert response.status == 403
    assert reasons(mesh, mark, GATEWAY_HOP) == ["sigv4_signature_mismatch"]


def test_hop3_rejects_body_that_is_not_json(mesh: LocalMesh) -> None:
    url = mesh.gateway_url
    body = b"{not json"
    headers = [
        ("Content-Type", "application/json"),
        (USER_TOKEN_HEADER, mesh.user_token("alice")),
        (SESSION_ID_HEADER, mesh.new_session_id()),
    ]
    signed = sign_headers(
        "POST",
        url,
        headers=headers,
        body=body,
        credentials=mesh.principal("transaction").credentials,
        region=REGION,
        service="bedrock-agentcore",
    )

    response = send_raw("POST", url, headers=signed, body=body)

    assert response.status == 400
    assert response.json()["error"]["code"] == -32700


def test_hop3_lists_ledger_tools(mesh: LocalMesh) -> None:
    message = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

    response = mesh.call_gateway(
        principal="transaction", message=message, user_token=mesh.user_token("alice"), session_id=mesh.new_session_id()
    )

    names = sorted(tool["name"] for tool in response.json()["result"]["tools"])
    assert names == [mesh.ledger_tool_name("get_balance"), mesh.ledger_tool_name("list_transactions")]


def test_hop3_lists_only_callers_transactions(mesh: LocalMesh) -> None:
    message = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {
            "name": mesh.ledger_tool_name("list_transactions"),
            "arguments": {"limit": 50, "customer_id": BOB.sub},
        },
    }

    response = mesh.call_gateway(
        principal="transaction", message=message, user_token=mesh.user_token("alice"), session_id=mesh.new_session_id()
    )

    descriptions = {item["description"] for item in _tool_result(response.json())["transactions"]}
    assert descriptions == {transaction.description for transaction in ALICE.transactions}


def _runtime_client(mesh: LocalMesh, principal: str) -> Any:
    credentials = mesh.principal(principal).credentials
    return boto3.session.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        region_name=REGION,
    ).client("bedrock-agentcore", endpoint_url=mesh.dataplane_url)


def _quoted(arn: str) -> str:
    return quote(arn, safe="")
