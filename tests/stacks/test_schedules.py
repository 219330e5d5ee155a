"""Scheduled runs in AWS: the wake schedule group, the role EventBridge Scheduler uses, the task's narrow grants."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from app import WAKE_SCHEDULE_ACTIONS
from tests.stacks.conftest import SynthesizedApp


def _policies(template: Template) -> list[dict[str, Any]]:
    return [p["Properties"] for p in template.find_resources("AWS::IAM::Policy").values()]


def _statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _policies(template)
        if role_fragment in str(policy["Roles"])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _logical_id(template: Template, resource_type: str, fragment: str) -> str:
    (found,) = [name for name in template.find_resources(resource_type) if fragment in name]
    return found


def test_a_schedule_group_and_a_role_that_may_only_invoke_the_schedule_wake_function(
    control_template: Template, blu: SynthesizedApp
) -> None:
    groups = control_template.find_resources("AWS::Scheduler::ScheduleGroup")
    assert [g["Properties"]["Name"] for g in groups.values()] == [blu.settings.schedule_group_name]
    wake = _logical_id(control_template, "AWS::Lambda::Function", "ScheduleWake")
    function = control_template.find_resources("AWS::Lambda::Function")[wake]["Properties"]
    assert function["FunctionName"] == blu.settings.schedule_wake_name
    assert function["Handler"] == "lambdas.schedule_wake.handler.lambda_handler"

    role_id = _logical_id(control_template, "AWS::IAM::Role", "WakeSchedulesRole")
    role = control_template.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    assert role["RoleName"] == blu.settings.schedule_wake_name
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnEquals"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    assert "schedule-group/" + blu.settings.schedule_group_name in str(trust["Condition"]["ArnEquals"])
    (statement,) = _statements(control_template, role_id)
    assert _actions(statement) == ["lambda:InvokeFunction"]
    assert statement["Resource"] == {"Fn::GetAtt": [wake, "Arn"]}


def test_the_schedule_wake_function_scales_the_service_and_reads_the_table_but_not_the_secret(
    control_template: Template,
) -> None:
    statements = _statements(control_template, "ScheduleWakeServiceRole")
    actions = {action for s in statements for action in _actions(s)}
    assert {"ecs:UpdateService", "dynamodb:GetItem", "dynamodb:UpdateItem"} <= actions
    assert not any(action.startswith(("secretsmanager:", "scheduler:", "iam:")) for action in actions)


def test_the_task_manages_only_blu_wakes_in_its_group_and_passes_only_the_wake_role(
    service_template: Template, blu: SynthesizedApp
) -> None:
    statements = _statements(service_template, "TaskRole")
    scheduling = [s for s in statements if any(a.startswith("scheduler:") for a in _actions(s))]
    (manage,) = scheduling
    assert sorted(_actions(manage)) == sorted(WAKE_SCHEDULE_ACTIONS)
    assert f":schedule/{blu.settings.schedule_group_name}/blu-*" in str(manage["Resource"])
    (passing,) = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert _actions(passing) == ["iam:PassRole"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    assert f":role/{blu.settings.schedule_wake_name}" in str(passing["Resource"])

    (task,) = [r["Properties"] for r in service_template.find_resources("AWS::ECS::TaskDefinition").values()]
    env = {e["Name"]: e["Value"] for e in task["ContainerDefinitions"][0]["Environment"]}
    assert env["BLU_SCHEDULE_GROUP"] == blu.settings.schedule_group_name
    assert f"function:{blu.settings.schedule_wake_name}" in str(env["BLU_SCHEDULE_TARGET_ARN"])
    assert f":role/{blu.settings.schedule_wake_name}" in str(env["BLU_SCHEDULE_ROLE_ARN"])
