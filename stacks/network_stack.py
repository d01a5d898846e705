"""The isolated network every mesh workload runs in."""

from __future__ import annotations

import aws_cdk as cdk

from constructs import Construct
from constructs.encryption_key import EncryptionKey
from constructs.isolated_vpc import IsolatedVpc
from stacks.settings import MeshSettings, SettingsError, retention

PREFIX_LIST_PATTERN = r"^pl-[0-9a-f]{8,17}$"


class NetworkStack(cdk.Stack):
    """VPC without internet access, its flow logs, and the PrivateLink endpoints."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: MeshSettings, **kwargs) -> None:
        self._settings = settings
        super().__init__(scope, construct_id, **kwargs)

        self.log_key = EncryptionKey(
            self, "LogKey", description="Agent mesh network: VPC flow logs", for_log_groups=True
        ).key
        self.isolated = IsolatedVpc(
            self,
            "Network",
            cidr=settings.vpc_cidr,
            max_azs=settings.availability_zones,
            zone_names=self._zone_names(settings),
            flow_log_key=self.log_key,
            flow_log_retention=retention(settings.flow_log_retention_days),
            control_plane_endpoint=settings.control_plane_endpoint,
            bearer_callers=settings.bearer_callers_in_vpc,
            prefix_list_ids=self._prefix_list_ids(settings),
        )
        self.vpc = self.isolated.vpc
        self.workload_security_group = self.isolated.workload_security_group

    @property
    def availability_zones(self) -> list[str]:
        """The configured zones when the region is known, so CDK never looks them up in the account."""
        zone_names = self._zone_names(self._settings)
        return zone_names if zone_names is not None else super().availability_zones

    def _zone_names(self, settings: MeshSettings) -> list[str] | None:
        """Zone names for a known account and region; None lets CloudFormation pick them (Fn::GetAZs).

        With a known account and region, CDK would otherwise look the zones up
        in the account during synthesis, which needs credentials and network.
        """
        if settings.availability_zone_names:
            if not cdk.Token.is_unresolved(self.region) and settings.availability_zone_names[0][:-1] != self.region:
                raise SettingsError(
                    f"context mesh:availabilityZoneNames lists {list(settings.availability_zone_names)}, "
                    f"which are not zones of the stack's region {self.region}"
                )
            return list(settings.availability_zone_names)
        if cdk.Token.is_unresolved(self.region) or cdk.Token.is_unresolved(self.account):
            return None
        # NOTE: assumes the first zones of the region are named a, b, c; set
        # mesh:availabilityZoneNames where an account lacks one of them.
        return [f"{self.region}{letter}" for letter in "abcdef"[: settings.availability_zones]]

    def _prefix_list_ids(self, settings: MeshSettings) -> dict[str, str]:
        """Prefix list ids from context, or stack parameters the deployer fills in.

        The ids differ per region and cannot be looked up during an offline
        synthesis, so a missing context value becomes a CloudFormation
        parameter validated against the prefix list id format.
        """
        ids: dict[str, str] = {}
        for service, name in (("s3", "S3PrefixListId"), ("dynamodb", "DynamoDbPrefixListId")):
            if service in settings.prefix_list_ids:
                ids[service] = settings.prefix_list_ids[service]
                continue
            parameter = cdk.CfnParameter(
                self,
                name,
                type="String",
                allowed_pattern=PREFIX_LIST_PATTERN,
                description=(
                    f"Id of the AWS-managed prefix list com.amazonaws.<region>.{service}; "
                    f"find it with: aws ec2 describe-managed-prefix-lists "
                    f"--filters Name=prefix-list-name,Values=com.amazonaws.<region>.{service}"
                ),
            )
            ids[service] = parameter.value_as_string
        return ids
