"""The AgentCore service principal, limited to this account's resources of one kind."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from constructs import IConstruct


def agentcore_service_principal(scope: IConstruct, *, resource: str, resource_name: str) -> iam.ServicePrincipal:
    """Return ``bedrock-agentcore.amazonaws.com`` acting for ``<resource>/<resource_name>`` of this account only.

    The source account and source ARN conditions stop the service from
    assuming the role on behalf of another account's runtime or gateway
    (the confused-deputy guard AWS recommends for service roles).
    """
    stack = cdk.Stack.of(scope)
    return iam.ServicePrincipal(
        "bedrock-agentcore.amazonaws.com",
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="bedrock-agentcore", resource=resource, resource_name=resource_name
                )
            },
        },
    )
