"""The ECS service's state as the waking overlay shows it: stopped, starting, running or stopping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["stopped", "starting", "running", "stopping"]

# The overlay's stage list: the task's own lifecycle between "Waking" (asked) and "Ready" (healthy).
STAGES: tuple[str, ...] = ("Asleep", "Waking", "Provisioning", "Pending", "Activating", "Running", "Ready")
_STARTING_STAGES = {"PROVISIONING": "Provisioning", "PENDING": "Pending", "ACTIVATING": "Activating"}
_STOPPING_STATUSES = ("DEACTIVATING", "STOPPING", "DEPROVISIONING")
# Typical seconds from the wake to a healthy task on Fargate (image pull + start + health check):
# shown as the expected duration until real wake durations have been recorded.
DEFAULT_EXPECTED_SECONDS = 75.0
_TIMESTAMPS = ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt")


@dataclass(frozen=True)
class ServiceState:
    """What ``GET /status`` reports, derived from DescribeServices and DescribeTasks alone."""

    status: Status
    stage: str
    desired: int = 0
    running: int = 0
    pending: int = 0
    task_status: str | None = None  # the task's lastStatus (PROVISIONING ... STOPPED)
    health: str | None = None  # HEALTHY, UNHEALTHY or UNKNOWN
    started_at: float | None = None  # when the current start began (the task's creation)
    ready_at: float | None = None  # when the container started (RUNNING)
    timestamps: dict[str, float] = field(default_factory=dict)
    message: str | None = None

    @property
    def service_running(self) -> bool:
        """Whether the service costs money now: asked to run, or a task still alive."""
        return self.desired > 0 or self.running > 0 or self.pending > 0


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return datetime.fromisoformat(value).timestamp()
    return None


def _task_times(task: dict[str, Any]) -> dict[str, float]:
    times = {name: _epoch(task.get(name)) for name in _TIMESTAMPS}
    return {name: value for name, value in times.items() if value is not None}


def _newest(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(tasks, key=lambda t: _epoch(t.get("createdAt")) or 0.0, default=None)


def map_state(service: dict[str, Any], tasks: list[dict[str, Any]]) -> ServiceState:
    """Map one ``describe_services`` service and its ``describe_tasks`` tasks to the overlay's states.

    desired 0 and no live task → stopped; desired 0 with a task still alive → stopping; desired ≥ 1:
    a task that is going away and no new one yet → stopping (it wakes right after), no task yet →
    starting/Waking, PROVISIONING/PENDING/ACTIVATING → starting at that stage, RUNNING but not yet
    HEALTHY → starting/Running, RUNNING and HEALTHY → running/Ready.
    """
    desired = int(service.get("desiredCount", 0))
    counts: dict[str, Any] = {
        "desired": desired,
        "running": int(service.get("runningCount", 0)),
        "pending": int(service.get("pendingCount", 0)),
    }
    alive = [t for t in tasks if t.get("lastStatus") != "STOPPED"]
    wanted = [t for t in alive if t.get("desiredStatus") == "RUNNING"]
    leaving = [t for t in alive if t.get("desiredStatus") != "RUNNING"]

    if desired == 0 or not wanted:
        going = _newest(leaving) or (_newest(wanted) if desired == 0 else None)
        if going is not None:
            last = str(going.get("lastStatus"))
            times = _task_times(going)
            return ServiceState(
                status="stopping",
                stage=last.title() if last in _STOPPING_STATUSES else "Stopping",
                task_status=last,
                health=going.get("healthStatus"),
                started_at=times.get("stoppingAt"),
                timestamps=times,
                message="Blu is finishing going to sleep; it wakes again right after." if desired else None,
                **counts,
            )
        if desired == 0:
            return ServiceState(status="stopped", stage="Asleep", **counts)
        return ServiceState(status="starting", stage="Waking", **counts)

    task = _newest(wanted)
    assert task is not None
    last = str(task.get("lastStatus"))
    health = task.get("healthStatus")
    times = _task_times(task)
    common: dict[str, Any] = {
        "task_status": last,
        "health": health,
        "started_at": times.get("createdAt"),
        "ready_at": times.get("startedAt"),
        "timestamps": times,
        **counts,
    }
    if last in _STARTING_STAGES:
        return ServiceState(status="starting", stage=_STARTING_STAGES[last], **common)
    if last == "RUNNING" and health == "HEALTHY":
        return ServiceState(status="running", stage="Ready", **common)
    if last == "RUNNING":
        message = "Blu started but does not answer its health check yet." if health == "UNHEALTHY" else None
        return ServiceState(status="starting", stage="Running", message=message, **common)
    return ServiceState(status="starting", stage="Waking", **common)


def describe(ecs: Any, *, cluster: str, service: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The service and its tasks (live ones and those stopped within the hour), in three ECS calls."""
    services = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not services:
        raise LookupError(f"ECS service {service} not found in cluster {cluster}")
    arns: list[str] = []
    for desired_status in ("RUNNING", "STOPPED"):
        listed = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus=desired_status)
        arns.extend(listed.get("taskArns", []))
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100]).get("tasks", []) if arns else []
    return services[0], tasks


def read_state(ecs: Any, *, cluster: str, service: str) -> ServiceState:
    return map_state(*describe(ecs, cluster=cluster, service=service))


def set_desired_count(ecs: Any, *, cluster: str, service: str, count: int) -> None:
    ecs.update_service(cluster=cluster, service=service, desiredCount=count)
