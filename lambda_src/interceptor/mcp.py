"""Parsing of the interceptor event and of the MCP JSON-RPC 2.0 request inside it.

Input contract (AgentCore Developer Guide, "Types of interceptors",
https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-interceptors-types.html):
``{"interceptorInputVersion": "1.0", "mcp": {"rawGatewayRequest": {"body": "<raw>"},
"gatewayRequest": {"path", "httpMethod", "headers", "body"}}}``. ``headers`` is
present only when the interceptor is configured with ``passRequestHeaders: true``.
``body`` is the parsed JSON-RPC message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from interceptor.errors import MalformedRequest, UnsupportedEvent

INTERCEPTOR_INPUT_VERSION: Final = "1.0"
# The members the JSON-RPC 2.0 specification defines for a request object.
_JSONRPC_MEMBERS: Final = frozenset({"jsonrpc", "id", "method", "params"})
# Longest accepted request id and tool name (characters).
MAX_ID_CHARS: Final = 256
MAX_TOOL_NAME_CHARS: Final = 256
# The Gateway names a tool "<target name>___<tool name>"
# (https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/gateway-tool-naming.html).
TARGET_TOOL_DELIMITER: Final = "___"


@dataclass(frozen=True)
class GatewayRequest:
    """The parts of the interceptor event the interceptor uses."""

    headers: Mapping[str, Any] | None
    body: dict[str, Any]


@dataclass(frozen=True)
class McpRequest:
    """A JSON-RPC 2.0 message that passed the structural checks."""

    method: str
    request_id: str | int | None
    params: Mapping[str, Any] | None


@dataclass(frozen=True)
class ToolCall:
    """The ``params`` of a ``tools/call`` request."""

    gateway_tool_name: str
    tool_name: str
    arguments: Mapping[str, Any]


def parse_event(event: Any) -> GatewayRequest:
    """Return the headers and JSON-RPC body of an interceptor event.

    Raises `UnsupportedEvent` when the event does not have the documented
    shape or version, and `MalformedRequest` when the body is not a JSON object.
    """
    if not isinstance(event, Mapping):
        raise UnsupportedEvent("The interceptor event is not a JSON object")
    version = event.get("interceptorInputVersion")
    if version != INTERCEPTOR_INPUT_VERSION:
        raise UnsupportedEvent(
            f"interceptorInputVersion is {str(version)[:16]!r}; this interceptor handles {INTERCEPTOR_INPUT_VERSION!r}",
            reason="interceptor_version_unsupported",
        )
    mcp = event.get("mcp")
    gateway_request = mcp.get("gatewayRequest") if isinstance(mcp, Mapping) else None
    if not isinstance(gateway_request, Mapping):
        raise UnsupportedEvent("The interceptor event has no mcp.gatewayRequest object")

    headers = gateway_request.get("headers")
    if headers is not None and not isinstance(headers, Mapping):
        raise UnsupportedEvent("mcp.gatewayRequest.headers is not an object")

    body = gateway_request.get("body")
    if isinstance(body, (str, bytes)):
        body = _parse_json_body(body)
    elif _contains_non_finite_number(body):
        # The Lambda runtime decodes the event with Python's json module, which
        # also accepts NaN and Infinity, so an object body is checked too.
        raise MalformedRequest("The MCP body contains NaN or an infinite number", reason="mcp_body_not_json")
    if not isinstance(body, dict):
        raise MalformedRequest(
            "The MCP body is not a JSON object (batches are not accepted)", reason="mcp_body_not_object"
        )
    return GatewayRequest(headers=headers, body=body)


def _parse_json_body(raw: str | bytes) -> Any:
    """Parse ``raw`` as RFC 8259 JSON, which has no NaN or Infinity.

    Python's json module accepts the literals ``NaN``, ``Infinity`` and
    ``-Infinity``, and turns a number too large for a float (``1e309``) into
    infinity. Forwarded, any of them would make the body that the Gateway
    sends to the target invalid JSON, so they are rejected here.
    """
    try:
        return json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        raise MalformedRequest("The MCP body is not valid JSON", reason="mcp_body_not_json") from error


def _reject_constant(literal: str) -> Any:
    raise ValueError(f"{literal} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:32]} is outside the range of a double")
    return value


def _contains_non_finite_number(value: Any) -> bool:
    # Iterative, so a deeply nested body cannot exhaust the call stack here.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def parse_jsonrpc(body: Mapping[str, Any]) -> McpRequest:
    """Check that ``body`` is a JSON-RPC 2.0 request or notification and return its parts."""
    if body.get("jsonrpc") != "2.0":
        raise MalformedRequest("The body is not a JSON-RPC 2.0 message", reason="mcp_not_jsonrpc")
    unexpected = set(body) - _JSONRPC_MEMBERS
    if unexpected:
        raise MalformedRequest(
            f"The JSON-RPC message has members outside the specification: {sorted(unexpected)[:5]}",
            reason="mcp_not_jsonrpc",
        )

    method = body.get("method")
    if not isinstance(method, str) or not method:
        raise MalformedRequest("The JSON-RPC message has no method", reason="mcp_method_missing")

    request_id = body.get("id")
    is_notification = method.startswith("notifications/")
    if is_notification and "id" in body:
        raise MalformedRequest("A JSON-RPC notification must not have an id", reason="mcp_id_invalid")
    if not is_notification and not _is_valid_id(request_id):
        raise MalformedRequest("A JSON-RPC request needs a string or integer id", reason="mcp_id_invalid")

    params = body.get("params")
    if params is not None and not isinstance(params, Mapping):
        raise MalformedRequest("JSON-RPC params must be an object", reason="mcp_params_invalid")
    return McpRequest(method=method, request_id=request_id, params=params)


def parse_tool_call(request: McpRequest) -> ToolCall:
    """Return the tool name and arguments of a ``tools/call`` request.

    A missing ``arguments`` member counts as no arguments, as MCP allows.
    ``arguments`` that are present must be a JSON object.
    """
    params = request.params
    if params is None:
        raise MalformedRequest("tools/call has no params", reason="mcp_params_missing")

    name = params.get("name")
    if not isinstance(name, str) or not name or len(name) > MAX_TOOL_NAME_CHARS:
        raise MalformedRequest("tools/call params.name must be a non-empty string", reason="mcp_tool_name_invalid")

    arguments = params.get("arguments", {})
    if not isinstance(arguments, Mapping):
        raise MalformedRequest("tools/call params.arguments must be an object", reason="mcp_arguments_not_object")

    # Tool names of the mesh's targets contain no "___", so the text after the
    # last delimiter is the tool's own name.
    tool_name = name.rpartition(TARGET_TOOL_DELIMITER)[2]
    return ToolCall(gateway_tool_name=name, tool_name=tool_name, arguments=arguments)


def response_id(body: Mapping[str, Any] | None) -> str | int | None:
    """Return the request's id if it is safe to echo in a JSON-RPC error, else None."""
    if not isinstance(body, Mapping):
        return None
    request_id = body.get("id")
    return request_id if _is_valid_id(request_id) else None


def _is_valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS
