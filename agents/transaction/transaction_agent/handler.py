# SPDX-License-Identifier: Apache-2.0
"""Request handling of the Transaction agent, independent of the HTTP framework.

Request: ``{"tool": <name>, "arguments": {...}}`` with the user-token header.
Replies, as HTTP status and JSON body:

- 200 ``{"tool", "result"}``: the tool's result;
- 200 ``{"tool", "tool_error": {"code", "message"}}``: the tool ran and
  rejected an argument, and the message explains how to correct it;
- 400 ``invalid_request``, 401 ``unauthorized``, 403 ``forbidden``: rejected;
- 502 ``upstream_failed``: the Gateway or the tool failed;
- 500 ``internal_error``: an unexpected fault of this agent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from aws_lambda_powertools import Logger

from mesh_identity import redact_secrets
from mesh_identity.audit import audit
from mesh_identity.constants import RUNTIME_SESSION_ID_HEADER, USER_TOKEN_HEADER
from mesh_identity.errors import DuplicateHeader, InvalidHeader, MissingHeader, ScopeMissing, TokenRejected
from mesh_identity.headers import find_single_header, validate_session_id, validate_user_token
from mesh_identity.logger import create_logger

from .gateway import GatewayCallFailed, ToolReportedError
from .sessions import SessionBindings
from .tools import TOOL_POLICIES, InvalidToolRequest, ToolPolicy, parse_tool_request

HOP: Final = "transaction_agent"
SERVICE_NAME: Final = "transaction-agent"


class TokenVerifier(Protocol):
    """The part of mesh_identity.tokens.TokenVerifier the agent uses."""

    def verify(self, token: str, *, required_scopes: Sequence[str] | None = None) -> Any: ...


class ToolGateway(Protocol):
    """The part of GatewayClient the agent uses."""

    def call_tool(
        self, policy: ToolPolicy, arguments: Mapping[str, Any], *, user_token: str, session_id: str
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """HTTP status and JSON body returned to the calling agent."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)


# One fixed body per kind of rejection, so a reply neither reveals which check failed nor echoes input.
_INVALID_REQUEST: Final = Reply(
    400, {"error": "invalid_request", "message": "The request is not a valid tool request."}
)
_UNAUTHORIZED: Final = Reply(401, {"error": "unauthorized", "message": "The request was rejected."})
_FORBIDDEN: Final = Reply(403, {"error": "forbidden", "message": "The request was rejected."})
_UPSTREAM_FAILED: Final = Reply(502, {"error": "upstream_failed", "message": "The data service is unavailable."})
_INTERNAL_ERROR: Final = Reply(500, {"error": "internal_error", "message": "The request failed."})


class TransactionHandler:
    """Request logic of the Transaction agent: identity checks, then one Gateway call on the user's behalf.

    The checks run in this order. The session id and the user-token header
    must each occur exactly once and be well formed. The payload must name a
    known tool. The token must verify and carry that tool's scope. The session
    id must not belong to another user. Only then is the Gateway called.

    Every request writes exactly one audit record. Refusals return a generic
    body; the audit record holds the reason.

    NOTE: the agent cannot see which IAM principal signed the call, because
    AgentCore Runtime checks SigV4 and the runtime's resource policy before
    the request reaches this code, so audit records carry no ``principal``.
    """

    def __init__(
        self,
        *,
        verifier: TokenVerifier,
        gateway: ToolGateway,
        sessions: SessionBindings | None = None,
        policies: Mapping[str, ToolPolicy] = TOOL_POLICIES,
        logger: Logger | None = None,
    ) -> None:
        self._verifier = verifier
        self._gateway = gateway
        self._sessions = sessions if sessions is not None else SessionBindings()
        self._policies = policies
        self._logger = logger or create_logger(SERVICE_NAME)

    def handle(self, payload: Any, headers: Sequence[tuple[str, str]]) -> Reply:
        """Return the reply to one tool request; an unexpected exception becomes a generic 500 reply."""
        try:
            return self._handle(payload, headers)
        except Exception as error:  # noqa: BLE001 - the last line of defence must not leak details
            # Only the exception type is logged: a message or traceback could quote a header value.
            self._logger.error("Transaction request failed", extra={"error_type": type(error).__name__})
            self._audit("deny", "internal_error")
            return _INTERNAL_ERROR

    def _handle(self, payload: Any, headers: Sequence[tuple[str, str]]) -> Reply:
        try:
            session_id = validate_session_id(find_single_header(headers, RUNTIME_SESSION_ID_HEADER))
        except (MissingHeader, DuplicateHeader, InvalidHeader) as error:
            self._audit("deny", f"session_id_{error.reason}")
            return _INVALID_REQUEST

        try:
            user_token = validate_user_token(find_single_header(headers, USER_TOKEN_HEADER))
        except (MissingHeader, DuplicateHeader, InvalidHeader) as error:
            self._audit("deny", f"user_token_{error.reason}", session_id=session_id)
            return _UNAUTHORIZED

        try:
            request = parse_tool_request(payload, self._policies)
        except InvalidToolRequest as error:
            # The message names the field and the accepted values, never a header value. It may
            # quote caller-chosen field names, so token-like text is redacted once more here.
            self._logger.info(
                "Rejected an invalid tool request",
                extra={"detail": redact_secrets(str(error)), "session_id": session_id},
            )
            self._audit("deny", "invalid_request", session_id=session_id)
            return _INVALID_REQUEST
        tool = request.policy.name

        try:
            claims = self._verifier.verify(user_token, required_scopes=[request.policy.required_scope])
        except ScopeMissing as error:
            self._audit("deny", error.reason, sub=error.sub, session_id=session_id, tool=tool)
            return _FORBIDDEN
        except TokenRejected as error:
            self._audit("deny", error.reason, session_id=session_id, tool=tool)
            return _UNAUTHORIZED

        if not self._sessions.bind(session_id, claims.sub):
            self._audit("deny", "session_bound_to_other_user", sub=claims.sub, session_id=session_id, tool=tool)
            return _FORBIDDEN

        try:
            result = self._gateway.call_tool(
                request.policy, request.arguments, user_token=user_token, session_id=session_id
            )
        except ToolReportedError as error:
            # The call was allowed and ran; the tool's correctable error goes back to the caller.
            self._audit(
                "allow", "tool_error_returned", sub=claims.sub, session_id=session_id, tool=tool, tool_error=error.code
            )
            return Reply(200, {"tool": tool, "tool_error": {"code": error.code, "message": error.message}})
        except GatewayCallFailed as error:
            if not error.denied:
                self._logger.warning(
                    "Gateway call failed", extra={"reason": error.reason, "session_id": session_id, "tool": tool}
                )
            self._audit("deny", error.reason, sub=claims.sub, session_id=session_id, tool=tool)
            return _FORBIDDEN if error.denied else _UPSTREAM_FAILED

        self._audit(
            "allow",
            "tool_result_returned",
            sub=claims.sub,
            session_id=session_id,
            tool=tool,
            jti=claims.jti,
            removed_identity_arguments=request.removed_identity_arguments,
        )
        return Reply(200, {"tool": tool, "result": result})

    def _audit(self, decision: str, reason: str, **ids: Any) -> None:
        audit(HOP, decision, reason, logger=self._logger, **ids)
