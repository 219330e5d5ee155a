"""The idle check as a plain function: read the service and the heartbeat, apply the rule, maybe stop."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.common.service_state import read_state
from lambdas.common.telemetry import logger, metrics, tracer
from runtime.idle import is_idle
from runtime.power import PowerLog, put_to_sleep
from runtime.store.base import Store


@tracer.capture_method
def check_idle(
    ecs: Any, store: Store, power: PowerLog, *, cluster: str, service: str, idle_timeout_minutes: int, now: float
) -> dict[str, Any]:
    """Scale the service to 0 when the shared idle rule says so; record the sleep with its reason."""
    state = read_state(ecs, cluster=cluster, service=service)
    current = power.current()
    if state.status == "running" and current.get("state") == "waking" and state.ready_at is not None:
        # Nobody watched the overlay until it was ready: the container's start time is the best we know.
        power.mark_ready(ready_at=state.ready_at)
    started = [t for t in (state.started_at, current.get("wake_at") if current.get("state") != "asleep" else None) if t]
    idle, reason = is_idle(
        store.get_activity(),
        now=now,
        idle_timeout_minutes=idle_timeout_minutes,
        service_running=state.service_running,
        service_started_at=max(started, default=None),
    )
    result: dict[str, Any] = {"status": state.status, "idle": idle, "reason": reason, "stopped": False}
    if not idle or state.desired == 0:
        if state.desired == 0 and state.status == "stopped" and current.get("state") not in (None, "asleep"):
            power.record_sleep(at=now, reason="stopped outside Blu")
        logger.info("Blu stays as it is", extra=result)
        return result
    if put_to_sleep(ecs, power, cluster=cluster, service=service, at=now, reason=reason):
        metrics.add_metric(name="Sleeps", unit=MetricUnit.Count, value=1)
    logger.info("Putting Blu to sleep", extra={**result, "stopped": True})
    return {**result, "stopped": True}
