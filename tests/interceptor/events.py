"""Builders of Gateway interceptor events and signed MCP requests for the interceptor tests."""

from __future__ import annotations

from typing import Any

from botocore.credentials import Credentials
from mesh_identity import constants
from mesh_identity.signing import sign_request

from tests.support.fixtures import SESSION_ID

GATEWAY_URL = "https://mesh-gateway-abc123.gateway.bedrock-agentcore.us-east-1.amazonaws.com/mcp"
LEDGER_TARGET = "LedgerTarget"


def tool_call_body(tool: str, arguments: Any = None, *, request_id: Any = 7) -> dict[str, Any]:
    """A JSON-RPC tools/call body for the ledger target's tool ``tool``."""
    params: dict[str, Any] = {"name": f"{LEDGER_TARGET}___{tool}"}
    if arguments is not None:
        params["arguments"] = arguments
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def gateway_event(body: Any, headers: dict[str, str] | None) -> dict[str, Any]:
    """An interceptor input event as the Gateway sends it with passRequestHeaders on."""
    gateway_request: dict[str, Any] = {"path": "/mcp", "httpMethod": "POST", "body": body}
    if headers is not None:
        gateway_request["headers"] = headers
    return {
        "interceptorInputVersion": "1.0",
        "mcp": {"rawGatewayRequest": {"body": "<raw>"}, "gatewayRequest": gateway_request},
    }


def signed_headers(user_token: str | None, session_id: str | None = SESSION_ID, body: bytes = b"{}") -> dict[str, str]:
    """Headers of a SigV4-signed MCP request from the Transaction agent, lower-cased as the Gateway passes them."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if user_token is not None:
        headers[constants.USER_TOKEN_HEADER] = user_token
    if session_id is not None:
        headers[constants.SESSION_ID_HEADER] = session_id
    credentials = Credentials("AKIDEXAMPLEMESH0001", "mesh-test-secret", "mesh-test-session-token")
    signed = sign_request("POST", GATEWAY_URL, headers=headers, body=body, credentials=credentials, region="us-east-1")
    return {name.lower(): value for name, value in signed.items()}
