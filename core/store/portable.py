"""The store's items as portable plain data (kind + record) for backups, export and import between back-ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.store.models import ArtifactRecord, MessageRecord, SessionRecord, to_plain

# Every kind a backup holds, in import order (a session before the messages and artifacts that hang off
# it). A new lasting item kind (schedules, settings, ...) is added here and in both back-ends'
# export_items/import_item/clear_items; the guard tests in tests/core/store/test_portable.py fail until
# every table and key prefix a store writes is either exported or listed as ephemeral.
SESSION = "session"
MESSAGE = "message"
ARTIFACT = "artifact"
EXPORT_KINDS: tuple[str, ...] = (SESSION, MESSAGE, ARTIFACT)
RECORD_TYPES: dict[str, type] = {SESSION: SessionRecord, MESSAGE: MessageRecord, ARTIFACT: ArtifactRecord}

ImportOutcome = Literal["added", "replaced", "kept"]


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
        """The session this item belongs to (a session's own id for a session)."""
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
