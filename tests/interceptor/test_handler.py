"""End-to-end tests of the interceptor Lambda handler: real tokens from the local issuer, real SigV4 headers."""

from __future__ import annotations

import copy
import functools
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from mesh_identity import constants

from interceptor import handler
from interceptor.responses import DENIED_MESSAGE
from tests.interceptor.events import gateway_event, signed_headers, tool_call_body
from tests.support.fixtures import SESSION_ID

READ = constants.SCOPE_ACCOUNTS_READ
TRANSACTIONS = constants.SCOPE_TRANSACTIONS_READ
IDENTITY_KEY = constants.VERIFIED_IDENTITY_KEY


def _invoke(event: dict[str, Any], lambda_context) -> dict[str, Any]:
    return handler.lambda_handler(event, lambda_context)


def _forwarded_arguments(output: dict[str, Any]) -> dict[str, Any]:
    return output["mcp"]["transformedGatewayRequest"]["body"]["params"]["arguments"]


def _denial(output: dict[str, Any]) -> dict[str, Any]:
    return output["mcp"]["transformedGatewayResponse"]


@pytest.fixture
def handler_log() -> Iterator[io.StringIO]:
    """Everything the handler's Powertools logger writes during the test."""
    stream = io.StringIO()
    previous = handler.logger.registered_handler.setStream(stream)
    yield stream
    handler.logger.registered_handler.setStream(previous)


def _audit_records(log: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.getvalue().splitlines() if line.strip()]
    return [line["audit"] for line in lines if "audit" in line]


@pytest.fixture
def bob_token(oidc_issuer) -> str:
    return oidc_issuer.mint_access_token("bob-sub", username="bob", scopes=[READ, TRANSACTIONS])


def test_handler_tools_call_injects_verified_identity(oidc_issuer, bob_token, lambda_context):
    event = gateway_event(tool_call_body("get_balance", {"account_id": "acc-1"}), signed_headers(bob_token))

    output = _invoke(event, lambda_context)
    arguments = _forwarded_arguments(output)

    assert output["interceptorOutputVersion"] == "1.0"
    assert "transformedGatewayResponse" not in output["mcp"]
    assert arguments["account_id"] == "acc-1"
    assert arguments[IDENTITY_KEY] == {
        "sub": "bob-sub",
        "scopes": sorted([READ, TRANSACTIONS]),
        "client_id": oidc_issuer.client_id,
        "session_id": SESSION_ID,
    }


def test_handler_tools_call_keeps_rest_of_body(bob_token, lambda_context):
    body = tool_call_body("get_balance", {"account_id": "acc-1"}, request_id="req-42")
    body["params"]["_meta"] = {"progressToken": 3}

    forwarded = _invoke(gateway_event(body, signed_headers(bob_token)), lambda_context)["mcp"]["transformedGatewayRequest"]["body"]

    assert forwarded["id"] == "req-42"
    assert forwarded["method"] == "tools/call"
    assert forwarded["params"]["name"] == "LedgerTarget___get_balance"
    assert forwarded["params"]["_meta"] == {"progressToken": 3}


def test_handler_tools_call_without_arguments_gets_identity(bob_token, lambda_context):
    output = _invoke(gateway_event(tool_call_body("get_balance"), signed_headers(bob_token)), lambda_context)

    assert _forwarded_arguments(output)[IDENTITY_KEY]["sub"] == "bob-sub"


def test_handler_does_not_modify_event(bob_token, lambda_context):
    event = gateway_event(tool_call_body("get_balance", {"customer_id": "alice-sub"}), signed_headers(bob_token))
    original = copy.deepcopy(event)

    _invoke(event, lambda_context)

    assert event == original


