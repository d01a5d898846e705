# SPDX-License-Identifier: Apache-2.0
"""Code that every AgentCore Runtime agent of the mesh shares: environment settings and the runtime app.

The agents validate their environment variables once at cold start and fail
with a `SettingsError` that names the variable to fix.

Each agent wraps its request handler in the ``BedrockAgentCoreApp`` of the
bedrock-agentcore SDK, a Starlette app that implements the runtime's service
contract (``/ping`` with the HealthyBusy status while work runs,
``/invocations`` run off the event loop). It is chosen over a hand-written
server because the SDK's request context also hands over the raw Starlette
request, from which `request_headers` reads every header line.

NOTE: this module imports the bedrock-agentcore SDK and Starlette only inside
`build_runtime_app`, because the Lambda functions ship ``mesh_identity``
without them. ``mesh_identity/__init__.py`` does not import this module.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from .constants import ENV_AGENT_HOST, ENV_AGENT_PORT

if TYPE_CHECKING:
    from bedrock_agentcore.runtime import BedrockAgentCoreApp, RequestContext

# AgentCore Runtime sends requests to port 8080 of the agent's microVM.
DEFAULT_AGENT_HOST: Final = "0.0.0.0"  # nosec B104: the runtime reaches the agent through its network interface
DEFAULT_AGENT_PORT: Final = 8080


class SettingsError(ValueError):
    """An environment variable of the agent is missing or invalid."""


def read_required(env: Mapping[str, str], name: str, meaning: str) -> str:
    """Return the stripped value of variable ``name``, or raise SettingsError saying to set it to ``meaning``."""
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set; set it to {meaning}")
    return value


def read_region(env: Mapping[str, str]) -> str:
    """Return ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, or raise SettingsError if neither is set."""
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise SettingsError("AWS_REGION is not set; AgentCore Runtime sets it, so set it for local runs")
    return region


def read_host(env: Mapping[str, str]) -> str:
    """Return the interface the agent's HTTP server binds to (``MESH_AGENT_HOST``, default 0.0.0.0)."""
    return env.get(ENV_AGENT_HOST) or DEFAULT_AGENT_HOST


def read_port(env: Mapping[str, str]) -> int:
    """Return the agent's TCP port (``MESH_AGENT_PORT``, default 8080), or raise SettingsError if it is invalid."""
    raw = env.get(ENV_AGENT_PORT, "").strip()
    if not raw:
        return DEFAULT_AGENT_PORT
    # str.isdigit alone would accept non-ASCII digits such as "٨٠" or "²".
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{ENV_AGENT_PORT} must be a TCP port between 1 and 65535; received {raw!r}")
    return int(raw)


def check_secure_url(url: str, *, variable: str, example: str | None = None) -> None:
    """Raise SettingsError unless ``url`` is HTTPS, or plain HTTP to a loopback host.

    Requests to the URL carry the user's token or the agent's signature, so
    they may travel unencrypted only inside this machine (the local mesh).
    The URL must also have a host and no credentials, query or fragment.
    ``variable`` names the setting in the error, and ``example`` (if given)
    shows a valid value.
    """
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        such_as = f", such as {example}" if example else ""
        raise SettingsError(
            f"{variable} must be an absolute URL without credentials, query or fragment{such_as}; received {url!r}"
        )

    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return
    raise SettingsError(f"{variable} must use https (http is accepted only for a loopback host); received {url!r}")


def is_loopback_host(hostname: str) -> bool:
    """Return whether ``hostname`` is ``localhost`` or a loopback IPv4 or IPv6 address."""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


class AgentReply(Protocol):
    """HTTP status and JSON body of an agent's reply."""

    @property
    def status(self) -> int: ...

    @property
    def body(self) -> Mapping[str, Any]: ...


class AgentHandler(Protocol):
    """Request handler of an agent. ``handle`` returns a reply for every request and should not raise."""

    def handle(self, payload: Any, headers: Sequence[tuple[str, str]]) -> AgentReply: ...


def request_headers(context: RequestContext | None) -> list[tuple[str, str]]:
    """Return every header of the request as (name, value) pairs, duplicates included.

    The headers come from the raw Starlette request and not from
    ``RequestContext.request_headers``, because that dict keeps one value per
    name and would hide a duplicated token header.
    """
    request = getattr(context, "request", None)
    if request is None:
        return []
    return list(request.headers.items())


def build_runtime_app(handler: AgentHandler) -> BedrockAgentCoreApp:
    """Build the runtime app that passes each ``/invocations`` request to ``handler``.

    The app sends the handler's reply as a JSON response with the reply's status.
    """
    from bedrock_agentcore.runtime import BedrockAgentCoreApp
    from starlette.responses import JSONResponse

    app = BedrockAgentCoreApp()

    @app.entrypoint
    def invoke(payload: Any, context: RequestContext) -> JSONResponse:
        reply = handler.handle(payload, request_headers(context))
        return JSONResponse(dict(reply.body), status_code=reply.status)

    return app
