"""Wake Blu for a scheduled run: the launcher's wake (desired count 1, the wake log), without a user action.

EventBridge Scheduler invokes this with `{"blu_schedule_id": "<id>"}` at the schedule's next run (the
runtime keeps one `blu-<id>` schedule per Blu schedule). The function only wakes the service; the
runtime, once up, finds the run due and starts it. A wake that is no longer wanted (the schedule was
deleted, paused or moved later while the EventBridge schedule could not be updated) wakes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.power import PowerLog
from core.store import NotFound, Store, open_store
from lambdas.common.config import LambdaConfig
from lambdas.common.telemetry import logger, tracer
from lambdas.launcher.app import wake_service

_NO_LOCAL_DATA = Path("/tmp/blu-unused")  # noqa: S108 -- never written: a table is always set
# A wake this much before the run still counts (EventBridge may fire a little early; clocks differ).
EARLY_SECONDS = 300.0
REASON = "schedule"


def wanted(store: Store, schedule_id: str, *, now: float) -> tuple[bool, str]:
    """Whether the schedule still has a run due about now: (wake?, why)."""
    try:
        schedule = store.get_schedule(schedule_id)
    except NotFound:
        return False, "the schedule was deleted"
    if schedule.paused:
        return False, "the schedule is paused"
    if schedule.next_run_at is None:
        return False, "the schedule has no run left"
    if schedule.next_run_at > now + EARLY_SECONDS:
        return False, "the schedule's next run is later"
    return True, "a scheduled run is due"


def wake_for_schedule(
    ecs: Any, power: PowerLog, store: Store, *, cluster: str, service: str, schedule_id: str, now: float
) -> dict[str, Any]:
    ok, why = wanted(store, schedule_id, now=now)
    if not ok:
        logger.info("Not waking Blu for a schedule", extra={"schedule_id": schedule_id, "why": why})
        return {"woken": False, "why": why}
    body = wake_service(ecs, power, store, cluster=cluster, service=service, now=now, reason=REASON, user_action=False)
    logger.info("Woke Blu for a schedule", extra={"schedule_id": schedule_id, **body})
    return {**body, "why": why}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = LambdaConfig.from_env()
    schedule_id = str(event.get("blu_schedule_id") or "")
    if not schedule_id:
        raise ValueError("the event names no schedule (blu_schedule_id)")
    return wake_for_schedule(
        boto3.client("ecs"),
        PowerLog(boto3.client("dynamodb"), config.table_name),
        open_store(table_name=config.table_name, data_dir=_NO_LOCAL_DATA),
        cluster=config.cluster,
        service=config.service,
        schedule_id=schedule_id,
        now=time.time(),
    )
