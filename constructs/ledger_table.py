"""The ledger table and the customer-scoped role every read goes through."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from constructs.compliance import acknowledge

PARTITION_KEY = "customer_id"
SORT_KEY = "transaction_id"


class LedgerTable(Construct):
    """A DynamoDB ledger whose partition key is the customer id (the user's ``sub``).

    Guarantees: encryption with ``encryption_key``, point-in-time recovery,
    deletion protection, daily backups in an encrypted vault. Reads happen
    only through `reader_role`, which a principal given to `allow_assume`
    can assume only with the session tag ``customer=<sub>``; the role may
    then Query or GetItem only items whose partition key equals that tag
    (``dynamodb:LeadingKeys``), so a bug in the reading code still cannot
    return another customer's rows.
    """

    def __init__(self, scope: Construct, construct_id: str, *, encryption_key: kms.IKey, session_tag: str) -> None:
        super().__init__(scope, construct_id)
        self.session_tag = session_tag
        self.encryption_key = encryption_key
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self._build_backup_plan()
        self._reader_principal_arn: str | None = None
        reader_principal = iam.ArnPrincipal(cdk.Lazy.string(_ReaderPrincipalArn(self)))
        self.reader_role = iam.Role(
            self,
            "ReaderRole",
            # The caller must tag the session with exactly the customer tag.
            assumed_by=iam.SessionTagsPrincipal(reader_principal).with_conditions(
                {
                    "Null": {f"aws:RequestTag/{session_tag}": "false"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": [session_tag]},
                }
            ),
            description="Reads one customer's ledger rows; the customer comes from the session tag",
            max_session_duration=cdk.Duration.hours(1),
        )
        iam.ManagedPolicy(
            self,
            "ReaderPolicy",
            description="Query or GetItem only the rows whose partition key is the session's customer tag",
            roles=[self.reader_role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadOwnCustomerRowsOnly",
                    actions=["dynamodb:Query", "dynamodb:GetItem"],
                    resources=[self.table.table_arn],
                    conditions={
                        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"${{aws:PrincipalTag/{session_tag}}}"]},
                        # Without this, a session with no tag would satisfy ForAllValues vacuously.
                        "Null": {f"aws:PrincipalTag/{session_tag}": "false"},
                    },
                ),
                iam.PolicyStatement(
                    sid="DecryptThroughDynamoDbOnly",
                    actions=["kms:Decrypt", "kms:DescribeKey"],
                    resources=[encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{cdk.Aws.REGION}.amazonaws.com"}},
                ),
            ],
        )

    def allow_assume(self, principal: iam.IRole) -> iam.PolicyStatement:
        """Make ``principal`` the one role that may assume the reader role (with the customer tag).

        Returns the statement to add to the principal's own policy.
        """
        if self._reader_principal_arn is not None:
            raise ValueError(f"{self.node.path}: the reader role already trusts one principal; the ledger has one reader")
        self._reader_principal_arn = principal.role_arn
        return iam.PolicyStatement(
            sid="AssumeLedgerReaderWithCustomerTag",
            actions=["sts:AssumeRole", "sts:TagSession"],
            resources=[self.reader_role.role_arn],
        )

    def _produce_reader_principal_arn(self) -> str:
        if self._reader_principal_arn is None:
            raise ValueError(f"{self.node.path}: no principal may assume the reader role; call allow_assume")
        return self._reader_principal_arn

    def _build_backup_plan(self) -> None:
        vault = backup.BackupVault(
            self, "BackupVault", encryption_key=self.encryption_key, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        plan = backup.BackupPlan.daily35_day_retention(self, "BackupPlan", vault)
        selection = plan.add_selection(
            "Ledger", resources=[backup.BackupResource.from_dynamo_db_table(self.table)], allow_restores=False
        )
        acknowledge(
            selection.node.find_child("Role"),
            ["AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]"],
            "AWS Backup assumes this role to back up the ledger table; AWSBackupServiceRolePolicyForBackup is the "
            "AWS-maintained policy for that service role and follows new backup features without edits here.",
        )


@jsii.implements(cdk.IStableStringProducer)
class _ReaderPrincipalArn:
    """Resolves to the ARN given to `LedgerTable.allow_assume`, at synthesis time."""

    def __init__(self, ledger: LedgerTable) -> None:
        self._ledger = ledger

    def produce(self) -> str:
        return self._ledger._produce_reader_principal_arn()