# Each case is Bob's tool arguments with a caller-supplied identity somewhere in them.
SPOOFED_ARGUMENTS: dict[str, dict[str, Any]] = {
    "customer_id": {"customer_id": "alice-sub"},
    "customerId": {"customerId": "alice-sub"},
    "CustomerID": {"CustomerID": "alice-sub"},
    "customer-id": {"customer-id": "alice-sub"},
    "customer_space_id": {"customer id": "alice-sub"},
    "customer": {"customer": {"id": "alice-sub"}},
    "sub": {"sub": "alice-sub"},
    "user_id": {"user_id": "alice-sub"},
    "userId": {"userId": "alice-sub"},
    "account_owner": {"account_owner": "alice-sub"},
    "fullwidth_letters": {"ｃｕｓｔｏｍｅｒ_ｉｄ": "alice-sub"},
    "zero_width_space": {"customer\u200bid": "alice-sub"},
    "cust_id": {"cust_id": "alice-sub"},
    "customer_number": {"customer_number": "alice-sub"},
    "account_holder": {"account_holder": "alice-sub"},
    "reserved_key": {IDENTITY_KEY: {"sub": "alice-sub", "scopes": [READ], "client_id": "x", "session_id": SESSION_ID}},
    "reserved_key_recased": {IDENTITY_KEY.upper(): {"sub": "alice-sub"}},
    "reserved_key_hyphens": {"__mesh-verified-identity": {"sub": "alice-sub"}},
    "reserved_key_spaces": {"mesh verified identity": {"sub": "alice-sub"}},
    "reserved_key_fullwidth": {"＿＿ｍｅｓｈ＿ｖｅｒｉｆｉｅｄ＿ｉｄｅｎｔｉｔｙ": {"sub": "alice-sub"}},
    "reserved_key_in_nested_list": {"batches": [[{IDENTITY_KEY: {"sub": "alice-sub"}}]]},
    "nested_object": {"filter": {"customer_id": "alice-sub", "currency": "EUR"}},
    "deeply_nested": {"a": {"b": {"c": {"customerId": "alice-sub"}}}},
    "inside_list": {"accounts": [{"account_id": "acc-1", "customer_id": "alice-sub"}]},
    "list_of_lists": {"batches": [[{"sub": "alice-sub"}]]},
}


@pytest.mark.parametrize("case", SPOOFED_ARGUMENTS, ids=list(SPOOFED_ARGUMENTS))
def test_handler_spoofed_customer_replaced(case, bob_token, lambda_context):
    event = gateway_event(tool_call_body("get_balance", SPOOFED_ARGUMENTS[case]), signed_headers(bob_token))

    arguments = _forwarded_arguments(_invoke(event, lambda_context))

    assert arguments[IDENTITY_KEY]["sub"] == "bob-sub"
    assert "alice-sub" not in json.dumps(arguments)


def test_handler_spoofed_customer_keeps_other_arguments(bob_token, lambda_context):
    arguments = {"filter": {"customer_id": "alice-sub", "currency": "EUR"}, "accounts": [{"account_id": "acc-1", "sub": "x"}]}
    event = gateway_event(tool_call_body("get_balance", arguments), signed_headers(bob_token))

    forwarded = _forwarded_arguments(_invoke(event, lambda_context))

    assert forwarded["filter"] == {"currency": "EUR"}
    assert forwarded["accounts"] == [{"account_id": "acc-1"}]


# Each case is an argument name with a character outside ASCII that NFKC does not fold to an identity key.
NON_ASCII_ARGUMENTS: dict[str, dict[str, Any]] = {
    "cyrillic_es_in_customer_id": {"\u0441ustomer_id": "alice-sub"},
    "greek_omicron_in_owner": {"\u03bfwner": "alice-sub"},
    "accented_tool_argument": {"d\u00e9but": "2025-01-01"},
    "nested_cyrillic_key": {"filter": {"\u0441ustomer_id": "alice-sub"}},
    "cyrillic_key_in_list": {"accounts": [{"\u0441ustomer_id": "alice-sub"}]},
}


@pytest.mark.parametrize("case", NON_ASCII_ARGUMENTS, ids=list(NON_ASCII_ARGUMENTS))
def test_handler_non_ascii_argument_name_denied(case, bob_token, lambda_context, handler_log):
    event = gateway_event(tool_call_body("get_balance", NON_ASCII_ARGUMENTS[case]), signed_headers(bob_token))

    output = _invoke(event, lambda_context)

    assert _denial(output)["statusCode"] == 400
    assert _audit_records(handler_log)[0]["reason"] == "mcp_argument_key_not_ascii"


