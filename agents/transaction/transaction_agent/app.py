# SPDX-License-Identifier: Apache-2.0
"""HTTP app of the Transaction agent: ``GET /ping`` and ``POST /invocations`` on AgentCore Runtime.

The app comes from `mesh_identity.agent_runtime.build_runtime_app`, which
passes every header line to the agent, so that a duplicated user-token
header is seen and rejected. The app runs offline in tests under uvicorn on a
loopback port.
"""

from __future__ import annotations

from collections.abc import Mapping

import boto3
from aws_lambda_powertools import Logger
from bedrock_agentcore.runtime import BedrockAgentCoreApp

from mesh_identity.agent_runtime import build_runtime_app, request_headers  # noqa: F401 - request_headers re-exported
from mesh_identity.tokens import verifier_from_env

from .gateway import GatewayClient
from .handler import TokenVerifier, ToolGateway, TransactionHandler
from .sessions import SessionBindings
from .settings import TransactionSettings


def build_app(
    *,
    verifier: TokenVerifier,
    gateway: ToolGateway,
    sessions: SessionBindings | None = None,
    logger: Logger | None = None,
) -> BedrockAgentCoreApp:
    """Build the runtime app from explicit dependencies (token verifier, Gateway client, session bindings)."""
    handler = TransactionHandler(verifier=verifier, gateway=gateway, sessions=sessions, logger=logger)
    return build_runtime_app(handler)


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
