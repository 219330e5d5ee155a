"""The wake and sleep log in Blu's table, and putting Blu to sleep (the idle checker, launcher and runtime share it)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Items (single table, beside SYSTEM/ACTIVITY):
#   SYSTEM / POWER                     the current cycle: state waking|awake|asleep, wake_at, ready_at, sleep_at
#   SYSTEM / POWER#<ms, 13 digits>#wake  one wake: at, reason, ready_at and duration_seconds (wake → ready)
#   SYSTEM / POWER#<ms, 13 digits>#sleep one sleep: at, reason, duration_seconds (how long Blu was awake)
PK = "SYSTEM"
CURRENT_SK = "POWER"
EVENT_PREFIX = "POWER#"
EVENT_LIFETIME_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class PowerEvent:
    kind: str  # "wake" or "sleep"
    at: float
    reason: str
    duration_seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "reason": self.reason, "duration_seconds": self.duration_seconds}


def _event_sk(at: float, kind: str) -> str:
    return f"{EVENT_PREFIX}{int(at * 1000):013d}#{kind}"


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class PowerLog:
    """Wake/sleep records on a boto3 DynamoDB client. Every change is one conditional request, so two
    launchers waking at once record one wake, and a sleep is recorded once per cycle."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def _conditional_update(self, **kwargs: Any) -> dict[str, Any] | None:
        try:
            response: dict[str, Any] = self._db.update_item(
                TableName=self._table, Key=_key(CURRENT_SK), ReturnValues="ALL_OLD", **kwargs
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return _plain(response.get("Attributes", {}))

    def record_wake(self, *, at: float, reason: str) -> bool:
        """Start a cycle; False (and nothing written) when a wake is already in progress."""
        sk = _event_sk(at, "wake")
        if (
            self._conditional_update(
                UpdateExpression="SET #s = :waking, wake_at = :at, wake_reason = :r, wake_sk = :sk REMOVE ready_at",
                ConditionExpression="attribute_not_exists(#s) OR #s <> :waking",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":waking": {"S": "waking"},
                    ":at": {"N": str(_num(at))},
                    ":r": {"S": reason},
                    ":sk": {"S": sk},
                },
            )
            is None
        ):
            return False
        self._put_event(sk, PowerEvent("wake", at, reason))
        return True

    def mark_ready(self, *, ready_at: float) -> float | None:
        """Close the open wake with the moment Blu was ready; returns the wake's duration, or None
        when no wake was open (already marked, or started some other way)."""
        old = self._conditional_update(
            UpdateExpression="SET #s = :awake, ready_at = :at",
            ConditionExpression="#s = :waking",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":awake": {"S": "awake"},
                ":waking": {"S": "waking"},
                ":at": {"N": str(_num(ready_at))},
            },
        )
        if old is None:
            return None
        wake_at = _float(old.get("wake_at")) or ready_at
        duration = max(0.0, ready_at - wake_at)
        if old.get("wake_sk"):
            self._db.update_item(
                TableName=self._table,
                Key=_key(str(old["wake_sk"])),
                UpdateExpression="SET ready_at = :at, duration_seconds = :d",
                ExpressionAttributeValues={":at": {"N": str(_num(ready_at))}, ":d": {"N": str(_num(duration))}},
            )
        return duration

    def record_sleep(self, *, at: float, reason: str) -> bool:
        """End the cycle; False when Blu was already recorded asleep."""
        old = self._conditional_update(
            UpdateExpression="SET #s = :asleep, sleep_at = :at, sleep_reason = :r",
            ConditionExpression="attribute_not_exists(#s) OR #s <> :asleep",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":asleep": {"S": "asleep"}, ":at": {"N": str(_num(at))}, ":r": {"S": reason}},
        )
        if old is None:
            return False
        since = _float(old.get("ready_at")) or _float(old.get("wake_at"))
        self._put_event(_event_sk(at, "sleep"), PowerEvent("sleep", at, reason, None if since is None else at - since))
        return True

    def current(self) -> dict[str, Any]:
        item = self._db.get_item(TableName=self._table, Key=_key(CURRENT_SK), ConsistentRead=True).get("Item", {})
        return _plain(item)

    def recent(self, limit: int = 20) -> list[PowerEvent]:
        """The latest wakes and sleeps, newest first."""
        response = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": {"S": PK}, ":prefix": {"S": EVENT_PREFIX}},
            ScanIndexForward=False,
            Limit=limit,
        )
        events = []
        for raw in response.get("Items", []):
            item = _plain(raw)
            events.append(
                PowerEvent(
                    kind=str(item.get("kind")),
                    at=float(item.get("at", 0)),
                    reason=str(item.get("reason", "")),
                    duration_seconds=_float(item.get("duration_seconds")),
                )
            )
        return events

    def _put_event(self, sk: str, event: PowerEvent) -> None:
        item: dict[str, Any] = {
            **_key(sk),
            "kind": {"S": event.kind},
            "at": {"N": str(_num(event.at))},
            "reason": {"S": event.reason},
            "ttl": {"N": str(math.ceil(event.at + EVENT_LIFETIME_SECONDS))},
        }
        if event.duration_seconds is not None:
            item["duration_seconds"] = {"N": str(_num(event.duration_seconds))}
        self._db.put_item(TableName=self._table, Item=item)


def put_to_sleep(ecs: Any, power: PowerLog | None, *, cluster: str, service: str, at: float, reason: str) -> bool:
    """Scale the service to 0, then record the sleep; True when this call recorded it (once per cycle).

    The record follows a successful UpdateService, so the log never says asleep while nothing was stopped.
    """
    ecs.update_service(cluster=cluster, service=service, desiredCount=0)
    return power.record_sleep(at=at, reason=reason) if power is not None else False


def _key(sk: str) -> dict[str, Any]:
    return {"PK": {"S": PK}, "SK": {"S": sk}}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item as plain values (only the S and N types this log writes)."""
    out: dict[str, Any] = {}
    for name, value in item.items():
        if "S" in value:
            out[name] = value["S"]
        elif "N" in value:
            out[name] = float(value["N"])
    return out
