"""SigV4 signing of outgoing mesh calls, with the user's identity headers inside the signature.

A hop between agents proves two things: which workload calls (SigV4, signed
with the calling agent's own role) and on whose behalf (the user's access
token in `USER_TOKEN_HEADER`). SigV4 covers every header present when the
request is signed, except a few hop-by-hop and tracing names that botocore
leaves out. So the identity headers must be set before signing. Then anyone
who changes them in transit breaks the signature, and AWS rejects the call.

- `sign_request` signs a request that the caller sends itself (for example
  an MCP call to the Gateway over HTTP).
- `identity_headers` and `add_identity_headers` make a boto3
  ``bedrock-agentcore`` client add the headers to ``InvokeAgentRuntime``
  in botocore's ``before-sign`` event, so its own signer covers them.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from . import constants
from .errors import InvalidHeader
from .headers import validate_session_id, validate_user_token

INVOKE_AGENT_RUNTIME_BEFORE_SIGN: Final = "before-sign.bedrock-agentcore.InvokeAgentRuntime"


@dataclass(frozen=True)
class _Identity:
    user_token: str
    session_id: str | None


# The identity of the request the current thread or asyncio task is handling.
_current_identity: contextvars.ContextVar[_Identity | None] = contextvars.ContextVar(
    "mesh_identity_current_identity", default=None
)
_CONTEXT_HANDLER_ID: Final = "mesh-identity-context-headers"


def sign_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | str | None,
    credentials: Any,
    region: str,
    service: str = constants.AGENTCORE_SIGNING_NAME,
) -> dict[str, str]:
    """Sign a request with SigV4 and return all headers to send, ``Authorization`` included.

    Set the propagated identity headers in ``headers`` before calling, so the
    signature covers them. ``credentials`` are botocore credentials (for
    example ``boto3.Session().get_credentials()``). Refreshable credentials
    are frozen first, so key, secret and session token come from one refresh.

    Raises `ValueError` if a propagated header present in ``headers`` would be
    left out of ``SignedHeaders``.
    """
    if credentials is None:
        raise ValueError("credentials are required to sign a request; none were found")
    if hasattr(credentials, "get_frozen_credentials"):
        credentials = credentials.get_frozen_credentials()

    request = AWSRequest(method=method.upper(), url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, service, region).add_auth(request)
    signed = dict(request.headers.items())

    _require_propagated_headers_signed(signed)
    return signed


def signed_header_names(authorization_value: str) -> tuple[str, ...]:
    """Return the lower-case header names listed in a SigV4 ``Authorization`` value's ``SignedHeaders``."""
    for part in authorization_value.split(","):
        name, _, value = part.strip().partition("=")
        if name == "SignedHeaders":
            return tuple(value.split(";"))
    raise ValueError("The Authorization value has no SignedHeaders component")


def _require_propagated_headers_signed(headers: Mapping[str, str]) -> None:
    present = {name.lower() for name in headers}
    signed = set(signed_header_names(headers["Authorization"]))
    for name in constants.PROPAGATED_HEADERS:
        if name.lower() in present and name.lower() not in signed:
            raise ValueError(f"Header {name} is not covered by the SigV4 signature")


def add_identity_headers(client: Any, *, user_token: str, session_id: str | None = None) -> Callable[[], None]:
    """Make ``client`` send the user's identity headers on every ``InvokeAgentRuntime`` call.

    ``client`` is a boto3 ``bedrock-agentcore`` client. The headers are set in
    ``before-sign``, so SigV4 covers them, and again on every retry. Returns a
    function that removes the handler.

    The client then carries this user's token on every call until that
    function is called, in every thread. Use it only on a client that serves
    one user. For a client shared between concurrent requests, use
    `identity_headers`, which is scoped to the current thread or task.
    Raises `InvalidHeader` if the token or the session id has the wrong form.
    """
    identity = _validated_identity(user_token, session_id)
    handler_id = f"mesh-identity-fixed-headers-{uuid.uuid4()}"

    def set_identity_headers(request: AWSRequest, **_: Any) -> None:
        _set_headers(request, identity)

    events = client.meta.events
    events.register(INVOKE_AGENT_RUNTIME_BEFORE_SIGN, set_identity_headers, unique_id=handler_id)

    def remove() -> None:
        events.unregister(INVOKE_AGENT_RUNTIME_BEFORE_SIGN, unique_id=handler_id)

    return remove


@contextlib.contextmanager
def identity_headers(client: Any, *, user_token: str, session_id: str | None = None) -> Iterator[None]:
    """Within the block, send the user's identity headers on ``InvokeAgentRuntime`` calls of ``client``.

    The identity is held in a context variable, so concurrent threads or
    asyncio tasks sharing one client each send their own user's token.
    Calls outside any such block send no identity headers.
    Raises `InvalidHeader` if the token or the session id has the wrong form.
    """
    identity = _validated_identity(user_token, session_id)
    # Registering with the same unique_id again is a no-op in botocore, so
    # the handler is installed once per client however often this is used.
    client.meta.events.register(
        INVOKE_AGENT_RUNTIME_BEFORE_SIGN, _set_context_identity_headers, unique_id=_CONTEXT_HANDLER_ID
    )
    reset_token = _current_identity.set(identity)
    try:
        yield
    finally:
        _current_identity.reset(reset_token)


def _set_context_identity_headers(request: AWSRequest, **_: Any) -> None:
    identity = _current_identity.get()
    if identity is not None:
        _set_headers(request, identity)


def _validated_identity(user_token: str, session_id: str | None) -> _Identity:
    if not isinstance(user_token, str) or not user_token:
        raise InvalidHeader("user_token must be the user's access token, received an empty value")
    validate_user_token(user_token)
    if session_id is not None:
        validate_session_id(session_id)
    return _Identity(user_token=user_token, session_id=session_id)


def _set_headers(request: AWSRequest, identity: _Identity) -> None:
    # botocore's HTTPHeaders appends on assignment, so delete first (all
    # letter cases) to leave exactly one copy of each header.
    _replace_header(request, constants.USER_TOKEN_HEADER, identity.user_token)
    if identity.session_id is not None:
        _replace_header(request, constants.SESSION_ID_HEADER, identity.session_id)


def _replace_header(request: AWSRequest, name: str, value: str) -> None:
    if name in request.headers:
        del request.headers[name]
    request.headers[name] = value
