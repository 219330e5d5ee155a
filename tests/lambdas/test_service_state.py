"""Status mapping for every task stage, from recorded describe_services/describe_tasks responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lambdas.common.service_state import STAGES, map_state, read_state
from tests.lambdas.conftest import RecordingEcs

T0 = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)


def service(desired: int, running: int = 0, pending: int = 0) -> dict[str, Any]:
    """A describe_services entry as boto3 returns it (trimmed to what the mapping reads)."""
    return {
        "serviceName": "blu-app",
        "status": "ACTIVE",
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": pending,
        "deployments": [{"status": "PRIMARY", "desiredCount": desired, "runningCount": running}],
    }


def task(
    last: str, desired: str = "RUNNING", health: str = "UNKNOWN", arn: str = "task/blu/1", **times: Any
) -> dict[str, Any]:
    """A describe_tasks entry as boto3 returns it (datetimes for timestamps)."""
    return {
        "taskArn": f"arn:aws:ecs:eu-west-1:123456789012:{arn}",
        "lastStatus": last,
        "desiredStatus": desired,
        "healthStatus": health,
        "createdAt": T0,
        "launchType": "FARGATE",
        "capacityProviderName": "FARGATE_SPOT",
        **times,
    }


CASES = [
    # (name, service, tasks, status, stage)
    ("asleep", service(0), [], "stopped", "Asleep"),
    ("asleep, old task long stopped", service(0), [task("STOPPED", "STOPPED")], "stopped", "Asleep"),
    ("woken, no task yet", service(1), [], "starting", "Waking"),
    ("provisioning", service(1, pending=1), [task("PROVISIONING")], "starting", "Provisioning"),
    ("pending (image pull)", service(1, pending=1), [task("PENDING", pullStartedAt=T0)], "starting", "Pending"),
    ("activating", service(1, pending=1), [task("ACTIVATING")], "starting", "Activating"),
    ("running, health unknown", service(1, running=1), [task("RUNNING", startedAt=T0)], "starting", "Running"),
    ("running, unhealthy", service(1, running=1), [task("RUNNING", health="UNHEALTHY")], "starting", "Running"),
    (
        "running and healthy",
        service(1, running=1),
        [task("RUNNING", health="HEALTHY", startedAt=T0)],
        "running",
        "Ready",
    ),
    (
        "asked to stop, still running",
        service(0, running=1),
        [task("RUNNING", "STOPPED", stoppingAt=T0)],
        "stopping",
        "Stopping",
    ),
    ("deactivating", service(0, running=1), [task("DEACTIVATING", "STOPPED")], "stopping", "Deactivating"),
    ("stopping (SIGTERM, saving turns)", service(0), [task("STOPPING", "STOPPED")], "stopping", "Stopping"),
    ("deprovisioning", service(0), [task("DEPROVISIONING", "STOPPED")], "stopping", "Deprovisioning"),
    ("stopped", service(0), [task("STOPPED", "STOPPED", stoppedAt=T0)], "stopped", "Asleep"),
    ("desired 0 but a task still pending", service(0, pending=1), [task("PENDING")], "stopping", "Stopping"),
    ("woken while the old task still stops", service(1), [task("STOPPING", "STOPPED")], "stopping", "Stopping"),
    (
        "old task stopping, new one provisioning",
        service(1, pending=1),
        [task("STOPPING", "STOPPED", arn="task/blu/old"), task("PROVISIONING", arn="task/blu/new")],
        "starting",
        "Provisioning",
    ),
    ("crashed task awaiting replacement", service(1), [task("STOPPED", "STOPPED")], "starting", "Waking"),
]


@pytest.mark.parametrize(("svc", "tasks", "status", "stage"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mapping(svc: dict[str, Any], tasks: list[dict[str, Any]], status: str, stage: str) -> None:
    state = map_state(svc, tasks)
    assert (state.status, state.stage) == (status, stage)
    assert state.desired == svc["desiredCount"]
    if status in ("starting", "running"):
        assert stage in STAGES


def test_timestamps_are_epoch_seconds() -> None:
    state = map_state(service(1, running=1), [task("RUNNING", health="HEALTHY", startedAt=T0, pullStartedAt=T0)])
    assert state.started_at == T0.timestamp()
    assert state.ready_at == T0.timestamp()
    assert state.timestamps == {
        "createdAt": T0.timestamp(),
        "pullStartedAt": T0.timestamp(),
        "startedAt": T0.timestamp(),
    }


def test_service_running_counts_live_tasks() -> None:
    assert not map_state(service(0), []).service_running
    assert map_state(service(0, running=1), [task("RUNNING", "STOPPED")]).service_running
    assert map_state(service(1), []).service_running


def test_read_state_lists_running_and_recently_stopped_tasks() -> None:
    ecs = RecordingEcs(service(1, pending=1), [task("PENDING"), task("STOPPED", "STOPPED", arn="task/blu/old")])
    state = read_state(ecs, cluster="blu", service="blu-app")
    assert (state.status, state.stage) == ("starting", "Pending")
    assert [name for name, _ in ecs.calls] == ["describe_services", "list_tasks", "list_tasks", "describe_tasks"]
    assert {kw.get("desiredStatus") for name, kw in ecs.calls if name == "list_tasks"} == {"RUNNING", "STOPPED"}


def test_read_state_skips_describe_tasks_without_tasks() -> None:
    ecs = RecordingEcs(service(0))
    assert read_state(ecs, cluster="blu", service="blu-app").status == "stopped"
    assert "describe_tasks" not in [name for name, _ in ecs.calls]
