# SPDX-License-Identifier: Apache-2.0
"""HTTP app of the Transaction agent: ``GET /ping`` and ``POST /invocations`` on AgentCore Runtime.

The app is the ``BedrockAgentCoreApp`` of the bedrock-agentcore SDK, a
Starlette app that implements the runtime's service contract (``/ping`` with
the HealthyBusy status while work runs, ``/invocations`` run off the event
loop). It is chosen over a hand-written server because the SDK's request
context also hands over the raw Starlette request. The agent reads headers from
that request and not from ``RequestContext.request_headers``, because that
dict keeps one value per name and would hide a duplicated user-token header.
The app runs offline in tests under uvicorn on a loopback port.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from bedrock_agentcore.runtime import BedrockAgentCoreApp, RequestContext
from starlette.responses import JSONResponse

from mesh_identity.tokens import verifier_from_env

from .gateway import GatewayClient
from .handler import TokenVerifier, ToolGateway, TransactionHandler
from .sessions import SessionBindings
from .settings import TransactionSettings


def request_headers(context: RequestContext | None) -> list[tuple[str, str]]:
    """Return every header of the request as (name, value) pairs, duplicates included."""
    request = getattr(context, "request", None)
    if request is None:
        return []
    return list(request.headers.items())


def build_app(
    *,
    verifier: TokenVerifier,
    gateway: ToolGateway,
    sessions: SessionBindings | None = None,
    logger: Logger | None = None,
) -> BedrockAgentCoreApp:
    """Build the runtime app from explicit dependencies (token verifier, Gateway client, session bindings)."""
    handler = TransactionHandler(verifier=verifier, gateway=gateway, sessions=sessions, logger=logger)
    app = BedrockAgentCoreApp()

    @app.entrypoint
    def invoke(payload: Any, context: RequestContext) -> JSONResponse:
        reply = handler.handle(payload, request_headers(context))
        return JSONResponse(dict(reply.body), status_code=reply.status)

    return app


def build_app_from_environment(
    environ: Mapping[str, str] | None = None,
) -> tuple[BedrockAgentCoreApp, TransactionSettings]:
    """Build the app from the environment variables and the default boto3 credential chain.

    Raises SettingsError naming the variable to fix, or the token verifier's
    configuration error, so a misconfigured runtime fails at cold start.
    """
    settings = TransactionSettings.from_environment(environ)

    # The default chain resolves the runtime's execution role; the agent uses no other credentials.
    session = boto3.session.Session(region_name=settings.region)
    gateway = GatewayClient(
        url=settings.gateway_url,
        target_name=settings.gateway_target_name,
        region=settings.region,
        credentials_provider=session.get_credentials,
        timeout_seconds=settings.gateway_timeout_seconds,
    )
    verifier = verifier_from_env() if environ is None else verifier_from_env(environ)
    return build_app(verifier=verifier, gateway=gateway), settings