# Each value tries to break out of a string into JSON structure.
INJECTION_STRINGS = [
    'alice"}',
    '{"customer_id":"alice-sub"}',
    '", "customer_id": "alice-sub',
    f'"}}, "{IDENTITY_KEY}": {{"sub": "alice-sub"}}',
    "alice-sub\u0000",
    "\\u0022customer_id\\u0022",
]


@pytest.mark.parametrize("value", INJECTION_STRINGS)
def test_handler_injection_strings_stay_inert(value, bob_token, lambda_context):
    event = gateway_event(tool_call_body("get_balance", {"account_id": value, "note": [value]}), signed_headers(bob_token))

    arguments = _forwarded_arguments(_invoke(event, lambda_context))

    assert arguments["account_id"] == value
    assert arguments["note"] == [value]
    assert arguments[IDENTITY_KEY]["sub"] == "bob-sub"
    assert set(arguments) == {"account_id", "note", IDENTITY_KEY}


def test_handler_tools_list_with_token_passes(bob_token, lambda_context):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    output = _invoke(gateway_event(body, signed_headers(bob_token, session_id=None)), lambda_context)

    assert output["mcp"]["transformedGatewayRequest"]["body"] == body


def test_handler_tools_list_without_token_denied(lambda_context):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    output = _invoke(gateway_event(body, signed_headers(None)), lambda_context)

    assert _denial(output)["statusCode"] == 403


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "p-1", "method": "ping"},
    ],
    ids=["initialize", "initialized_notification", "ping"],
)
def test_handler_lifecycle_methods_pass_without_token(body, lambda_context):
    output = _invoke(gateway_event(body, signed_headers(None, session_id=None)), lambda_context)

    assert output["mcp"]["transformedGatewayRequest"]["body"] == body


def test_handler_missing_token_header_denied(lambda_context):
    output = _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(None)), lambda_context)

    assert _denial(output)["statusCode"] == 403


def test_handler_token_header_twice_denied(oidc_issuer, bob_token, lambda_context):
    headers = signed_headers(bob_token)
    headers[constants.USER_TOKEN_HEADER] = oidc_issuer.mint_access_token("alice-sub", scopes=[READ])

    output = _invoke(gateway_event(tool_call_body("get_balance", {}), headers), lambda_context)

    assert _denial(output)["statusCode"] == 403


@pytest.mark.parametrize(
    "session_id", [None, "short-session", f"{SESSION_ID}, {SESSION_ID}"], ids=["missing", "too_short", "comma_joined"]
)
def test_handler_bad_session_header_denied(session_id, bob_token, lambda_context):
    output = _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(bob_token, session_id)), lambda_context)

    assert _denial(output)["statusCode"] == 403


def test_handler_session_header_twice_denied(bob_token, lambda_context):
    headers = signed_headers(bob_token)
    headers[constants.SESSION_ID_HEADER] = SESSION_ID.replace("0", "1")

    output = _invoke(gateway_event(tool_call_body("get_balance", {}), headers), lambda_context)

    assert _denial(output)["statusCode"] == 403


def test_handler_missing_tool_scope_denied(oidc_issuer, lambda_context):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ])

    output = _invoke(gateway_event(tool_call_body("list_transactions", {}), signed_headers(token)), lambda_context)

    assert _denial(output)["statusCode"] == 403


def test_handler_each_tool_requires_its_scope(oidc_issuer, lambda_context):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[TRANSACTIONS])

    output = _invoke(gateway_event(tool_call_body("list_transactions", {}), signed_headers(token)), lambda_context)

    assert _forwarded_arguments(output)[IDENTITY_KEY]["sub"] == "bob-sub"


@pytest.mark.parametrize("tool", ["delete_account", "x_amz_bedrock_agentcore_search", "get_balance_v2"])
def test_handler_unknown_tool_denied(tool, bob_token, lambda_context):
    output = _invoke(gateway_event(tool_call_body(tool, {}), signed_headers(bob_token)), lambda_context)

    assert _denial(output)["statusCode"] == 403


