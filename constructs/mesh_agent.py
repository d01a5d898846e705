"""One agent of the mesh on Amazon Bedrock AgentCore Runtime."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct
from constructs.agentcore_principal import agentcore_service_principal
from constructs.compliance import acknowledge, nag_resource
from constructs.python_bundling import PythonBundle
from constructs.workload_security_group import MeshNetwork, WorkloadSecurityGroup
from mesh_identity import constants

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
AGENT_RUNTIME = "PYTHON_3_14"
AGENT_PYTHON_VERSION = "3.14"
# The endpoint AgentCore creates with every runtime; the mesh adds no others.
DEFAULT_ENDPOINT = "DEFAULT"
# AgentCore Runtime forwards at most this many allowlisted request headers.
MAX_ALLOWLISTED_HEADERS = 20


class MeshAgent(Construct):
    """An AgentCore runtime in VPC mode with its own role, security group and log group.

    The code asset is the agent folder plus the shared identity library,
    bundled for linux arm64 without Docker. The runtime runs in the isolated
    subnets with a security group of its own that reaches only the mesh's
    endpoints. Callers authenticate with exactly one inbound type: a Cognito
    JWT authorizer when ``jwt_authorizer`` is given, IAM otherwise. Only the
    headers in ``allowed_headers`` reach the code. The role starts with only
    the permissions to write its logs, traces and metrics and to read its own
    code; the stack grants anything else through `add_to_policy`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        agent_name: str,
        runtime_name: str,
        description: str,
        source: Path,
        network: MeshNetwork,
        allowed_headers: Sequence[str],
        environment: Mapping[str, str],
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        jwt_authorizer: agentcore.CfnRuntime.CustomJWTAuthorizerConfigurationProperty | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if len(allowed_headers) > MAX_ALLOWLISTED_HEADERS:
            raise ValueError(
                f"{runtime_name} allowlists {len(allowed_headers)} headers; AgentCore Runtime forwards at most "
                f"{MAX_ALLOWLISTED_HEADERS}, remove some"
            )
        if jwt_authorizer is None and any(name.lower() == "authorization" for name in allowed_headers):
            raise ValueError(
                f"{runtime_name} allowlists Authorization without a JWT authorizer; AgentCore forwards "
                "Authorization only to runtimes with a JWT authorizer, propagate the token in a custom header"
            )
        self.agent_name = agent_name
        self.runtime_name = runtime_name
        # Reviewers and the policy checks find an agent's resources by this tag.
        cdk.Tags.of(self).add(constants.AGENT_TAG_KEY, agent_name)

        self.security_group = WorkloadSecurityGroup(
            self, "SecurityGroup", network=network, description=f"Agent runtime {runtime_name}: HTTPS to endpoints only"
        ).security_group
        self.role = iam.Role(
            self,
            "Role",
            # A runtime id is "<runtime name>-<10 characters>" (AgentCore control
            # plane API reference, agentRuntimeId), so only this runtime matches.
            assumed_by=agentcore_service_principal(self, resource="runtime", resource_name=f"{runtime_name}-*"),
            description=f"Execution role of agent runtime {runtime_name}",
        )
        self.policy = iam.ManagedPolicy(self, "Policy", description=f"Permissions of agent runtime {runtime_name}", roles=[self.role])

        bundle = PythonBundle(
            sources=(source, REPOSITORY_ROOT / "lambda_src" / "mesh_identity"),
            requirements=source / "requirements.txt",
            python_version=AGENT_PYTHON_VERSION,
            flatten_first=True,
        )
        self.code = s3_assets.Asset(self, "Code", **bundle.code_options())
        self._grant_baseline()

        self.runtime = agentcore.CfnRuntime(
            self,
            "Runtime",
            agent_runtime_name=runtime_name,
            description=description,
            role_arn=self.role.role_arn,
            agent_runtime_artifact=agentcore.CfnRuntime.AgentRuntimeArtifactProperty(
                code_configuration=agentcore.CfnRuntime.CodeConfigurationProperty(
                    code=agentcore.CfnRuntime.CodeProperty(
                        s3=agentcore.CfnRuntime.S3LocationProperty(
                            bucket=self.code.s3_bucket_name, prefix=self.code.s3_object_key
                        )
                    ),
                    entry_point=["main.py"],
                    runtime=AGENT_RUNTIME,
                )
            ),
            network_configuration=agentcore.CfnRuntime.NetworkConfigurationProperty(
                network_mode="VPC",
                network_mode_config=agentcore.CfnRuntime.VpcConfigProperty(
                    subnets=network.vpc.select_subnets(subnet_type=network.subnets.subnet_type).subnet_ids,
                    security_groups=[self.security_group.security_group_id],
                ),
            ),
            authorizer_configuration=(
                agentcore.CfnRuntime.AuthorizerConfigurationProperty(custom_jwt_authorizer=jwt_authorizer)
                if jwt_authorizer
                else None
            ),
            request_header_configuration=agentcore.CfnRuntime.RequestHeaderConfigurationProperty(
                request_header_allowlist=list(allowed_headers)
            ),
            protocol_configuration="HTTP",
            environment_variables={
                # Turns on the runtime's OpenTelemetry traces to X-Ray.
                "AGENT_OBSERVABILITY_ENABLED": "true",
                "POWERTOOLS_SERVICE_NAME": runtime_name,
                **environment,
            },
        )
        self.runtime.node.add_dependency(self.policy)
        self.runtime_arn = self.runtime.attr_agent_runtime_arn
        self.runtime_id = self.runtime.attr_agent_runtime_id

        # NOTE: AgentCore Runtime writes to this log group name. Creating it here,
        # after the runtime because the name contains the runtime id, gives it
        # the customer-managed key and the retention. This assumes the runtime
        # creates no log group of its own before its first invocation.
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws/bedrock-agentcore/runtimes/{self.runtime_id}-DEFAULT",
            encryption_key=log_key,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    @property
    def invoke_resources(self) -> list[str]:
        """The runtime ARN and its DEFAULT endpoint's ARN: what InvokeAgentRuntime authorizes against."""
        return [self.runtime_arn, f"{self.runtime_arn}/runtime-endpoint/{DEFAULT_ENDPOINT}"]

    def add_to_policy(self, statement: iam.PolicyStatement) -> None:
        """Add a statement to the agent's own managed policy."""
        self.policy.add_statements(statement)

    def _grant_baseline(self) -> None:
        stack = cdk.Stack.of(self)
        log_group_prefix = f"/aws/bedrock-agentcore/runtimes/{self.runtime_name}-*"
        runtime_log_groups = stack.format_arn(
            service="logs", resource="log-group", resource_name=log_group_prefix, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
        )
        self.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnRuntimeLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[runtime_log_groups, f"{runtime_log_groups}:log-stream:*"],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                sid="WriteTracesAndSampling",
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
                resources=["*"],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                sid="WriteAgentCoreMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "bedrock-agentcore"}},
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOwnCode",
                actions=["s3:GetObject"],
                resources=[self.code.bucket.arn_for_objects(self.code.s3_object_key)],
            )
        )
        acknowledge(
            self.policy,
            [
                f"AwsSolutions-IAM5[Resource::{nag_resource(self, runtime_log_groups)}]",
                f"AwsSolutions-IAM5[Resource::{nag_resource(self, runtime_log_groups)}:log-stream:*]",
                "AwsSolutions-IAM5[Resource::*]",
            ],
            "AgentCore Runtime names its log groups after the runtime id and creates log streams per session at "
            "run time, so the log ARNs end in a wildcard scoped to this runtime's name; X-Ray and CloudWatch "
            "PutMetricData support no resource-level permissions (metrics are limited to the bedrock-agentcore "
            "namespace by condition). No invoke, data or key action in this policy uses a wildcard.",
        )
