# SPDX-License-Identifier: Apache-2.0
"""Settings of the Transaction agent, read from the environment once at cold start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
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
from mesh_identity.constants import ENV_GATEWAY_URL

ENV_GATEWAY_TARGET_NAME: Final = constants.ENV_GATEWAY_TARGET_NAME
ENV_GATEWAY_TIMEOUT_SECONDS: Final = constants.ENV_GATEWAY_TIMEOUT_SECONDS
ENV_AGENT_HOST: Final = constants.ENV_AGENT_HOST
ENV_AGENT_PORT: Final = constants.ENV_AGENT_PORT

DEFAULT_GATEWAY_TIMEOUT_SECONDS: Final = 10.0
MAX_GATEWAY_TIMEOUT_SECONDS: Final = 60.0

# The pattern of CreateGatewayTarget's name in the bedrock-agentcore-control model of botocore 1.44:
# letters and digits, each optionally followed by one hyphen.
_TARGET_NAME_PATTERN: Final = re.compile(r"(?:[0-9A-Za-z]-?){1,100}")


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

        gateway_url = read_required(
            env, ENV_GATEWAY_URL, "the mesh Gateway's MCP endpoint, https://<gateway host>/mcp"
        )
        validate_gateway_url(gateway_url)

        target_name = read_required(
            env, ENV_GATEWAY_TARGET_NAME, "the name of the Gateway target that serves the ledger tools"
        )
        if not _TARGET_NAME_PATTERN.fullmatch(target_name):
            raise SettingsError(
                f"{ENV_GATEWAY_TARGET_NAME} must be a Gateway target name: letters and digits, each "
                f"optionally followed by one hyphen (at most 100 of them); received {target_name!r}"
            )

        region = read_region(env)

        timeout = _float_in_range(
            env, ENV_GATEWAY_TIMEOUT_SECONDS, DEFAULT_GATEWAY_TIMEOUT_SECONDS, 0.1, MAX_GATEWAY_TIMEOUT_SECONDS
        )
        host = read_host(env)
        port = read_port(env)

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
    check_secure_url(
        url,
        variable=ENV_GATEWAY_URL,
        example="https://<gateway id>.gateway.bedrock-agentcore.<region>.amazonaws.com/mcp",
    )


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
