"""Tests of SigV4 signing with the identity headers inside the signature: real botocore, real signatures."""

from __future__ import annotations

import io
import threading

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.credentials import Credentials
from mesh_identity import constants
from mesh_identity.errors import InvalidHeader
from mesh_identity.signing import add_identity_headers, identity_headers, sign_request, signed_header_names

from tests.support.sigv4 import parse_authorization, verify_sigv4

ACCESS_KEY = "AKIDEXAMPLEMESH0001"
SECRET_KEY = "mesh-test-secret-key-not-a-real-one"
SESSION_TOKEN = "mesh-test-session-token"
REGION = "us-east-1"
GATEWAY_URL = "https://mesh-gateway.gateway.bedrock-agentcore.us-east-1.amazonaws.com/mcp"
RUNTIME_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/transaction-agent-AbCdEf1234"
SESSION_ID = "mesh-session-0123456789abcdef0123456789abcdef"
BOB_TOKEN = "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJib2IifQ.Ym9iLXNpZ25hdHVyZQ"
ALICE_TOKEN = "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJhbGljZSJ9.YWxpY2Utc2lnbmF0dXJl"
BODY = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"Ledger___get_balance","arguments":{}}}'


def _credentials() -> Credentials:
    return Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)


def _signed_gateway_request(**header_overrides: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        constants.USER_TOKEN_HEADER: BOB_TOKEN,
        constants.SESSION_ID_HEADER: SESSION_ID,
        **header_overrides,
    }
    return sign_request("POST", GATEWAY_URL, headers=headers, body=BODY, credentials=_credentials(), region=REGION)


def _verify(headers: dict[str, str], body: bytes = BODY) -> bool:
    return verify_sigv4("POST", GATEWAY_URL, headers, body, secret_key=SECRET_KEY, session_token=SESSION_TOKEN)


def test_sign_request_signature_verifies():
    assert _verify(_signed_gateway_request())


def test_sign_request_propagated_headers_in_signed_headers():
    signed = signed_header_names(_signed_gateway_request()["Authorization"])

    assert constants.USER_TOKEN_HEADER.lower() in signed
    assert constants.SESSION_ID_HEADER.lower() in signed


def test_sign_request_scope_names_service_and_region():
    parsed = parse_authorization(_signed_gateway_request()["Authorization"])

    assert parsed.service == constants.AGENTCORE_SIGNING_NAME
    assert parsed.region == REGION
    assert parsed.access_key == ACCESS_KEY


def test_sign_request_includes_session_token():
    assert _signed_gateway_request()["X-Amz-Security-Token"] == SESSION_TOKEN


# Each case changes the request after it was signed, as a party in transit could.
TAMPERING = {
    "user_token_swapped": lambda headers: {**headers, constants.USER_TOKEN_HEADER: ALICE_TOKEN},
    "session_id_swapped": lambda headers: {**headers, constants.SESSION_ID_HEADER: SESSION_ID[:-1] + "0"},
    "user_token_removed": lambda headers: {
        name: value for name, value in headers.items() if name != constants.USER_TOKEN_HEADER
    },
    "user_token_name_recased_with_new_value": lambda headers: {
        **{name: value for name, value in headers.items() if name != constants.USER_TOKEN_HEADER},
        constants.USER_TOKEN_HEADER.lower(): ALICE_TOKEN,
    },
}


@pytest.mark.parametrize("case", TAMPERING, ids=list(TAMPERING))
def test_sign_request_tampered_header_fails(case):
    tampered = TAMPERING[case](_signed_gateway_request())

    assert not _verify(tampered)


def test_sign_request_tampered_body_fails_verification():
    assert not _verify(_signed_gateway_request(), body=BODY.replace(b"get_balance", b"list_transactions"))


def test_sign_request_without_credentials_rejected():
    with pytest.raises(ValueError):
        sign_request("POST", GATEWAY_URL, headers={}, body=BODY, credentials=None, region=REGION)


def test_signed_header_names_without_component_rejected():
    with pytest.raises(ValueError):
        signed_header_names("AWS4-HMAC-SHA256 Credential=x")


class _RawBody(io.BytesIO):
    def stream(self, **_: object):
        yield self.getvalue()


