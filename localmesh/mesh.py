"""The local mesh: every component of the request path started on loopback and wired as deployed.

`LocalMesh.start` brings the components up in this order: a Cognito-shaped
issuer, then moto with the seeded ledger table, the template's KMS keys and
the JWKS snapshot that the project's own ``jwks_snapshot`` code writes to
SSM. Then come the Lambda functions the Gateway calls, the Gateway stand-in,
the data-plane stand-in and the two agents. Every component gets the environment variables the template gives
it, resolved to local values. `stop` stops everything that started, in
reverse order, and also runs when `start` fails half-way.

The mesh also acts as each caller: the end user's front end (hop 1, bearer
token), any role of the template or an intruder's role (SigV4), so scenarios
and tests can send both honest and hostile requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from aws_lambda_powertools import Logger
from botocore.credentials import Credentials
from jwks_snapshot.config import ENV_ALLOW_LOOPBACK_HTTP, ENV_JWKS_PARAMETER_NAME, ENV_JWKS_URL, SnapshotConfig
from jwks_snapshot.handler import build_snapshotter
from jwks_snapshot.handler import handle as handle_snapshot_event
from jwks_snapshot.handler import logger as snapshot_logger
from mesh_identity import constants
from mesh_identity.constants import (
    AGENTCORE_SIGNING_NAME,
    AUTHORIZATION_HEADER,
    ENV_AGENTCORE_ENDPOINT_URL,
    ENV_ALLOWED_CLIENT_IDS,
    ENV_GATEWAY_TARGET_NAME,
    ENV_GATEWAY_URL,
    ENV_ISSUER,
    RUNTIME_SESSION_ID_HEADER,
    SCOPE_ACCOUNTS_READ,
    SCOPE_TRANSACTIONS_READ,
    SESSION_ID_HEADER,
    USER_TOKEN_HEADER,
)

from . import agents
from .audit_log import AuditLog, LogRouting
from .aws import MOTO_ACCOUNT_ID, LocalAws
from .dataplane import DataPlane, JwtAuthorizer
from .environment import LocalValues
from .functions import LocalFunction
from .gateway import Gateway
from .http import RawResponse, send_raw
from .ledger_data import ALICE_SUB, BOB_SUB
from .oidc import LocalOidcIssuer
from .sigv4 import CredentialRegistry, Principal, sign_headers
from .spans import SpanRecorder
from .template import FunctionSpec, MeshTemplate, TemplateError

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = MOTO_ACCOUNT_ID
# The demo users: the ledger's seeded customers, with every scope of the user pool.
USERS: Final = {"alice": ALICE_SUB, "bob": BOB_SUB}
USER_SCOPES: Final = (SCOPE_ACCOUNTS_READ, SCOPE_TRANSACTIONS_READ)
# Principals that are not mesh agents.
INTRUDER: Final = "intruder"
INTRUDER_ROLE_ARN: Final = f"arn:aws:iam::{ACCOUNT_ID}:role/MeshIntruder"
LEDGER_TOOL: Final = "ledger-tool"
INTERCEPTOR: Final = "interceptor"
# Loggers of third-party code that would write to the console while the mesh runs.
_CHATTY_LOGGERS: Final = ("bedrock_agentcore.app", "werkzeug", "uvicorn.error", "botocore.credentials")

AgentBuilder = Callable[..., Any]


def _local_suffix(logical_id: str) -> str:
    """A stable 10-character suffix, shaped like the ones AgentCore appends to resource ids."""
    return hashlib.sha256(logical_id.encode("utf-8")).hexdigest()[:10]


class LocalMesh:
    """Start, use and stop the whole mesh on loopback. Use it as a context manager.

    Parameters
    ----------
    template:
        The mesh stack's template (`load_mesh_template`).
    log_file:
        If set, every component's JSON log lines are written to this file.
    """

    def __init__(self, template: MeshTemplate, *, log_file: Path | None = None) -> None:
        self.template = template
        self.region = REGION
        self.registry = CredentialRegistry()
        self.audit_log = AuditLog()
        self.spans = SpanRecorder()
        # Variables the template does not give a component but its code needs; printed by the demo.
        self.template_gaps: list[str] = []
        self.issuer = LocalOidcIssuer()
        self.aws = LocalAws(region=REGION)
        self.scripted_model: Any = None
        self._routing = LogRouting(self.audit_log, log_file=log_file)
        self._cleanup = contextlib.ExitStack()
        self._values = LocalValues(region=REGION, account_id=ACCOUNT_ID)
        self._runtime_arns: dict[str, str] = {}
        self._dataplane: DataPlane | None = None
        self._gateway: Gateway | None = None
        self._apps: dict[str, agents.ServedApp] = {}

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> LocalMesh:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start every component; if one fails, stop the ones already started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every component that started, newest first. Safe to call twice."""
        self._cleanup.close()

    def _start(self) -> None:
        self._routing.silence(_CHATTY_LOGGERS)
        self._cleanup.callback(self._routing.release)
        self.issuer.start()
        self._cleanup.callback(self.issuer.stop)
        self.aws.start()
        self._cleanup.callback(self.aws.stop)

        self._issue_principals()
        self._define_local_values()
        self._create_aws_resources()

        functions = self._start_functions()
        self._start_gateway(functions)
        self._start_dataplane()
        self._start_agents()

    def _issue_principals(self) -> None:
        for agent in sorted(self.template.runtimes):
            role = self.template.role_of_agent(agent)
            self.registry.issue(agent, role_arn=self._role_arn(role), role_logical_id=role)
        for name, spec in self._functions_with_principals():
            self.registry.issue(
                name, role_arn=self._role_arn(spec.role_logical_id), role_logical_id=spec.role_logical_id
            )
        self.registry.issue(INTRUDER, role_arn=INTRUDER_ROLE_ARN, role_logical_id=None)

    def _functions_with_principals(self) -> list[tuple[str, FunctionSpec]]:
        """The Gateway's functions, each with the principal name of its execution role."""
        gateway = self.template.gateway
        functions = [
            (LEDGER_TOOL if index == 0 else f"target-function-{index}", target.function)
            for index, target in enumerate(gateway.targets)
        ]
        if gateway.interceptor is not None:
            functions.append((INTERCEPTOR, gateway.interceptor))
        return functions

    def _role_arn(self, logical_id: str) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}"

    def _define_local_values(self) -> None:
        values = self._values
        for logical_id in self.template.resources_of_type("AWS::IAM::Role"):
            values.attributes[(logical_id, "Arn")] = self._role_arn(logical_id)
        for agent, runtime in self.template.runtimes.items():
            runtime_id = f"{runtime.runtime_name}-{_local_suffix(runtime.logical_id)}"
            arn = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:runtime/{runtime_id}"
            self._runtime_arns[agent] = arn
            values.attributes[(runtime.logical_id, "AgentRuntimeArn")] = arn
        for logical_id, resource in self.template.resources_of_type("AWS::BedrockAgentCore::Memory").items():
            name = resource.get("Properties", {}).get("Name") or logical_id
            values.attributes[(logical_id, "MemoryId")] = f"{name}-{_local_suffix(logical_id)}"
        for logical_id, resource in self.template.resources_of_type("AWS::DynamoDB::Table").items():
            values.references[logical_id] = resource.get("Properties", {}).get("TableName") or f"{logical_id}-local"
        values.overrides.update({ENV_ISSUER: self.issuer.issuer, ENV_ALLOWED_CLIENT_IDS: self.issuer.client_id})

    def _create_aws_resources(self) -> None:
        # Setup calls go to moto only, which accepts any credentials. No stand-in accepts these.
        setup = Credentials("ASIALOCALMESHSETUP00", secrets.token_urlsafe(30))
        tables = list(self.template.resources_of_type("AWS::DynamoDB::Table"))
        if len(tables) != 1:
            raise TemplateError(f"the local mesh seeds exactly one ledger table; the template has {len(tables)}")
        self.aws.create_ledger(self._values.references[tables[0]], setup)
        for logical_id, properties in self.template.kms_keys().items():
            arn = self.aws.create_kms_key(properties, setup)
            self._values.attributes[(logical_id, "Arn")] = arn
            self._values.references[logical_id] = arn.rpartition("/")[2]
        self._write_jwks_snapshot(setup)

    def _write_jwks_snapshot(self, credentials: Credentials) -> None:
        """Copy the issuer's JWKS into SSM with the project's jwks_snapshot code, as the deploy-time step does."""
        names = {
            str(runtime.environment.get(constants.ENV_JWKS_PARAMETER_NAME))
            for runtime in self.template.runtimes.values()
            if isinstance(runtime.environment.get(constants.ENV_JWKS_PARAMETER_NAME), str)
        }
        self._routing.route([snapshot_logger.name])
        for name in sorted(names):
            config = SnapshotConfig.from_environment(
                {ENV_JWKS_URL: self.issuer.jwks_url, ENV_JWKS_PARAMETER_NAME: name, ENV_ALLOW_LOOPBACK_HTTP: "true"}
            )
            snapshotter = build_snapshotter(config, ssm_client=self.aws.client("ssm", credentials))
            handle_snapshot_event({"RequestType": "Create", "ResourceProperties": {}}, snapshotter)

    def _start_functions(self) -> dict[str, LocalFunction]:
        functions: dict[str, LocalFunction] = {}
        for principal_name, spec in self._functions_with_principals():
            principal = self.registry.by_name(principal_name)
            name = f"{spec.logical_id}-local"
            environment = {
                **self._values.environment(spec.environment, owner=f"function {spec.logical_id}"),
                **_lambda_runtime_variables(REGION, principal.credentials),
                # boto3 sends every service's calls to this endpoint (botocore's
                # AWS_ENDPOINT_URL setting), so no call of a function can reach AWS.
                "AWS_ENDPOINT_URL": self.aws.url,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
            function = LocalFunction(
                spec, name=name, arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}", environment=environment
            )
            function.cold_start()
            self._cleanup.callback(function.retire)
            self._routing.route(function.loggers())
            functions[spec.logical_id] = function
        # The interceptor's handler gives the identity library's logger its own format.
        self._routing.route(["mesh_identity"])
        return functions

    def _start_gateway(self, functions: Mapping[str, LocalFunction]) -> None:
        spec = self.template.gateway
        gateway_id = f"{spec.name}-{_local_suffix(spec.logical_id)}".lower()
        logger = self._component_logger("gateway-standin")
        self._gateway = Gateway(
            self.template,
            self.registry,
            functions,
            gateway_id=gateway_id,
            region=REGION,
            logger=logger,
            spans=self.spans,
        )
        self._gateway.start()
        self._cleanup.callback(self._gateway.stop)
        self._values.attributes[(spec.logical_id, "GatewayUrl")] = self._gateway.url

    def _start_dataplane(self) -> None:
        dataplane = DataPlane(
            self.template,
            self.registry,
            region=REGION,
            logger=self._component_logger("runtime-standin"),
            spans=self.spans,
        )
        for agent, runtime in self.template.runtimes.items():
            authorizer = None
            if runtime.jwt_authorizer is not None:
                # The discovery URL and the allowed clients come from the Identity
                # stack; locally they are the issuer's. The scopes are the template's.
                authorizer = JwtAuthorizer(
                    discovery_url=self.issuer.discovery_url,
                    allowed_clients=[self.issuer.client_id],
                    allowed_scopes=runtime.jwt_authorizer.allowed_scopes,
                )
            dataplane.add_runtime(runtime, arn=self._runtime_arns[agent], authorizer=authorizer)
        dataplane.start()
        self._cleanup.callback(dataplane.stop)
        self._dataplane = dataplane

    def _start_agents(self) -> None:
        # The peer is started first, so its URL is known before its caller takes traffic.
        for agent in sorted(self.template.runtimes, key=lambda name: name != "transaction"):
            environment = self._agent_environment(agent)
            logger = self._component_logger(environment.get("POWERTOOLS_SERVICE_NAME") or f"{agent}-agent")
            principal = self.registry.by_name(agent)
            if agent == "support":
                app, self.scripted_model = agents.build_support(
                    environment, principal=principal, moto_url=self.aws.url, logger=logger
                )
            elif agent == "transaction":
                app = agents.build_transaction(environment, principal=principal, moto_url=self.aws.url, logger=logger)
            else:
                raise TemplateError(
                    f"the local mesh runs the support and transaction agents; the template also has {agent!r}"
                )
            served = agents.ServedApp(f"agent-{agent}", app)
            served.start()
            self._cleanup.callback(served.stop)
            self._apps[agent] = served
            assert self._dataplane is not None
            self._dataplane.set_agent_url(self._runtime_arns[agent], served.base_url)

    def _agent_environment(self, agent: str) -> dict[str, str]:
        runtime = self.template.runtimes[agent]
        environment = self._values.environment(runtime.environment, owner=f"runtime {runtime.logical_id}")
        # AgentCore Runtime sets the region; the endpoint override exists for the local mesh.
        assert self._dataplane is not None
        environment.update(
            {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, ENV_AGENTCORE_ENDPOINT_URL: self._dataplane.base_url}
        )
        if (
            ENV_GATEWAY_URL in environment
            and ENV_GATEWAY_TARGET_NAME not in environment
            and self.template.gateway.targets
        ):
            target = self.template.gateway.targets[0].name
            environment[ENV_GATEWAY_TARGET_NAME] = target
            self.template_gaps.append(
                f"runtime {runtime.logical_id} has no {ENV_GATEWAY_TARGET_NAME}; "
                f"the local mesh sets it to {target!r}, the Name of the Gateway's target"
            )
        return environment

    def _component_logger(self, service: str) -> Logger:
        logger = Logger(service=service)
        self._routing.route([logger.name])
        return logger

    # -- identities ----------------------------------------------------------

    def principal(self, name: str) -> Principal:
        """The principal (role and credentials) named ``name``: an agent's name, ``ledger-tool`` or ``intruder``."""
        return self.registry.by_name(name)

    def runtime_arn(self, agent: str) -> str:
        """The local ARN of the agent's runtime."""
        return self._runtime_arns[agent]

    def user_token(self, user: str, **claims: Any) -> str:
        """Mint an access token for ``alice`` or ``bob`` with every scope; ``claims`` go to `mint_access_token`."""
        options: dict[str, Any] = {"username": user, "scopes": USER_SCOPES, **claims}
        return self.issuer.mint_access_token(USERS[user], **options)

    @staticmethod
    def new_session_id(label: str = "localmesh") -> str:
        """A fresh runtime session id (at least 33 characters, valid for Memory too)."""
        return f"{label}-{uuid.uuid4().hex}"

    @property
    def dataplane_url(self) -> str:
        """The data-plane stand-in's endpoint URL."""
        assert self._dataplane is not None, "the mesh is not running"
        return self._dataplane.base_url

    @property
    def gateway_url(self) -> str:
        """The Gateway stand-in's MCP URL."""
        assert self._gateway is not None, "the mesh is not running"
        return self._gateway.url

    def agent_url(self, agent: str) -> str:
        """The agent app's own URL, which only the data plane should call."""
        return self._apps[agent].base_url

    # -- callers ---------------------------------------------------------------

    def ask_support(
        self,
        token: str | None,
        prompt: str,
        *,
        session_id: str | None,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> RawResponse:
        """Hop 1: the front end invokes the Support runtime with the user's bearer token over HTTP."""
        headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if token is not None:
            headers.append((AUTHORIZATION_HEADER, f"Bearer {token}"))
        if session_id is not None:
            headers.append((RUNTIME_SESSION_ID_HEADER, session_id))
        headers += list(extra_headers)
        assert self._dataplane is not None, "the mesh is not running"
        url = self._dataplane.invocation_url(self.runtime_arn("support"))
        return send_raw("POST", url, headers=headers, body=json.dumps({"prompt": prompt}).encode("utf-8"))

    def invoke_runtime(
        self,
        agent: str,
        *,
        principal: str,
        payload: Mapping[str, Any],
        user_token: str | None,
        session_id: str | None,
        extra_headers: Sequence[tuple[str, str]] = (),
        signed_at: datetime | None = None,
        tamper: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None,
    ) -> RawResponse:
        """Hop 2 as any principal: a SigV4-signed ``InvokeAgentRuntime`` request, sent raw.

        ``tamper`` may change the header lines after signing, as an attacker
        in the path would.
        """
        headers: list[tuple[str, str]] = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if session_id is not None:
            headers.append((RUNTIME_SESSION_ID_HEADER, session_id))
        if user_token is not None:
            headers.append((USER_TOKEN_HEADER, user_token))
        headers += list(extra_headers)
        assert self._dataplane is not None, "the mesh is not running"
        url = self._dataplane.invocation_url(self.runtime_arn(agent))
        return self._send_signed(url, headers, json.dumps(dict(payload)).encode("utf-8"), principal, signed_at, tamper)

    def call_gateway(
        self,
        *,
        principal: str,
        message: Mapping[str, Any],
        user_token: str | None,
        session_id: str | None,
        extra_headers: Sequence[tuple[str, str]] = (),
        signed_at: datetime | None = None,
        tamper: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None,
    ) -> RawResponse:
        """Hop 3 as any principal: a SigV4-signed MCP JSON-RPC request to the Gateway."""
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ]
        if user_token is not None:
            headers.append((USER_TOKEN_HEADER, user_token))
        if session_id is not None:
            headers.append((SESSION_ID_HEADER, session_id))
        headers += list(extra_headers)
        return self._send_signed(
            self.gateway_url, headers, json.dumps(dict(message)).encode("utf-8"), principal, signed_at, tamper
        )

    def ledger_tool_name(self, tool: str) -> str:
        """The Gateway's name for a tool of the ledger target, ``<target>___<tool>``."""
        return f"{self.template.gateway.targets[0].name}___{tool}"

    def _send_signed(
        self,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        principal: str,
        signed_at: datetime | None,
        tamper: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None,
    ) -> RawResponse:
        credentials = self.principal(principal).credentials
        signed = sign_headers(
            "POST", url, headers=headers, body=body, credentials=credentials, region=REGION,
            service=AGENTCORE_SIGNING_NAME, signed_at=signed_at,
        )  # fmt: skip
        if tamper is not None:
            signed = tamper(signed)
        return send_raw("POST", url, headers=signed, body=body)


def _lambda_runtime_variables(region: str, credentials: Credentials) -> dict[str, str]:
    """The variables Lambda sets in every execution environment: region and the role's credentials."""
    variables = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
    }
    if credentials.token:
        variables["AWS_SESSION_TOKEN"] = credentials.token
    return variables


def replace_header(name: str, value: str) -> Callable[[list[tuple[str, str]]], list[tuple[str, str]]]:
    """A `tamper` function that replaces the value of header ``name`` after signing."""

    def tamper(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(header, value if header.lower() == name.lower() else original) for header, original in headers]

    return tamper


def without_headers(names: Iterable[str]) -> Callable[[list[tuple[str, str]]], list[tuple[str, str]]]:
    """A `tamper` function that removes headers after signing."""
    dropped = {name.lower() for name in names}

    def tamper(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(header, value) for header, value in headers if header.lower() not in dropped]

    return tamper
