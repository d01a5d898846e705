"""The two agents' own runtime apps, built from their template environment and served on loopback.

Each agent is built the way its ``main.py`` builds it on AgentCore Runtime:
its settings class validates the environment (as at a cold start), the token
verifier comes from `verifier_from_env`, and the app is the agent's
``build_app``. Three dependencies differ, and only in where they point:

- AWS clients sign with the credentials the local mesh issued for the
  agent's role and talk to the local stand-ins (data plane, Gateway) or moto
  (SSM for the JWKS snapshot, AgentCore Memory events);
- the Support agent's model is the SCRIPTED MODEL (`keyword_script`), not
  Bedrock: it calls ``get_balance`` when the question mentions a balance and
  repeats the tool's result;
- each app gets a Powertools logger whose audit records the mesh captures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import boto3
import uvicorn
from aws_lambda_powertools import Logger
from mesh_identity.tokens import verifier_from_env
from support_agent.app import AGENTCORE_CLIENT_CONFIG
from support_agent.app import build_app as build_support_app
from support_agent.model import ScriptedModel, keyword_script
from support_agent.settings import SupportSettings
from transaction_agent.app import build_app as build_transaction_app
from transaction_agent.gateway import GatewayClient
from transaction_agent.settings import TransactionSettings

from .http import LOOPBACK
from .sigv4 import Principal

SCRIPTED_MODEL_NOTICE: Final = "scripted model (keyword_script): no Bedrock call, answers are canned"
SERVER_START_TIMEOUT_SECONDS: Final = 10.0


class ServedApp:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port) in its own thread."""

    def __init__(self, name: str, app: Any) -> None:
        self.name = name
        # log_config=None keeps uvicorn from running logging.config.dictConfig,
        # which closes every handler of the process, the mesh's log file included.
        config = uvicorn.Config(
            app, host=LOOPBACK, port=0, log_config=None, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        thread.start()
        self._thread = thread
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"{self.name} did not start on {LOOPBACK} within {SERVER_START_TIMEOUT_SECONDS} s")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread. Safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT_SECONDS)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running app."""
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{LOOPBACK}:{port}"


def _session(principal: Principal, region: str) -> boto3.session.Session:
    credentials = principal.credentials
    return boto3.session.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        region_name=region,
    )


def build_support(
    environment: Mapping[str, str], *, principal: Principal, moto_url: str, logger: Logger
) -> tuple[Any, ScriptedModel]:
    """Build the Support agent's app from its environment; return the app and its scripted model.

    Raises the agent's SettingsError or the verifier's ConfigurationError,
    naming the variable, when the environment would fail a cold start.
    """
    settings = SupportSettings.from_environment(environment)
    session = _session(principal, settings.region)
    agentcore = session.client(
        "bedrock-agentcore", endpoint_url=settings.agentcore_endpoint_url, config=AGENTCORE_CLIENT_CONFIG
    )
    # On AWS, Memory is served by the same data-plane endpoint as
    # InvokeAgentRuntime; locally moto serves it, so it gets its own client.
    memory = session.client("bedrock-agentcore", endpoint_url=moto_url, config=AGENTCORE_CLIENT_CONFIG)
    verifier = verifier_from_env(environment, ssm_client=session.client("ssm", endpoint_url=moto_url))
    model = ScriptedModel(keyword_script)
    app = build_support_app(
        verifier=verifier,
        agentcore_client=agentcore,
        model=model,
        memory_id=settings.memory_id,
        peer_runtime_arns=settings.peer_runtime_arns,
        tool_names=settings.tool_names,
        memory_client=memory,
        logger=logger,
    )
    return app, model


def build_transaction(environment: Mapping[str, str], *, principal: Principal, moto_url: str, logger: Logger) -> Any:
    """Build the Transaction agent's app from its environment.

    Raises the agent's SettingsError or the verifier's ConfigurationError,
    naming the variable, when the environment would fail a cold start.
    """
    settings = TransactionSettings.from_environment(environment)
    session = _session(principal, settings.region)
    gateway = GatewayClient(
        url=settings.gateway_url,
        target_name=settings.gateway_target_name,
        region=settings.region,
        credentials_provider=lambda: principal.credentials,
        timeout_seconds=settings.gateway_timeout_seconds,
    )
    verifier = verifier_from_env(environment, ssm_client=session.client("ssm", endpoint_url=moto_url))
    return build_transaction_app(verifier=verifier, gateway=gateway, logger=logger)
