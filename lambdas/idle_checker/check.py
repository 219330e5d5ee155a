"""The idle check as a plain function: read the service and the heartbeat, apply the rule, maybe stop."""

from __future__ import annotations

from typing import Any

from core.config import IDLE_CHECK_MINUTES
from core.idle import is_idle
from core.observability.metrics import record_ready, record_running, record_sleep
from core.power import PowerLog, put_to_sleep
from core.store.base import Store
from lambdas.common.service_state import read_state
from lambdas.common.telemetry import logger, tracer


@tracer.capture_method
def check_idle(
    ecs: Any, store: Store, power: PowerLog, *, cluster: str, service: str, idle_timeout_minutes: int, now: float
) -> dict[str, Any]:
    """Scale the service to 0 when the shared idle rule says so; record the sleep with its reason."""
    state = read_state(ecs, cluster=cluster, service=service)
    current = power.current()
    if state.status == "running" and current.get("state") == "waking" and state.ready_at is not None:
        # Nobody watched the overlay until it was ready: the container's start time is the best we know.
        duration = power.mark_ready(ready_at=state.ready_at)
        if duration is not None:
            record_ready(wake_duration_seconds=duration)
    if state.service_running:
        # Every check while the service runs stands for the minutes since the previous one (the cost guard).
        record_running(minutes=IDLE_CHECK_MINUTES, tasks=max(1, state.running + state.pending))
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
        recorded_awake = current.get("state") not in (None, "asleep")
        stopped_outside = state.desired == 0 and state.status == "stopped" and recorded_awake
        if stopped_outside and power.record_sleep(at=now, reason="stopped outside Blu"):
            record_sleep(reason="external")
        logger.info("Blu stays as it is", extra=result)
        return result
    if put_to_sleep(ecs, power, cluster=cluster, service=service, at=now, reason=reason):
        record_sleep(reason=reason)
    logger.info("Putting Blu to sleep", extra={**result, "stopped": True})
    return {**result, "stopped": True}
