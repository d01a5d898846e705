"""A security group of its own for one mesh workload, reaching only the endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2

from constructs import Construct

HTTPS_PORT = 443


@dataclass(frozen=True)
class MeshNetwork:
    """The parts of the isolated network that a mesh workload connects to."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    # Construct id of the endpoint (for example "Sts") to its security group.
    endpoint_security_groups: Mapping[str, ec2.ISecurityGroup]
    # "s3" and "dynamodb" to the AWS-managed prefix list ids of the gateway endpoints.
    prefix_list_ids: Mapping[str, str]


class WorkloadSecurityGroup(Construct):
    """A security group whose only rules are HTTPS egress to the mesh's endpoints.

    For each interface endpoint it adds the matching ingress rule to the
    endpoint's security group, in this construct's stack, so the endpoint
    admits this workload and nothing else changes. Gateway endpoints (S3,
    DynamoDB) are reached through their prefix lists. No rule names a CIDR.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: MeshNetwork,
        description: str,
        gateway_endpoints: Sequence[str] = ("s3",),
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=network.vpc, description=description, allow_all_outbound=False
        )
        for endpoint_id, endpoint_group in sorted(network.endpoint_security_groups.items()):
            self.security_group.add_egress_rule(
                endpoint_group, ec2.Port.tcp(HTTPS_PORT), f"HTTPS to the {endpoint_id} endpoint"
            )
            ec2.CfnSecurityGroupIngress(
                self,
                f"{endpoint_id}Ingress",
                group_id=endpoint_group.security_group_id,
                source_security_group_id=self.security_group.security_group_id,
                ip_protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                description=f"HTTPS from {construct_id}",
            )
        for service in gateway_endpoints:
            self.security_group.add_egress_rule(
                ec2.Peer.prefix_list(network.prefix_list_ids[service]),
                ec2.Port.tcp(HTTPS_PORT),
                f"HTTPS to the {service} gateway endpoint",
            )
