"""Backups in the templates: grants of the task and the drill, the bucket setting, the drill's schedule, the alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from app import BACKUP_PREFIX
from core.config import ENV_BACKUPS_BUCKET
from core.observability import metrics as m
from stacks.control import DRILL_EPHEMERAL_MIB
from tests.stacks.conftest import SynthesizedApp
from tests.stacks.test_monitoring import alarm_metrics, resources

BACKUPS_OUTPUT = "PublishOutputFnGetAttBucketsBackups"


def _statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if role_fragment in str(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _backup_statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    return [s for s in _statements(template, role_fragment) if "Backups" in str(s["Resource"])]


def _check_listing(statements: list[dict[str, Any]]) -> None:
    (listing,) = [s for s in statements if _actions(s) == {"s3:ListBucket"}]
    assert BACKUPS_OUTPUT in str(listing["Resource"]) and "/" not in str(listing["Resource"]).split("}}")[-1]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [BACKUP_PREFIX + "*"]}}


def test_the_task_writes_and_reads_snapshots_and_cannot_delete_them(service_template: Template) -> None:
    statements = _backup_statements(service_template, "TaskRole")
    _check_listing(statements)
    (objects,) = [s for s in statements if _actions(s) != {"s3:ListBucket"}]
    assert _actions(objects) == {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}
    assert f"/{BACKUP_PREFIX}*" in str(objects["Resource"])
    deletes = [s for s in _statements(service_template, "TaskRole") if any("Delete" in a for a in _actions(s))]
    assert deletes and all("Backups" not in str(s["Resource"]) for s in deletes)  # only the files bucket's


def test_the_task_is_told_its_backups_bucket(service_template: Template) -> None:
    (task,) = service_template.find_resources("AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert "BucketsBackups" in str(env[ENV_BACKUPS_BUCKET])


def test_the_restore_drill_only_reads_snapshots(control_template: Template) -> None:
    statements = _statements(control_template, "RestoreDrill")
    backup = _backup_statements(control_template, "RestoreDrill")
    _check_listing(backup)
    (reads,) = [s for s in backup if _actions(s) != {"s3:ListBucket"}]
    assert _actions(reads) == {"s3:GetObject"} and f"/{BACKUP_PREFIX}*" in str(reads["Resource"])
    others = [s for s in statements if s not in backup]
    assert all(_actions(s) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} for s in others)


def test_the_restore_drill_runs_monthly_with_room_in_tmp(control_template: Template) -> None:
    functions = {
        props["Handler"]: props
        for props in (r["Properties"] for r in control_template.find_resources("AWS::Lambda::Function").values())
    }
    drill = functions["lambdas.restore_drill.handler.lambda_handler"]
    assert set(drill["Environment"]["Variables"]) == {ENV_BACKUPS_BUCKET, "POWERTOOLS_SERVICE_NAME"}
    assert drill["EphemeralStorage"] == {"Size": DRILL_EPHEMERAL_MIB}
    assert drill["Timeout"] >= 300
    rules = [r["Properties"] for r in control_template.find_resources("AWS::Events::Rule").values()]
    (rule,) = [r for r in rules if "RestoreDrill" in str(r["Targets"])]
    assert rule["ScheduleExpression"] == "cron(17 4 1 * ? *)"  # once a month


def test_a_failed_or_missing_backup_and_a_failed_drill_alarm(blu: SynthesizedApp) -> None:
    monitoring = blu.template_json("monitoring")
    alarms = resources(monitoring, "AWS::CloudWatch::Alarm")
    by_metrics = {tuple(sorted(name for _, name, _ in alarm_metrics(a))): a for a in alarms.values()}
    backup = by_metrics[tuple(sorted((m.BACKUPS, m.BACKUP_PENDING_HOURS)))]
    assert ("Outcome", "failed") in {d for _, name, dims in alarm_metrics(backup) for d in dims if name == m.BACKUPS}
    expression = next(q["Expression"] for q in backup["Properties"]["Metrics"] if "Expression" in q)
    assert "failed" in expression and "pending" in expression
    drill = by_metrics[(m.RESTORE_DRILLS,)]
    assert alarm_metrics(drill)[0][2] == (("Outcome", "failed"),)
    for alarm in (backup, drill):
        assert alarm["Properties"]["AlarmActions"] and alarm["Properties"]["Threshold"] == 1
