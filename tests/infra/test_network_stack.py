"""Template assertions for the isolated network."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from constructs.isolated_vpc import INTERFACE_ENDPOINTS
from tests.support.cdk_app import build_test_app, mesh_test_context

HTTPS = 443
EXPECTED_INTERFACE_SERVICES = sorted(
    [spec.service for spec in INTERFACE_ENDPOINTS] + ["bedrock-agentcore", "bedrock-agentcore-control"]
)


def _resources(template: Template, resource_type: str) -> dict:
    return template.find_resources(resource_type)


def _service_suffix(endpoint: dict) -> str:
    # ServiceName is Fn::Join ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".<service>"]].
    parts = endpoint["Properties"]["ServiceName"]["Fn::Join"][1]
    return parts[-1].lstrip(".")


@pytest.mark.parametrize("resource_type", ["AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::EgressOnlyInternetGateway"])
def test_network_has_no_internet_path(network_template: Template, resource_type: str) -> None:
    # Guards against a subnet type change that silently adds an internet route.
    network_template.resource_count_is(resource_type, 0)


def test_network_has_no_default_route(network_template: Template) -> None:
    routes = _resources(network_template, "AWS::EC2::Route")
    assert [route for route in routes.values() if route["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"] == []


def test_network_subnets_are_private(network_template: Template) -> None:
    subnets = _resources(network_template, "AWS::EC2::Subnet")
    assert len(subnets) == 2
    for subnet in subnets.values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_network_default_security_group_is_emptied(network_template: Template) -> None:
    # CDK strips the default security group's rules with this custom resource.
    network_template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_network_flow_log_captures_all_traffic(network_template: Template) -> None:
    network_template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs", "ResourceType": "VPC"},
    )


def test_flow_log_group_encrypted_and_retained(network_template: Template) -> None:
    network_template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"RetentionInDays": Match.any_value(), "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^LogKey"), "Arn"]}},
    )
    for log_group in _resources(network_template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] >= 365


def test_network_keys_rotate(network_template: Template) -> None:
    for key in _resources(network_template, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


def test_network_interface_endpoints_are_complete(network_template: Template) -> None:
    endpoints = _resources(network_template, "AWS::EC2::VPCEndpoint")
    services = sorted(_service_suffix(e) for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Interface")
    assert services == EXPECTED_INTERFACE_SERVICES


def test_network_has_no_cognito_endpoint(network_template: Template) -> None:
    # Verifiers read the JWKS snapshot from SSM; Cognito is never called from the VPC.
    endpoints = _resources(network_template, "AWS::EC2::VPCEndpoint")
    assert not [e for e in endpoints.values() if "cognito" in str(e["Properties"]["ServiceName"])]


def test_network_interface_endpoints_use_private_dns(network_template: Template) -> None:
    for endpoint in _resources(network_template, "AWS::EC2::VPCEndpoint").values():
        if endpoint["Properties"].get("VpcEndpointType") == "Interface":
            assert endpoint["Properties"]["PrivateDnsEnabled"] is True


def test_network_gateway_endpoints_for_s3_and_dynamodb(network_template: Template) -> None:
    endpoints = _resources(network_template, "AWS::EC2::VPCEndpoint")
    services = sorted(_service_suffix(e) for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Gateway")
    assert services == ["dynamodb", "s3"]


def test_network_endpoint_ingress_only_https_from_security_groups(network_template: Template) -> None:
    ingress_rules = _resources(network_template, "AWS::EC2::SecurityGroupIngress")
    assert ingress_rules
    for rule in ingress_rules.values():
        properties = rule["Properties"]
        assert (properties["IpProtocol"], properties["FromPort"], properties["ToPort"]) == ("tcp", HTTPS, HTTPS)
        assert "SourceSecurityGroupId" in properties
        assert "CidrIp" not in properties


def test_network_security_groups_have_no_open_cidr(network_template: Template) -> None:
    for group in _resources(network_template, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []) + group["Properties"].get("SecurityGroupEgress", []):
            assert rule.get("CidrIp") not in ("0.0.0.0/0",)
            assert rule.get("CidrIpv6") not in ("::/0",)


def test_network_workload_egress_names_prefix_lists(network_template: Template) -> None:
    # Gateway endpoints are reached through prefix lists, never a CIDR.
    network_template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"DestinationPrefixListId": {"Ref": "S3PrefixListId"}, "FromPort": HTTPS, "ToPort": HTTPS},
    )
    network_template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"DestinationPrefixListId": {"Ref": "DynamoDbPrefixListId"}, "FromPort": HTTPS, "ToPort": HTTPS},
    )


def test_network_endpoint_policies_scope_to_account(network_template: Template) -> None:
    for endpoint in _resources(network_template, "AWS::EC2::VPCEndpoint").values():
        statements = endpoint["Properties"]["PolicyDocument"]["Statement"]
        for statement in statements:
            if statement["Sid"] == "BearerTokenCallersToThisAccountsRuntimes":
                continue
            conditions = statement.get("Condition", {})
            scoped = "aws:PrincipalAccount" in conditions.get("StringEquals", {})
            bucket_scoped = statement["Sid"] == "ReadMeshCodeAndImageLayersOnly"
            assert scoped or bucket_scoped, statement["Sid"]


def test_network_has_no_bearer_statement_by_default(network_template: Template) -> None:
    # Every caller inside the VPC signs with SigV4; Principal "*" is opt-in.
    endpoints = _resources(network_template, "AWS::EC2::VPCEndpoint").values()
    principals = [s["Principal"] for e in endpoints for s in e["Properties"]["PolicyDocument"]["Statement"] if "Condition" not in s]
    assert all(s.get("Sid") != "BearerTokenCallersToThisAccountsRuntimes" for e in endpoints for s in e["Properties"]["PolicyDocument"]["Statement"])
    assert len(principals) == 1  # the S3 statement, scoped by bucket


def test_network_bearer_statement_only_invokes_own_runtimes(tmp_path) -> None:
    _app, stacks = build_test_app(tmp_path, context=mesh_test_context(**{"mesh:bearerCallersInVpc": True}))
    endpoints = _resources(Template.from_stack(stacks["network"]), "AWS::EC2::VPCEndpoint").values()
    bearer = [s for e in endpoints for s in e["Properties"]["PolicyDocument"]["Statement"] if s["Sid"].startswith("Bearer")]
    assert len(bearer) == 1
    assert bearer[0]["Action"] == "bedrock-agentcore:InvokeAgentRuntime"
    assert ":runtime/*" in str(bearer[0]["Resource"])
    assert {"Ref": "AWS::AccountId"} in bearer[0]["Resource"]["Fn::Join"][1]


def test_network_s3_endpoint_admits_named_buckets_only(network_template: Template) -> None:
    endpoints = _resources(network_template, "AWS::EC2::VPCEndpoint").values()
    s3 = next(e for e in endpoints if _service_suffix(e) == "s3")
    resources = [str(r) for s in s3["Properties"]["PolicyDocument"]["Statement"] for r in s["Resource"]]
    assert len(resources) == 2
    assert "cdk-hnb659fds-assets-" in resources[0]
    assert "starport-layer-bucket" in resources[1]


def test_network_exports_workload_security_group(synthesized) -> None:
    network = synthesized.stacks["network"]
    assert network.workload_security_group.security_group_id