@pytest.mark.parametrize(
    "token_case", ["expired", "alg_none", "id_token", "wrong_client"]
)
def test_handler_invalid_token_denied(token_case, oidc_issuer, lambda_context):
    tokens = {
        "expired": oidc_issuer.mint_access_token("bob-sub", scopes=[READ], exp=1),
        "alg_none": oidc_issuer.mint_access_token("bob-sub", scopes=[READ], alg="none"),
        "id_token": oidc_issuer.mint_id_token("bob-sub"),
        "wrong_client": oidc_issuer.mint_access_token("bob-sub", scopes=[READ], client_id="otherclient00000"),
    }

    output = _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(tokens[token_case])), lambda_context)

    assert _denial(output)["statusCode"] == 403


@pytest.mark.parametrize(
    "method", ["resources/list", "prompts/get", "tools/cal", "sampling/createMessage", "completion/complete"]
)
def test_handler_unknown_mcp_method_denied(method, bob_token, lambda_context):
    body = {"jsonrpc": "2.0", "id": 3, "method": method, "params": {}}

    output = _invoke(gateway_event(body, signed_headers(bob_token)), lambda_context)

    assert _denial(output)["statusCode"] == 403


# Each case is a body that is not a valid JSON-RPC 2.0 request of the expected form.
MALFORMED_BODIES: dict[str, Any] = {
    "not_an_object": "just text",
    "batch": [tool_call_body("get_balance", {})],
    "null": None,
    "jsonrpc_1": {**tool_call_body("get_balance", {}), "jsonrpc": "1.0"},
    "jsonrpc_missing": {key: value for key, value in tool_call_body("get_balance", {}).items() if key != "jsonrpc"},
    "method_missing": {"jsonrpc": "2.0", "id": 1, "params": {"name": "LedgerTarget___get_balance"}},
    "method_not_string": {"jsonrpc": "2.0", "id": 1, "method": ["tools/call"]},
    "id_missing": {key: value for key, value in tool_call_body("get_balance", {}).items() if key != "id"},
    "id_null": tool_call_body("get_balance", {}, request_id=None),
    "id_boolean": tool_call_body("get_balance", {}, request_id=True),
    "id_object": tool_call_body("get_balance", {}, request_id={"a": 1}),
    "notification_with_id": {"jsonrpc": "2.0", "id": 1, "method": "notifications/initialized"},
    "extra_top_level_member": {**tool_call_body("get_balance", {}), "customer_id": "alice-sub"},
    "params_missing": {"jsonrpc": "2.0", "id": 1, "method": "tools/call"},
    "params_list": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["get_balance"]},
    "name_missing": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"arguments": {}}},
    "name_empty": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "", "arguments": {}}},
    "name_not_string": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5, "arguments": {}}},
    "arguments_list": tool_call_body("get_balance", ["alice-sub"]),
    "arguments_string": tool_call_body("get_balance", '{"customer_id": "alice-sub"}'),
    "arguments_null": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "LedgerTarget___get_balance", "arguments": None}},
    "arguments_too_deep": tool_call_body("get_balance", json.loads('{"a":' * 40 + "1" + "}" * 40)),
    "body_not_json_text": "{not json",
}


def _text_body_with_min_amount(literal: str) -> str:
    return (
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"LedgerTarget___list_transactions",'
        '"arguments":{"min_amount":' + literal + "}}}"
    )


