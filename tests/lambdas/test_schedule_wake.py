"""The schedule-wake function under moto: it wakes Blu for a due run, without a user action, and only then."""

from __future__ import annotations

import time

import pytest

from core.store.models import ScheduleRecord
from lambdas.schedule_wake import handler
from tests.lambdas.conftest import CLUSTER, SERVICE, TABLE, Aws
from tests.lambdas.test_idle_checker import FakeContext


def schedule(**fields: object) -> ScheduleRecord:
    return ScheduleRecord(id="a" * 24, name="News", prompt="p", cron="0 8 * * *", **fields)  # type: ignore[arg-type]


@pytest.fixture
def env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    for name, value in {
        "BLU_ECS_CLUSTER": CLUSTER,
        "BLU_ECS_SERVICE": SERVICE,
        "DYNAMODB_TABLE": TABLE,
        "BLU_SECRET_ARN": aws.secret_arn,
    }.items():
        monkeypatch.setenv(name, value)
    return aws


def invoke(schedule_id: str) -> dict[str, object]:
    return handler.lambda_handler({"blu_schedule_id": schedule_id}, FakeContext(function_name="blu-schedule-wake"))  # type: ignore[arg-type]


def test_a_due_run_wakes_blu_as_a_schedule_not_a_person(env: Aws) -> None:
    env.store.create_schedule(schedule(next_run_at=time.time() + 5))
    result = invoke("a" * 24)
    assert result["woken"] is True
    assert env.desired_count() == 1
    (wake,) = [e for e in env.power.recent() if e.kind == "wake"]
    assert wake.reason == "schedule"
    assert env.store.get_activity().last_user_action_at is None  # the idle rule may let Blu sleep after the run
    assert invoke("a" * 24)["woken"] is False  # a second delivery of the same event changes nothing


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"paused": True, "next_run_at": 1.0}, "paused"),
        ({"next_run_at": None}, "no run left"),
        ({"next_run_at": time.time() + 3 * 3600}, "later"),
    ],
)
def test_a_wake_no_longer_wanted_wakes_nothing(env: Aws, fields: dict[str, object], why: str) -> None:
    env.store.create_schedule(schedule(**fields))
    result = invoke("a" * 24)
    assert result["woken"] is False and why in str(result["why"])
    assert env.desired_count() == 0


def test_a_deleted_schedule_wakes_nothing_and_a_bad_event_fails(env: Aws) -> None:
    assert invoke("b" * 24) == {"woken": False, "why": "the schedule was deleted"}
    assert env.desired_count() == 0
    with pytest.raises(ValueError, match="blu_schedule_id"):
        handler.lambda_handler({}, FakeContext())  # type: ignore[arg-type]
