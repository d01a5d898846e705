# SPDX-License-Identifier: Apache-2.0
"""Calls to peer agents on AgentCore Runtime with ``InvokeAgentRuntime``, on behalf of the user."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from mesh_identity.signing import identity_headers

from .reasons import error_reason, snake_case

# Upper bound on a peer's response that the agent reads (bytes).
MAX_RESPONSE_BYTES: Final = 1024 * 1024

# InvokeAgentRuntime errors that mean "this call is not allowed or not valid"
# rather than "try again later". RuntimeClientError (HTTP 424) is how the
# runtime reports an error response of the agent code.
# NOTE: the AgentCore documentation does not say whether a 4xx reply of the
# peer's code reaches the caller as that status or as RuntimeClientError, so
# both paths are mapped to a refusal.
_REFUSAL_ERROR_CODES: Final = frozenset(
    {"AccessDeniedException", "ValidationException", "ResourceNotFoundException", "RuntimeClientError"}
)
_REFUSAL_STATUSES: Final = frozenset({400, 401, 403, 404})
# Error codes of a peer's reply body that mean the peer rejected the request.
_REFUSAL_REPLY_CODES: Final = frozenset({"invalid_request", "unauthorized", "forbidden"})


class PeerCallRefused(Exception):
    """The peer or AgentCore rejected the call; ``reason`` is a snake_case code for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeerCallFailed(Exception):
    """The peer could not be reached or returned no usable result; ``reason`` is a snake_case code for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeerToolError(Exception):
    """The peer ran the tool, which rejected its arguments; ``message`` explains how to correct the call."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PeerInvoker(Protocol):
    """Run a tool on a peer agent on behalf of a user."""

    def call_tool(self, peer: str, tool: str, arguments: Mapping[str, Any], *, user_token: str, session_id: str) -> Any:
        """Return the tool's result, or raise PeerCallRefused, PeerCallFailed or PeerToolError."""
        ...


class PeerAgentClient:
    """Invoke peer agents with the caller's own role and the user's token inside the signature.

    ``client`` is a boto3 ``bedrock-agentcore`` client built from the default
    credential chain (the runtime's execution role). The user token is added
    in botocore's ``before-sign`` event for the current thread only, so SigV4
    covers it and concurrent requests sharing the client cannot mix tokens.
    The runtime session id is sent unchanged as ``runtimeSessionId``.
    """

    def __init__(self, client: Any, runtime_arns: Mapping[str, str]) -> None:
        self._client = client
        self._runtime_arns = dict(runtime_arns)

    def call_tool(self, peer: str, tool: str, arguments: Mapping[str, Any], *, user_token: str, session_id: str) -> Any:
        """Send ``{"tool": tool, "arguments": arguments}`` to ``peer`` and return the ``result`` of its reply.

        Raises
        ------
        PeerCallRefused
            AgentCore or the peer rejected the call (access denied, invalid
            request, or the peer refused the user).
        PeerCallFailed
            The peer is not configured or unreachable, throttled, timed out, or
            returned a reply without a result.
        PeerToolError
            The tool ran and returned an error the model can correct, such as
            an invalid argument.
        """
        runtime_arn = self._runtime_arns.get(peer)
        if runtime_arn is None:
            raise PeerCallFailed("peer_not_configured")
        payload = json.dumps({"tool": tool, "arguments": dict(arguments)}, separators=(",", ":")).encode("utf-8")

        try:
            with identity_headers(self._client, user_token=user_token):
                response = self._client.invoke_agent_runtime(
                    agentRuntimeArn=runtime_arn,
                    runtimeSessionId=session_id,
                    payload=payload,
                    contentType="application/json",
                    accept="application/json",
                )
            status = int(response.get("statusCode") or 200)
            raw = _read_body(response)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _REFUSAL_ERROR_CODES:
                raise PeerCallRefused(error_reason("peer", error)) from error
            raise PeerCallFailed(error_reason("peer", error)) from error
        except BotoCoreError as error:
            raise PeerCallFailed(error_reason("peer", error)) from error

        return _result(status, raw)


def _read_body(response: Mapping[str, Any]) -> bytes:
    stream = response.get("response")
    if stream is None:
        return b""
    try:
        return stream.read(MAX_RESPONSE_BYTES + 1)
    finally:
        stream.close()


def _result(status: int, raw: bytes) -> Any:
    if len(raw) > MAX_RESPONSE_BYTES:
        raise PeerCallFailed("peer_response_too_large")
    try:
        document = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = {}
    error_code = document.get("error") if isinstance(document, Mapping) else None

    reason = f"peer_{snake_case(error_code)}" if isinstance(error_code, str) else f"peer_http_{status}"
    if status in _REFUSAL_STATUSES or (isinstance(error_code, str) and error_code in _REFUSAL_REPLY_CODES):
        raise PeerCallRefused(reason)
    if status >= 300 or error_code is not None:
        raise PeerCallFailed(reason)
    if not isinstance(document, Mapping):
        raise PeerCallFailed("peer_response_invalid")
    tool_error = document.get("tool_error")
    if isinstance(tool_error, Mapping):
        code, message = tool_error.get("code"), tool_error.get("message")
        if isinstance(code, str) and isinstance(message, str):
            raise PeerToolError(code, message)
        raise PeerCallFailed("peer_response_invalid")
    if "result" not in document:
        raise PeerCallFailed("peer_response_invalid")
    return document["result"]
