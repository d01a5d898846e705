# SPDX-License-Identifier: Apache-2.0
"""MCP ``tools/call`` client for the mesh Gateway, signed with SigV4 by the agent's own role."""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from botocore.credentials import Credentials

from mesh_identity.constants import SESSION_ID_HEADER, USER_TOKEN_HEADER
from mesh_identity.signing import sign_request

from .tools import ToolPolicy

# The MCP revision sent in the MCP-Protocol-Version header. AgentCore Gateway
# accepts 2025-03-26 and 2025-06-18 (and newer revisions a gateway opts into).
MCP_PROTOCOL_VERSION: Final = "2025-06-18"
# Upper bound on a Gateway response that the agent reads (bytes). Ledger tool
# results are small, so a larger response is treated as a failed call.
MAX_RESPONSE_BYTES: Final = 1024 * 1024
# The JSON-RPC error code with which the mesh's REQUEST interceptor denies a call.
JSONRPC_ACCESS_DENIED: Final = -32001
# Error codes of the ledger tool's error result ``{"error": {"code", "message"}}``
# whose message explains to the caller how to correct the call.
CORRECTABLE_TOOL_ERRORS: Final = frozenset({"invalid_argument", "invalid_pagination_token", "account_not_found"})
# Maximum length of a tool error message passed on to the caller (characters).
MAX_TOOL_ERROR_MESSAGE: Final = 300
_SNAKE_CASE: Final = re.compile(r"[a-z][a-z0-9_]{0,40}")


class GatewayCallFailed(Exception):
    """The Gateway did not return a usable tool result.

    ``reason`` is a short, fixed code for the audit log (for example
    ``gateway_http_403`` or ``tool_internal_error``). ``denied`` is true when
    the Gateway, its interceptor or the tool rejected the user's access.
    Neither the code nor the message contains the user token or the response body.
    """

    def __init__(self, reason: str, message: str, *, denied: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.denied = denied


class ToolReportedError(Exception):
    """The tool ran and returned an error that the caller can correct, such as an invalid argument.

    ``code`` is the tool's error code and ``message`` its public message,
    which names the argument and the expected format but no customer data.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _RejectRedirects(urllib.request.HTTPRedirectHandler):
    """Fail on any redirect, so the signed headers and the user token go only to the configured Gateway."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, D102 - urllib's signature
        raise urllib.error.HTTPError(req.full_url, code, "redirect rejected", headers, fp)


def build_opener() -> urllib.request.OpenerDirector:
    """Build a urllib opener that verifies TLS, ignores proxy variables and rejects redirects.

    Proxies are ignored because the mesh reaches the Gateway through its VPC
    interface endpoint, and a proxy would see the user's token.
    """
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        _RejectRedirects(),
    )


class GatewayClient:
    """Call one tool on the mesh Gateway on behalf of a verified user.

    Every request is a JSON-RPC ``tools/call`` POST to the Gateway's MCP
    endpoint. The user-token and session-id headers are set before the request
    is signed, so SigV4 covers them and the Gateway rejects a request in which
    either was changed.
    """

    def __init__(
        self,
        *,
        url: str,
        target_name: str,
        region: str,
        credentials_provider: Callable[[], Credentials | None],
        timeout_seconds: float,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        self._url = url
        self._target_name = target_name
        self._region = region
        self._credentials_provider = credentials_provider
        self._timeout_seconds = timeout_seconds
        self._opener = opener or build_opener()

    def call_tool(self, policy: ToolPolicy, arguments: Mapping[str, Any], *, user_token: str, session_id: str) -> Any:
        """Run ``policy``'s tool through the Gateway and return the tool's result.

        The result is the tool's structured content when the Gateway returns
        one, otherwise the JSON decoded from its text content.

        Raises
        ------
        GatewayCallFailed
            The agent has no credentials, the Gateway is unreachable or timed
            out, it returned an HTTP or JSON-RPC error, or the tool failed or
            denied access.
        ToolReportedError
            The tool returned an error result that the caller can correct.
        """
        request_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {"name": policy.gateway_tool_name(self._target_name), "arguments": dict(arguments)},
            },
            separators=(",", ":"),
            # NaN and Infinity are not JSON, so such an argument raises ValueError here
            # rather than reach the Gateway. parse_tool_request rejects them first.
            allow_nan=False,
        ).encode("utf-8")

        request = urllib.request.Request(
            self._url, data=body, method="POST", headers=self._signed_headers(body, user_token, session_id)
        )
        content_type, raw_response = self._send(request)

        message = _decode_response(content_type, raw_response, request_id)
        return _tool_result(message)

    def _signed_headers(self, body: bytes, user_token: str, session_id: str) -> dict[str, str]:
        credentials = self._credentials_provider()
        if credentials is None:
            raise GatewayCallFailed("no_credentials", "the agent has no AWS credentials to sign the Gateway call")

        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MCP_PROTOCOL_VERSION,
            USER_TOKEN_HEADER: user_token,
            SESSION_ID_HEADER: session_id,
        }
        return sign_request("POST", self._url, headers=headers, body=body, credentials=credentials, region=self._region)

    def _send(self, request: urllib.request.Request) -> tuple[str, bytes]:
        try:
            with self._opener.open(request, timeout=self._timeout_seconds) as response:
                content_type = response.headers.get("Content-Type", "")
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            error.close()
            raise GatewayCallFailed(
                f"gateway_http_{error.code}", f"the Gateway returned HTTP {error.code}", denied=error.code in (401, 403)
            ) from None
        except TimeoutError as error:
            raise GatewayCallFailed("gateway_timeout", "the Gateway call timed out") from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise GatewayCallFailed("gateway_timeout", "the Gateway call timed out") from error
            raise GatewayCallFailed("gateway_unreachable", "the Gateway could not be reached") from error
        except OSError as error:
            raise GatewayCallFailed("gateway_unreachable", "the Gateway connection failed") from error

        if len(raw) > MAX_RESPONSE_BYTES:
            raise GatewayCallFailed(
                "gateway_response_too_large", f"the Gateway response exceeds {MAX_RESPONSE_BYTES} bytes"
            )
        return content_type, raw


