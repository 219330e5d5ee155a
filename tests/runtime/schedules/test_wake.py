"""The runtime's EventBridge Scheduler wakes under moto: one `blu-<id>` at each schedule's next run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.store.models import ScheduleRecord
from runtime.schedules.wake import WakeSchedules, at_expression
from runtime.settings import Settings

REGION = "eu-west-1"
GROUP = "blu-schedules"
TARGET = "arn:aws:lambda:eu-west-1:123456789012:function:blu-schedule-wake"
ROLE = "arn:aws:iam::123456789012:role/blu-schedule-wake"
T0 = 1_800_000_000.0


@pytest.fixture
def scheduler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SCHEDULER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("scheduler", region_name=REGION)
        client.create_schedule_group(Name=GROUP)
        yield client


def schedule(schedule_id: str = "a" * 24, **fields: Any) -> ScheduleRecord:
    return ScheduleRecord(id=schedule_id, name="News", prompt="p", cron="0 8 * * *", **({"next_run_at": T0} | fields))


def wakes(client: Any) -> dict[str, dict[str, Any]]:
    names = [s["Name"] for s in client.list_schedules(GroupName=GROUP)["Schedules"]]
    return {name: client.get_schedule(Name=name, GroupName=GROUP) for name in names}


def test_each_schedule_wakes_blu_at_its_next_run_and_moves_on(scheduler: Any) -> None:
    wake = WakeSchedules(scheduler, group=GROUP, target_arn=TARGET, role_arn=ROLE)
    wake.put(schedule())
    (made,) = wakes(scheduler).values()
    assert made["Name"] == "blu-" + "a" * 24
    assert made["ScheduleExpression"] == at_expression(T0) == "at(2027-01-15T08:00:00)"
    assert made["ScheduleExpressionTimezone"] == "UTC" and made["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert made["Target"]["Arn"] == TARGET and made["Target"]["RoleArn"] == ROLE
    assert json.loads(made["Target"]["Input"]) == {"blu_schedule_id": "a" * 24}

    wake.put(schedule(next_run_at=T0 + 86400))
    assert [w["ScheduleExpression"] for w in wakes(scheduler).values()] == ["at(2027-01-16T08:00:00)"]

    wake.sync([schedule(), schedule("b" * 24, paused=True), schedule("c" * 24, next_run_at=None)])
    assert set(wakes(scheduler)) == {"blu-" + "a" * 24}
    wake.put(schedule(paused=True))  # paused: no wake
    assert wakes(scheduler) == {}
    wake.delete("a" * 24)  # deleting what is gone is no error


def test_the_wakes_are_configured_only_in_aws() -> None:
    assert WakeSchedules.from_settings(Settings()) is None
    configured = Settings(
        BLU_SCHEDULE_GROUP=GROUP, BLU_SCHEDULE_TARGET_ARN=TARGET, BLU_SCHEDULE_ROLE_ARN=ROLE, AWS_REGION=REGION
    )  # type: ignore[call-arg]
    wake = WakeSchedules.from_settings(configured)
    assert wake is not None and (wake.group, wake.target_arn, wake.role_arn) == (GROUP, TARGET, ROLE)
