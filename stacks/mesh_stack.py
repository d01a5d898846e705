"""The agent mesh, derived from mesh.toml: runtimes, memory, gateway, tools, ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from constructs.bundled_function import BundledFunction
from constructs.compliance import acknowledge
from constructs.encryption_key import EncryptionKey
from constructs.ledger_table import LedgerTable
from constructs.mesh_agent import MeshAgent
from constructs.mesh_gateway import MeshGateway
from constructs.workload_security_group import MeshNetwork, WorkloadSecurityGroup
from mesh_identity import constants
from stacks.identity_stack import IdentityStack
from stacks.mesh_file import AgentSpec, MeshDefinition, ToolSpec
from stacks.network_stack import NetworkStack
from stacks.settings import MeshSettings, retention

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# The function folder whose code reads the ledger table.
LEDGER_SOURCE = "ledger"
# Actions of AgentCore Memory's data plane that a conversation needs.
MEMORY_ACTIONS = ("bedrock-agentcore:CreateEvent", "bedrock-agentcore:GetEvent", "bedrock-agentcore:ListEvents")


class MeshStack(cdk.Stack):
    """Agents on AgentCore Runtime and the tools behind the mesh gateway, with least privilege from mesh.toml.

    For every edge A -> B in the mesh, A's role may invoke B's runtime (and
    its endpoints) and B's resource policy admits A's role; no other invoke
    permission exists. Agents that list tools may invoke the gateway, and
    only agents with memory get Memory's data-plane actions.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: MeshSettings,
        mesh: MeshDefinition,
        network: NetworkStack,
        identity: IdentityStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.mesh = mesh
        self.identity = identity
        self.network = MeshNetwork(
            vpc=network.vpc,
            subnets=network.isolated.subnets,
            endpoint_security_groups=network.isolated.endpoint_security_groups,
            prefix_list_ids=network.isolated.prefix_list_ids,
        )
        self.log_retention = retention(settings.log_retention_days)
        self.log_key = EncryptionKey(
            self, "LogKey", description="Agent mesh: logs, function settings, dead-letter queues", for_log_groups=True
        ).key
        self.data_key = EncryptionKey(self, "DataKey", description="Agent mesh: ledger, memory and gateway data").key

        self.ledger = LedgerTable(self, "Ledger", encryption_key=self.data_key, session_tag=constants.CUSTOMER_SESSION_TAG)
        self.pagination_key = self._build_pagination_key()
        self.interceptor = self._build_interceptor()
        self.gateway = MeshGateway(
            self,
            "Gateway",
            gateway_name=f"{settings.stack_prefix.lower()}-gateway",
            description="Mesh gateway: IAM callers only, every request verified by the interceptor",
            interceptor=self.interceptor,
            encryption_key=self.data_key,
        )
        self.tool_functions = {tool.name: self._build_tool(tool) for tool in mesh.tools.values()}
        self.memory = self._build_memory() if any(agent.memory for agent in mesh.agents.values()) else None

        self.agents: dict[str, MeshAgent] = {}
        for agent in mesh.ordered_agents():
            self.agents[agent.name] = self._build_agent(agent)
        for agent in mesh.agents.values():
            if not agent.user_facing:
                self._add_runtime_resource_policy(agent)
        self._add_outputs()

    # Verification settings shared by every component that checks the user token.
    def _verifier_environment(self, scopes: tuple[str, ...] | list[str]) -> dict[str, str]:
        return {
            constants.ENV_ISSUER: self.identity.issuer_url,
            constants.ENV_ALLOWED_CLIENT_IDS: self.identity.front_end_client.user_pool_client_id,
            constants.ENV_REQUIRED_SCOPES: " ".join(scopes),
            constants.ENV_JWKS_PARAMETER_NAME: self.identity.jwks_snapshot.parameter_name,
        }

    def _read_jwks_statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid="ReadJwksSnapshot",
            actions=["ssm:GetParameter"],
            resources=[self.identity.jwks_snapshot.parameter_arn],
        )

    def _function(self, construct_id: str, source: str, description: str, environment: dict[str, str], gateway_endpoints: tuple[str, ...]) -> BundledFunction:
        security_group = WorkloadSecurityGroup(
            self, f"{construct_id}SecurityGroup", network=self.network,
            description=f"Function {source}: HTTPS to endpoints only", gateway_endpoints=gateway_endpoints,
        ).security_group  # fmt: skip
        return BundledFunction(
            self,
            construct_id,
            source=source,
            description=description,
            encryption_key=self.log_key,
            log_retention=self.log_retention,
            environment=environment,
            vpc=self.network.vpc,
            vpc_subnets=self.network.subnets,
            security_groups=[security_group],
        )

    def _build_pagination_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "PaginationKey",
            description="Agent mesh: HMAC key that binds ledger pagination tokens to one customer",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        return key

    def _build_interceptor(self) -> BundledFunction:
        interceptor = self._function(
            "Interceptor",
            "interceptor",
            "Gateway REQUEST interceptor: verifies the user token and injects the verified identity",
            self._verifier_environment([]),
            gateway_endpoints=(),
        )
        interceptor.add_to_policy(self._read_jwks_statement())
        return interceptor

    def _build_tool(self, tool: ToolSpec) -> BundledFunction:
        """Build the tool's function; only the ledger's code gets the ledger's data access."""
        if tool.source != LEDGER_SOURCE:
            # NOTE: a tool other than the ledger gets a function with no data
            # access; grant what it needs here, in the stack.
            function = self._function(
                f"{tool.name.title()}Tool", tool.source, tool.description or f"Mesh tool {tool.name}", {}, gateway_endpoints=()
            )
            self.gateway.add_lambda_target(tool.name, function, json.loads(json.dumps(tool.definitions)))
            return function

        function = self._function(
            f"{tool.name.title()}Tool",
            tool.source,
            tool.description or f"Mesh tool {tool.name}",
            {
                constants.ENV_LEDGER_TABLE_NAME: self.ledger.table.table_name,
                constants.ENV_LEDGER_READER_ROLE_ARN: self.ledger.reader_role.role_arn,
                constants.ENV_PAGINATION_KEY_ID: self.pagination_key.key_arn,
            },
            gateway_endpoints=("dynamodb",),
        )
        function.add_to_policy(self.ledger.allow_assume(function.role))
        function.add_to_policy(
            iam.PolicyStatement(
                sid="AuthenticatePaginationTokens",
                actions=["kms:GenerateMac", "kms:VerifyMac"],
                resources=[self.pagination_key.key_arn],
            )
        )
        self.gateway.add_lambda_target(tool.name, function, json.loads(json.dumps(tool.definitions)))
        return function

    def _build_memory(self) -> agentcore.CfnMemory:
        return agentcore.CfnMemory(
            self,
            "Memory",
            name=f"{self.settings.stack_prefix}_conversations",
            description="Short-term conversation memory of the user-facing agents; actor = user sub",
            event_expiry_duration=self.settings.memory_event_expiry_days,
            encryption_key_arn=self.data_key.key_arn,
        )

    def _build_agent(self, agent: AgentSpec) -> MeshAgent:
        peers = {callee: self.agents[callee].runtime_arn for callee in agent.calls}
        environment = {
            **self._verifier_environment(agent.required_scopes),
            constants.ENV_PEER_RUNTIME_ARNS: self.to_json_string(peers) if peers else "{}",
        }
        if agent.tools:
            environment[constants.ENV_GATEWAY_URL] = self.gateway.gateway_url
            # NOTE: the Transaction agent's code calls one gateway target; an
            # agent listing several tools gets the first as its target name.
            environment[constants.ENV_GATEWAY_TARGET_NAME] = agent.tools[0]
        if agent.memory and self.memory is not None:
            environment[constants.ENV_MEMORY_ID] = self.memory.attr_memory_id
        if agent.model:
            environment[constants.ENV_MODEL_ID] = self.settings.model_id

        jwt_authorizer = None
        allowed_headers: list[str] = list(constants.PROPAGATED_HEADERS)
        if agent.user_facing:
            jwt_authorizer = agentcore.CfnRuntime.CustomJWTAuthorizerConfigurationProperty(
                discovery_url=self.identity.discovery_url,
                allowed_clients=[self.identity.front_end_client.user_pool_client_id],
                allowed_scopes=list(agent.required_scopes) or None,
            )
            # Only a runtime with a JWT authorizer may receive Authorization.
            allowed_headers = [constants.AUTHORIZATION_HEADER]

        mesh_agent = MeshAgent(
            self,
            f"{agent.name.title().replace('_', '')}Agent",
            agent_name=agent.name,
            runtime_name=f"{self.settings.stack_prefix}_{agent.name}",
            description=agent.description or f"Mesh agent {agent.name}",
            source=REPOSITORY_ROOT / agent.source,
            network=self.network,
            allowed_headers=allowed_headers,
            environment=environment,
            log_key=self.log_key,
            log_retention=self.log_retention,
            jwt_authorizer=jwt_authorizer,
        )
        mesh_agent.add_to_policy(self._read_jwks_statement())
        for callee in agent.calls:
            mesh_agent.add_to_policy(
                iam.PolicyStatement(
                    sid=f"Invoke{callee.title().replace('_', '')}Agent",
                    actions=["bedrock-agentcore:InvokeAgentRuntime"],
                    resources=self.agents[callee].invoke_resources,
                )
            )
        if agent.tools:
            mesh_agent.add_to_policy(
                iam.PolicyStatement(
                    sid="InvokeMeshGateway",
                    actions=["bedrock-agentcore:InvokeGateway"],
                    resources=[self.gateway.gateway_arn],
                )
            )
        if agent.memory and self.memory is not None:
            mesh_agent.add_to_policy(
                iam.PolicyStatement(
                    sid="UseConversationMemory",
                    actions=list(MEMORY_ACTIONS),
                    resources=[self.memory.attr_memory_arn],
                )
            )
            mesh_agent.add_to_policy(
                iam.PolicyStatement(
                    sid="UseMemoryKeyThroughAgentCore",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[self.data_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"bedrock-agentcore.{self.region}.amazonaws.com"}},
                )
            )
        if agent.model:
            mesh_agent.add_to_policy(
                iam.PolicyStatement(
                    sid="InvokeConfiguredModel",
                    actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                    resources=[
                        self.format_arn(
                            service="bedrock",
                            account="",
                            resource="foundation-model",
                            resource_name=self.settings.model_id,
                        )
                    ],
                )
            )
        if agent.calls and not any(self.mesh.agents[callee].invoke_for_user for callee in agent.calls):
            # Invoking on behalf of another user would bypass the token check.
            mesh_agent.add_to_policy(
                iam.PolicyStatement(
                    sid="DenyInvokeForUser",
                    effect=iam.Effect.DENY,
                    actions=["bedrock-agentcore:InvokeAgentRuntimeForUser"],
                    resources=[resource for callee in agent.calls for resource in self.agents[callee].invoke_resources],
                )
            )
        return mesh_agent

    def _add_runtime_resource_policy(self, agent: AgentSpec) -> None:
        """Admit only the roles of the agent's declared callers."""
        target = self.agents[agent.name]
        callers = self.mesh.callers_of(agent.name)
        statements: list[iam.PolicyStatement] = []
        if callers:
            statements.append(
                iam.PolicyStatement(
                    sid="DeclaredCallersOnly",
                    principals=[iam.ArnPrincipal(self.agents[caller].role.role_arn) for caller in callers],
                    actions=["bedrock-agentcore:InvokeAgentRuntime"],
                    resources=[target.runtime_arn],
                )
            )
        if not agent.invoke_for_user:
            statements.append(
                iam.PolicyStatement(
                    sid="NoInvokeForUser",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["bedrock-agentcore:InvokeAgentRuntimeForUser"],
                    resources=[target.runtime_arn],
                )
            )
        document = iam.PolicyDocument(statements=statements)
        agentcore.CfnResourcePolicy(
            self,
            f"{agent.name.title().replace('_', '')}RuntimePolicy",
            resource_arn=target.runtime_arn,
            policy=self.to_json_string(document.to_json()),
        )

    def _add_outputs(self) -> None:
        cdk.CfnOutput(self, "GatewayUrl", value=self.gateway.gateway_url, description="MCP endpoint of the mesh gateway")
        cdk.CfnOutput(self, "LedgerTableName", value=self.ledger.table.table_name, description="Ledger table")
        for name, agent in sorted(self.agents.items()):
            cdk.CfnOutput(
                self,
                f"{name.title().replace('_', '')}RuntimeArn",
                value=agent.runtime_arn,
                description=f"AgentCore runtime of agent {name}",
            )