# Each case is a body with a number that RFC 8259 JSON cannot express, which Python's json module accepts.
NON_FINITE_BODIES: dict[str, Any] = {
    "nan_literal": _text_body_with_min_amount("NaN"),
    "infinity_literal": _text_body_with_min_amount("Infinity"),
    "negative_infinity_literal": _text_body_with_min_amount("-Infinity"),
    "exponent_beyond_double": _text_body_with_min_amount("1e309"),
    "negative_exponent_beyond_double": _text_body_with_min_amount("-1e309"),
    "nan_as_request_id": '{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
    "nan_in_object_body": tool_call_body("list_transactions", {"min_amount": float("nan")}),
    "infinity_in_object_lifecycle_body": {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": [float("inf")]}},
}


@pytest.mark.parametrize("case", NON_FINITE_BODIES, ids=list(NON_FINITE_BODIES))
def test_handler_non_finite_number_denied(case, bob_token, lambda_context, handler_log):
    output = _invoke(gateway_event(NON_FINITE_BODIES[case], signed_headers(bob_token)), lambda_context)

    assert _denial(output)["statusCode"] == 400
    assert _audit_records(handler_log)[0]["reason"] == "mcp_body_not_json"


def test_handler_large_finite_numbers_forwarded(bob_token, lambda_context):
    body = _text_body_with_min_amount("1e308")

    output = _invoke(gateway_event(body, signed_headers(bob_token)), lambda_context)

    assert _forwarded_arguments(output)["min_amount"] == 1e308


@pytest.mark.parametrize("case", MALFORMED_BODIES, ids=list(MALFORMED_BODIES))
def test_handler_malformed_body_denied(case, bob_token, lambda_context):
    output = _invoke(gateway_event(MALFORMED_BODIES[case], signed_headers(bob_token)), lambda_context)

    assert _denial(output)["statusCode"] == 400


def test_handler_json_text_body_parsed(bob_token, lambda_context):
    body = json.dumps(tool_call_body("get_balance", {"customer_id": "alice-sub"}))

    arguments = _forwarded_arguments(_invoke(gateway_event(body, signed_headers(bob_token)), lambda_context))

    assert set(arguments) == {IDENTITY_KEY}
    assert arguments[IDENTITY_KEY]["sub"] == "bob-sub"


def test_handler_denial_has_documented_shape(lambda_context):
    output = _invoke(gateway_event(tool_call_body("get_balance", {}, request_id="req-9"), signed_headers(None)), lambda_context)

    response = _denial(output)
    assert output["interceptorOutputVersion"] == "1.0"
    assert "transformedGatewayRequest" not in output["mcp"]
    assert response["headers"] == {"Content-Type": "application/json"}
    assert response["body"]["jsonrpc"] == "2.0"
    assert response["body"]["id"] == "req-9"
    assert response["body"]["error"]["message"] == DENIED_MESSAGE
    assert response["body"]["error"]["code"] == -32001


def test_handler_denial_message_generic(oidc_issuer, lambda_context):
    expired = oidc_issuer.mint_access_token("bob-sub", scopes=[READ], exp=1)
    outputs = [
        _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(None)), lambda_context),
        _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(expired)), lambda_context),
        _invoke(gateway_event({"jsonrpc": "2.0", "id": 1, "method": "tools/call"}, signed_headers(expired)), lambda_context),
    ]

    messages = {_denial(output)["body"]["error"]["message"] for output in outputs}

    assert messages == {DENIED_MESSAGE}


def test_handler_headers_not_passed_denied(bob_token, lambda_context):
    output = _invoke(gateway_event(tool_call_body("get_balance", {}), headers=None), lambda_context)

    assert _denial(output)["statusCode"] == 500


@pytest.mark.parametrize(
    "event",
    [None, {}, {"interceptorInputVersion": "2.0", "mcp": {}}, {"interceptorInputVersion": "1.0", "mcp": {"gatewayRequest": "x"}}],
    ids=["null", "empty", "unknown_version", "gateway_request_not_object"],
)
def test_handler_unsupported_event_denied(event, lambda_context):
    output = _invoke(event, lambda_context)

    assert _denial(output)["statusCode"] == 500


def test_handler_configuration_error_denied(bob_token, lambda_context, monkeypatch):
    monkeypatch.delenv(constants.ENV_ISSUER)
    handler.get_verifier.cache_clear()

    output = _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(bob_token)), lambda_context)

    assert _denial(output)["statusCode"] == 500


def test_handler_jwks_unavailable_denied(oidc_issuer, bob_token, lambda_context):
    oidc_issuer.fail_jwks(503)

    output = _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(bob_token)), lambda_context)

    assert _denial(output)["statusCode"] == 503


def test_handler_unexpected_error_denied(bob_token, lambda_context, monkeypatch):
    @functools.lru_cache(maxsize=1)
    def broken_verifier():
        raise RuntimeError("boom")

    monkeypatch.setattr(handler, "get_verifier", broken_verifier)

    output = _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(bob_token)), lambda_context)

    assert _denial(output)["statusCode"] == 500


def test_handler_verifier_built_once(bob_token, lambda_context, oidc_issuer):
    event = gateway_event(tool_call_body("get_balance", {}), signed_headers(bob_token))

    for _ in range(3):
        _invoke(event, lambda_context)

    assert handler.get_verifier.cache_info().misses == 1
    assert oidc_issuer.jwks_fetch_count == 1


