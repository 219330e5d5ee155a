"""The store's items as portable plain data (kind + record) for backups, export and import between back-ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.store.models import (
    ArtifactRecord,
    MessageRecord,
    NotificationPreferences,
    ScheduleRecord,
    ScheduleRunRecord,
    SessionRecord,
    ToolPolicyRecord,
    to_plain,
)

# Every kind a backup holds, in import order (a session before the messages and artifacts that hang off
# it, a schedule before its runs). A new lasting item kind is added here and in both back-ends'
# export_items/import_item/clear_items; the guard tests in tests/core/store/test_portable.py fail until
# every table, row and key prefix a store writes is either exported or listed as ephemeral.
# Not exported, on purpose: Web Push subscriptions and the VAPID key pair. A subscription is bound to
# one browser and to this Blu's VAPID public key, and a key pair moved to another Blu would sign for
# browsers that never subscribed there: after moving a Blu, notifications are enabled again in each browser.
SESSION = "session"
MESSAGE = "message"
ARTIFACT = "artifact"
SCHEDULE = "schedule"
SCHEDULE_RUN = "schedule_run"
NOTIFICATION_PREFERENCES = "notification_preferences"  # one item at most: the kinds the person wants
TOOL_POLICY = "tool_policy"  # one item at most, when any tool's mode was set at run time: tool -> mode
EXPORT_KINDS: tuple[str, ...] = (
    SESSION, MESSAGE, ARTIFACT, SCHEDULE, SCHEDULE_RUN, NOTIFICATION_PREFERENCES, TOOL_POLICY,
)  # fmt: skip
SESSION_KINDS: tuple[str, ...] = (SESSION, MESSAGE, ARTIFACT)  # what a one-session export holds
RECORD_TYPES: dict[str, type] = {
    SESSION: SessionRecord,
    MESSAGE: MessageRecord,
    ARTIFACT: ArtifactRecord,
    SCHEDULE: ScheduleRecord,
    SCHEDULE_RUN: ScheduleRunRecord,
    NOTIFICATION_PREFERENCES: NotificationPreferences,
    TOOL_POLICY: ToolPolicyRecord,
}

# "skipped": nothing written, because what the item hangs off is missing (a schedule run whose
# schedule is neither here nor imported before it).
ImportOutcome = Literal["added", "replaced", "kept", "skipped"]


class UnknownKind(ValueError):
    """An exported item of a kind this Blu does not keep (an archive from a newer Blu)."""


@dataclass(frozen=True)
class ExportedItem:
    """One lasting item: `kind` from EXPORT_KINDS and the record as JSON-ready data (models.to_plain).
    A message's `text` is whole, also when the store keeps it cut."""

    kind: str
    item: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "item": self.item}

    @classmethod
    def from_json(cls, data: object) -> ExportedItem:
        """Raises ValueError for anything but {"kind": str, "item": {...}}."""
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("kind"), str)
            or not isinstance(data.get("item"), dict)
        ):
            raise ValueError("an exported item is {'kind': ..., 'item': {...}}")
        return cls(kind=data["kind"], item=data["item"])

    @property
    def session_id(self) -> str | None:
        """The session this item belongs to (a session's own id for a session); None for the kinds that
        are no session's (a schedule and its runs, even when they write to a session; preferences; the tool policy)."""
        if self.kind not in SESSION_KINDS:
            return None
        value = self.item.get("id") if self.kind == SESSION else self.item.get("session_id")
        return value if isinstance(value, str) else None


def export(kind: str, record: object) -> ExportedItem:
    return ExportedItem(kind=kind, item=to_plain(record))


def record_of(item: ExportedItem) -> Any:
    """The validated record of an exported item. Raises UnknownKind, or ValueError/TypeError for bad fields."""
    from core.store import codec  # here: codec imports base, which imports this module

    record_type = RECORD_TYPES.get(item.kind)
    if record_type is None:
        raise UnknownKind(f"unknown item kind {item.kind!r}")
    return codec.validated(codec.from_plain(record_type, item.item))
