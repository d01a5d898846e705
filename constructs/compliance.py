"""cdk-nag rule packs for the whole app, and scoped acknowledgements.

cdk-nag 3.x runs as a CDK policy-validation plugin: `app.synth()` fails with
a validation report when any rule reports a finding that is not acknowledged.
An acknowledgement here always names one CloudFormation resource and one
finding id (for IAM wildcards the exact ``Rule[Kind::value]`` entry), with a
reason a reviewer can check. Nothing is acknowledged for a whole stack.
"""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from constructs import IConstruct

# A reason shorter than this gives a reviewer nothing to check.
MIN_REASON_LENGTH = 40


def compliance_packs(scope: IConstruct) -> list[NagPack]:
    """Create the rule packs every stack of the mesh must pass.

    Acknowledgements are copied into each resource's template metadata, so a
    reviewer reading a template finds what was acknowledged and why.
    """
    # One pack writing the metadata is enough: it copies every acknowledgement.
    return [
        AwsSolutionsChecks(scope, write_suppressions_to_cloud_formation=True),
        PCIDSS321Checks(),
        NIST80053R5Checks(),
        HIPAASecurityChecks(),
        ServerlessChecks(),
    ]


def apply_compliance_packs(app: cdk.App) -> None:
    """Register the rule packs on the app, so synthesis fails on any finding."""
    cdk.Validations.of(app).add_plugins(*compliance_packs(app))


def acknowledge(resource: IConstruct, findings: Iterable[str], reason: str) -> None:
    """Acknowledge findings of cdk-nag on one CloudFormation resource.

    Parameters
    ----------
    resource:
        The construct whose default child (or itself) is a `CfnResource`.
        Passing a stack or a construct without a single CloudFormation
        resource raises `ValueError`, because the acknowledgement would then
        cover resources no one reviewed.
    findings:
        Finding ids exactly as cdk-nag reports them, for example
        ``"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:...:*]"``.
    reason:
        Why the finding is acceptable, at least `MIN_REASON_LENGTH` characters.
    """
    cfn_resource = _single_cfn_resource(resource)
    finding_ids = list(findings)
    if not finding_ids:
        raise ValueError(f"no finding ids given for {cfn_resource.node.path}; name at least one")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(
            f"acknowledgement reason for {cfn_resource.node.path} is {len(reason.strip())} characters; "
            f"write at least {MIN_REASON_LENGTH} characters that say why the finding is acceptable"
        )
    for finding_id in finding_ids:
        if finding_id.endswith("]") is False and "[" in finding_id:
            raise ValueError(f"finding id {finding_id!r} has an unclosed '['; copy it from the cdk-nag report")
        _apply(cfn_resource, finding_id, reason)


def _apply(resource: cdk.CfnResource, finding_id: str, reason: str) -> None:
    # One place that records acknowledgements, so a test can list them all.
    cdk.Validations.of(resource).acknowledge(cdk.Acknowledgment(id=finding_id, reason=reason))


def nag_resource(scope: IConstruct, value: str) -> str:
    """Render ``value`` (an ARN that may contain tokens) the way cdk-nag writes it in a finding id.

    cdk-nag prints ``Ref`` as ``<Name>`` and ``Fn::GetAtt`` as
    ``<LogicalId.Attribute>``; literal parts stay as they are. So the same
    acknowledgement matches whether the stack's region is a token or known.
    """
    resolved = cdk.Stack.of(scope).resolve(value)
    return _render(resolved)


def _render(node: object) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return separator.join(_render(part) for part in parts)
    if isinstance(node, dict) and "Ref" in node:
        return f"<{node['Ref']}>"
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        logical_id, attribute = node["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    raise ValueError(f"cannot render {node!r} as a cdk-nag finding; acknowledge the finding id as reported")


def _single_cfn_resource(resource: IConstruct) -> cdk.CfnResource:
    if isinstance(resource, cdk.CfnResource):
        return resource
    if isinstance(resource, cdk.Stack):
        raise ValueError(
            f"refusing to acknowledge findings for the whole stack {resource.node.path}; "
            "pass the one resource the finding is about"
        )
    child = resource.node.default_child
    if isinstance(child, cdk.CfnResource):
        return child
    raise ValueError(
        f"{resource.node.path} has no single CloudFormation resource as its default child; "
        "pass the CfnResource the finding is about"
    )
