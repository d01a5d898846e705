"""Template assertions for the agent mesh stack built from the seed mesh.toml."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from localmesh.policy_graph import parse_policy_string
from mesh_identity import constants


def _runtime(template: Template, agent: str) -> dict:
    runtimes = template.find_resources("AWS::BedrockAgentCore::Runtime")
    return next(r["Properties"] for r in runtimes.values() if r["Properties"]["Tags"][constants.AGENT_TAG_KEY] == agent)


def test_runtimes_run_in_vpc_mode(mesh_template: Template) -> None:
    for agent in ("support", "transaction"):
        network = _runtime(mesh_template, agent)["NetworkConfiguration"]
        assert network["NetworkMode"] == "VPC"


def test_runtimes_use_code_assets_on_newest_python(mesh_template: Template) -> None:
    for agent in ("support", "transaction"):
        code = _runtime(mesh_template, agent)["AgentRuntimeArtifact"]["CodeConfiguration"]
        assert (code["Runtime"], code["EntryPoint"]) == ("PYTHON_3_14", ["main.py"])


def test_support_runtime_accepts_cognito_tokens_of_front_end(mesh_template: Template) -> None:
    authorizer = _runtime(mesh_template, "support")["AuthorizerConfiguration"]["CustomJWTAuthorizer"]
    assert authorizer["AllowedScopes"] == ["agent-mesh/accounts.read"]
    assert "AllowedClients" in authorizer
    assert "openid-configuration" in json.dumps(authorizer["DiscoveryUrl"])


def test_transaction_runtime_is_iam_only(mesh_template: Template) -> None:
    # No authorizer configuration means SigV4 (IAM) inbound only.
    assert "AuthorizerConfiguration" not in _runtime(mesh_template, "transaction")


def test_support_runtime_allowlists_authorization_only(mesh_template: Template) -> None:
    headers = _runtime(mesh_template, "support")["RequestHeaderConfiguration"]["RequestHeaderAllowlist"]
    assert headers == ["Authorization"]


def test_transaction_runtime_allowlists_propagated_headers(mesh_template: Template) -> None:
    headers = _runtime(mesh_template, "transaction")["RequestHeaderConfiguration"]["RequestHeaderAllowlist"]
    assert headers == list(constants.PROPAGATED_HEADERS)


def test_transaction_runtime_has_resource_policy(mesh_template: Template) -> None:
    mesh_template.resource_count_is("AWS::BedrockAgentCore::ResourcePolicy", 1)


def test_runtime_log_groups_are_encrypted(mesh_template: Template) -> None:
    log_groups = mesh_template.find_resources("AWS::Logs::LogGroup")
    runtime_groups = [g for g in log_groups.values() if "bedrock-agentcore/runtimes" in json.dumps(g["Properties"].get("LogGroupName", ""))]
    assert len(runtime_groups) == 2
    for group in log_groups.values():
        assert "KmsKeyId" in group["Properties"]
        assert group["Properties"]["RetentionInDays"] >= 365


def test_workload_security_groups_have_no_cidr_rules(mesh_template: Template) -> None:
    for rule in mesh_template.find_resources("AWS::EC2::SecurityGroupEgress").values():
        properties = rule["Properties"]
        assert "CidrIp" not in properties
        assert properties["FromPort"] == 443
        assert "DestinationSecurityGroupId" in properties or "DestinationPrefixListId" in properties


def test_memory_uses_customer_key_and_expiry(mesh_template: Template) -> None:
    mesh_template.has_resource_properties(
        "AWS::BedrockAgentCore::Memory",
        {"EventExpiryDuration": 30, "EncryptionKeyArn": {"Fn::GetAtt": [Match.string_like_regexp("^DataKey"), "Arn"]}},
    )


def test_only_memory_agents_get_memory_actions(mesh_template: Template) -> None:
    policies = mesh_template.find_resources("AWS::IAM::ManagedPolicy")
    holders = [
        logical_id
        for logical_id, policy in policies.items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "bedrock-agentcore:CreateEvent" in json.dumps(statement["Action"])
    ]
    assert len(holders) == 1
    assert holders[0].startswith("SupportAgent")


def test_gateway_is_iam_only_with_request_interceptor(mesh_template: Template) -> None:
    mesh_template.has_resource_properties(
        "AWS::BedrockAgentCore::Gateway",
        {
            "AuthorizerType": "AWS_IAM",
            "ProtocolType": "MCP",
            "KmsKeyArn": Match.any_value(),
            "InterceptorConfigurations": [
                {
                    "InterceptionPoints": ["REQUEST"],
                    "InputConfiguration": {"PassRequestHeaders": True},
                    "Interceptor": {"Lambda": {"Arn": Match.any_value()}},
                }
            ],
        },
    )


def test_gateway_target_exposes_ledger_tools(mesh_template: Template) -> None:
    target = next(iter(mesh_template.find_resources("AWS::BedrockAgentCore::GatewayTarget").values()))["Properties"]
    tools = target["TargetConfiguration"]["Mcp"]["Lambda"]["ToolSchema"]["InlinePayload"]
    assert [tool["Name"] for tool in tools] == ["get_balance", "list_transactions"]
    assert target["CredentialProviderConfigurations"] == [{"CredentialProviderType": "GATEWAY_IAM_ROLE"}]


def test_gateway_role_invokes_only_its_functions(mesh_template: Template) -> None:
    policies = mesh_template.find_resources("AWS::IAM::ManagedPolicy")
    invoke_statements = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
    ]
    resources = sorted(statement["Resource"]["Fn::GetAtt"][0] for statement in invoke_statements)
    assert len(resources) == 2
    assert resources[0].startswith("InterceptorFunction")
    assert resources[1].startswith("LedgerToolFunction")


def test_function_permissions_admit_gateway_role_only(mesh_template: Template) -> None:
    permissions = mesh_template.find_resources("AWS::Lambda::Permission")
    assert len(permissions) == 2
    for permission in permissions.values():
        assert permission["Properties"]["Principal"]["Fn::GetAtt"][0].startswith("GatewayRole")


def test_functions_are_hardened(mesh_template: Template) -> None:
    for function in mesh_template.find_resources("AWS::Lambda::Function").values():
        properties = function["Properties"]
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == "python3.14"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["ReservedConcurrentExecutions"] > 0
        assert properties["MemorySize"] and properties["Timeout"]
        assert "VpcConfig" in properties
        assert "DeadLetterConfig" in properties
        assert "KmsKeyArn" in properties


def test_ledger_table_is_protected(mesh_template: Template) -> None:
    mesh_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "customer_id", "KeyType": "HASH"}, {"AttributeName": "transaction_id", "KeyType": "RANGE"}],
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
        },
    )


def test_ledger_table_is_backed_up(mesh_template: Template) -> None:
    mesh_template.resource_count_is("AWS::Backup::BackupSelection", 1)


def test_reader_role_requires_customer_session_tag(mesh_template: Template) -> None:
    mesh_template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                            "Condition": {
                                "Null": {"aws:RequestTag/customer": "false"},
                                "ForAllValues:StringEquals": {"aws:TagKeys": ["customer"]},
                            },
                            "Principal": {"AWS": {"Fn::GetAtt": [Match.string_like_regexp("^LedgerToolRole"), "Arn"]}},
                        }
                    )
                ]
            }
        },
    )


def test_reader_policy_limits_rows_to_customer_tag(mesh_template: Template) -> None:
    mesh_template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                                "Condition": {
                                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/customer}"]},
                                    "Null": {"aws:PrincipalTag/customer": "false"},
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_invoke_for_user_is_denied_in_resource_policy(mesh_template: Template) -> None:
    policy = next(iter(mesh_template.find_resources("AWS::BedrockAgentCore::ResourcePolicy").values()))
    document = parse_policy_string(policy["Properties"]["Policy"])
    denies = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert [s["Action"] for s in denies] == ["bedrock-agentcore:InvokeAgentRuntimeForUser"]


def test_invoke_for_user_is_denied_to_callers(mesh_template: Template) -> None:
    policies = mesh_template.find_resources("AWS::IAM::ManagedPolicy")
    denies = [
        logical_id
        for logical_id, policy in policies.items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and statement["Action"] == "bedrock-agentcore:InvokeAgentRuntimeForUser"
    ]
    assert len(denies) == 1
    assert denies[0].startswith("SupportAgent")


def test_agent_role_trusts_only_its_own_runtime(mesh_template: Template) -> None:
    roles = mesh_template.find_resources("AWS::IAM::Role")
    agent_roles = [role for role in roles.values() if {"Key": constants.AGENT_TAG_KEY, "Value": "support"} in role["Properties"].get("Tags", [])]
    assert len(agent_roles) == 1
    condition = agent_roles[0]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert "runtime/AgentMesh_support-*" in json.dumps(condition["ArnLike"]["aws:SourceArn"])
