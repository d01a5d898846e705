"""A copy of the user pool's public signing keys that verifiers inside the VPC can read."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.bundled_function import BundledFunction

OUTSIDE_VPC_REASON = (
    "This function copies the Cognito user pool's public JWKS into SSM. The JWKS is served only on "
    "Cognito's public endpoint, which the mesh VPC cannot reach; the function handles public keys "
    "only, has no data access, and may write only its one SSM parameter."
)


class JwksSnapshot(Construct):
    """Copies the JWKS at ``jwks_url`` into the SSM parameter ``parameter_name``.

    The copy runs on every deployment (a custom resource whose properties
    include ``deploy_nonce``) and on a schedule, so a key that Cognito rotates
    reaches the verifiers within ``refresh_interval`` even without a deploy.
    The function is the one workload outside the mesh VPC. It owns the
    parameter: it creates it, overwrites it only with a valid JWKS, and
    deletes it when the stack is deleted.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        jwks_url: str,
        parameter_name: str,
        refresh_interval: cdk.Duration,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        deploy_nonce: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.parameter_name = parameter_name
        stack = cdk.Stack.of(self)
        self.parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=parameter_name.lstrip("/")
        )

        self.handler = BundledFunction(
            self,
            "CopyFunction",
            source="jwks_snapshot",
            description="Copies the Cognito user pool JWKS (public keys only) into an SSM parameter",
            encryption_key=encryption_key,
            log_retention=log_retention,
            environment={"JWKS_URL": jwks_url, "JWKS_PARAMETER_NAME": parameter_name},
            timeout=cdk.Duration.seconds(30),
            reserved_concurrency=1,
            outside_vpc_reason=OUTSIDE_VPC_REASON,
        )
        self.handler.add_to_policy(
            iam.PolicyStatement(
                sid="OwnTheJwksParameter",
                actions=["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"],
                resources=[self.parameter_arn],
            )
        )

        # CloudFormation invokes the function directly and the function sends
        # the custom-resource response itself, so no provider framework
        # function (with its own role and runtime) is added to the stack.
        self.copy = cdk.CustomResource(
            self,
            "Copy",
            service_token=self.handler.function_arn,
            resource_type="Custom::CognitoJwksSnapshot",
            properties={"JwksUrl": jwks_url, "ParameterName": parameter_name, "DeployNonce": deploy_nonce},
            # Fail the deploy within minutes if the function never responds, not after an hour.
            service_timeout=cdk.Duration.minutes(5),
        )
        self.copy.node.add_dependency(self.handler.policy)

        self.schedule = events.Rule(
            self,
            "RefreshSchedule",
            description="Refreshes the JWKS snapshot so rotated Cognito keys reach the verifiers",
            schedule=events.Schedule.rate(refresh_interval),
            targets=[
                targets.LambdaFunction(
                    self.handler.function,
                    dead_letter_queue=self.handler.dead_letter_queue,
                    retry_attempts=2,
                )
            ],
        )
