"""NetworkStack: two public subnets, no NAT or load balancer, exact security-group rules, reject flow logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from tests.stacks.conftest import SynthesizedApp

VPC_CIDR = "10.20.0.0/16"
ANYWHERE = "0.0.0.0/0"
SECURITY_GROUPS = ("app_security_group", "efs_security_group", "vpc_link_security_group")


def resources(template: Mapping[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(items: dict[str, Any]) -> tuple[str, Any]:
    assert len(items) == 1, items
    return next(iter(items.items()))


def logical_id(construct: Any) -> str:
    stack = cdk.Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))


def rule_key(rule: dict[str, Any], peer_names: dict[str, str]) -> tuple[Any, ...]:
    """(peer, protocol, from, to), with security-group peers named by their attribute name."""
    peer = rule.get("CidrIp") or rule.get("SourceSecurityGroupId") or rule.get("DestinationSecurityGroupId")
    if isinstance(peer, dict):
        peer = peer_names[peer["Fn::GetAtt"][0]]
    return (peer, rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"))


def sg_rules(blu: SynthesizedApp, name: str) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]], list[dict]]:
    """Every ingress and egress rule of one security group: inline ones and standalone resources."""
    network = blu.stacks.network
    template = blu.template_json("network")
    peer_names = {logical_id(getattr(network, n)): n for n in SECURITY_GROUPS}
    sg_id = logical_id(getattr(network, name))
    props = template["Resources"][sg_id]["Properties"]
    ingress = list(props.get("SecurityGroupIngress", []))
    egress = list(props.get("SecurityGroupEgress", []))
    for kind, rules in (("AWS::EC2::SecurityGroupIngress", ingress), ("AWS::EC2::SecurityGroupEgress", egress)):
        for resource in resources(template, kind).values():
            if resource["Properties"]["GroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}:
                rules.append(resource["Properties"])
    return ({rule_key(r, peer_names) for r in ingress}, {rule_key(r, peer_names) for r in egress}, ingress + egress)


def test_no_nat_gateway_and_no_load_balancer_anywhere(all_templates: dict[str, dict[str, Any]]) -> None:
    for name, template in all_templates.items():
        types = {r["Type"] for r in template["Resources"].values()}
        assert "AWS::EC2::NatGateway" not in types, name
        assert not {t for t in types if t.startswith("AWS::ElasticLoadBalancing")}, name
        assert "AWS::EC2::EIP" not in types, name


def test_vpc_has_two_public_subnets_in_two_azs_and_nothing_private(network_template: Template) -> None:
    template = network_template.to_json()
    network_template.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": VPC_CIDR})
    subnets = resources(template, "AWS::EC2::Subnet")
    assert len(subnets) == 2
    # Environment-agnostic: the AZs are picked at deploy time (by AZ ID from a mapping in the regions
    # tests/stacks/test_vpc_link_zones.py covers, else with Fn::GetAZs), not looked up at synth.
    by_name = [s["Properties"]["AvailabilityZone"]["Fn::If"][2]["Fn::Select"] for s in subnets.values()]
    assert sorted(index for index, _ in by_name) == [0, 1]
    for subnet in subnets.values():
        assert "Fn::FindInMap" in subnet["Properties"]["AvailabilityZoneId"]["Fn::If"][1]
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is True
    # Every route table sends 0.0.0.0/0 to the internet gateway: there is no private subnet.
    routes = resources(template, "AWS::EC2::Route")
    assert len(routes) == len(resources(template, "AWS::EC2::RouteTable")) == 2
    igw = only(resources(template, "AWS::EC2::InternetGateway"))[0]
    for route in routes.values():
        assert route["Properties"]["DestinationCidrBlock"] == ANYWHERE
        assert route["Properties"]["GatewayId"] == {"Ref": igw}


def test_stacks_are_environment_agnostic_and_need_no_lookups(blu: SynthesizedApp) -> None:
    for stack in blu.stacks.all():
        assert stack.environment == "aws://unknown-account/unknown-region"
    assert not (blu.assembly_dir / "manifest.json").read_text().count('"missing"')


def test_default_security_group_is_stripped(network_template: Template) -> None:
    network_template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_every_security_group_in_the_vpc_is_one_of_ours(network_template: Template) -> None:
    network_template.resource_count_is("AWS::EC2::SecurityGroup", len(SECURITY_GROUPS))


def test_app_security_group_rules(blu: SynthesizedApp) -> None:
    ingress, egress, rules = sg_rules(blu, "app_security_group")
    assert ingress == {(VPC_CIDR, "tcp", 8000, 8000)}
    assert egress == {
        (ANYWHERE, "tcp", 443, 443),
        (ANYWHERE, "udp", 3478, 3478),
        (ANYWHERE, "udp", 50000, 60000),
        (ANYWHERE, "tcp", 7881, 7881),
        ("efs_security_group", "tcp", 2049, 2049),
        ("10.20.0.2/32", "udp", 53, 53),
        ("10.20.0.2/32", "tcp", 53, 53),
    }
    assert all(rule.get("Description") for rule in rules)


def test_efs_security_group_admits_nfs_from_the_app_only_and_sends_nothing(blu: SynthesizedApp) -> None:
    ingress, egress, _ = sg_rules(blu, "efs_security_group")
    assert ingress == {("app_security_group", "tcp", 2049, 2049)}
    # CDK's placeholder that matches no traffic: without it AWS would add allow-all egress.
    assert egress == {("255.255.255.255/32", "icmp", 252, 86)}


def test_vpc_link_security_group_reaches_the_app_port_only(blu: SynthesizedApp) -> None:
    ingress, egress, _ = sg_rules(blu, "vpc_link_security_group")
    assert ingress == set()
    # A standalone egress rule makes CloudFormation drop the default allow-all egress.
    assert egress == {("app_security_group", "tcp", 8000, 8000)}


def test_nothing_is_open_to_the_internet_inbound(all_templates: dict[str, dict[str, Any]]) -> None:
    for template in all_templates.values():
        for sg in resources(template, "AWS::EC2::SecurityGroup").values():
            for rule in sg["Properties"].get("SecurityGroupIngress", []):
                assert rule.get("CidrIp") != ANYWHERE and "CidrIpv6" not in rule
        for rule in resources(template, "AWS::EC2::SecurityGroupIngress").values():
            assert rule["Properties"].get("CidrIp") != ANYWHERE


def test_flow_logs_record_rejected_traffic_with_retention(network_template: Template) -> None:
    template = network_template.to_json()
    vpc = only(resources(template, "AWS::EC2::VPC"))[0]
    # The other log group belongs to CDK's default-security-group provider (stacks/log_retention.py).
    groups = {k: v for k, v in resources(template, "AWS::Logs::LogGroup").items() if k.startswith("NetworkFlowLogs")}
    log_group = only(groups)[0]
    network_template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceId": {"Ref": vpc},
            "ResourceType": "VPC",
            "TrafficType": "REJECT",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": {"Ref": log_group},
            "DeliverLogsPermissionArn": Match.any_value(),
        },
    )
    network_template.resource_count_is("AWS::EC2::FlowLog", 1)
    network_template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 14})


def test_stack_exposes_what_other_stacks_need(blu: SynthesizedApp) -> None:
    network = blu.stacks.network
    assert network.vpc is network.network.vpc
    for name in ("app_security_group", "efs_security_group", "vpc_link_security_group", "flow_log_group"):
        assert getattr(network, name) is getattr(network.network, name)
