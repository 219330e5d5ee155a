"""The VPC link's subnets land only in AZs where API Gateway offers VPC links (us-east-1: never use1-az3)."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.network import VPC_LINK_AZ_IDS
from tests.stacks.conftest import SynthesizedApp

_NO_VALUE = object()


def evaluate(value: Any, template: dict[str, Any], region: str) -> Any:
    """The few intrinsic functions the subnets use, evaluated as CloudFormation would in ``region``
    (Fn::GetAZs gives placeholder names: which names exist differs per account)."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return {"AWS::Region": region, "AWS::NoValue": _NO_VALUE}[arg]
        if name == "Fn::If":
            condition, then, otherwise = arg
            chosen = then if evaluate(template["Conditions"][condition], template, region) else otherwise
            return evaluate(chosen, template, region)
        if name == "Fn::Or":
            return any(evaluate(a, template, region) for a in arg)
        if name == "Fn::Equals":
            left, right = (evaluate(a, template, region) for a in arg)
            return left == right
        if name == "Fn::FindInMap":
            mapping, key, attribute = (evaluate(a, template, region) for a in arg)
            return template["Mappings"][mapping][key][attribute]
        if name == "Fn::Select":
            index, items = arg
            return evaluate(items, template, region)[index]
        if name == "Fn::GetAZs":
            return [f"{region}{letter}" for letter in "abcdef"]
    return value


def _vpc_link_subnets(blu: SynthesizedApp) -> list[dict[str, Any]]:
    network = blu.template_json("network")
    api = blu.template_json("api")
    (link,) = (r for r in api["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::VpcLink")
    # Weak cross-stack references: the API stack reads the network stack's outputs by name.
    outputs = {name: output["Value"] for name, output in network.get("Outputs", {}).items()}
    ids = [outputs[ref["Fn::GetStackOutput"]["OutputName"]]["Ref"] for ref in link["Properties"]["SubnetIds"]]
    assert len(ids) == 2
    return [network["Resources"][logical_id]["Properties"] for logical_id in ids]


def _placement(subnet: dict[str, Any], template: dict[str, Any], region: str) -> tuple[Any, Any]:
    return (
        evaluate(subnet.get("AvailabilityZoneId", {"Ref": "AWS::NoValue"}), template, region),
        evaluate(subnet.get("AvailabilityZone", {"Ref": "AWS::NoValue"}), template, region),
    )


def test_us_east_1_vpc_link_subnets_are_pinned_to_supported_zone_ids(blu: SynthesizedApp) -> None:
    template = blu.template_json("network")
    placements = [_placement(s, template, "us-east-1") for s in _vpc_link_subnets(blu)]
    zone_ids = [zone_id for zone_id, _ in placements]
    # By ID, never by a name that maps to a different zone in each account.
    assert all(name is _NO_VALUE for _, name in placements)
    assert len(set(zone_ids)) == 2
    assert "use1-az3" not in zone_ids
    assert set(zone_ids) <= {"use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"}


@pytest.mark.parametrize("region", sorted(VPC_LINK_AZ_IDS))
def test_every_documented_region_gets_two_distinct_zone_ids(blu: SynthesizedApp, region: str) -> None:
    template = blu.template_json("network")
    zone_ids = [_placement(s, template, region)[0] for s in _vpc_link_subnets(blu)]
    assert zone_ids == list(VPC_LINK_AZ_IDS[region])
    assert len(set(zone_ids)) == 2


def test_other_regions_keep_the_first_two_zones_by_name(blu: SynthesizedApp) -> None:
    template = blu.template_json("network")
    placements = [_placement(s, template, "eu-west-1") for s in _vpc_link_subnets(blu)]
    assert placements == [(_NO_VALUE, "eu-west-1a"), (_NO_VALUE, "eu-west-1b")]
