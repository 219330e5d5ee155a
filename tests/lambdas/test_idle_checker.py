"""The idle checker: the shared rule decides, the service goes to zero, the sleep is recorded once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lambdas.idle_checker import handler
from lambdas.idle_checker.check import check_idle
from tests.lambdas.conftest import CLUSTER, SERVICE, TABLE, Aws, RecordingEcs
from tests.lambdas.test_service_state import T0, service, task

NOW = T0.timestamp() + 3600  # the task was created an hour ago
MIN = 60.0


def run(ecs: Any, aws: Aws, now: float = NOW) -> dict[str, Any]:
    return check_idle(ecs, aws.store, aws.power, cluster=CLUSTER, service=SERVICE, idle_timeout_minutes=30, now=now)


def running_ecs() -> RecordingEcs:
    return RecordingEcs(service(1, running=1), [task("RUNNING", health="HEALTHY", startedAt=T0)])


def test_idle_service_goes_to_zero_and_the_sleep_is_recorded(aws: Aws) -> None:
    aws.power.record_wake(at=NOW - 70 * MIN, reason="user")
    aws.store.heartbeat(NOW - 1 * MIN)
    aws.store.record_user_action(NOW - 45 * MIN)
    ecs = running_ecs()
    result = run(ecs, aws)
    assert result["stopped"] is True and "idle" in result["reason"]
    assert ecs.service["desiredCount"] == 0
    sleeps = [e for e in aws.power.recent() if e.kind == "sleep"]
    assert len(sleeps) == 1 and "idle" in sleeps[0].reason
    # The wake was closed with the task's start time, then the sleep measured from there.
    wake = next(e for e in aws.power.recent() if e.kind == "wake")
    assert wake.duration_seconds == pytest.approx(T0.timestamp() - (NOW - 70 * MIN)) == 600


def test_running_turn_keeps_blu_awake(aws: Aws) -> None:
    aws.store.heartbeat(NOW - 1 * MIN)
    aws.store.record_user_action(NOW - 120 * MIN)
    aws.store.set_turn_running("s1", "t1")
    ecs = running_ecs()
    result = run(ecs, aws)
    assert result["stopped"] is False and "turn" in result["reason"]
    assert "update_service" not in [name for name, _ in ecs.calls]


def test_open_call_keeps_blu_awake(aws: Aws) -> None:
    aws.store.heartbeat(NOW - 1 * MIN)
    aws.store.set_voice_room("room-1", NOW - 1 * MIN)  # a 40-minute call, its mark refreshed a minute ago
    ecs = running_ecs()
    assert run(ecs, aws)["stopped"] is False
    assert ecs.service["desiredCount"] == 1


def test_stale_heartbeat_stops_the_service(aws: Aws) -> None:
    aws.store.heartbeat(NOW - 25 * MIN)
    aws.store.record_user_action(NOW - 5 * MIN)
    ecs = running_ecs()
    result = run(ecs, aws)
    assert result["stopped"] is True and "stale heartbeat" in result["reason"]


def test_already_stopped_does_nothing(aws: Aws) -> None:
    ecs = RecordingEcs(service(0))
    result = run(ecs, aws)
    assert result == {"status": "stopped", "idle": False, "reason": "already stopped", "stopped": False}
    assert "update_service" not in [name for name, _ in ecs.calls]


def test_a_freshly_woken_service_is_left_to_start(aws: Aws) -> None:
    aws.store.heartbeat(NOW - 5 * 3600)  # from the previous run
    aws.power.record_wake(at=NOW - 2 * MIN, reason="user")
    ecs = RecordingEcs(service(1, pending=1), [task("PENDING", createdAt=T0.replace(hour=T0.hour + 1))])
    assert run(ecs, aws)["stopped"] is False


@dataclass
class FakeContext:
    function_name: str = "blu-idle-checker"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:blu-idle-checker"
    aws_request_id: str = "req-1"


def test_handler_under_moto(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "BLU_ECS_CLUSTER": CLUSTER,
        "BLU_ECS_SERVICE": SERVICE,
        "DYNAMODB_TABLE": TABLE,
        "BLU_SECRET_ARN": aws.secret_arn,
        "BLU_IDLE_TIMEOUT_MINUTES": "30",
    }.items():
        monkeypatch.setenv(name, value)
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert handler.lambda_handler(event, FakeContext())["reason"] == "already stopped"  # type: ignore[arg-type]
    aws.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=1)
    # Running (per moto) with no heartbeat and no known start: stale, so it is stopped.
    result = handler.lambda_handler(event, FakeContext())  # type: ignore[arg-type]
    assert result["stopped"] is True
    assert aws.desired_count() == 0