def test_handler_audit_record_for_allowed_call(bob_token, lambda_context, handler_log):
    event = gateway_event(tool_call_body("get_balance", {"customer_id": "alice-sub", "sub": "x"}), signed_headers(bob_token))

    _invoke(event, lambda_context)
    records = _audit_records(handler_log)

    assert len(records) == 1
    assert records[0]["decision"] == "allow"
    assert records[0]["hop"] == "gateway_interceptor"
    assert records[0]["sub"] == "bob-sub"
    assert records[0]["session_id"] == SESSION_ID
    assert records[0]["tool"] == "LedgerTarget___get_balance"
    assert records[0]["removed_identity_arguments"] == 2


# Each case is a denied request and the reason its audit record must carry.
DENIAL_REASONS = {
    "header_missing": (lambda issuer: signed_headers(None), "header_missing"),
    "token_expired": (lambda issuer: signed_headers(issuer.mint_access_token("bob-sub", scopes=[READ], exp=1)), "token_expired"),
    "scope_missing": (lambda issuer: signed_headers(issuer.mint_access_token("bob-sub", scopes=[])), "token_scope_missing"),
    "alg_none": (lambda issuer: signed_headers(issuer.mint_access_token("bob-sub", alg="none")), "token_algorithm_not_allowed"),
    "exp_beyond_float_range": (
        lambda issuer: signed_headers(issuer.mint_access_token("bob-sub", scopes=[READ], exp=10**400)),
        "token_invalid_claim",
    ),
}


@pytest.mark.parametrize("case", DENIAL_REASONS, ids=list(DENIAL_REASONS))
def test_handler_audit_record_names_denial_reason(case, oidc_issuer, lambda_context, handler_log):
    build_headers, reason = DENIAL_REASONS[case]

    _invoke(gateway_event(tool_call_body("get_balance", {}), build_headers(oidc_issuer)), lambda_context)
    records = _audit_records(handler_log)

    assert [record["reason"] for record in records] == [reason]
    assert records[0]["decision"] == "deny"


def test_handler_scope_denial_audit_names_user(oidc_issuer, lambda_context, handler_log):
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ])

    _invoke(gateway_event(tool_call_body("list_transactions", {}), signed_headers(token)), lambda_context)

    assert _audit_records(handler_log)[0]["sub"] == "bob-sub"


def test_handler_logs_contain_no_credentials(oidc_issuer, bob_token, lambda_context, handler_log):
    expired = oidc_issuer.mint_access_token("bob-sub", scopes=[READ], exp=1)
    events = [
        gateway_event(tool_call_body("get_balance", {"customer_id": bob_token}), signed_headers(bob_token)),
        gateway_event(tool_call_body("get_balance", {}), signed_headers(expired)),
        gateway_event({"jsonrpc": "2.0", "id": bob_token, "method": bob_token}, signed_headers(bob_token)),
        gateway_event(tool_call_body(bob_token, {}), signed_headers(bob_token)),
    ]

    for event in events:
        _invoke(event, lambda_context)
    text = handler_log.getvalue()

    assert len(_audit_records(handler_log)) == len(events)
    assert "eyJ" not in text
    assert "AWS4-HMAC-SHA256" not in text
    assert "function_request_id" in text


def test_handler_time_claim_beyond_float_range_forbidden(oidc_issuer, lambda_context, handler_log):
    # A validly signed token whose exp does not fit a float once ended in a 500 and a traceback.
    token = oidc_issuer.mint_access_token("bob-sub", scopes=[READ], exp=10**400)

    output = _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(token)), lambda_context)

    assert _denial(output)["statusCode"] == 403
    assert "Traceback" not in handler_log.getvalue()


def test_handler_logs_mask_account_id(bob_token, lambda_context, handler_log):
    # The fake context's function ARN contains account 123456789012, as a real one does.
    _invoke(gateway_event(tool_call_body("get_balance", {}), signed_headers(bob_token)), lambda_context)
    text = handler_log.getvalue()

    assert "arn:aws:lambda:us-east-1:********9012:function:mesh-test-function" in text
    assert "123456789012" not in text
