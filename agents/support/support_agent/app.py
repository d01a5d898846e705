# SPDX-License-Identifier: Apache-2.0
"""HTTP app of the Support agent: ``GET /ping`` and ``POST /invocations`` on AgentCore Runtime.

The app comes from `mesh_identity.agent_runtime.build_runtime_app`, which
passes every header line to the agent, so that a duplicated Authorization
header is seen and rejected. The app runs offline in tests under uvicorn on a
loopback port.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from botocore.config import Config

from mesh_identity.agent_runtime import build_runtime_app, request_headers  # noqa: F401 - request_headers re-exported
from mesh_identity.tokens import verifier_from_env

from .conversation import SupportAgent, TokenVerifier
from .memory import ConversationMemory
from .model import BedrockConverseModel, Model
from .peers import PeerAgentClient
from .settings import SupportSettings
from .tools import SEED_TOOLS, MeshTool, ToolCatalog

# Client settings. AgentCore calls (Memory, peer agents) should complete within
# seconds, and a model turn can take much longer. "standard" retry mode retries
# throttling and transient errors with backoff.
AGENTCORE_CLIENT_CONFIG: Final = Config(
    connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3}
)
BEDROCK_CLIENT_CONFIG: Final = Config(
    connect_timeout=5, read_timeout=120, retries={"mode": "standard", "max_attempts": 3}
)


def build_app(
    *,
    verifier: TokenVerifier,
    agentcore_client: Any,
    model: Model,
    memory_id: str,
    peer_runtime_arns: Mapping[str, str],
    tool_names: Iterable[str] | None = None,
    available_tools: Iterable[MeshTool] = SEED_TOOLS,
    memory_client: Any | None = None,
    logger: Logger | None = None,
) -> BedrockAgentCoreApp:
    """Build the runtime app from explicit dependencies.

    ``agentcore_client`` is a boto3 ``bedrock-agentcore`` client; it calls the
    peer agents and, unless ``memory_client`` is given, AgentCore Memory.
    ``tool_names`` picks the offered tools from ``available_tools`` (all when
    None). Raises ToolConfigurationError if a tool is unknown or its peer has
    no runtime ARN.
    """
    tools = ToolCatalog.select(
        None if tool_names is None else list(tool_names), peer_runtime_arns.keys(), available_tools
    )
    agent = SupportAgent(
        verifier=verifier,
        memory=ConversationMemory(memory_client or agentcore_client, memory_id),
        model=model,
        peers=PeerAgentClient(agentcore_client, peer_runtime_arns),
        tools=tools,
        logger=logger,
    )
    return build_app_for_agent(agent)


def build_app_for_agent(agent: SupportAgent) -> BedrockAgentCoreApp:
    """Wrap a ready SupportAgent in the runtime app."""
    return build_runtime_app(agent)


def build_app_from_environment(environ: Mapping[str, str] | None = None) -> tuple[BedrockAgentCoreApp, SupportSettings]:
    """Build the app from the environment variables and the default boto3 credential chain.

    Raises SettingsError naming the variable to fix, or the token verifier's
    configuration error, so a misconfigured runtime fails at cold start.
    """
    settings = SupportSettings.from_environment(environ)

    # The default chain resolves the runtime's execution role; the agent uses no other credentials.
    session = boto3.session.Session(region_name=settings.region)
    agentcore_client = session.client(
        "bedrock-agentcore", endpoint_url=settings.agentcore_endpoint_url, config=AGENTCORE_CLIENT_CONFIG
    )
    model = BedrockConverseModel(session.client("bedrock-runtime", config=BEDROCK_CLIENT_CONFIG), settings.model_id)

    app = build_app(
        verifier=verifier_from_env() if environ is None else verifier_from_env(environ),
        agentcore_client=agentcore_client,
        model=model,
        memory_id=settings.memory_id,
        peer_runtime_arns=settings.peer_runtime_arns,
        tool_names=settings.tool_names,
    )
    return app, settings
