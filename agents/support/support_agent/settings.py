# SPDX-License-Identifier: Apache-2.0
"""Settings of the Support agent, read from the environment once at cold start."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from mesh_identity import constants
from mesh_identity.agent_runtime import (
    DEFAULT_AGENT_HOST,
    DEFAULT_AGENT_PORT,
    SettingsError,
    check_secure_url,
    read_host,
    read_port,
    read_region,
    read_required,
)
from mesh_identity.constants import (
    ENV_AGENTCORE_ENDPOINT_URL,
    ENV_MEMORY_ID,
    ENV_MODEL_ID,
    ENV_PEER_RUNTIME_ARNS,
)

ENV_SUPPORT_TOOLS: Final = constants.ENV_SUPPORT_TOOLS
ENV_AGENT_HOST: Final = constants.ENV_AGENT_HOST
ENV_AGENT_PORT: Final = constants.ENV_AGENT_PORT

# Patterns of the bedrock-agentcore and bedrock-agentcore-control service models in botocore 1.44.
_MEMORY_ID_PATTERN: Final = re.compile(
    r"(arn:(aws|aws-cn|aws-us-gov):bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:memory/)?[a-zA-Z][a-zA-Z0-9-_]{0,99}-[a-zA-Z0-9]{10}"
)
_RUNTIME_ARN_PATTERN: Final = re.compile(
    r"arn:aws(-[^:]+)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:runtime/[a-zA-Z][a-zA-Z0-9_]{0,47}-[a-zA-Z0-9]{10}"
)
# Model ids and inference profile ids or ARNs as Converse accepts them.
_MODEL_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9:/._-]{1,2048}")
_PEER_NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class SupportSettings:
    """Validated configuration of one Support agent process."""

    memory_id: str
    model_id: str
    peer_runtime_arns: Mapping[str, str]
    region: str
    agentcore_endpoint_url: str | None = None
    tool_names: tuple[str, ...] | None = None
    host: str = DEFAULT_AGENT_HOST
    port: int = DEFAULT_AGENT_PORT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SupportSettings:
        """Read and validate the settings, raising SettingsError that names the variable to fix."""
        env = os.environ if environ is None else environ

        memory_id = read_required(env, ENV_MEMORY_ID, "the id of the AgentCore Memory that keeps the conversations")
        if not _MEMORY_ID_PATTERN.fullmatch(memory_id):
            raise SettingsError(f"{ENV_MEMORY_ID} must be an AgentCore Memory id or ARN; received {memory_id!r}")

        model_id = read_required(env, ENV_MODEL_ID, "the Bedrock model or inference profile id for Converse")
        if not _MODEL_ID_PATTERN.fullmatch(model_id):
            raise SettingsError(
                f"{ENV_MODEL_ID} must be a Bedrock model or inference profile id; received {model_id!r}"
            )

        region = read_region(env)

        return cls(
            memory_id=memory_id,
            model_id=model_id,
            peer_runtime_arns=parse_peer_runtime_arns(
                read_required(env, ENV_PEER_RUNTIME_ARNS, 'a JSON object such as {"transaction": "<runtime ARN>"}')
            ),
            region=region,
            agentcore_endpoint_url=_endpoint_url(env),
            tool_names=_tool_names(env),
            host=read_host(env),
            port=read_port(env),
        )


def parse_peer_runtime_arns(raw: str) -> Mapping[str, str]:
    """Parse the JSON object that maps each peer agent's name to its runtime ARN."""
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(
            f"{ENV_PEER_RUNTIME_ARNS} must be a JSON object such as "
            f'{{"transaction": "arn:aws:bedrock-agentcore:...:runtime/..."}}; it is not valid JSON ({error.msg})'
        ) from error
    if not isinstance(decoded, dict) or not decoded:
        raise SettingsError(f"{ENV_PEER_RUNTIME_ARNS} must be a non-empty JSON object of agent name to runtime ARN")

    arns: dict[str, str] = {}
    for name, arn in decoded.items():
        if not _PEER_NAME_PATTERN.fullmatch(name):
            raise SettingsError(
                f"{ENV_PEER_RUNTIME_ARNS} has an invalid agent name {name!r}; use lowercase letters, digits, - and _"
            )
        if not isinstance(arn, str) or not _RUNTIME_ARN_PATTERN.fullmatch(arn):
            raise SettingsError(
                f"{ENV_PEER_RUNTIME_ARNS} entry {name!r} must be an AgentCore runtime ARN; received {arn!r}"
            )
        arns[name] = arn
    return MappingProxyType(arns)


def _endpoint_url(env: Mapping[str, str]) -> str | None:
    """Return the data-plane endpoint override, which must be HTTPS or plain HTTP to a loopback host."""
    url = env.get(ENV_AGENTCORE_ENDPOINT_URL, "").strip()
    if not url:
        return None
    check_secure_url(url, variable=ENV_AGENTCORE_ENDPOINT_URL)
    return url


def _tool_names(env: Mapping[str, str]) -> tuple[str, ...] | None:
    raw = env.get(ENV_SUPPORT_TOOLS, "").strip()
    if not raw:
        return None
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise SettingsError(f"{ENV_SUPPORT_TOOLS} must list at least one tool name, separated by commas")
    return names
