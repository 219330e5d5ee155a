"""In AWS, one EventBridge Scheduler schedule per Blu schedule (`blu-<id>`) wakes Blu from zero at the next run.

Each is a one-time `at(...)` schedule in UTC at the Blu schedule's `next_run_at`, so croniter stays the only
reader of cron expressions and time zones (EventBridge's own cron dialect differs). The runtime moves it on
whenever it claims an occurrence or a schedule changes, and re-syncs every one on start, so a change made
while an update failed is repaired on the next wake. Its target is the schedule-wake Lambda, which scales
the service to 1; the runtime then finds the run due and starts it (it never runs from the event itself).
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from core.store.models import ScheduleRecord

log = logging.getLogger(__name__)
NAME_PREFIX = "blu-"
# EventBridge retries a failed wake for up to an hour; a later run is late anyway and found on the next wake.
RETRY_POLICY = {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600}


def schedule_name(schedule_id: str) -> str:
    return NAME_PREFIX + schedule_id


def at_expression(when: float) -> str:
    """EventBridge Scheduler's one-time expression for an epoch time (whole seconds, UTC)."""
    return f"at({datetime.fromtimestamp(when, tz=UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


class WakeSchedules:
    """The `blu-<id>` schedules in one schedule group, on a boto3 `scheduler` client. Needs exactly
    scheduler:CreateSchedule/UpdateSchedule/DeleteSchedule on `blu-*` in that group and iam:PassRole
    on the wake role (stacks: grant_wake_schedules)."""

    def __init__(self, client: Any, *, group: str, target_arn: str, role_arn: str) -> None:
        self.client = client
        self.group = group
        self.target_arn = target_arn
        self.role_arn = role_arn

    @classmethod
    def from_settings(cls, settings: Any) -> WakeSchedules | None:
        """None unless the task was given the group, the wake function and the role (only in AWS)."""
        if not settings.wake_schedules_configured:
            return None
        import boto3  # only in AWS

        return cls(
            boto3.client("scheduler", region_name=settings.aws_region),
            group=settings.schedule_group,
            target_arn=settings.schedule_target_arn,
            role_arn=settings.schedule_role_arn,
        )

    def put(self, schedule: ScheduleRecord) -> None:
        """Wake at the schedule's next run; a paused or finished schedule has no wake."""
        if schedule.paused or schedule.next_run_at is None:
            self.delete(schedule.id)
            return
        request: dict[str, Any] = {
            "Name": schedule_name(schedule.id),
            "GroupName": self.group,
            "Description": f"Blu: wake for the schedule {schedule.name[:200] or schedule.id}",
            "ScheduleExpression": at_expression(schedule.next_run_at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps({"blu_schedule_id": schedule.id}),
                "RetryPolicy": RETRY_POLICY,
            },
        }
        try:
            self.client.update_schedule(**request)
        except self.client.exceptions.ResourceNotFoundException:
            self.client.create_schedule(**request)

    def delete(self, schedule_id: str) -> None:
        with contextlib.suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_schedule(Name=schedule_name(schedule_id), GroupName=self.group)

    def sync(self, schedules: list[ScheduleRecord]) -> None:
        """Put every schedule's wake in place (a paused or finished one's is removed). A wake left behind
        by a schedule deleted while EventBridge could not be reached wakes nothing: the schedule-wake
        function looks the schedule up first (so the task needs no ListSchedules, which takes no resource)."""
        for schedule in schedules:
            self.put(schedule)
