# SPDX-License-Identifier: Apache-2.0
"""Settings of the Transaction agent, read from the environment once at cold start."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from mesh_identity import constants
from mesh_identity.constants import ENV_GATEWAY_URL

ENV_GATEWAY_TARGET_NAME: Final = constants.ENV_GATEWAY_TARGET_NAME
ENV_GATEWAY_TIMEOUT_SECONDS: Final = constants.ENV_GATEWAY_TIMEOUT_SECONDS
ENV_AGENT_HOST: Final = constants.ENV_AGENT_HOST
ENV_AGENT_PORT: Final = constants.ENV_AGENT_PORT

# AgentCore Runtime sends requests to port 8080 of the agent's microVM.
DEFAULT_AGENT_HOST: Final = "0.0.0.0"  # nosec B104: the runtime reaches the agent through its network interface
DEFAULT_AGENT_PORT: Final = 8080
DEFAULT_GATEWAY_TIMEOUT_SECONDS: Final = 10.0
MAX_GATEWAY_TIMEOUT_SECONDS: Final = 60.0

# The pattern of CreateGatewayTarget's name in the bedrock-agentcore-control model of botocore 1.44:
# letters and digits, each optionally followed by one hyphen.
_TARGET_NAME_PATTERN: Final = re.compile(r"(?:[0-9A-Za-z]-?){1,100}")


class SettingsError(ValueError):
    """An environment variable of the agent is missing or invalid."""


@dataclass(frozen=True, slots=True)
class TransactionSettings:
    """Validated configuration of one Transaction agent process."""

    gateway_url: str
    gateway_target_name: str
    region: str
    gateway_timeout_seconds: float = DEFAULT_GATEWAY_TIMEOUT_SECONDS
    host: str = DEFAULT_AGENT_HOST
    port: int = DEFAULT_AGENT_PORT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TransactionSettings:
        """Read and validate the settings, raising SettingsError that names the variable to fix."""
        env = os.environ if environ is None else environ

        gateway_url = _required(env, ENV_GATEWAY_URL, "the mesh Gateway's MCP endpoint, https://<gateway host>/mcp")
        validate_gateway_url(gateway_url)

        target_name = _required(
            env, ENV_GATEWAY_TARGET_NAME, "the name of the Gateway target that serves the ledger tools"
        )
        if not _TARGET_NAME_PATTERN.fullmatch(target_name):
            raise SettingsError(
                f"{ENV_GATEWAY_TARGET_NAME} must be a Gateway target name: letters and digits, each "
                f"optionally followed by one hyphen (at most 100 of them); received {target_name!r}"
            )

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            raise SettingsError("AWS_REGION is not set; AgentCore Runtime sets it, so set it for local runs")

        timeout = _float_in_range(
            env, ENV_GATEWAY_TIMEOUT_SECONDS, DEFAULT_GATEWAY_TIMEOUT_SECONDS, 0.1, MAX_GATEWAY_TIMEOUT_SECONDS
        )
        host = env.get(ENV_AGENT_HOST) or DEFAULT_AGENT_HOST
        port = _port(env)

        return cls(
            gateway_url=gateway_url,
            gateway_target_name=target_name,
            region=region,
            gateway_timeout_seconds=timeout,
            host=host,
            port=port,
        )


def validate_gateway_url(url: str) -> None:
    """Raise SettingsError unless the URL is HTTPS, or plain HTTP to a loopback address.

    The request carries the user's token, so it may travel unencrypted only
    inside this machine (the local mesh).
    """
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise SettingsError(
            f"{ENV_GATEWAY_URL} must be an absolute URL without credentials, query or fragment, "
            f"such as https://<gateway id>.gateway.bedrock-agentcore.<region>.amazonaws.com/mcp; received {url!r}"
        )
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    raise SettingsError(
        f"{ENV_GATEWAY_URL} must use https (http is accepted only for a loopback host); received {url!r}"
    )


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _required(env: Mapping[str, str], name: str, meaning: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set; set it to {meaning}")
    return value


def _float_in_range(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number of seconds; received {raw!r}") from error
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum} seconds; received {raw!r}")
    return value


def _port(env: Mapping[str, str]) -> int:
    raw = env.get(ENV_AGENT_PORT, "").strip()
    if not raw:
        return DEFAULT_AGENT_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{ENV_AGENT_PORT} must be a TCP port between 1 and 65535; received {raw!r}")
    return int(raw)
