"""End to end with the ECS and gateway stand-ins: a schedule due while Blu sleeps wakes it, and the run
completes with no browser open (EventBridge Scheduler is moto's; the test delivers its event at the time)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from runtime.schedules.wake import at_expression
from tests.web.conftest import Diagnostics
from tests.web.wake_stack import SCHEDULE_GROUP, SCHEDULE_TARGET, TABLE, wake_stack

# The run is due this long after it is made: time enough to put Blu to sleep first (~1.5 s here), and at
# least twice what waking it just took, so a slow machine gets a longer lead. Too short a lead fails the test
# ("the run started before Blu slept"), it never passes it.
MIN_LEAD_SECONDS = 8


@dataclass
class Context:
    function_name: str = "blu-schedule-wake"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = SCHEDULE_TARGET
    aws_request_id: str = "req-schedule"


def runs_in_table(dynamodb: Any) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=TABLE)["Items"]
    return [item for item in items if item["SK"]["S"].startswith("RUN#")]


def test_a_due_schedule_wakes_the_stopped_service_and_the_run_completes(
    tmp_path: Path, diagnostics: Diagnostics
) -> None:
    with wake_stack(tmp_path) as stack:
        stack.watch(diagnostics)
        started = time.monotonic()
        stack.wake()
        lead = max(MIN_LEAD_SECONDS, 2 * (time.monotonic() - started))
        client = stack.client()
        due = int(time.time() + lead)
        at = datetime.fromtimestamp(due, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        created = client.post(
            "/api/schedules", json={"name": "Nightly", "prompt": "[[say text='Done while you slept']]", "run_at": at}
        )
        assert created.status_code == 201, created.text
        schedule_id = created.json()["id"]
        client.close()

        # The runtime put a wake for the run into EventBridge Scheduler.
        scheduler = boto3.client("scheduler")
        wake = scheduler.get_schedule(Name=f"blu-{schedule_id}", GroupName=SCHEDULE_GROUP)
        assert wake["ScheduleExpression"] == at_expression(due)
        assert wake["Target"]["Arn"] == SCHEDULE_TARGET

        stack.put_to_sleep()
        assert stack.ecs.desired == 0
        assert runs_in_table(stack.dynamodb) == [], "the run started before Blu slept: the test proves nothing"

        # EventBridge Scheduler fires at the time and invokes the schedule-wake function with the input.
        while time.time() < due:
            time.sleep(0.2)
        from lambdas.schedule_wake import handler

        result = handler.lambda_handler(json.loads(wake["Target"]["Input"]), Context())  # type: ignore[arg-type]
        assert result["woken"] is True
        stack.ecs.wait_for(stack.ready, timeout=90)

        def finished() -> list[dict[str, Any]]:
            return [r for r in runs_in_table(stack.dynamodb) if r["outcome"]["S"] != "running"]

        stack.ecs.wait_for(lambda: bool(finished()), timeout=90)
        client = stack.client()
        try:
            (run,) = client.get(f"/api/schedules/{schedule_id}/runs").json()["runs"]
            assert (run["outcome"], run["trigger"], run["late"]) == ("complete", "schedule", False)
            assert run["started_at"] >= due
            messages = client.get(f"/api/sessions/{run['session_id']}/messages").json()["messages"]
            assert [m["text"] for m in messages if m["role"] == "assistant"] == ["Done while you slept"]
            schedule = client.get(f"/api/schedules/{schedule_id}").json()
            assert schedule["next_run_at"] is None
        finally:
            client.close()
        # A one-shot that ran has no wake left.
        assert f"blu-{schedule_id}" not in {
            s["Name"] for s in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
        }
        wakes = [e for e in stack.power.recent() if e.kind == "wake"]
        assert wakes[0].reason == "schedule"
