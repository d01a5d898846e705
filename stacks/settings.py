"""Typed settings of the mesh, read once from CDK context (cdk.json or ``-c key=value``)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_logs as logs

# The audit baseline for this project: keep logs at least one year.
MIN_RETENTION_DAYS = 365
# CDK names the retention periods of a year or more.
_RETENTION_NAMES = {
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
    1096: "THREE_YEARS", 1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS", 3288: "NINE_YEARS", 3653: "TEN_YEARS",
}  # fmt: skip


def retention(days: int) -> logs.RetentionDays:
    """Return the CDK retention value for ``days``, which `MeshSettings` has validated."""
    return getattr(logs.RetentionDays, _RETENTION_NAMES[days])


ACCOUNT_PATTERN = re.compile(r"\d{12}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")
ZONE_PATTERN = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]")
PREFIX_LIST_PATTERN = re.compile(r"pl-[0-9a-f]{8,17}")
# Used in stack names and resource names such as "<prefix>_support", which allow 48 characters.
STACK_PREFIX_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9]{0,19}")
# A Bedrock model or inference profile id, never a wildcard.
MODEL_ID_PATTERN = re.compile(r"[a-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]+)?")
# Private ranges a VPC may use (RFC 1918).
PRIVATE_RANGES = tuple(ipaddress.ip_network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


class SettingsError(ValueError):
    """A context value is missing or invalid; the message names the key and the fix."""


@dataclass(frozen=True)
class MeshSettings:
    """Everything a deployment may change without editing code."""

    mesh_file: str = "mesh.toml"
    stack_prefix: str = "AgentMesh"
    availability_zones: int = 2
    # Zone names for a stack with a known region; empty means "<region>a", "<region>b", ...
    availability_zone_names: tuple[str, ...] = ()
    vpc_cidr: str = "10.40.0.0/16"
    control_plane_endpoint: bool = True
    # Callers inside the VPC that invoke a runtime with an OAuth bearer token instead of SigV4.
    bearer_callers_in_vpc: bool = False
    flow_log_retention_days: int = 365
    log_retention_days: int = 365
    memory_event_expiry_days: int = 30
    jwks_refresh_minutes: int = 60
    access_token_minutes: int = 15
    front_end_callback_urls: tuple[str, ...] = ("https://bank.example.com/auth/callback",)
    front_end_logout_urls: tuple[str, ...] = ("https://bank.example.com/",)
    model_id: str = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    prefix_list_ids: Mapping[str, str] = field(default_factory=dict)
    # Any value that changes forces the JWKS copy to run again on deploy.
    deploy_nonce: str = ""

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> MeshSettings:
        """Read ``mesh:*`` context values through ``get`` (for example ``app.node.try_get_context``)."""
        defaults = cls()
        settings = cls(
            mesh_file=_string(get, "mesh:file", defaults.mesh_file),
            stack_prefix=_matching(get, "mesh:stackPrefix", defaults.stack_prefix, STACK_PREFIX_PATTERN, "letters and digits, at most 20, starting with a letter"),
            availability_zones=_integer(get, "mesh:availabilityZones", defaults.availability_zones, 2, 6),
            availability_zone_names=_zone_names(get, "mesh:availabilityZoneNames"),
            vpc_cidr=_string(get, "mesh:vpcCidr", defaults.vpc_cidr),
            control_plane_endpoint=_boolean(get, "mesh:controlPlaneEndpoint", defaults.control_plane_endpoint),
            bearer_callers_in_vpc=_boolean(get, "mesh:bearerCallersInVpc", defaults.bearer_callers_in_vpc),
            flow_log_retention_days=_retention(get, "mesh:flowLogRetentionDays", defaults.flow_log_retention_days),
            log_retention_days=_retention(get, "mesh:logRetentionDays", defaults.log_retention_days),
            memory_event_expiry_days=_integer(
                get, "mesh:memoryEventExpiryDays", defaults.memory_event_expiry_days, 7, 365
            ),
            jwks_refresh_minutes=_integer(get, "mesh:jwksRefreshMinutes", defaults.jwks_refresh_minutes, 5, 1440),
            access_token_minutes=_integer(get, "mesh:accessTokenMinutes", defaults.access_token_minutes, 5, 60),
            front_end_callback_urls=_https_urls(get, "mesh:frontEndCallbackUrls", defaults.front_end_callback_urls),
            front_end_logout_urls=_https_urls(get, "mesh:frontEndLogoutUrls", defaults.front_end_logout_urls),
            model_id=_matching(get, "mesh:modelId", defaults.model_id, MODEL_ID_PATTERN, "a Bedrock model id such as anthropic.claude-sonnet-4-5-20250929-v1:0"),
            prefix_list_ids=_prefix_lists(get, "mesh:prefixListIds"),
            deploy_nonce=_string(get, "mesh:deployNonce", defaults.deploy_nonce, allow_empty=True),
        )
        _check_cidr(settings.vpc_cidr)
        return settings


def _raw(get: Callable[[str], Any], key: str, default: Any) -> Any:
    value = get(key)
    return default if value is None else value


def _string(get: Callable[[str], Any], key: str, default: str, *, allow_empty: bool = False) -> str:
    value = _raw(get, key, default)
    if not isinstance(value, str) or (not value.strip() and not allow_empty):
        raise SettingsError(f"context {key} must be a non-empty string, got {value!r}; fix it in cdk.json or -c {key}=...")
    return value


def _matching(get: Callable[[str], Any], key: str, default: str, pattern: re.Pattern[str], expected: str) -> str:
    value = _string(get, key, default)
    if not pattern.fullmatch(value):
        raise SettingsError(f"context {key} is {value!r}; expected {expected}")
    return value


def _json(key: str, value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise SettingsError(f"context {key} is not valid JSON ({error.msg} at character {error.pos}): {value!r}") from error


def _integer(get: Callable[[str], Any], key: str, default: int, low: int, high: int) -> int:
    value = _raw(get, key, default)
    # -c key=value on the command line arrives as a string.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingsError(f"context {key} must be an integer from {low} to {high}, got {value!r}")
    return value


def _boolean(get: Callable[[str], Any], key: str, default: bool) -> bool:
    value = _raw(get, key, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not isinstance(value, bool):
        raise SettingsError(f"context {key} must be true or false, got {value!r}")
    return value


def _retention(get: Callable[[str], Any], key: str, default: int) -> int:
    value = _integer(get, key, default, 1, 3653)
    if value not in _RETENTION_NAMES:
        allowed = sorted(_RETENTION_NAMES)
        raise SettingsError(f"context {key} is {value} days; use one of {allowed} (CloudWatch Logs values, at least a year)")
    return value


def _https_urls(get: Callable[[str], Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = _raw(get, key, default)
    if isinstance(value, str):
        value = _json(key, value) if value.startswith("[") else [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise SettingsError(f"context {key} must be a non-empty list of https URLs, got {value!r}")
    for url in value:
        if not isinstance(url, str) or not url.startswith("https://"):
            raise SettingsError(f"context {key} contains {url!r}; Cognito app clients of the mesh accept https URLs only")
    return tuple(value)


def _zone_names(get: Callable[[str], Any], key: str) -> tuple[str, ...]:
    value = _raw(get, key, [])
    if isinstance(value, str):
        value = _json(key, value) if value.startswith("[") else value.split(",")
    example = '["eu-central-1a", "eu-central-1b"]'
    if not isinstance(value, (list, tuple)) or not all(isinstance(zone, str) and ZONE_PATTERN.fullmatch(zone) for zone in value):
        raise SettingsError(f"context {key} must be a list of zone names like {example}, got {value!r}")
    if value and len(value) < 2:
        raise SettingsError(f"context {key} lists {len(value)} zone; list at least 2")
    if len({zone[:-1] for zone in value}) > 1:
        raise SettingsError(f"context {key} mixes regions in {value!r}; list zones of the one target region")
    return tuple(value)


def _prefix_lists(get: Callable[[str], Any], key: str) -> dict[str, str]:
    value = _raw(get, key, {})
    if isinstance(value, str):
        value = _json(key, value)
    example = '{"s3": "pl-...", "dynamodb": "pl-..."}'
    if not isinstance(value, dict) or not set(value) <= {"s3", "dynamodb"}:
        raise SettingsError(f"context {key} must be an object like {example}, got {value!r}")
    for service, prefix_list in value.items():
        if not isinstance(prefix_list, str) or not PREFIX_LIST_PATTERN.fullmatch(prefix_list):
            raise SettingsError(f"context {key} has {prefix_list!r} for {service}; expected a prefix list id like pl-0123abcd")
    return dict(value)


def _check_cidr(cidr: str) -> None:
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError as error:
        raise SettingsError(f"context mesh:vpcCidr is {cidr!r}, which is not a CIDR block; use for example 10.40.0.0/16") from error
    private = isinstance(network, ipaddress.IPv4Network) and any(network.subnet_of(block) for block in PRIVATE_RANGES)
    # A VPC block is /16 to /28; each zone here gets a /22 subnet, so at most /20.
    if not private or not 16 <= network.prefixlen <= 20:
        raise SettingsError(
            f"context mesh:vpcCidr is {cidr}; use an RFC 1918 IPv4 range from /16 to /20, for example 10.40.0.0/16"
        )


def check_environment(account: str | None, region: str | None) -> None:
    """Reject an account or region that cannot be real, naming where it came from."""
    if account is not None and not ACCOUNT_PATTERN.fullmatch(account):
        raise SettingsError(f"account {account!r} (mesh:account or CDK_DEFAULT_ACCOUNT) is not a 12-digit AWS account id")
    if region is not None and not REGION_PATTERN.fullmatch(region):
        raise SettingsError(f"region {region!r} (mesh:region or CDK_DEFAULT_REGION) is not an AWS region name like eu-central-1")