def _decode_response(content_type: str, raw: bytes, request_id: str) -> Mapping[str, Any]:
    """Return the JSON-RPC response to ``request_id`` from a JSON or server-sent-events body."""
    try:
        text = raw.decode("utf-8")
        if content_type.split(";", 1)[0].strip().lower() == "text/event-stream":
            candidates = [json.loads(data) for data in _event_stream_data(text)]
        else:
            candidates = [json.loads(text)]
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GatewayCallFailed("gateway_response_invalid", "the Gateway response is not valid JSON") from error

    for message in candidates:
        if isinstance(message, Mapping) and message.get("id") == request_id:
            return message
    raise GatewayCallFailed("gateway_response_invalid", "the Gateway response has no JSON-RPC response to the request")


def _event_stream_data(text: str) -> list[str]:
    """Return the data of each server-sent event, joining multi-line data fields."""
    events: list[str] = []
    lines: list[str] = []
    for line in text.splitlines():
        if not line:
            if lines:
                events.append("\n".join(lines))
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
    if lines:
        events.append("\n".join(lines))
    return events


def _tool_result(message: Mapping[str, Any]) -> Any:
    error = message.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, Mapping) else None
        # JSON-RPC error codes are negative; the audit reason allows only [a-z0-9_].
        reason = f"gateway_jsonrpc_error_{abs(code)}" if isinstance(code, int) else "gateway_jsonrpc_error"
        raise GatewayCallFailed(reason, "the Gateway returned a JSON-RPC error", denied=code == JSONRPC_ACCESS_DENIED)

    result = message.get("result")
    if not isinstance(result, Mapping):
        raise GatewayCallFailed("gateway_response_invalid", "the JSON-RPC response has no result object")
    if result.get("isError") is True:
        raise GatewayCallFailed("tool_error", "the tool reported an error")

    structured = result.get("structuredContent")
    document = dict(structured) if isinstance(structured, Mapping) else _text_content(result)
    _raise_for_tool_error(document)
    return document


def _text_content(result: Mapping[str, Any]) -> Any:
    texts = [
        item.get("text")
        for item in result.get("content") or []
        if isinstance(item, Mapping) and item.get("type") == "text" and isinstance(item.get("text"), str)
    ]
    if len(texts) != 1:
        raise GatewayCallFailed("gateway_response_invalid", f"expected one text content item; received {len(texts)}")
    try:
        return json.loads(texts[0])
    except json.JSONDecodeError:
        # A tool may return plain text; it is passed on unchanged.
        return texts[0]


def _raise_for_tool_error(document: Any) -> None:
    """Raise if ``document`` is the ledger's error result ``{"error": {"code": ..., "message": ...}}``.

    The ledger returns its errors as data, because a Lambda target has no
    documented way to set MCP's ``isError``.
    """
    if not isinstance(document, Mapping) or set(document) != {"error"} or not isinstance(document["error"], Mapping):
        return
    code = document["error"].get("code")
    message = document["error"].get("message")
    if not isinstance(code, str) or not _SNAKE_CASE.fullmatch(code):
        raise GatewayCallFailed("tool_error", "the tool returned an error without a valid code")
    if code == "access_denied":
        raise GatewayCallFailed("tool_access_denied", "the tool denied access", denied=True)
    if code in CORRECTABLE_TOOL_ERRORS and isinstance(message, str):
        raise ToolReportedError(code, message[:MAX_TOOL_ERROR_MESSAGE])
    raise GatewayCallFailed(f"tool_{code}", f"the tool returned the error {code}")
