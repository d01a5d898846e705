"""Template assertions for the Cognito user pool and the JWKS snapshot."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template


def test_user_pool_admins_create_users_only(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPool", {"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}}
    )


def test_user_pool_requires_mfa(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPool", {"MfaConfiguration": "ON", "EnabledMfas": ["SOFTWARE_TOKEN_MFA"]}
    )


def test_user_pool_password_policy_is_strong(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "Policies": {
                "PasswordPolicy": {
                    "MinimumLength": 14,
                    "RequireLowercase": True,
                    "RequireUppercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": True,
                }
            }
        },
    )


def test_user_pool_threat_protection_on_plus_plan(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {"UserPoolTier": "PLUS", "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}},
    )


def test_user_pool_is_protected_from_deletion(identity_template: Template) -> None:
    identity_template.has_resource("AWS::Cognito::UserPool", {"DeletionPolicy": "Retain"})
    identity_template.has_resource_properties("AWS::Cognito::UserPool", {"DeletionProtection": "ACTIVE"})


def test_user_pool_recovers_accounts_by_email_only(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {"AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}},
    )


def test_resource_server_defines_mesh_scopes(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPoolResourceServer",
        {
            "Identifier": "agent-mesh",
            "Scopes": [
                Match.object_like({"ScopeName": "accounts.read"}),
                Match.object_like({"ScopeName": "transactions.read"}),
            ],
        },
    )


def test_front_end_client_uses_code_grant_without_secret(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "AllowedOAuthFlows": ["code"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": True,
        },
    )


def test_front_end_client_access_token_lasts_15_minutes(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPoolClient", {"AccessTokenValidity": 15, "TokenValidityUnits": {"AccessToken": "minutes"}}
    )


def test_front_end_client_rotates_refresh_tokens(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "AWS::Cognito::UserPoolClient", {"RefreshTokenRotation": Match.object_like({"Feature": "ENABLED"})}
    )


def test_front_end_client_has_no_password_flows(identity_template: Template) -> None:
    clients = identity_template.find_resources("AWS::Cognito::UserPoolClient")
    for client in clients.values():
        flows = client["Properties"].get("ExplicitAuthFlows", [])
        assert not [flow for flow in flows if "PASSWORD" in flow]


def test_identity_outputs_issuer_and_discovery(identity_template: Template) -> None:
    outputs = identity_template.find_outputs("*")
    assert {"UserPoolId", "FrontEndClientId", "IssuerUrl", "DiscoveryUrl", "JwksParameterName"} <= set(outputs)


def test_jwks_copy_runs_on_deploy(identity_template: Template) -> None:
    identity_template.has_resource_properties(
        "Custom::CognitoJwksSnapshot",
        {"ServiceToken": Match.any_value(), "DeployNonce": "test-nonce", "ParameterName": Match.string_like_regexp("cognito-jwks$")},
    )


def test_jwks_copy_runs_on_schedule(identity_template: Template) -> None:
    identity_template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})


def test_jwks_function_is_the_only_function_outside_vpc(identity_template: Template) -> None:
    functions = identity_template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 1
    assert "VpcConfig" not in next(iter(functions.values()))["Properties"]


def test_jwks_function_writes_only_its_parameter(identity_template: Template) -> None:
    policies = identity_template.find_resources("AWS::IAM::ManagedPolicy")
    ssm_statements = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(action).startswith("ssm:") for action in _as_list(statement["Action"]))
    ]
    assert len(ssm_statements) == 1
    assert "parameter/agent-mesh/" in str(ssm_statements[0]["Resource"])


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_cognito_domain_does_not_publish_account_id(identity_template: Template) -> None:
    domain = next(iter(identity_template.find_resources("AWS::Cognito::UserPoolDomain").values()))
    assert "AWS::AccountId" not in str(domain["Properties"]["Domain"])
