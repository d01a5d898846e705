"""Customer-managed KMS keys with rotation, one per purpose."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct


class EncryptionKey(Construct):
    """A customer-managed KMS key with yearly rotation that is kept when its stack is deleted.

    With ``for_log_groups`` the key policy also lets CloudWatch Logs in this
    account and region use the key, only for log groups of this account (the
    encryption context condition that CloudWatch Logs documents).
    """

    def __init__(self, scope: Construct, construct_id: str, *, description: str, for_log_groups: bool = False) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            pending_window=cdk.Duration.days(30),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        if for_log_groups:
            stack = cdk.Stack.of(self)
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CloudWatchLogsOfThisAccount",
                    principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                    actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                                service="logs",
                                resource="log-group",
                                resource_name="*",
                                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                            )
                        }
                    },
                )
            )
