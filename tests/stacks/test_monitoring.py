"""The monitoring stack: every Blu metric on the dashboard is one the code emits, the alarms watch the
right metrics with the right thresholds, the topic is safe, and every log group expires."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from core.observability import metrics as m
from stacks.monitoring import MonitoringStack
from stacks.settings import BluSettings
from tests.stacks.conftest import SynthesizedApp, make_app
from tests.support.emf import parse_emf, sample_calls

MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, name, dimensions


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def dashboard_body(template: dict[str, Any], construct: str = "Dashboard") -> dict[str, Any]:
    """A dashboard's JSON (the main one unless named: "BackupDashboard"), with CloudFormation
    references replaced by a placeholder."""
    (dashboard,) = [
        v
        for k, v in resources(template, "AWS::CloudWatch::Dashboard").items()
        if v["Metadata"]["aws:cdk:path"].endswith(f"/{construct}/Dashboard/Resource")
    ]
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        body = "".join(part if isinstance(part, str) else "REF" for part in body["Fn::Join"][1])
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def dashboard_metrics(body: dict[str, Any]) -> list[MetricKey]:
    found = []
    for widget in body["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            names = [part for part in entry if isinstance(part, str)]
            if len(names) >= 2:
                namespace, name, *dims = names
                found.append((namespace, name, tuple(zip(dims[::2], dims[1::2], strict=True))))
    return found


def alarm_metrics(alarm: dict[str, Any]) -> list[MetricKey]:
    props = alarm["Properties"]
    stats = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
    if "MetricName" in props:
        stats.append(props)
    return [
        (s["Namespace"], s["MetricName"], tuple((d["Name"], str(d["Value"])) for d in s.get("Dimensions", [])))
        for s in stats
    ]


@pytest.fixture(scope="module")
def emitted() -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """What the code really writes: each metric name with the dimension sets of its records."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for call in sample_calls().values():
            call()
        for tier in m.TIERS:
            m.record_turn(tier=tier, first_token_ms=1, duration_ms=2, input_tokens=0, output_tokens=0, cost_usd=0,
                          tool_calls=0, tool_errors=0)  # fmt: skip
        for reason in m.SLEEP_REASONS:
            m.record_sleep(reason=reason)
        for kind in m.ERROR_KINDS:
            m.record_error(kind=kind)
    shapes: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for record in parse_emf(out.getvalue()):
        for name in record.values:
            for names in record.dimension_sets:
                shapes.setdefault(name, set()).add(tuple((n, record.dimensions[n]) for n in names))
    return shapes


@pytest.fixture(scope="module")
def monitoring(blu: SynthesizedApp) -> dict[str, Any]:
    return blu.template_json("monitoring")


def test_every_blu_metric_shown_or_alarmed_is_emitted_with_those_dimensions(
    monitoring: dict[str, Any], emitted: dict[str, set[tuple[tuple[str, str], ...]]]
) -> None:
    used = dashboard_metrics(dashboard_body(monitoring)) + dashboard_metrics(
        dashboard_body(monitoring, "BackupDashboard")
    )
    for alarm in resources(monitoring, "AWS::CloudWatch::Alarm").values():
        used += alarm_metrics(alarm)
    ours = [(name, dims) for namespace, name, dims in used if namespace == m.NAMESPACE]
    assert ours
    for name, dims in ours:
        assert dims in emitted.get(name, set()), f"{name} {dims} is shown or alarmed but never emitted"


