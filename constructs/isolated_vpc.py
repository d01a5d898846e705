"""A VPC with no route to the internet, reaching AWS only through endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs import Construct

HTTPS_PORT = 443
# Qualifier of the default CDK bootstrap stack. Its asset bucket contains
# the runtime code bundles that AgentCore Runtime downloads.
CDK_BOOTSTRAP_QUALIFIER = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER


@dataclass(frozen=True)
class InterfaceEndpointSpec:
    """One interface endpoint: the service name suffix and the actions its policy admits.

    ``service`` is what follows ``com.amazonaws.<region>.``. ``actions`` are
    the IAM actions the mesh calls through this endpoint; the endpoint policy
    admits nothing else.
    """

    construct_id: str
    service: str
    actions: tuple[str, ...]


# Every AWS API the mesh workloads call, and the actions they need on it.
INTERFACE_ENDPOINTS: tuple[InterfaceEndpointSpec, ...] = (
    InterfaceEndpointSpec(
        "AgentCoreGateway",
        "bedrock-agentcore.gateway",
        ("bedrock-agentcore:InvokeGateway",),
    ),
    InterfaceEndpointSpec(
        "Sts",
        "sts",
        ("sts:AssumeRole", "sts:TagSession", "sts:GetCallerIdentity"),
    ),
    InterfaceEndpointSpec(
        "CloudWatchLogs",
        "logs",
        ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
    ),
    InterfaceEndpointSpec(
        "Kms",
        "kms",
        (
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:DescribeKey",
            "kms:GenerateMac",
            "kms:VerifyMac",
        ),
    ),
    InterfaceEndpointSpec(
        "XRay",
        "xray",
        (
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
        ),
    ),
    InterfaceEndpointSpec(
        "BedrockRuntime",
        "bedrock-runtime",
        ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
    ),
    InterfaceEndpointSpec(
        "Ssm",
        "ssm",
        ("ssm:GetParameter", "ssm:GetParameters"),
    ),
    InterfaceEndpointSpec(
        "EcrApi",
        "ecr.api",
        ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"),
    ),
    InterfaceEndpointSpec(
        "EcrDocker",
        "ecr.dkr",
        ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"),
    ),
)

# Data-plane actions for IAM callers. Memory's data plane is served here too.
AGENTCORE_DATA_PLANE_ACTIONS = (
    "bedrock-agentcore:InvokeAgentRuntime",
    "bedrock-agentcore:CreateEvent",
    "bedrock-agentcore:GetEvent",
    "bedrock-agentcore:ListEvents",
    "bedrock-agentcore:ListSessions",
    "bedrock-agentcore:RetrieveMemoryRecords",
)
# Control-plane reads that Memory's session helpers make.
AGENTCORE_CONTROL_PLANE_ACTIONS = (
    "bedrock-agentcore:GetMemory",
    "bedrock-agentcore:GetAgentRuntime",
    "bedrock-agentcore:GetGateway",
)


class IsolatedVpc(Construct):
    """A VPC of isolated subnets whose workloads reach AWS only through PrivateLink.

    Guarantees: no internet gateway, NAT gateway, Elastic IP or route to
    0.0.0.0/0; the default security group has no rules; flow logs of all
    traffic go to a log group encrypted with ``flow_log_key``; every
    interface endpoint has private DNS, its own security group admitting TCP
    443 only from `workload_security_group`, and a policy limited to this
    account's principals. With ``bearer_callers`` the AgentCore data plane
    also admits OAuth bearer-token callers to this account's runtimes (see
    `_agentcore_data_plane_endpoint`). Gateway endpoints for S3
    and DynamoDB are reached through prefix lists, which `workload_security_group`
    names in its egress rules. ``zone_names``, when given, replaces
    ``max_azs``. ``prefix_list_ids`` maps ``"s3"`` and
    ``"dynamodb"`` to those AWS-managed prefix list ids (per region).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        max_azs: int,
        flow_log_key: kms.IKey,
        flow_log_retention: logs.RetentionDays,
        control_plane_endpoint: bool,
        prefix_list_ids: Mapping[str, str],
        zone_names: Sequence[str] | None = None,
        bearer_callers: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        missing = {"s3", "dynamodb"} - set(prefix_list_ids)
        if missing:
            raise ValueError(
                f"prefix_list_ids has no entry for {sorted(missing)}; pass the AWS-managed prefix list ids "
                "of com.amazonaws.<region>.s3 and com.amazonaws.<region>.dynamodb"
            )
        if max_azs < 2:
            raise ValueError(
                f"max_azs is {max_azs}; use at least 2 so the endpoints and runtimes survive the loss of one zone"
            )

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            # Explicit zone names avoid an account lookup during synthesis.
            max_azs=None if zone_names else max_azs,
            availability_zones=list(zone_names) if zone_names else None,
            nat_gateways=0,
            create_internet_gateway=False,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22),
            ],
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.flow_log_group = self._build_flow_logs(flow_log_key, flow_log_retention)

        self.workload_security_group = ec2.SecurityGroup(
            self,
            "WorkloadSecurityGroup",
            vpc=self.vpc,
            description="Mesh workloads (agent runtimes and functions): HTTPS egress to the endpoints only",
            allow_all_outbound=False,
        )
        # Construct id of each interface endpoint to its security group.
        self.endpoint_security_groups: dict[str, ec2.SecurityGroup] = {}
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}

        for spec in INTERFACE_ENDPOINTS:
            endpoint = self._add_interface_endpoint(spec.construct_id, spec.service)
            endpoint.add_to_policy(self._account_principals_statement(spec.actions))
        self._agentcore_data_plane_endpoint(bearer_callers)
        if control_plane_endpoint:
            endpoint = self._add_interface_endpoint("AgentCoreControlPlane", "bedrock-agentcore-control")
            endpoint.add_to_policy(self._account_principals_statement(AGENTCORE_CONTROL_PLANE_ACTIONS))

        self.prefix_list_ids = dict(prefix_list_ids)
        self.s3_endpoint = self._build_s3_endpoint()
        self.dynamodb_endpoint = self._build_dynamodb_endpoint()
        self._allow_workload_egress_to_gateway_endpoints(prefix_list_ids)

    def _build_flow_logs(self, key: kms.IKey, retention: logs.RetentionDays) -> logs.LogGroup:
        log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            encryption_key=key,
            retention=retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            "FlowLogRole",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
            description="Writes the mesh VPC's flow logs to their log group",
        )
        iam.ManagedPolicy(
            self,
            "FlowLogPolicy",
            description="Write the mesh VPC's flow logs, and nothing else",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[log_group.log_group_arn],
                )
            ],
        )
        self.vpc.add_flow_log(
            "FlowLog",
            # The flow log must not add an inline policy to the role.
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(log_group, role.without_policy_updates()),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return log_group

    def _add_interface_endpoint(self, construct_id: str, service: str) -> ec2.InterfaceVpcEndpoint:
        security_group = ec2.SecurityGroup(
            self,
            f"{construct_id}EndpointSecurityGroup",
            vpc=self.vpc,
            description=f"Endpoint {service}: HTTPS from mesh workloads only",
            allow_all_outbound=False,
        )
        security_group.add_ingress_rule(
            self.workload_security_group,
            ec2.Port.tcp(HTTPS_PORT),
            "HTTPS from mesh workloads",
        )
        self.workload_security_group.add_egress_rule(
            security_group,
            ec2.Port.tcp(HTTPS_PORT),
            f"HTTPS to the {service} endpoint",
        )
        endpoint = ec2.InterfaceVpcEndpoint(
            self,
            f"{construct_id}Endpoint",
            vpc=self.vpc,
            service=ec2.InterfaceVpcEndpointService(f"com.amazonaws.{cdk.Aws.REGION}.{service}", HTTPS_PORT),
            private_dns_enabled=True,
            subnets=self.subnets,
            security_groups=[security_group],
            open=False,
        )
        self.endpoint_security_groups[construct_id] = security_group
        self.interface_endpoints[construct_id] = endpoint
        return endpoint

    def _agentcore_data_plane_endpoint(self, bearer_callers: bool) -> None:
        endpoint = self._add_interface_endpoint("AgentCoreDataPlane", "bedrock-agentcore")
        endpoint.add_to_policy(self._account_principals_statement(AGENTCORE_DATA_PLANE_ACTIONS))
        if not bearer_callers:
            # The front end calls the user-facing runtime from outside the VPC,
            # and every caller inside it signs with SigV4, so no bearer-token
            # statement is needed.
            return
        # An endpoint policy can only restrict IAM principals. A caller that
        # authenticates with an OAuth bearer token (a runtime's JWT
        # authorizer) has no IAM principal, so AgentCore requires Principal
        # "*" for such requests to pass the endpoint. The statement is
        # narrowed to the one action and to runtimes of this account, so the
        # endpoint cannot be used to reach another account's resources.
        endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="BearerTokenCallersToThisAccountsRuntimes",
                principals=[iam.AnyPrincipal()],
                actions=["bedrock-agentcore:InvokeAgentRuntime"],
                resources=[
                    cdk.Stack.of(self).format_arn(
                        service="bedrock-agentcore",
                        resource="runtime",
                        resource_name="*",
                    )
                ],
            )
        )

    def _account_principals_statement(self, actions: Sequence[str]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid="ThisAccountsPrincipalsOnly",
            principals=[iam.AnyPrincipal()],
            actions=list(actions),
            resources=["*"],
            conditions={"StringEquals": {"aws:PrincipalAccount": cdk.Aws.ACCOUNT_ID}},
        )

    def _build_s3_endpoint(self) -> ec2.GatewayVpcEndpoint:
        endpoint = self.vpc.add_gateway_endpoint(
            "S3Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[self.subnets],
        )
        stack = cdk.Stack.of(self)
        asset_bucket = f"cdk-{CDK_BOOTSTRAP_QUALIFIER}-assets-{stack.account}-{stack.region}"
        # NOTE: AgentCore Runtime (VPC mode, created after the May 2026 rollout)
        # downloads agent code through the VPC's own S3 path, and ECR serves
        # image layers from the starport bucket. The caller of those reads may be
        # the service rather than a principal of this account, so this policy is
        # scoped by bucket, not by principal.
        endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ReadMeshCodeAndImageLayersOnly",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[
                    f"arn:{stack.partition}:s3:::{asset_bucket}/*",
                    f"arn:{stack.partition}:s3:::prod-{stack.region}-starport-layer-bucket/*",
                ],
            )
        )
        return endpoint

    def _build_dynamodb_endpoint(self) -> ec2.GatewayVpcEndpoint:
        endpoint = self.vpc.add_gateway_endpoint(
            "DynamoDbEndpoint",
            service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
            subnets=[self.subnets],
        )
        stack = cdk.Stack.of(self)
        endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ReadThisAccountsTablesOnly",
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:Query", "dynamodb:GetItem"],
                resources=[stack.format_arn(service="dynamodb", resource="table", resource_name="*")],
                conditions={"StringEquals": {"aws:PrincipalAccount": stack.account}},
            )
        )
        return endpoint

    def _allow_workload_egress_to_gateway_endpoints(self, prefix_list_ids: Mapping[str, str]) -> None:
        # Gateway endpoints have no security group; traffic to them is routed
        # by the service's AWS-managed prefix list, which the egress rule names.
        for service in ("s3", "dynamodb"):
            self.workload_security_group.add_egress_rule(
                ec2.Peer.prefix_list(prefix_list_ids[service]),
                ec2.Port.tcp(HTTPS_PORT),
                f"HTTPS to the {service} gateway endpoint",
            )
