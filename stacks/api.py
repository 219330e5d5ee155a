"""API stack: the HTTP API in front of Blu: the launcher's routes, and everything else through the VPC link."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from stacks import routes
from stacks.settings import BluSettings

# What the launcher answers, awake or asleep; every other request goes to the task.
LAUNCHER_ROUTES: tuple[tuple[str, apigwv2.HttpMethod], ...] = tuple(
    (path, apigwv2.HttpMethod[method]) for path, method in routes.LAUNCHER_ROUTES
)
# One person's browser: long-polls, uploads and page loads stay far below this; a runaway script or
# a stranger hammering /login does not.
THROTTLE_RATE_PER_SECOND = 20
THROTTLE_BURST = 50
# HTTP APIs cut integrations at 30 s; the event long-poll waits up to 25 s.
INTEGRATION_TIMEOUT_SECONDS = 29
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "time": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "responseLength": "$context.responseLength",
}


class BluHttpApi(Construct):
    """HTTP API, `$default` stage (no stage prefix on backend paths), access logs and throttling."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        vpc_link_security_group: ec2.ISecurityGroup,
        cloud_map_service: servicediscovery.IService,
        launcher: lambda_.IFunction,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc_link = apigwv2.VpcLink(
            self,
            "VpcLink",
            vpc=vpc,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[vpc_link_security_group],
        )
        app = integrations.HttpServiceDiscoveryIntegration(
            "App", cloud_map_service, vpc_link=self.vpc_link, timeout=cdk.Duration.seconds(INTEGRATION_TIMEOUT_SECONDS)
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            description="Blu: the launcher while asleep, the app while awake",
            create_default_stage=False,
            default_integration=app,
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=THROTTLE_RATE_PER_SECOND, burst_limit=THROTTLE_BURST),
        )
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )

        launcher_integration = integrations.HttpLambdaIntegration("Launcher", launcher)
        for path, method in LAUNCHER_ROUTES:
            self.api.add_routes(path=path, methods=[method], integration=launcher_integration)
        self.url = f"https://{self.api.api_id}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/"


class ApiStack(cdk.Stack):
    """Blu's public entry point; its output is the URL to open."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BluSettings,
        vpc: ec2.IVpc,
        vpc_link_security_group: ec2.ISecurityGroup,
        cloud_map_service: servicediscovery.IService,
        launcher: lambda_.IFunction,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        http = BluHttpApi(
            self,
            "Http",
            vpc=vpc,
            vpc_link_security_group=vpc_link_security_group,
            cloud_map_service=cloud_map_service,
            launcher=launcher,
            log_retention=settings.log_retention,
        )
        self.api = http.api
        self.stage = http.stage
        self.url = http.url
        cdk.CfnOutput(self, "Url", value=http.url, description="Open this in a browser to use Blu")
