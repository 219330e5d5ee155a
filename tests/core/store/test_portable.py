"""Export and import of the store's items (backups): the same contract on both back-ends, and across them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.store import NotFound, Store
from core.store import dynamo as dynamo_store
from core.store import local as local_store
from core.store.models import (
    MAX_TEXT_BYTES,
    AcceptedRequest,
    ArtifactRecord,
    MessageRecord,
    SessionRecord,
    ToolCall,
)
from core.store.portable import EXPORT_KINDS, ExportedItem, UnknownKind

T0 = 1_760_000_000.0
LONG_TEXT = "é" * (MAX_TEXT_BYTES // 2 + 500)  # over the item budget: kept whole beside the record


def fill(store: Store) -> None:
    """Two sessions with messages (one cut, one with tool calls), artifacts, and the ephemeral items."""
    for n, sid in enumerate(("s-one", "s-two")):
        store.create_session(
            SessionRecord(id=sid, name=f"Session {n}", status="active", created_at=T0 + n, updated_at=T0 + 10 + n)
        )
        store.put_message(MessageRecord(session_id=sid, id=f"{n}-0001-a", role="user", text="hello", created_at=T0))
        store.put_message(
            MessageRecord(
                session_id=sid,
                id=f"{n}-0002-b",
                role="assistant",
                text=LONG_TEXT if n == 0 else "done",
                tool_calls=(ToolCall(id="t1", name="Write", input_summary="a.txt", outcome="ok"),),
                input_tokens=5,
                cost_usd=0.25,
                created_at=T0 + 1,
            )
        )
        store.put_artifact(ArtifactRecord(path=f"dir/file{n}.txt", session_id=sid, tool="Write", updated_at=T0 + 2))
        store.claim_request(AcceptedRequest(session_id=sid, key="k", turn_id="t", message_id="m"), at=T0)
    store.heartbeat(T0)
    store.record_user_action(T0)
    store.record_login_failure("1.2.3.4", at=T0, expires_at=T0 + 60)


def exported(store: Store, **kwargs: Any) -> list[dict[str, Any]]:
    return [item.as_json() for item in store.export_items(**kwargs)]


def test_export_holds_every_lasting_item_in_kind_order(store: Store) -> None:
    fill(store)
    items = exported(store)
    kinds = [item["kind"] for item in items]
    assert kinds == sorted(kinds, key=EXPORT_KINDS.index)
    assert kinds.count("session") == 2 and kinds.count("message") == 4 and kinds.count("artifact") == 2
    long = next(i for i in items if i["item"]["id"] == "0-0002-b")
    assert long["item"]["text"] == LONG_TEXT  # whole, not the stored cut
    assert long["item"]["truncated"] is True
    assert exported(store, session_id="s-two") == [i for i in items if ExportedItem.from_json(i).session_id == "s-two"]


def test_clear_then_import_restores_everything_exactly(store: Store) -> None:
    fill(store)
    before = exported(store)
    assert store.clear_items() == 2
    assert exported(store) == []
    with pytest.raises(NotFound):
        store.get_session("s-one")
    assert store.get_activity().heartbeat_at == T0  # ephemeral items stay
    outcomes = [store.import_item(ExportedItem.from_json(i)) for i in before]
    assert set(outcomes) == {"added"}
    assert exported(store) == before
    assert store.get_message_text("s-one", "0-0002-b") == LONG_TEXT
    assert store.list_messages("s-one").items[1].truncated
    assert [a.path for a in store.sessions_for_path("dir/file0.txt")] == ["dir/file0.txt"]
    assert [s.id for s in store.list_sessions().items] == ["s-two", "s-one"]  # recency index rebuilt


def test_import_merges_by_id_without_duplicates(store: Store) -> None:
    fill(store)
    before = exported(store)
    assert {store.import_item(ExportedItem.from_json(i)) for i in before} == {"kept"}
    assert exported(store) == before
    store.update_session("s-one", name="renamed")
    session = next(i for i in before if i["kind"] == "session" and i["item"]["id"] == "s-one")
    assert store.import_item(ExportedItem.from_json(session)) == "kept"
    assert store.get_session("s-one").name == "renamed"
    assert store.import_item(ExportedItem.from_json(session), replace=True) == "replaced"
    assert store.get_session("s-one").name == "Session 0"


def test_replacing_a_long_message_keeps_its_whole_text(store: Store) -> None:
    fill(store)
    long = next(i for i in store.export_items() if i.item.get("id") == "0-0002-b")
    store.update_message("s-one", "0-0002-b", text="short now")
    assert store.import_item(long, replace=True) == "replaced"
    assert store.get_message_text("s-one", "0-0002-b") == LONG_TEXT


def test_bad_items_are_refused_and_write_nothing(store: Store) -> None:
    with pytest.raises(UnknownKind):
        store.import_item(ExportedItem(kind="spaceship", item={"id": "x"}))
    with pytest.raises((ValueError, TypeError)):
        store.import_item(ExportedItem(kind="session", item={"id": "", "name": "no id"}))
    with pytest.raises((ValueError, TypeError)):
        store.import_item(ExportedItem(kind="message", item={"session_id": "s", "id": "m", "role": 5}))
    assert exported(store) == []
    with pytest.raises(ValueError, match="exported item"):
        ExportedItem.from_json(["session", {}])


def test_items_move_between_back_ends(tmp_path: Path, module_dynamo_store: Store, aws: Any) -> None:
    from tests.core.store.conftest import empty_table

    empty_table(aws, module_dynamo_store.table_name)  # type: ignore[attr-defined]
    laptop = local_store.LocalStore(tmp_path / "laptop.sqlite3")
    fill(laptop)
    for item in laptop.export_items():
        module_dynamo_store.import_item(item)
    assert exported(module_dynamo_store) == exported(laptop)
    back = local_store.LocalStore(tmp_path / "back.sqlite3")
    for item in module_dynamo_store.export_items():
        back.import_item(item)
    assert exported(back) == exported(laptop)
    laptop.close()
    back.close()


# Guards: a new item kind must be exported or declared ephemeral, or these fail (nothing is silently lost).


def test_every_local_table_is_exported_or_declared_ephemeral(tmp_path: Path) -> None:
    store = local_store.LocalStore(tmp_path / "blu.sqlite3")
    declared = {
        *local_store.EXPORTED_TABLES.values(),
        *local_store.PART_TABLES,
        *local_store.EPHEMERAL_TABLES,
        *local_store.INDEX_TABLES,
    }
    unknown = set(store.table_names()) - declared
    assert not unknown, (
        f"tables {unknown} are neither backed up nor declared ephemeral: add their kind to "
        "core/store/portable.py EXPORT_KINDS and both back-ends' export_items/import_item/clear_items, "
        "or name them in core/store/local.py EPHEMERAL_TABLES"
    )
    assert set(store.table_names()) == declared
    assert set(local_store.EXPORTED_TABLES) == set(EXPORT_KINDS)
    store.close()


def test_every_dynamo_item_is_exported_or_declared_ephemeral(module_dynamo_store: Store, aws: Any) -> None:
    from tests.core.store.conftest import empty_table

    name = module_dynamo_store.table_name  # type: ignore[attr-defined]
    empty_table(aws, name)
    fill(module_dynamo_store)
    module_dynamo_store.set_turn_running("s-one", "turn")
    unclassified = []
    for page in aws.get_paginator("scan").paginate(TableName=name):
        for item in page["Items"]:
            pk, sk = item["PK"]["S"], item["SK"]["S"]
            if pk.startswith(dynamo_store.EPHEMERAL_PARTITIONS) or sk.startswith(dynamo_store.EPHEMERAL_SORT_PREFIXES):
                continue
            if not pk.startswith(dynamo_store.EXPORTED_PREFIXES):
                unclassified.append((pk, sk))
    assert unclassified == [], (
        "items neither backed up nor declared ephemeral: export their kind (core/store/portable.py) "
        "or name their key prefix in core/store/dynamo.py EPHEMERAL_PARTITIONS / EPHEMERAL_SORT_PREFIXES"
    )


def test_the_async_store_collects_the_export_in_its_worker_thread(tmp_path: Path) -> None:
    import asyncio

    from core.store.aio import AsyncStore

    store = local_store.LocalStore(tmp_path / "blu.sqlite3")
    fill(store)

    async def export() -> list[Any]:
        return await AsyncStore(store).export_items(session_id="s-two")

    items = asyncio.run(export())
    assert isinstance(items, list) and [i.kind for i in items] == ["session", "message", "message", "artifact"]
    store.close()
