"""The mesh's AgentCore Gateway: IAM inbound, a REQUEST interceptor, Lambda tool targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from constructs.agentcore_principal import agentcore_service_principal
from constructs.bundled_function import BundledFunction

# The MCP protocol version the gateway serves.
MCP_VERSION = "2025-03-26"


class MeshGateway(Construct):
    """An MCP gateway that only IAM principals can call, with every request intercepted.

    Guarantees: inbound auth is AWS_IAM (SigV4) only; the REQUEST interceptor
    receives the request headers; data at rest uses ``encryption_key``; the
    gateway's role may invoke only the interceptor and the functions added
    with `add_lambda_target`, and each of those functions' resource policy
    admits only that role. Callers get ``bedrock-agentcore:InvokeGateway``
    from the stack, on `gateway_arn` only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        gateway_name: str,
        description: str,
        interceptor: BundledFunction,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            # NOTE: the gateway id format is not documented, so the condition
            # admits any gateway of this account rather than this one by name.
            assumed_by=agentcore_service_principal(self, resource="gateway", resource_name="*"),
            description=f"Role of gateway {gateway_name}: invokes its interceptor and tool functions only",
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Permissions of gateway {gateway_name}",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="UseGatewayKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    resources=[encryption_key.key_arn],
                )
            ],
        )
        self._admit_gateway(interceptor, "Interceptor")

        self.gateway = agentcore.CfnGateway(
            self,
            "Gateway",
            name=gateway_name,
            description=description,
            authorizer_type="AWS_IAM",
            protocol_type="MCP",
            protocol_configuration=agentcore.CfnGateway.GatewayProtocolConfigurationProperty(
                mcp=agentcore.CfnGateway.MCPGatewayConfigurationProperty(supported_versions=[MCP_VERSION])
            ),
            role_arn=self.role.role_arn,
            kms_key_arn=encryption_key.key_arn,
            interceptor_configurations=[
                agentcore.CfnGateway.GatewayInterceptorConfigurationProperty(
                    interception_points=["REQUEST"],
                    interceptor=agentcore.CfnGateway.InterceptorConfigurationProperty(
                        lambda_=agentcore.CfnGateway.LambdaInterceptorConfigurationProperty(arn=interceptor.function_arn)
                    ),
                    # The interceptor reads the user token from the headers.
                    input_configuration=agentcore.CfnGateway.InterceptorInputConfigurationProperty(
                        pass_request_headers=True
                    ),
                )
            ],
        )
        self.gateway.node.add_dependency(self.policy)
        self.gateway_arn = self.gateway.attr_gateway_arn
        self.gateway_url = self.gateway.attr_gateway_url
        self.targets: dict[str, agentcore.CfnGatewayTarget] = {}

    def add_lambda_target(
        self, target_name: str, function: BundledFunction, tool_definitions: Sequence[Mapping[str, Any]]
    ) -> agentcore.CfnGatewayTarget:
        """Expose ``function`` as the MCP tools ``tool_definitions``, named ``<target_name>___<tool>``."""
        self._admit_gateway(function, f"{target_name.title()}Target")
        target = agentcore.CfnGatewayTarget(
            self,
            f"{target_name.title()}Target",
            gateway_identifier=self.gateway.attr_gateway_identifier,
            name=target_name,
            description=f"Tool {target_name}",
            target_configuration=agentcore.CfnGatewayTarget.TargetConfigurationProperty(
                mcp=agentcore.CfnGatewayTarget.McpTargetConfigurationProperty(
                    lambda_=agentcore.CfnGatewayTarget.McpLambdaTargetConfigurationProperty(
                        lambda_arn=function.function_arn,
                        tool_schema=agentcore.CfnGatewayTarget.ToolSchemaProperty(
                            inline_payload=[_tool_definition(tool) for tool in tool_definitions]
                        ),
                    )
                )
            ),
            credential_provider_configurations=[
                agentcore.CfnGatewayTarget.CredentialProviderConfigurationProperty(
                    credential_provider_type="GATEWAY_IAM_ROLE"
                )
            ],
        )
        self.targets[target_name] = target
        return target

    def _admit_gateway(self, function: BundledFunction, construct_id: str) -> None:
        self.policy.add_statements(
            iam.PolicyStatement(
                sid=f"Invoke{construct_id}",
                actions=["lambda:InvokeFunction"],
                resources=[function.function_arn],
            )
        )
        function.function.add_permission(
            f"InvokedBy{cdk.Names.unique_id(self)}",
            principal=iam.ArnPrincipal(self.role.role_arn),
            action="lambda:InvokeFunction",
        )


def _tool_definition(tool: Mapping[str, Any]) -> agentcore.CfnGatewayTarget.ToolDefinitionProperty:
    return agentcore.CfnGatewayTarget.ToolDefinitionProperty(
        name=tool["name"],
        description=tool["description"],
        input_schema=_schema(tool["inputSchema"]),
    )


def _schema(schema: Mapping[str, Any]) -> agentcore.CfnGatewayTarget.SchemaDefinitionProperty:
    """Convert a JSON Schema object into the gateway's schema definition."""
    properties = schema.get("properties")
    items = schema.get("items")
    return agentcore.CfnGatewayTarget.SchemaDefinitionProperty(
        type=schema["type"],
        description=schema.get("description"),
        properties={name: _schema(value) for name, value in properties.items()} if properties else None,
        items=_schema(items) if items else None,
        required=list(schema["required"]) if schema.get("required") else None,
    )
