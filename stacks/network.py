"""Network stack: a two-AZ public-only VPC, Blu's security groups and reject-only flow logs (stateless)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.settings import BluSettings

APP_PORT = 8000
NFS_PORT = 2049

# API Gateway VPC links (HTTP APIs) are offered only in some AZs, named here by AZ ID (the same
# zone in every account; AZ *names* are shuffled per account). Two supported zones per region, from
# "Set up VPC links for HTTP APIs in API Gateway", availability by Region (AWS docs, checked 2026-11).
# In these regions the subnets are pinned by AZ ID; elsewhere they take the first two AZs by name
# (docs/deploy.md says how to add a region).
VPC_LINK_AZ_IDS: dict[str, tuple[str, str]] = {
    "us-east-1": ("use1-az1", "use1-az2"),  # not use1-az3
    "us-east-2": ("use2-az1", "use2-az2"),
    "us-west-1": ("usw1-az1", "usw1-az3"),
    "us-west-2": ("usw2-az1", "usw2-az2"),
    "ap-east-1": ("ape1-az2", "ape1-az3"),
    "ap-south-1": ("aps1-az1", "aps1-az2"),
    "ap-northeast-2": ("apne2-az1", "apne2-az2"),
    "ap-southeast-1": ("apse1-az1", "apse1-az2"),
}


class BluNetwork(Construct):
    """VPC and security groups for a task that is reachable only through API Gateway's VPC link.

    No NAT gateway and no load balancer: the task sits in a public subnet with a public IP for
    outbound traffic, and its security group admits the app port only from inside the VPC (where
    the VPC link's network interfaces live). Egress is an explicit allow-list.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc_cidr: str,
        dns_resolver_ip: str,
        flow_log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)

        # Environment-agnostic stack + max_azs=2: the AZs resolve through Fn::GetAZs at deploy
        # time, so synth needs no account, region or context lookup.
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(vpc_cidr),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ],
            # Strips the default security group's rules so nothing can use it by accident.
            restrict_default_security_group=True,
        )

        self._pin_subnets_to_vpc_link_zones()

        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=flow_log_retention,
            # Stateless stack: rejected-packet records are diagnostics, not data worth keeping
            # after the network itself is gone.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # REJECT only: accepted traffic is the expected case and logging it costs ingestion.
        self.flow_log = self.vpc.add_flow_log(
            "RejectFlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )

        self.app_security_group = ec2.SecurityGroup(
            self,
            "AppSecurityGroup",
            vpc=self.vpc,
            description="Blu task: app port from inside the VPC only; explicit egress allow-list",
            allow_all_outbound=False,
        )
        self.efs_security_group = ec2.SecurityGroup(
            self,
            "EfsSecurityGroup",
            vpc=self.vpc,
            description="Blu EFS mount targets: NFS from the Blu task only",
            allow_all_outbound=False,
        )
        self.vpc_link_security_group = ec2.SecurityGroup(
            self,
            "VpcLinkSecurityGroup",
            vpc=self.vpc,
            description="API Gateway VPC link: may reach the app port of the Blu task only",
            allow_all_outbound=False,
        )

        self._app_rules(vpc_cidr=vpc_cidr, dns_resolver_ip=dns_resolver_ip)
        self.efs_security_group.add_ingress_rule(
            self.app_security_group, ec2.Port.tcp(NFS_PORT), "NFS from the Blu task"
        )
        self.vpc_link_security_group.add_egress_rule(
            self.app_security_group, ec2.Port.tcp(APP_PORT), "Forward API requests to the Blu task"
        )

    def _pin_subnets_to_vpc_link_zones(self) -> None:
        """In the regions of VPC_LINK_AZ_IDS, place subnet i in that region's i-th AZ ID (a CloudFormation
        mapping and condition: the stack stays environment-agnostic); elsewhere keep Fn::GetAZs by name."""
        stack = cdk.Stack.of(self)
        mapping = cdk.CfnMapping(
            self,
            "VpcLinkZones",
            mapping={region: {"First": ids[0], "Second": ids[1]} for region, ids in VPC_LINK_AZ_IDS.items()},
        )
        known = cdk.CfnCondition(
            self,
            "VpcLinkZonesKnown",
            expression=cdk.Fn.condition_or(
                *(cdk.Fn.condition_equals(cdk.Aws.REGION, region) for region in VPC_LINK_AZ_IDS)
            ),
        )
        subnets = self.vpc.public_subnets
        assert len(subnets) == 2
        for index, (subnet, key) in enumerate(zip(subnets, ("First", "Second"), strict=True)):
            resource = subnet.node.default_child
            assert isinstance(resource, ec2.CfnSubnet)
            by_name = cdk.Fn.select(index, cdk.Fn.get_azs(stack.region))
            resource.add_property_override(
                "AvailabilityZone", cdk.Fn.condition_if(known.logical_id, cdk.Aws.NO_VALUE, by_name)
            )
            resource.add_property_override(
                "AvailabilityZoneId",
                cdk.Fn.condition_if(known.logical_id, mapping.find_in_map(cdk.Aws.REGION, key), cdk.Aws.NO_VALUE),
            )
            # CDK's built-in template check ignores conditions; cfn-lint evaluates both branches and
            # finds exactly one of the two properties in each.
            cdk.Validations.of(resource).acknowledge(
                cdk.Acknowledgment(
                    id="CloudFormation Validate::F3020",
                    reason="AvailabilityZone and AvailabilityZoneId are set under opposite branches of one condition",
                )
            )

    def _app_rules(self, *, vpc_cidr: str, dns_resolver_ip: str) -> None:
        sg = self.app_security_group
        sg.add_ingress_rule(
            ec2.Peer.ipv4(vpc_cidr),
            ec2.Port.tcp(APP_PORT),
            "App port from inside the VPC: API Gateway's VPC link ENIs live there",
        )
        anywhere = ec2.Peer.any_ipv4()
        sg.add_egress_rule(
            anywhere,
            ec2.Port.tcp(443),
            "HTTPS: Claude API, LiveKit signalling, TURN/TLS, STT/TTS, AWS APIs, image pulls",
        )
        sg.add_egress_rule(anywhere, ec2.Port.udp(3478), "TURN over UDP to LiveKit Cloud")
        sg.add_egress_rule(anywhere, ec2.Port.udp_range(50000, 60000), "WebRTC media over UDP to LiveKit Cloud")
        sg.add_egress_rule(anywhere, ec2.Port.tcp(7881), "WebRTC media over TCP to LiveKit Cloud")
        sg.add_egress_rule(self.efs_security_group, ec2.Port.tcp(NFS_PORT), "NFS to the Blu EFS file system")
        # Security groups do not filter traffic to the Amazon DNS server; these rules record intent
        # and keep DNS working if that ever changes.
        resolver = ec2.Peer.ipv4(f"{dns_resolver_ip}/32")
        sg.add_egress_rule(resolver, ec2.Port.udp(53), "DNS over UDP to the VPC resolver (network + 2)")
        sg.add_egress_rule(resolver, ec2.Port.tcp(53), "DNS over TCP to the VPC resolver (network + 2)")


class NetworkStack(cdk.Stack):
    """Stateless networking: safe to destroy and recreate; holds no data."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: BluSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = BluNetwork(
            self,
            "Network",
            vpc_cidr=settings.vpc_cidr,
            dns_resolver_ip=settings.dns_resolver_ip,
            flow_log_retention=settings.log_retention,
        )
        self.vpc = self.network.vpc
        self.app_security_group = self.network.app_security_group
        self.efs_security_group = self.network.efs_security_group
        self.vpc_link_security_group = self.network.vpc_link_security_group
        self.flow_log_group = self.network.flow_log_group