class _CapturingClient:
    """A real bedrock-agentcore client whose requests are captured in before-send and never sent."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "bedrock-agentcore",
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            aws_session_token=SESSION_TOKEN,
        )
        self.requests: list[AWSPreparedRequest] = []
        self._lock = threading.Lock()
        self.client.meta.events.register("before-send.bedrock-agentcore.InvokeAgentRuntime", self._capture)

    def _capture(self, request: AWSPreparedRequest, **_: object) -> AWSResponse:
        with self._lock:
            self.requests.append(request)
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, _RawBody(b'{"ok":true}'))

    def invoke(self) -> AWSPreparedRequest:
        self.client.invoke_agent_runtime(agentRuntimeArn=RUNTIME_ARN, runtimeSessionId=SESSION_ID, payload=b'{"q":1}')
        return self.requests[-1]


def _header(request: AWSPreparedRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _verify_prepared(request: AWSPreparedRequest, headers: dict | None = None) -> bool:
    return verify_sigv4(
        request.method,
        request.url,
        headers if headers is not None else dict(request.headers.items()),
        request.body,
        secret_key=SECRET_KEY,
        session_token=SESSION_TOKEN,
    )


def test_add_identity_headers_sets_headers_inside_signature():
    capture = _CapturingClient()
    add_identity_headers(capture.client, user_token=BOB_TOKEN, session_id=SESSION_ID)

    request = capture.invoke()
    signed = signed_header_names(_header(request, "Authorization"))

    assert _header(request, constants.USER_TOKEN_HEADER) == BOB_TOKEN
    assert _header(request, constants.SESSION_ID_HEADER) == SESSION_ID
    assert constants.USER_TOKEN_HEADER.lower() in signed
    assert constants.SESSION_ID_HEADER.lower() in signed
    assert _verify_prepared(request)


def test_add_identity_headers_tampered_token_fails():
    capture = _CapturingClient()
    add_identity_headers(capture.client, user_token=BOB_TOKEN, session_id=SESSION_ID)
    request = capture.invoke()
    headers = {name: value for name, value in request.headers.items()}
    headers[constants.USER_TOKEN_HEADER] = ALICE_TOKEN.encode()

    assert _verify_prepared(request)
    assert not _verify_prepared(request, headers)


def test_add_identity_headers_remove_stops_sending_headers():
    capture = _CapturingClient()
    remove = add_identity_headers(capture.client, user_token=BOB_TOKEN)
    remove()

    request = capture.invoke()

    assert _header(request, constants.USER_TOKEN_HEADER) is None


def test_add_identity_headers_replaces_caller_copy_of_header():
    capture = _CapturingClient()
    capture.client.meta.events.register_first(
        "before-sign.bedrock-agentcore.InvokeAgentRuntime",
        lambda request, **_: request.headers.__setitem__(constants.USER_TOKEN_HEADER.lower(), ALICE_TOKEN),
    )
    add_identity_headers(capture.client, user_token=BOB_TOKEN)

    request = capture.invoke()
    values = [value for name, value in request.headers.items() if name.lower() == constants.USER_TOKEN_HEADER.lower()]

    assert values == [BOB_TOKEN.encode()]


@pytest.mark.parametrize(
    ("user_token", "session_id"),
    [("", None), (f"Bearer {BOB_TOKEN}", None), (BOB_TOKEN + "\r\nX-Evil: 1", None), (BOB_TOKEN, "too-short")],
    ids=["empty_token", "bearer_prefix", "crlf_in_token", "short_session_id"],
)
def test_add_identity_headers_invalid_values_rejected(user_token, session_id):
    capture = _CapturingClient()

    with pytest.raises(InvalidHeader):
        add_identity_headers(capture.client, user_token=user_token, session_id=session_id)


def test_identity_headers_applies_only_inside_block():
    capture = _CapturingClient()

    with identity_headers(capture.client, user_token=BOB_TOKEN, session_id=SESSION_ID):
        inside = capture.invoke()
    outside = capture.invoke()

    assert _header(inside, constants.USER_TOKEN_HEADER) == BOB_TOKEN
    assert _verify_prepared(inside)
    assert _header(outside, constants.USER_TOKEN_HEADER) is None


def test_identity_headers_concurrent_threads_send_own_token():
    capture = _CapturingClient()
    barrier = threading.Barrier(2)
    seen: dict[str, str | None] = {}

    def call_as(name: str, token: str) -> None:
        with identity_headers(capture.client, user_token=token):
            # Both threads are inside their blocks before either calls.
            barrier.wait()
            capture.client.invoke_agent_runtime(
                agentRuntimeArn=RUNTIME_ARN, runtimeSessionId=SESSION_ID, payload=name.encode()
            )

    threads = [threading.Thread(target=call_as, args=args) for args in (("bob", BOB_TOKEN), ("alice", ALICE_TOKEN))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for request in capture.requests:
        seen[request.body.decode()] = _header(request, constants.USER_TOKEN_HEADER)

    assert seen == {"bob": BOB_TOKEN, "alice": ALICE_TOKEN}
