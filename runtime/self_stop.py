"""The runtime puts itself to sleep by the idle rule: after each heartbeat, scale its own service to 0 when idle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.idle import is_idle
from core.observability.metrics import record_sleep
from core.power import PowerLog, put_to_sleep
from core.store.base import Store
from runtime.settings import Settings

log = logging.getLogger(__name__)
REASON_SUFFIX = " (by the runtime)"


def stop_if_idle(
    ecs: Any,
    store: Store,
    power: PowerLog | None,
    *,
    cluster: str,
    service: str,
    idle_timeout_minutes: int,
    started_at: float,
    now: float,
    before_sleep: Callable[[], object] | None = None,
) -> tuple[bool, str]:
    """Apply the shared idle rule to this running task; when idle, scale the service to 0 and record the
    sleep. Returns (stopped, reason). ECS then sends SIGTERM and the server shuts down gracefully.
    `before_sleep` runs first when idle (a due backup); the rule is applied again after it, since a
    person may have come back meanwhile."""

    def check() -> tuple[bool, str]:
        return is_idle(
            store.get_activity(),
            now=now,
            idle_timeout_minutes=idle_timeout_minutes,
            service_running=True,
            service_started_at=started_at,
        )

    idle, reason = check()
    if idle and before_sleep is not None and before_sleep() is not None:
        idle, reason = check()
    if not idle:
        return False, reason
    recorded = put_to_sleep(ecs, power, cluster=cluster, service=service, at=now, reason=reason + REASON_SUFFIX)
    if recorded:
        record_sleep(reason="self")
    log.warning(
        "Blu is idle (%s): asked ECS to scale %s/%s to 0%s",
        reason,
        cluster,
        service,
        "" if recorded else " (the sleep was already recorded)",
    )
    return True, reason


MISSING_SECRETS_REASON = "the secret holds no login password yet"


def sleep_for_missing_secrets(ecs: Any, power: PowerLog | None, *, cluster: str, service: str, now: float) -> None:
    """Scale the service to 0 instead of letting ECS restart a task that cannot start (a crash loop,
    e.g. start_on_deploy=true before the password was stored). The next wake starts a task that
    reads the secret again."""
    log.error(
        "Blu cannot start: %s. Store it with `make deploy` or `python -m scripts.set_secret --password`, "
        "then open Blu's URL to wake it. Scaling %s/%s to 0 instead of restarting.",
        MISSING_SECRETS_REASON,
        cluster,
        service,
    )
    put_to_sleep(ecs, power, cluster=cluster, service=service, at=now, reason=MISSING_SECRETS_REASON + REASON_SUFFIX)


@dataclass(frozen=True, kw_only=True)
class SelfStop:
    """The clients and settings `stop_if_idle` needs in the running task."""

    ecs: Any
    power: PowerLog | None
    cluster: str
    service: str
    idle_timeout_minutes: int
    started_at: float
    before_sleep: Callable[[], object] | None = None  # a due backup (runtime/backup/service.py)

    @classmethod
    def from_settings(cls, settings: Settings, *, started_at: float) -> SelfStop | None:
        """None unless the task knows its cluster and service (locally nothing is stopped)."""
        if not settings.self_stop_configured:
            return None
        import boto3  # only in AWS: a laptop run never needs it

        power = None
        if settings.dynamodb_table:
            power = PowerLog(boto3.client("dynamodb", region_name=settings.aws_region), settings.dynamodb_table)
        return cls(
            ecs=boto3.client("ecs", region_name=settings.aws_region),
            power=power,
            cluster=settings.ecs_cluster,
            service=settings.ecs_service,
            idle_timeout_minutes=settings.idle_timeout_minutes,
            started_at=started_at,
        )

    def sleep_for_missing_secrets(self, now: float) -> None:
        sleep_for_missing_secrets(self.ecs, self.power, cluster=self.cluster, service=self.service, now=now)

    def check(self, store: Store, now: float) -> tuple[bool, str]:
        return stop_if_idle(
            self.ecs,
            store,
            self.power,
            cluster=self.cluster,
            service=self.service,
            idle_timeout_minutes=self.idle_timeout_minutes,
            started_at=self.started_at,
            now=now,
            before_sleep=self.before_sleep,
        )
