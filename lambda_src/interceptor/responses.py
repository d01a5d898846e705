"""The interceptor's two outputs: forward a (rewritten) request, or respond to the caller directly.

Output contract (AgentCore Developer Guide, "Types of interceptors",
https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-interceptors-types.html):
``interceptorOutputVersion`` must be ``"1.0"``. ``mcp.transformedGatewayRequest.body``
is the request the Gateway sends to the target. If the output contains
``mcp.transformedGatewayResponse`` (``statusCode``, ``headers``, ``body``), the
Gateway returns it at once and does not call the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

INTERCEPTOR_OUTPUT_VERSION: Final = "1.0"
# The only message a denied caller receives. The reason goes to the audit log.
DENIED_MESSAGE: Final = "Request denied"
# JSON-RPC 2.0 error codes: -32600 is "Invalid Request" in the JSON-RPC 2.0
# specification. -32001 is in the range reserved for server-defined errors and
# marks an authorization denial. -32603 is "Internal error".
JSONRPC_INVALID_REQUEST: Final = -32600
JSONRPC_ACCESS_DENIED: Final = -32001
JSONRPC_INTERNAL_ERROR: Final = -32603

_ERROR_CODE_BY_STATUS: Final = {400: JSONRPC_INVALID_REQUEST, 403: JSONRPC_ACCESS_DENIED}


def forward(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return the output that lets the Gateway call the target with ``body``.

    NOTE: the output carries no headers, so the user token is not passed on
    to the target. The documented example omits them too. The Lambda target
    gets the verified identity in the body instead.
    """
    return {
        "interceptorOutputVersion": INTERCEPTOR_OUTPUT_VERSION,
        "mcp": {"transformedGatewayRequest": {"body": dict(body)}},
    }


def deny(status_code: int, request_id: str | int | None) -> dict[str, Any]:
    """Return the output that makes the Gateway respond with a generic JSON-RPC error.

    ``status_code`` is 400 for a malformed request, 403 for a denied one and
    500 for an interceptor fault. The message never says why.
    """
    code = _ERROR_CODE_BY_STATUS.get(status_code, JSONRPC_INTERNAL_ERROR)
    return {
        "interceptorOutputVersion": INTERCEPTOR_OUTPUT_VERSION,
        "mcp": {
            "transformedGatewayResponse": {
                "statusCode": status_code,
                "headers": {"Content-Type": "application/json"},
                "body": {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "error": {"code": code, "message": DENIED_MESSAGE},
                },
            }
        },
    }
