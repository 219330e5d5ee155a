"""API stack: launcher routes, `$default` through the VPC link to Cloud Map, access logs, throttling, URL."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from stacks.api import LAUNCHER_ROUTES, THROTTLE_BURST, THROTTLE_RATE_PER_SECOND


def _by_type(template: Template, resource_type: str) -> dict[str, Any]:
    return {k: v["Properties"] for k, v in template.find_resources(resource_type).items()}


def test_launcher_routes_and_default_route(api_template: Template) -> None:
    routes = {p["RouteKey"]: p for p in _by_type(api_template, "AWS::ApiGatewayV2::Route").values()}
    expected = {f"{method.value} {path}" for path, method in LAUNCHER_ROUTES}
    assert set(routes) == expected | {"$default"}
    assert expected == {
        "GET /",
        "GET /login",
        "POST /login",
        "POST /logout",
        "GET /status",
        "POST /wake",
        "POST /shutdown",
        "GET /assets/{proxy+}",
        "GET /sw.js",
        "GET /manifest.webmanifest",
        "GET /icons/{proxy+}",
    }
    integrations = _by_type(api_template, "AWS::ApiGatewayV2::Integration")
    by_id = {key: props for key, props in integrations.items()}
    default_target = routes["$default"]["Target"]["Fn::Join"][1][1]["Ref"]
    app = by_id[default_target]
    assert app["ConnectionType"] == "VPC_LINK"
    assert app["IntegrationType"] == "HTTP_PROXY"
    assert "Fn::GetStackOutput" in str(app["IntegrationUri"]) and "Cloudmap" in str(app["IntegrationUri"])
    for key in expected:
        target = routes[key]["Target"]["Fn::Join"][1][1]["Ref"]
        assert by_id[target]["IntegrationType"] == "AWS_PROXY"
        assert by_id[target]["PayloadFormatVersion"] == "2.0"


def test_default_stage_with_access_logs_and_throttling(api_template: Template) -> None:
    stages = list(_by_type(api_template, "AWS::ApiGatewayV2::Stage").values())
    assert len(stages) == 1
    stage = stages[0]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == THROTTLE_RATE_PER_SECOND
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == THROTTLE_BURST
    assert "$context.status" in stage["AccessLogSettings"]["Format"]
    assert "AccessLogs" in str(stage["AccessLogSettings"]["DestinationArn"])


def test_vpc_link_uses_its_security_group(api_template: Template) -> None:
    links = list(_by_type(api_template, "AWS::ApiGatewayV2::VpcLink").values())
    assert len(links) == 1
    assert "VpcLinkSecurityGroup" in str(links[0]["SecurityGroupIds"])
    assert len(links[0]["SubnetIds"]) == 2


def test_url_output(api_template: Template) -> None:
    outputs = api_template.to_json()["Outputs"]
    assert "execute-api" in str(outputs["Url"]["Value"])


def test_only_the_api_may_invoke_the_launcher(api_template: Template) -> None:
    permissions = list(_by_type(api_template, "AWS::Lambda::Permission").values())
    assert permissions
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert "SourceArn" in permission
