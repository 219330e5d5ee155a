"""The runtime stops itself by the shared idle rule: ECS and DynamoDB under moto, one check per case."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.power import PowerLog
from core.store.aio import AsyncStore
from core.store.base import Store
from core.store.dynamo import DynamoStore
from runtime.app import heartbeat_once
from runtime.self_stop import REASON_SUFFIX, SelfStop, stop_if_idle
from runtime.settings import Settings
from tests.support.dynamo import create_table
from tests.support.ecs import create_service

REGION = "eu-west-1"
TABLE = "blu-table"
CLUSTER = "blu"
SERVICE = "blu-app"
NOW = 1_800_000_000.0
MIN = 60.0
STARTED = NOW - 120 * MIN  # the task has been up for two hours


@dataclass
class Aws:
    ecs: Any
    store: DynamoStore
    power: PowerLog

    def desired(self) -> int:
        return int(self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["desiredCount"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Aws]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_ECS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, TABLE)
        ecs = boto3.client("ecs", region_name=REGION)
        create_service(ecs, cluster=CLUSTER, service=SERVICE, desired_count=1)
        yield Aws(ecs=ecs, store=DynamoStore(TABLE, region=REGION), power=PowerLog(dynamodb, TABLE))


def check(aws: Aws, store: Store | None = None, *, started_at: float = STARTED) -> tuple[bool, str]:
    return stop_if_idle(
        aws.ecs,
        store or aws.store,
        aws.power,
        cluster=CLUSTER,
        service=SERVICE,
        idle_timeout_minutes=30,
        started_at=started_at,
        now=NOW,
    )


def no_action(store: Store) -> None:
    store.record_user_action(NOW - 45 * MIN)


def turn_running(store: Store) -> None:
    store.record_user_action(NOW - 90 * MIN)
    store.set_turn_running("s1", "t1")


def voice_room_open(store: Store) -> None:
    store.record_user_action(NOW - 90 * MIN)
    store.set_voice_room("room-1", NOW - 1 * MIN)  # a long call, its mark refreshed a minute ago


def recent_action(store: Store) -> None:
    store.record_user_action(NOW - 10 * MIN)


def never_used(store: Store) -> None:
    pass


CASES = [
    # (case, activity, started_at, stops, reason contains)
    ("idle for 45 minutes", no_action, STARTED, True, "idle"),
    ("a turn is running", turn_running, STARTED, False, "turn(s) running"),
    ("a voice call is open", voice_room_open, STARTED, False, "voice call(s) open"),
    ("the person acted 10 minutes ago", recent_action, STARTED, False, "last user action"),
    ("woken 5 minutes ago, never used", never_used, NOW - 5 * MIN, False, "last user action"),
    ("woken 40 minutes ago, never used", never_used, NOW - 40 * MIN, True, "idle"),
]


@pytest.mark.parametrize(("case", "activity", "started_at", "stops", "reason"), CASES, ids=[c[0] for c in CASES])
def test_the_runtime_stops_itself_only_when_idle(
    aws: Aws, case: str, activity: Any, started_at: float, stops: bool, reason: str
) -> None:
    aws.power.record_wake(at=started_at - 1 * MIN, reason="user")
    aws.store.heartbeat(NOW)  # written just before the check, as the heartbeat loop does
    activity(aws.store)
    stopped, why = check(aws, started_at=started_at)
    assert (stopped, reason in why) == (stops, True), why
    sleeps = [e for e in aws.power.recent() if e.kind == "sleep"]
    if stops:
        assert aws.desired() == 0
        assert len(sleeps) == 1 and sleeps[0].reason == why + REASON_SUFFIX
        assert sleeps[0].duration_seconds == pytest.approx(NOW - (started_at - 1 * MIN))
    else:
        assert aws.desired() == 1
        assert sleeps == []


def test_a_second_check_asks_again_but_records_one_sleep(aws: Aws) -> None:
    aws.store.heartbeat(NOW)
    no_action(aws.store)
    assert check(aws)[0] is True
    assert check(aws)[0] is True  # still idle until SIGTERM arrives: UpdateService again is harmless
    assert [e.kind for e in aws.power.recent()] == ["sleep"]


def beat(store: AsyncStore, self_stop: SelfStop | None) -> None:
    """One heartbeat round, on a loop of its own (a browser test's loop may be running in this thread)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, heartbeat_once(store, self_stop)).result()


class FailingEcs:
    def __init__(self) -> None:
        self.calls = 0

    def update_service(self, **kwargs: Any) -> None:
        self.calls += 1
        raise RuntimeError("ECS is unreachable")


def self_stop(ecs: Any, power: PowerLog | None) -> SelfStop:
    # heartbeat_once checks at the real time: a task up for two hours, untouched for 45 minutes.
    return SelfStop(
        ecs=ecs, power=power, cluster=CLUSTER, service=SERVICE, idle_timeout_minutes=30, started_at=time.time() - 7200
    )


def untouched_for_45_minutes(store: Store) -> None:
    store.record_user_action(time.time() - 45 * MIN)


def test_ecs_errors_are_logged_and_retried_next_round(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    untouched_for_45_minutes(aws.store)
    failing = FailingEcs()
    with caplog.at_level(logging.ERROR, logger="runtime.app"):
        beat(AsyncStore(aws.store), self_stop(failing, aws.power))
        beat(AsyncStore(aws.store), self_stop(failing, aws.power))
    assert failing.calls == 2
    assert "idle check failed" in caplog.text
    assert aws.power.recent() == []  # nothing recorded while nothing was stopped
    beat(AsyncStore(aws.store), self_stop(aws.ecs, aws.power))
    assert aws.desired() == 0


class BrokenHeartbeat:
    """The real store, except that writing the heartbeat fails; counts the activity reads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.activity_reads = 0

    def heartbeat(self, at: float) -> None:
        raise RuntimeError("DynamoDB is unreachable")

    def get_activity(self) -> Any:
        self.activity_reads += 1
        return self.store.get_activity()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_no_check_without_a_fresh_heartbeat(aws: Aws) -> None:
    # An old heartbeat would make the rule call this live task stale: no stop when the write failed.
    untouched_for_45_minutes(aws.store)  # idle by the rule: only the guard keeps the service up
    broken = BrokenHeartbeat(aws.store)
    beat(AsyncStore(broken), self_stop(aws.ecs, aws.power))  # type: ignore[arg-type]
    assert broken.activity_reads == 0
    assert aws.desired() == 1
    assert aws.power.recent() == []


def test_not_configured_locally_nothing_is_stopped(aws: Aws, tmp_path: Path) -> None:
    settings = Settings(BLU_DATA_DIR=tmp_path, DYNAMODB_TABLE=TABLE)  # type: ignore[call-arg]
    assert not settings.self_stop_configured
    assert SelfStop.from_settings(settings, started_at=NOW - 1e6) is None
    untouched_for_45_minutes(aws.store)
    beat(AsyncStore(aws.store), None)
    assert aws.store.get_activity().heartbeat_at is not None
    assert aws.desired() == 1


def test_configured_in_aws_it_knows_its_service(aws: Aws, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        BLU_DATA_DIR=tmp_path,
        DYNAMODB_TABLE=TABLE,
        AWS_REGION=REGION,
        BLU_ECS_CLUSTER=CLUSTER,
        BLU_ECS_SERVICE=SERVICE,
        BLU_IDLE_TIMEOUT_MINUTES=30,
    )
    stopper = SelfStop.from_settings(settings, started_at=STARTED)
    assert stopper is not None and stopper.power is not None
    aws.store.heartbeat(NOW)
    no_action(aws.store)
    assert stopper.check(aws.store, NOW)[0] is True
    assert aws.desired() == 0


def test_a_due_backup_runs_before_sleep_and_a_person_who_came_back_keeps_blu_awake(aws: Aws) -> None:
    aws.store.heartbeat(NOW)
    no_action(aws.store)
    calls: list[str] = []

    def nothing_due() -> None:
        calls.append("checked")

    def backup_while_person_returns() -> object:
        calls.append("backed up")
        aws.store.record_user_action(NOW - 1 * MIN)  # the person came back during the snapshot
        return object()

    common: dict[str, Any] = {"cluster": CLUSTER, "service": SERVICE, "idle_timeout_minutes": 30}
    stopped, _ = stop_if_idle(
        aws.ecs, aws.store, aws.power, **common, started_at=STARTED, now=NOW, before_sleep=backup_while_person_returns
    )
    assert (stopped, calls, aws.desired()) == (False, ["backed up"], 1)
    no_action(aws.store)
    stopped, _ = stop_if_idle(
        aws.ecs, aws.store, aws.power, **common, started_at=STARTED, now=NOW, before_sleep=nothing_due
    )
    assert (stopped, calls, aws.desired()) == (True, ["backed up", "checked"], 0)
