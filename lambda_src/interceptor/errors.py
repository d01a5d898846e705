"""Reasons the interceptor denies a request that are not about the token or headers."""

from __future__ import annotations

from typing import ClassVar


class RequestDenied(Exception):
    """Base class: the interceptor responds to the caller itself and the target is never called.

    ``reason`` is the snake_case code for the audit record. ``status_code``
    is the HTTP status the Gateway returns to the caller.
    """

    reason: ClassVar[str] = "request_denied"
    status_code: ClassVar[int] = 403

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            # An instance may carry a more precise code than its class.
            self.reason = reason  # type: ignore[misc]


class UnsupportedEvent(RequestDenied):
    """The event does not have the documented interceptor input shape or version."""

    reason = "interceptor_event_invalid"
    status_code = 500


class MalformedRequest(RequestDenied):
    """The MCP body is not a valid JSON-RPC 2.0 request of the expected form."""

    reason = "mcp_request_malformed"
    status_code = 400


class MethodNotAllowed(RequestDenied):
    """The MCP method is not one the mesh Gateway serves."""

    reason = "mcp_method_not_allowed"


class ToolNotAllowed(RequestDenied):
    """The tool has no entry in the tool-to-scope map, so no caller may call it."""

    reason = "tool_not_allowed"
