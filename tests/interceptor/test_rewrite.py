"""Unit tests of argument rewriting and MCP parsing in the interceptor."""

from __future__ import annotations

import pytest
from mesh_identity.constants import TOOL_REQUIRED_SCOPES, VERIFIED_IDENTITY_KEY
from mesh_identity.tokens import VerifiedClaims

from interceptor.errors import MalformedRequest
from interceptor.mcp import McpRequest, parse_tool_call
from interceptor.rewrite import (
    MAX_ARGUMENT_DEPTH,
    is_identity_key,
    normalize_key,
    rewrite_tool_call_body,
    strip_identity_arguments,
    verified_identity,
)

CLAIMS = VerifiedClaims(
    sub="bob-sub",
    username="bob",
    client_id="client-1",
    scopes=frozenset({"agent-mesh/transactions.read", "agent-mesh/accounts.read"}),
    issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool",
    expires_at=2_000_000_000,
    token_use="access",
    jti="jti-1",
)
SESSION_ID = "mesh-session-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "key",
    [
        "customer_id", "customerId", "CustomerID", "customer-id", "CUSTOMER_ID", "customer id", "customer.id",
        "customer", "sub", "SUB", "user_id", "userId", "account_owner", "accountOwner", "username",
        VERIFIED_IDENTITY_KEY, "__MESH_VERIFIED_IDENTITY", "mesh-verified-identity", "ｃｕｓｔｏｍｅｒＩＤ",
        "cust_id", "customer_number", "CustomerNo", "account_holder", "customer\u200bid",
    ],
)
def test_is_identity_key_matches_spellings(key):
    assert is_identity_key(key)


@pytest.mark.parametrize("key", ["account_id", "accountId", "currency", "limit", "next_token", "from_date", "subtotal"])
def test_is_identity_key_leaves_tool_arguments(key):
    assert not is_identity_key(key)


def test_normalize_key_folds_case_and_separators():
    assert normalize_key("Customer_-. ID") == "customerid"


def test_strip_identity_arguments_counts_removed_keys():
    cleaned, removed = strip_identity_arguments({"customer_id": "a", "nested": [{"sub": "b"}, {"userId": "c"}], "limit": 5})

    assert cleaned == {"nested": [{}, {}], "limit": 5}
    assert removed == 3


def test_strip_identity_arguments_depth_limit_accepted():
    nested: dict = {}
    for _ in range(MAX_ARGUMENT_DEPTH - 1):
        nested = {"level": nested}

    cleaned, _ = strip_identity_arguments(nested)

    assert cleaned == nested


def test_strip_identity_arguments_beyond_depth_limit_rejected():
    nested: dict = {}
    for _ in range(MAX_ARGUMENT_DEPTH):
        nested = {"level": nested}

    with pytest.raises(MalformedRequest):
        strip_identity_arguments(nested)


@pytest.mark.parametrize(
    "arguments",
    [{"\u0441ustomer_id": "alice-sub"}, {"limit": 5, "nested": [{"d\u00e9but": 1}]}],
    ids=["cyrillic_look_alike", "nested_accented_name"],
)
def test_strip_identity_arguments_non_ascii_name_rejected(arguments):
    with pytest.raises(MalformedRequest) as raised:
        strip_identity_arguments(arguments)

    assert raised.value.reason == "mcp_argument_key_not_ascii"


def test_strip_identity_arguments_beyond_depth_limit_reason():
    nested: dict = {}
    for _ in range(MAX_ARGUMENT_DEPTH):
        nested = {"level": nested}

    with pytest.raises(MalformedRequest) as raised:
        strip_identity_arguments(nested)

    assert raised.value.reason == "mcp_arguments_too_deep"


def test_strip_identity_arguments_does_not_parse_strings():
    text = '{"customer_id": "alice-sub"}'

    cleaned, removed = strip_identity_arguments({"query": text})

    assert cleaned == {"query": text}
    assert removed == 0


def test_verified_identity_has_ledger_shape():
    assert verified_identity(CLAIMS, SESSION_ID) == {
        "sub": "bob-sub",
        "scopes": ["agent-mesh/accounts.read", "agent-mesh/transactions.read"],
        "client_id": "client-1",
        "session_id": SESSION_ID,
    }


def test_rewrite_tool_call_body_leaves_input_unchanged():
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "T___get_balance", "arguments": {"sub": "x"}}}

    rewritten, removed = rewrite_tool_call_body(body, body["params"]["arguments"], {"sub": "bob-sub"})

    assert body["params"]["arguments"] == {"sub": "x"}
    assert rewritten["params"]["arguments"] == {VERIFIED_IDENTITY_KEY: {"sub": "bob-sub"}}
    assert removed == 1


@pytest.mark.parametrize(
    ("gateway_name", "tool_name"),
    [("LedgerTarget___get_balance", "get_balance"), ("get_balance", "get_balance"), ("A___B___list_transactions", "list_transactions")],
)
def test_parse_tool_call_strips_target_prefix(gateway_name, tool_name):
    call = parse_tool_call(McpRequest(method="tools/call", request_id=1, params={"name": gateway_name}))

    assert call.tool_name == tool_name
    assert call.gateway_tool_name == gateway_name
    assert call.arguments == {}


def test_tool_required_scopes_cover_ledger_tools():
    assert set(TOOL_REQUIRED_SCOPES) == {"get_balance", "list_transactions"}