def test_the_dashboard_shows_the_whole_catalogue_and_the_aws_metrics_that_matter(monitoring: dict[str, Any]) -> None:
    used = dashboard_metrics(dashboard_body(monitoring)) + dashboard_metrics(
        dashboard_body(monitoring, "BackupDashboard")
    )
    assert {name for namespace, name, _ in used if namespace == m.NAMESPACE} == set(m.METRIC_NAMES)
    aws = {(namespace, name) for namespace, name, _ in used if namespace != m.NAMESPACE}
    assert aws >= {
        ("AWS/ApiGateway", "4xx"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("AWS/EFS", "StorageBytes"),
        ("AWS/ECS", "MemoryUtilization"),
    }


def test_the_dashboard_stays_within_the_free_tiers_50_metrics(monitoring: dict[str, Any]) -> None:
    entries = [
        entry
        for widget in dashboard_body(monitoring)["widgets"]
        for entry in widget["properties"].get("metrics", [])
        if any(isinstance(part, str) for part in entry)
    ]
    assert 30 <= len(entries) <= 50


def test_status_and_cost_on_top_speed_in_the_middle_errors_at_the_bottom(monitoring: dict[str, Any]) -> None:
    widgets = dashboard_body(monitoring)["widgets"]
    headers = sorted((w["y"], w["properties"]["markdown"]) for w in widgets if w["type"] == "text")
    assert [text for _, text in headers] == ["## Status and cost", "## Speed and use", "## Errors"]
    top = [w for w in widgets if w["y"] < headers[1][0]]
    assert any(w["type"] == "alarm" for w in top)
    assert any("RunningMinutes" in json.dumps(w) and "TurnCostUSD" in json.dumps(w) for w in top)
    bottom = [w for w in widgets if w["y"] > headers[2][0]]
    titles = [w["properties"]["title"].lower() for w in bottom]
    assert len(titles) >= 5 and all(any(k in t for k in ("error", "throttle", "5xx")) for t in titles), titles
    assert all(w["x"] >= 0 and w["x"] + w["width"] <= 24 for w in widgets)


def alarm(monitoring: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [v for k, v in resources(monitoring, "AWS::CloudWatch::Alarm").items() if k.startswith(prefix)]
    props: dict[str, Any] = found["Properties"]
    return props


def test_cost_guard_fires_after_the_configured_hours_in_a_day(blu: SynthesizedApp, monitoring: dict[str, Any]) -> None:
    guard = alarm(monitoring, "AlarmsCostGuard")
    assert guard["MetricName"] == m.RUNNING_MINUTES and guard["Namespace"] == m.NAMESPACE
    assert (guard["Statistic"], guard["Period"], guard["EvaluationPeriods"]) == ("Sum", 86400, 1)
    assert guard["Threshold"] == blu.settings.max_running_hours_per_day * 60
    assert guard["ComparisonOperator"] == "GreaterThanThreshold"
    assert guard["TreatMissingData"] == "notBreaching"


def test_error_and_login_alarms_watch_single_totals(monitoring: dict[str, Any]) -> None:
    errors = alarm(monitoring, "AlarmsErrors")
    assert (errors["MetricName"], errors.get("Dimensions")) == (m.ERRORS, None)  # the total series
    login = alarm(monitoring, "AlarmsLoginAttack")
    assert {name for _, name, _ in alarm_metrics({"Properties": login})} == {m.LOGIN_FAILURES, m.LOGIN_THROTTLED}
    backend = alarm(monitoring, "AlarmsBackendErrors")
    assert sorted(name for _, name, _ in alarm_metrics({"Properties": backend})) == ["5xx", "Errors", "Errors"]


def test_every_alarm_notifies_the_topic_which_takes_ssl_only(monitoring: dict[str, Any]) -> None:
    (topic,) = resources(monitoring, "AWS::SNS::Topic")
    alarms = resources(monitoring, "AWS::CloudWatch::Alarm").values()
    assert len(alarms) == 6
    for props in (a["Properties"] for a in alarms):
        assert props["AlarmActions"] == [{"Ref": topic}] and props["OKActions"] == [{"Ref": topic}]
    (policy,) = resources(monitoring, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    assert any(s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    assert resources(monitoring, "AWS::SNS::Subscription") == {}  # alarm_email is empty in cdk.json


def test_an_alarm_email_subscribes_to_the_topic(tmp_path: Any) -> None:
    app = make_app(tmp_path)
    stack = cdk.Stack(app, "Given")
    stack_template = MonitoringStack(
        app,
        "Monitoring",
        settings=BluSettings(alarm_email="ops@example.com", max_running_hours_per_day=2),
        table=dynamodb.Table.from_table_name(stack, "Table", "blu"),
        file_system=efs.FileSystem.from_file_system_attributes(
            stack,
            "Files",
            file_system_id="fs-1",
            security_group=ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-1"),
        ),
        api=apigwv2.HttpApi.from_http_api_attributes(stack, "Api", http_api_id="abc"),
        launcher=lambda_.Function.from_function_name(stack, "Launcher", "launcher"),
        idle_checker=lambda_.Function.from_function_name(stack, "Idle", "idle"),
        cluster_name="c",
        service_name="s",
    )
    template = Template.from_stack(stack_template)
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "RunningMinutes", "Threshold": 120})


def test_every_log_group_expires_and_every_function_logs_into_one(
    blu: SynthesizedApp, all_templates: dict[str, dict[str, Any]]
) -> None:
    groups = [g for t in all_templates.values() for g in resources(t, "AWS::Logs::LogGroup").values()]
    assert len(groups) >= 6
    assert {g["Properties"].get("RetentionInDays") for g in groups} == {blu.settings.log_retention_days}
    functions = [f for t in all_templates.values() for f in resources(t, "AWS::Lambda::Function").values()]
    assert len(functions) >= 3
    assert all("LogGroup" in f["Properties"].get("LoggingConfig", {}) for f in functions)
