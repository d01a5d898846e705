"""The trust decision of the Gateway REQUEST interceptor for one MCP request.

- ``initialize``, ``notifications/initialized`` and ``ping`` pass unchanged
  and need no user token: they carry no customer data.
- ``tools/list`` needs a valid user token and passes unchanged.
- ``tools/call`` needs a valid user token with the tool's scope and a session
  id. The tool arguments lose every caller-supplied identity key, and the
  verified identity is written under `VERIFIED_IDENTITY_KEY`.
- Anything else, and any malformed request, is denied.

Every decision writes one audit record. A denied caller sees only a generic
JSON-RPC error, and the reason goes to the audit record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from mesh_identity.audit import audit
from mesh_identity.constants import TOOL_REQUIRED_SCOPES
from mesh_identity.errors import ConfigurationError, KeysUnavailable, MeshIdentityError
from mesh_identity.headers import session_id_from_headers, user_token_from_headers
from mesh_identity.tokens import TokenVerifier, VerifiedClaims

from interceptor.errors import MethodNotAllowed, RequestDenied, ToolNotAllowed, UnsupportedEvent
from interceptor.mcp import GatewayRequest, McpRequest, parse_event, parse_jsonrpc, parse_tool_call, response_id
from interceptor.responses import deny, forward
from interceptor.rewrite import rewrite_tool_call_body, verified_identity

AUDIT_HOP: Final = "gateway_interceptor"
LIFECYCLE_METHODS: Final = frozenset({"initialize", "notifications/initialized", "ping"})
TOOLS_LIST: Final = "tools/list"
TOOLS_CALL: Final = "tools/call"


class _Decision:
    """Facts gathered about the request so far, for the audit record."""

    def __init__(self) -> None:
        self.sub: str | None = None
        self.session_id: str | None = None
        self.body: Mapping[str, Any] | None = None
        self.ids: dict[str, Any] = {}


def intercept(event: Any, get_verifier: Callable[[], TokenVerifier], *, logger: Logger) -> dict[str, Any]:
    """Decide on one interceptor event and return the interceptor output.

    ``get_verifier`` returns the token verifier. It is called only for
    methods that need a token, so a configuration error cannot block
    ``initialize``. Any exception is turned into a denial: an expected one
    with its reason, an unexpected one logged with its traceback.
    """
    decision = _Decision()
    try:
        output = _decide(event, get_verifier, decision, logger)
    except (MeshIdentityError, RequestDenied) as error:
        sub = decision.sub or getattr(error, "sub", None)
        _audit(decision, logger, "deny", error.reason, sub=sub)
        return deny(_status_code(error), response_id(decision.body))
    except Exception:
        logger.exception("The interceptor failed unexpectedly; the request is denied")
        _audit(decision, logger, "deny", "internal_error")
        return deny(500, response_id(decision.body))
    return output


def _decide(
    event: Any, get_verifier: Callable[[], TokenVerifier], decision: _Decision, logger: Logger
) -> dict[str, Any]:
    request = parse_event(event)
    decision.body = request.body
    message = parse_jsonrpc(request.body)
    decision.ids["mcp_method"] = message.method
    decision.ids["mcp_request_id"] = message.request_id

    if message.method in LIFECYCLE_METHODS:
        _audit(decision, logger, "allow", "mcp_lifecycle_method")
        return forward(request.body)

    if message.method == TOOLS_LIST:
        claims = _verify_user(request, get_verifier, required_scopes=(), decision=decision)
        _audit(decision, logger, "allow", "token_verified", sub=claims.sub)
        return forward(request.body)

    if message.method == TOOLS_CALL:
        return _rewrite_tool_call(request, message, get_verifier, decision, logger)

    raise MethodNotAllowed(f"MCP method {message.method[:64]!r} is not served by the mesh Gateway")


def _rewrite_tool_call(
    request: GatewayRequest,
    message: McpRequest,
    get_verifier: Callable[[], TokenVerifier],
    decision: _Decision,
    logger: Logger,
) -> dict[str, Any]:
    call = parse_tool_call(message)
    decision.ids["tool"] = call.gateway_tool_name
    required_scope = TOOL_REQUIRED_SCOPES.get(call.tool_name)
    if required_scope is None:
        raise ToolNotAllowed(f"Tool {call.tool_name[:64]!r} has no required scope configured")

    claims = _verify_user(request, get_verifier, required_scopes=(required_scope,), decision=decision)
    session_id = session_id_from_headers(request.headers)
    decision.session_id = session_id

    identity = verified_identity(claims, session_id)
    body, removed = rewrite_tool_call_body(request.body, call.arguments, identity)
    decision.ids["removed_identity_arguments"] = removed
    _audit(decision, logger, "allow", "token_verified", sub=claims.sub)
    return forward(body)


def _verify_user(
    request: GatewayRequest,
    get_verifier: Callable[[], TokenVerifier],
    *,
    required_scopes: tuple[str, ...],
    decision: _Decision,
) -> VerifiedClaims:
    if request.headers is None:
        raise UnsupportedEvent(
            "The event has no request headers; configure the interceptor with passRequestHeaders: true",
            reason="request_headers_not_passed",
        )
    token = user_token_from_headers(request.headers)
    claims = get_verifier().verify(token, required_scopes=required_scopes)
    decision.sub = claims.sub
    decision.ids["client_id"] = claims.client_id
    decision.ids["jti"] = claims.jti
    return claims


def _status_code(error: Exception) -> int:
    if isinstance(error, RequestDenied):
        return error.status_code
    if isinstance(error, KeysUnavailable):
        return 503
    if isinstance(error, ConfigurationError):
        return 500
    return 403


def _audit(decision: _Decision, logger: Logger, outcome: str, reason: str, *, sub: str | None = None) -> None:
    audit(
        AUDIT_HOP,
        outcome,
        reason,
        sub=sub or decision.sub,
        session_id=decision.session_id,
        logger=logger,
        **decision.ids,
    )
