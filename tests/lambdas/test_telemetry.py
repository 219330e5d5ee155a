"""The Lambdas' metrics as CloudWatch will read them: a wake through the launcher's handler under moto,
readiness, logins and the idle checker's running time and sleeps; and their log lines stay scrubbed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.observability.logs import scrubber
from lambdas.launcher import handler
from lambdas.launcher.app import LauncherDeps, service_status
from tests.lambdas.conftest import CLUSTER, PASSWORD, SERVICE, SESSION_SECRET, Aws, RecordingEcs
from tests.lambdas.test_idle_checker import MIN, NOW, run, running_ecs
from tests.lambdas.test_launcher import Clock, http_event, invoke, logged_in
from tests.lambdas.test_service_state import T0, service, task
from tests.support.emf import parse_emf, with_metric


@pytest.fixture
def deps(aws: Aws) -> Iterator[LauncherDeps]:
    value = LauncherDeps(
        ecs=aws.ecs, power=aws.power, store=aws.store, secrets=aws.secrets(), cluster=CLUSTER, service=SERVICE,
        clock=Clock(NOW),
    )  # fmt: skip
    handler.use_deps(value)
    yield value
    handler.use_deps(None)
    scrubber.clear()


def test_wake_through_the_handler_emits_one_wake(deps: LauncherDeps, capsys: pytest.CaptureFixture[str]) -> None:
    response = invoke(http_event("POST", "/wake", cookies=logged_in()))
    assert response["statusCode"] == 202
    again = invoke(http_event("POST", "/wake", cookies=logged_in()))
    assert again["statusCode"] == 200  # already waking: no second wake
    records = parse_emf(capsys.readouterr().out)
    (wake,) = with_metric(records, "Wakes")
    assert wake.namespace == "Blu" and wake.values == {"Wakes": [1.0]} and wake.dimension_sets == [[]]


def test_status_of_a_ready_service_emits_the_time_to_ready(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.power.record_wake(at=NOW - 80, reason="user")
    ecs = RecordingEcs(service(1, running=1), [task("RUNNING", health="HEALTHY", startedAt=T0)])
    service_status(ecs, aws.power, cluster=CLUSTER, service=SERVICE, now=NOW)
    service_status(ecs, aws.power, cluster=CLUSTER, service=SERVICE, now=NOW + 5)  # ready only once
    (ready,) = with_metric(parse_emf(capsys.readouterr().out), "WakeDurationSeconds")
    assert ready.value("WakeDurationSeconds") == 80 and ready.units == {"WakeDurationSeconds": "Seconds"}


def test_wrong_and_throttled_logins_are_counted_and_never_logged(
    deps: LauncherDeps, capsys: pytest.CaptureFixture[str]
) -> None:
    statuses = [invoke(http_event("POST", "/login", body={"password": "guess"}))["statusCode"] for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses
    assert invoke(http_event("POST", "/login", body={"password": PASSWORD}))["statusCode"] == 429  # still locked
    out = capsys.readouterr().out
    records = parse_emf(out)
    failures = len(with_metric(records, "LoginFailures"))
    throttled = len(with_metric(records, "LoginThrottled"))
    assert failures >= 3 and failures + throttled == 6
    assert PASSWORD not in out and "guess" not in out and SESSION_SECRET not in out


def test_idle_checker_reports_running_minutes_and_the_sleep_reason(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.power.record_wake(at=NOW - 70 * MIN, reason="user")
    aws.store.heartbeat(NOW - 1 * MIN)
    aws.store.record_user_action(NOW - 45 * MIN)
    assert run(running_ecs(), aws)["stopped"] is True
    assert run(RecordingEcs(service(0)), aws)["stopped"] is False  # asleep: no running time
    records = parse_emf(capsys.readouterr().out)
    (running,) = with_metric(records, "RunningMinutes")
    assert running.values == {"RunningMinutes": [5.0], "RunningTasks": [1.0]}
    (sleep,) = with_metric(records, "Sleeps")
    assert sleep.dimensions == {"Reason": "idle"}
    (ready,) = with_metric(records, "WakeDurationSeconds")
    assert ready.value("WakeDurationSeconds") == 600


def test_a_stale_service_sleeps_with_the_stale_reason(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.store.heartbeat(NOW - 30 * MIN)
    assert run(running_ecs(), aws)["stopped"] is True
    (sleep,) = with_metric(parse_emf(capsys.readouterr().out), "Sleeps")
    assert sleep.dimensions == {"Reason": "stale"}
