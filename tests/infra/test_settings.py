"""Context settings: defaults from cdk.json, and clear errors for bad values."""

from __future__ import annotations

import pytest

from stacks.settings import MeshSettings, SettingsError, check_environment
from tests.support.cdk_app import mesh_test_context


def _settings(**overrides) -> MeshSettings:
    context = mesh_test_context(**overrides)
    return MeshSettings.from_context(context.get)


def test_settings_defaults_from_cdk_json() -> None:
    settings = _settings()
    assert (settings.availability_zones, settings.memory_event_expiry_days, settings.access_token_minutes) == (2, 30, 15)


def test_settings_accept_command_line_strings() -> None:
    settings = _settings(**{"mesh:availabilityZones": "3", "mesh:controlPlaneEndpoint": "false"})
    assert (settings.availability_zones, settings.control_plane_endpoint) == (3, False)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("mesh:availabilityZones", 1, "mesh:availabilityZones must be an integer from 2 to 6"),
        ("mesh:flowLogRetentionDays", 90, "use one of [365"),
        ("mesh:vpcCidr", "10.0.0.0/24", "from /16 to /20"),
        ("mesh:vpcCidr", "8.8.0.0/16", "RFC 1918"),
        ("mesh:vpcCidr", "10.0.0.0/8", "from /16 to /20"),
        ("mesh:vpcCidr", "127.0.0.0/16", "RFC 1918"),
        ("mesh:vpcCidr", "169.254.0.0/16", "RFC 1918"),
        ("mesh:vpcCidr", "fd00::/16", "RFC 1918"),
        ("mesh:prefixListIds", "pl-123", "mesh:prefixListIds is not valid JSON"),
        ("mesh:prefixListIds", '{"s3": "not-a-prefix-list"}', "expected a prefix list id"),
        ("mesh:frontEndCallbackUrls", "[https://x", "mesh:frontEndCallbackUrls is not valid JSON"),
        ("mesh:availabilityZoneNames", "[eu-central-1a", "mesh:availabilityZoneNames is not valid JSON"),
        ("mesh:availabilityZoneNames", '["us-east-1a", "eu-central-1b"]', "mixes regions"),
        ("mesh:availabilityZoneNames", '["eu-central-1a"]', "list at least 2"),
        ("mesh:stackPrefix", "Agent-Mesh-With-A-Rather-Long-Prefix", "mesh:stackPrefix is"),
        ("mesh:modelId", "*", "mesh:modelId is"),
        ("mesh:vpcCidr", "not-a-cidr", "not a CIDR block"),
        ("mesh:frontEndCallbackUrls", ["http://bank.example.com/cb"], "https URLs only"),
        ("mesh:prefixListIds", {"s3": "pl-1", "ec2": "pl-2"}, "mesh:prefixListIds must be an object"),
        ("mesh:controlPlaneEndpoint", "yes", "must be true or false"),
        ("mesh:memoryEventExpiryDays", 1000, "from 7 to 365"),
    ],
)
def test_settings_reject_bad_value(key: str, value, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("(", r"\(")):
        _settings(**{key: value})


@pytest.mark.parametrize(("account", "region"), [("abc", "us-east-1"), ("11111111111", "us-east-1"), ("111111111111", "mars-1")])
def test_environment_rejects_impossible_target(account: str, region: str) -> None:
    with pytest.raises(SettingsError, match="mesh:account or CDK_DEFAULT_ACCOUNT|mesh:region or CDK_DEFAULT_REGION"):
        check_environment(account, region)


def test_environment_accepts_real_shapes() -> None:
    check_environment("111111111111", "eu-central-1")
    check_environment(None, None)
