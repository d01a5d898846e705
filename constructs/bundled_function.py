"""A Python Lambda function with the mesh's defaults for a regulated account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from constructs.compliance import acknowledge
from constructs.python_bundling import PythonBundle

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SOURCE = REPOSITORY_ROOT / "lambda_src"
# The newest Python runtime that aws-cdk-lib and cdk-nag's AwsSolutions-L1 accept.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LAMBDA_PYTHON_VERSION = "3.14"


class BundledFunction(Construct):
    """A Lambda function built from ``lambda_src/<source>`` plus the shared identity library.

    The function runs on arm64 with the newest Python runtime, explicit
    memory, timeout and reserved concurrency, and X-Ray active tracing. It
    writes JSON logs to its own KMS-encrypted log group, its environment
    variables are encrypted with the same key, and it has an encrypted
    dead-letter queue. Its role starts with only the permissions to write its
    logs and traces; the stack grants anything else through `add_to_policy`.

    The function runs in the given VPC subnets. Pass ``outside_vpc_reason``
    instead of ``vpc`` only for a function that must reach a public
    endpoint; the reason becomes the cdk-nag acknowledgement.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: str,
        description: str,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        environment: Mapping[str, str] | None = None,
        memory_size_mib: int = 256,
        timeout: cdk.Duration = cdk.Duration.seconds(10),
        reserved_concurrency: int = 10,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        outside_vpc_reason: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (vpc is None) == (outside_vpc_reason is None):
            raise ValueError(
                f"{self.node.path}: pass either vpc (the default for mesh functions) "
                "or outside_vpc_reason (for a function that must reach a public endpoint), not both or neither"
            )

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {construct_id}: logs, traces, and what the stack grants",
        )
        # A customer-managed policy rather than an inline one: PCI DSS 3.2.1,
        # NIST 800-53 and HIPAA rules ask for policies that can be reviewed and
        # attached on their own.
        self.policy = iam.ManagedPolicy(
            self, "Policy", description=f"Permissions of {construct_id}", roles=[self.role]
        )
        self._grant_baseline(vpc is not None)

        bundle = PythonBundle(
            sources=(LAMBDA_SOURCE / source, LAMBDA_SOURCE / "mesh_identity"),
            requirements=LAMBDA_SOURCE / "requirements.txt",
            python_version=LAMBDA_PYTHON_VERSION,
        )
        code_options = bundle.code_options()
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=LAMBDA_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"{source}.handler.lambda_handler",
            code=lambda_.Code.from_asset(code_options.pop("path"), **code_options),
            memory_size=memory_size_mib,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
            environment={"POWERTOOLS_SERVICE_NAME": source, **(environment or {})},
            environment_encryption=encryption_key,
            dead_letter_queue=self.dead_letter_queue,
            # The function must not add managed policies to its role, so the
            # role has exactly the statements listed in this file.
            role=self.role.without_policy_updates(),
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=list(security_groups) or None,
        )
        self.function.node.add_dependency(self.policy)
        self._acknowledge_findings(vpc is not None, outside_vpc_reason)

    def add_to_policy(self, statement: iam.PolicyStatement) -> None:
        """Add a statement to the function's own managed policy."""
        self.policy.add_statements(statement)

    def _grant_baseline(self, in_vpc: bool) -> None:
        self.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                sid="WriteTraces",
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                resources=["*"],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                sid="SendFailedEventsToDeadLetterQueue",
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
            )
        )
        if in_vpc:
            self.add_to_policy(
                iam.PolicyStatement(
                    sid="ManageVpcNetworkInterfaces",
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )

    def _acknowledge_findings(self, in_vpc: bool, outside_vpc_reason: str | None) -> None:
        acknowledge(
            self.policy,
            ["AwsSolutions-IAM5[Resource::*]"],
            "X-Ray PutTraceSegments/PutTelemetryRecords and the Lambda VPC network-interface actions "
            "support no resource-level permissions, so AWS requires Resource '*' for them; "
            "no data or invoke action in this policy uses a wildcard.",
        )
        acknowledge(
            self.dead_letter_queue,
            ["Serverless-SQSRedrivePolicy"],
            "This queue is itself the dead-letter queue of the function; a dead-letter queue of a "
            "dead-letter queue would only move the same failed events again.",
        )
        if not in_vpc and outside_vpc_reason is not None:
            for finding in (
                "NIST.800.53.R5-LambdaInsideVPC",
                "PCI.DSS.321-LambdaInsideVPC",
                "HIPAA.Security-LambdaInsideVPC",
            ):
                acknowledge(self.function, [finding], outside_vpc_reason)

    @property
    def function_arn(self) -> str:
        return self.function.function_arn
