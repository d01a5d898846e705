"""A local stand-in for the AgentCore data plane's ``InvokeAgentRuntime``.

It serves the REST shape that boto3's ``bedrock-agentcore`` client sends when
``endpoint_url`` points at it (botocore 1.44 service model):
``POST /runtimes/{agentRuntimeArn}/invocations?qualifier=...`` with the
session id in ``X-Amzn-Bedrock-AgentCore-Runtime-Session-Id``. Errors use the
REST-JSON form (``x-amzn-ErrorType``), so botocore raises the same
``ClientError`` codes the service would.

Each runtime is admitted the way the template configures it:

- a runtime with a CustomJWTAuthorizer accepts only ``Authorization: Bearer``
  tokens that pass `JwtAuthorizer` (discovery document, signature, issuer,
  expiry, allowed clients, allowed scopes);
- any other runtime accepts only SigV4, verified by `SigV4Verifier`, from a
  role whose caller the template's policies allow (`build_policy_graph`).

The request then goes to the agent's ``/invocations`` with only the payload
headers, the session id and the runtime's allowlisted headers, as AgentCore
forwards them. Every decision writes one audit record (hop ``runtime_standin``).
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, quote, unquote

import jwt
from aws_lambda_powertools import Logger
from mesh_identity.audit import audit
from mesh_identity.constants import (
    AGENTCORE_SIGNING_NAME,
    MAX_SESSION_ID_LENGTH,
    MIN_SESSION_ID_LENGTH,
    RUNTIME_CUSTOM_HEADER_PREFIX,
    RUNTIME_SESSION_ID_HEADER,
)

from .http import LoopbackServer, Reply, send_raw
from .sigv4 import CredentialRegistry, Principal, ReceivedRequest, SigV4Rejected, SigV4Verifier
from .spans import SpanRecorder
from .template import MeshTemplate, RuntimeSpec, TemplateError

AUDIT_HOP: Final = "runtime_standin"
DEFAULT_QUALIFIER: Final = "DEFAULT"
INVOKE_ACTION: Final = "bedrock-agentcore:InvokeAgentRuntime"
# The header that requests InvokeAgentRuntimeForUser, an action the mesh never grants.
RUNTIME_USER_ID_HEADER: Final = "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"
# Limits of the runtime request-header allowlist (AgentCore Developer Guide,
# "Pass custom headers to Amazon Bedrock AgentCore Runtime").
MAX_ALLOWLISTED_HEADERS: Final = 20
MAX_HEADER_VALUE_BYTES: Final = 4096
# How long the stand-in waits for an agent's reply (seconds).
AGENT_TIMEOUT_SECONDS: Final = 60.0
# How often the JWT authorizer may re-read the JWKS for an unknown kid (seconds).
JWKS_REFRESH_COOLDOWN_SECONDS: Final = 30.0

_INVOCATIONS_PATH: Final = re.compile(r"/runtimes/([^/?]+)/invocations")
_VISIBLE_ASCII: Final = re.compile(r"[\x21-\x7e]+")


class JwtRejected(Exception):
    """A bearer token failed the JWT authorizer; ``reason`` is the audit code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class JwtAuthorizer:
    """The checks of an AgentCore CustomJWTAuthorizer, written independently of ``mesh_identity``.

    The discovery document names the issuer and the JWKS. Both are read from
    loopback on first use, and the JWKS again for an unknown ``kid``, at most
    once per `JWKS_REFRESH_COOLDOWN_SECONDS`. A token must be RS256, signed
    by a published key, issued by the discovered issuer, unexpired, for an
    allowed client (``client_id``, which Cognito access tokens carry instead
    of ``aud``) and carry at least one allowed scope.

    NOTE: the AgentCore documentation does not say whether ``allowedScopes``
    needs one or all of its scopes; the seed mesh allows one scope, where
    both readings agree.
    """

    def __init__(
        self,
        *,
        discovery_url: str,
        allowed_clients: Sequence[str],
        allowed_scopes: Sequence[str],
        allowed_audience: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.discovery_url = discovery_url
        self.allowed_clients = frozenset(allowed_clients)
        self.allowed_scopes = frozenset(allowed_scopes)
        self.allowed_audience = tuple(allowed_audience)
        self._clock = clock
        self._issuer: str | None = None
        self._jwks_uri: str | None = None
        self._keys: dict[str, Any] = {}
        self._keys_read_at = float("-inf")
        self._lock = threading.Lock()

    def authorize(self, token: str) -> Mapping[str, Any]:
        """Return the token's claims, or raise `JwtRejected` with the reason."""
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self._metadata()[0],
                audience=list(self.allowed_audience) or None,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": bool(self.allowed_audience)},
            )
        except jwt.ExpiredSignatureError:
            raise JwtRejected("jwt_expired", "The token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise JwtRejected("jwt_not_yet_valid", "The token is not valid yet.") from None
        except jwt.InvalidIssuerError:
            raise JwtRejected("jwt_wrong_issuer", "The token's issuer is not the discovered issuer.") from None
        except jwt.InvalidSignatureError:
            raise JwtRejected("jwt_bad_signature", "The token's signature does not verify.") from None
        except jwt.InvalidAlgorithmError:
            raise JwtRejected("jwt_algorithm_not_allowed", "The token is not signed with RS256.") from None
        except jwt.PyJWTError:
            raise JwtRejected("jwt_invalid", "The token is not a valid JWT.") from None

        if self.allowed_clients and claims.get("client_id") not in self.allowed_clients:
            raise JwtRejected("jwt_client_not_allowed", "The token was not issued to an allowed client.")
        scopes = set(str(claims.get("scope", "")).split())
        if self.allowed_scopes and not scopes & self.allowed_scopes:
            raise JwtRejected("jwt_scope_missing", "The token carries none of the allowed scopes.")
        return claims

    def _signing_key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise JwtRejected("jwt_malformed", "The token is not a compact JWS.") from None
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise JwtRejected("jwt_malformed", "The token header has no kid.")

        with self._lock:
            key = self._keys.get(kid)
            if key is None and self._clock() - self._keys_read_at >= JWKS_REFRESH_COOLDOWN_SECONDS:
                self._read_keys()
                key = self._keys.get(kid)
        if key is None:
            raise JwtRejected("jwt_unknown_key", "No published key has the token's kid.")
        return key

    def _metadata(self) -> tuple[str, str]:
        if self._issuer is None or self._jwks_uri is None:
            document = _get_json(self.discovery_url)
            issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
            if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
                raise TemplateError(f"the discovery document at {self.discovery_url} has no issuer or jwks_uri")
            self._issuer, self._jwks_uri = issuer, jwks_uri
        return self._issuer, self._jwks_uri

    def _read_keys(self) -> None:
        jwks = jwt.PyJWKSet.from_dict(_get_json(self._metadata()[1]))
        self._keys = {key.key_id: key.key for key in jwks.keys if key.key_id}
        self._keys_read_at = self._clock()


def _get_json(url: str) -> dict[str, Any]:
    # send_raw refuses anything but loopback, so the authorizer never leaves this machine.
    response = send_raw("GET", url, headers=[("Accept", "application/json")], timeout=5.0)
    if response.status != 200:
        raise JwtRejected("jwt_keys_unavailable", f"GET {url} returned HTTP {response.status}")
    document = response.json()
    if not isinstance(document, dict):
        raise JwtRejected("jwt_keys_unavailable", f"GET {url} did not return a JSON object")
    return document


@dataclass
class _Runtime:
    spec: RuntimeSpec
    arn: str
    authorizer: JwtAuthorizer | None
    agent_url: str | None = None


class _Denied(Exception):
    def __init__(self, reply: Reply, reason: str, **ids: Any) -> None:
        super().__init__(reason)
        self.reply = reply
        self.reason = reason
        self.ids = ids


class DataPlane:
    """The ``InvokeAgentRuntime`` stand-in for every runtime of the template.

    Register each runtime with `add_runtime`, point it at its agent with
    `set_agent_url`, then `start`.
    """

    def __init__(
        self,
        template: MeshTemplate,
        registry: CredentialRegistry,
        *,
        region: str,
        logger: Logger,
        spans: SpanRecorder,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._template = template
        self._verifier = SigV4Verifier(registry, region=region, service=AGENTCORE_SIGNING_NAME, clock=clock)
        self._logger = logger
        self._spans = spans
        self._runtimes: dict[str, _Runtime] = {}
        self._server = LoopbackServer("agentcore-data-plane-standin", self.handle)

    @property
    def base_url(self) -> str:
        """The endpoint URL to give a ``bedrock-agentcore`` client."""
        return self._server.base_url

    def add_runtime(self, spec: RuntimeSpec, *, arn: str, authorizer: JwtAuthorizer | None) -> None:
        """Serve ``spec`` under ``arn``; a JWT runtime needs its authorizer."""
        _check_allowlist(spec)
        if (spec.jwt_authorizer is None) != (authorizer is None):
            raise ValueError(f"runtime {spec.logical_id}: pass an authorizer exactly when the template configures one")
        self._runtimes[arn] = _Runtime(spec=spec, arn=arn, authorizer=authorizer)

    def set_agent_url(self, arn: str, url: str) -> None:
        """Send the runtime's invocations to the agent app at ``url``."""
        self._runtimes[arn].agent_url = url

    def start(self) -> None:
        """Start serving on loopback."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def invocation_url(self, arn: str, *, qualifier: str | None = DEFAULT_QUALIFIER) -> str:
        """The URL a client posts an invocation of ``arn`` to, encoded as botocore encodes it."""
        url = f"{self.base_url}/runtimes/{quote(arn, safe='')}/invocations"
        return url if qualifier is None else f"{url}?qualifier={quote(qualifier, safe='')}"

    def handle(self, request: ReceivedRequest) -> Reply:
        """Authorize one request, forward it to the agent and return the reply to send."""
        path, _, query = request.target.partition("?")
        match = _INVOCATIONS_PATH.fullmatch(path)
        if request.method != "POST" or match is None:
            return Reply.aws_error(
                404, "UnknownOperationException", "The local data plane serves only InvokeAgentRuntime."
            )
        runtime = self._runtimes.get(unquote(match.group(1)))
        if runtime is None:
            return Reply.aws_error(404, "ResourceNotFoundException", "No agent runtime has this ARN.")

        ids: dict[str, Any] = {"runtime": runtime.spec.agent}
        try:
            started = time.perf_counter()
            principal, sub = self._authorize(runtime, request)
            ids.update(principal=principal, sub=sub)
            session_id = self._session_id(request)
            ids["session_id"] = session_id
            _check_qualifier(query)
            self._spans.record(f"{runtime.spec.agent}:authorize", time.perf_counter() - started)
        except _Denied as denied:
            self._audit("deny", denied.reason, **{**ids, **denied.ids})
            return denied.reply

        self._audit("allow", "runtime_invocation_forwarded", **ids)
        started = time.perf_counter()
        reply = self._forward(runtime, request, session_id)
        self._spans.record(f"{runtime.spec.agent}:agent", time.perf_counter() - started)
        return reply

    def _authorize(self, runtime: _Runtime, request: ReceivedRequest) -> tuple[str | None, str | None]:
        authorizations = request.header_values("authorization")
        is_sigv4 = any(value.startswith("AWS4-HMAC-SHA256") for value in authorizations)

        if runtime.authorizer is not None:
            if is_sigv4:
                raise _Denied(_method_mismatch(), "authorization_method_mismatch")
            claims = _authorize_bearer(runtime.authorizer, authorizations)
            return claims.get("client_id"), claims.get("sub")

        if authorizations and not is_sigv4:
            raise _Denied(_method_mismatch(), "authorization_method_mismatch")
        try:
            principal = self._verifier.verify(request, must_sign=self._forwarded_header_names(runtime))
        except SigV4Rejected as error:
            raise _Denied(Reply.aws_error(403, error.error_code, str(error)), error.reason) from None
        self._check_policy(runtime, principal, request)
        return principal.role_arn, None

    def _check_policy(self, runtime: _Runtime, principal: Principal, request: ReceivedRequest) -> None:
        caller = self._template.agent_of_role(principal.role_logical_id)
        denied = Reply.aws_error(
            403,
            "AccessDeniedException",
            f"User: {principal.role_arn} is not authorized to perform: {INVOKE_ACTION} on resource: {runtime.arn}",
        )
        if request.header_values(RUNTIME_USER_ID_HEADER):
            # InvokeAgentRuntimeForUser is denied outright, because the
            # mesh's runtime resource policies deny it and the local policy
            # evaluation models only InvokeAgentRuntime.
            raise _Denied(denied, "invoke_for_user_denied", principal=principal.role_arn)
        if caller is None:
            # The policy graph evaluates the mesh agents' roles; every other role
            # (the ledger tool's, an intruder's) has no edge to any runtime.
            raise _Denied(denied, "caller_not_a_mesh_agent", principal=principal.role_arn)
        if (caller, runtime.spec.agent) not in self._template.policy.allowed_edges():
            raise _Denied(denied, "caller_not_allowed_by_policy", principal=principal.role_arn, caller=caller)

    def _session_id(self, request: ReceivedRequest) -> str:
        values = request.header_values(RUNTIME_SESSION_ID_HEADER)
        if len(values) != 1:
            # NOTE: the AWS SDKs always send a session id, because botocore fills
            # in a generated one. Whether the service generates one for a raw
            # request without it is not documented, so the stand-in rejects it.
            raise _Denied(
                _validation_error("runtimeSessionId must be sent exactly once."),
                "session_id_missing" if not values else "session_id_duplicate",
            )
        value = values[0].strip()
        if not MIN_SESSION_ID_LENGTH <= len(value) <= MAX_SESSION_ID_LENGTH or _VISIBLE_ASCII.fullmatch(value) is None:
            raise _Denied(
                _validation_error(
                    f"runtimeSessionId must have {MIN_SESSION_ID_LENGTH} to {MAX_SESSION_ID_LENGTH} visible characters."
                ),
                "session_id_invalid",
            )
        return value

    def _forwarded_header_names(self, runtime: _Runtime) -> list[str]:
        return ["content-type", "accept", RUNTIME_SESSION_ID_HEADER, *runtime.spec.header_allowlist]

    def _forward(self, runtime: _Runtime, request: ReceivedRequest, session_id: str) -> Reply:
        if runtime.agent_url is None:
            return Reply.aws_error(500, "InternalServerException", "The runtime has no running agent.")

        headers = forwarded_headers(request, session_id=session_id, allowlist=runtime.spec.header_allowlist)
        try:
            response = send_raw(
                "POST",
                f"{runtime.agent_url}/invocations",
                headers=headers,
                body=request.body,
                timeout=AGENT_TIMEOUT_SECONDS,
            )
        except (OSError, http.client.HTTPException) as error:
            self._logger.warning(
                "The agent did not answer", extra={"runtime": runtime.spec.agent, "error_type": type(error).__name__}
            )
            return Reply.aws_error(500, "InternalServerException", "The agent runtime did not answer.")

        if response.status >= 300:
            # NOTE: the documentation does not say how an error status of the
            # agent reaches the caller. The stand-in reports it as
            # RuntimeClientError (HTTP 424), which the Support agent's peer
            # client maps to a refusal, as it does a 4xx status.
            return Reply.aws_error(424, "RuntimeClientError", f"Received error ({response.status}) from runtime.")
        return Reply(
            status=200,
            body=response.body,
            headers={
                "Content-Type": response.header("content-type") or "application/json",
                RUNTIME_SESSION_ID_HEADER: session_id,
            },
        )

    def _audit(self, decision: str, reason: str, **ids: Any) -> None:
        audit(AUDIT_HOP, decision, reason, logger=self._logger, **ids)


def forwarded_headers(request: ReceivedRequest, *, session_id: str, allowlist: Sequence[str]) -> list[tuple[str, str]]:
    """Return the header lines the agent receives: payload media types, the session id and allowlisted headers.

    Every copy of an allowlisted header is passed on, so the agent's own
    checks see a repeated header. Anything else the caller sent, the SigV4
    ``Authorization`` included, stays at the data plane.
    """
    content_type = (request.header_values("content-type") or ["application/json"])[0]
    headers: list[tuple[str, str]] = [("Content-Type", content_type), (RUNTIME_SESSION_ID_HEADER, session_id)]
    headers += [("Accept", value) for value in request.header_values("accept")[:1]]
    allowed = {name.lower() for name in allowlist}
    for name, value in request.headers:
        # AgentCore drops an allowlisted header whose value exceeds
        # 4 KB; the stand-in does the same, so the header is absent for the agent.
        if name.lower() in allowed and len(value.encode("utf-8")) <= MAX_HEADER_VALUE_BYTES:
            headers.append((name, value))
    return headers


def _authorize_bearer(authorizer: JwtAuthorizer, authorizations: list[str]) -> Mapping[str, Any]:
    unauthorized = Reply.aws_error(401, "UnauthorizedException", "The bearer token is missing or invalid.")
    if not authorizations:
        raise _Denied(unauthorized, "bearer_token_missing")
    if len(authorizations) > 1:
        raise _Denied(unauthorized, "authorization_duplicate")
    scheme, _, token = authorizations[0].strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Denied(unauthorized, "bearer_token_missing")
    try:
        return authorizer.authorize(token.strip())
    except JwtRejected as error:
        raise _Denied(unauthorized, error.reason) from None


def _method_mismatch() -> Reply:
    return Reply.aws_error(
        403,
        "AccessDeniedException",
        "Authorization method mismatch: the runtime accepts a different inbound authorization than the request used.",
    )


def _validation_error(message: str) -> Reply:
    return Reply.json(
        400, {"message": message, "reason": "FieldValidationFailed"}, {"x-amzn-ErrorType": "ValidationException"}
    )


def _check_qualifier(query: str) -> None:
    qualifiers = parse_qs(query, keep_blank_values=True).get("qualifier", [DEFAULT_QUALIFIER])
    if qualifiers != [DEFAULT_QUALIFIER]:
        raise _Denied(
            Reply.aws_error(404, "ResourceNotFoundException", "The local mesh serves only the DEFAULT endpoint."),
            "endpoint_not_found",
        )


def _check_allowlist(spec: RuntimeSpec) -> None:
    """Reject an allowlist that AgentCore would reject when the runtime is created."""
    names = [name.lower() for name in spec.header_allowlist]
    problems = []
    if len(names) > MAX_ALLOWLISTED_HEADERS:
        problems.append(f"{len(names)} headers, more than {MAX_ALLOWLISTED_HEADERS}")
    if len(set(names)) != len(names):
        problems.append("a header listed twice")
    for name in names:
        if name.startswith("x-amz-"):
            problems.append(f"{name} (x-amz- is reserved for SigV4)")
        elif name.startswith("x-amzn-") and not name.startswith(RUNTIME_CUSTOM_HEADER_PREFIX.lower()):
            problems.append(f"{name} (x-amzn- is reserved)")
        elif name == "authorization" and spec.jwt_authorizer is None:
            problems.append("authorization (allowed only with a JWT authorizer)")
    if problems:
        raise TemplateError(f"runtime {spec.logical_id} has an invalid RequestHeaderAllowlist: {'; '.join(problems)}")
