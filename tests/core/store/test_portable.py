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
    NotificationPreferences,
    PushSubscriptionRecord,
    ScheduleRecord,
    ScheduleRunRecord,
    SessionRecord,
    ToolCall,
    VapidKeys,
    scheduled_run_id,
)
from core.store.portable import EXPORT_KINDS, SESSION_KINDS, ExportedItem, UnknownKind

T0 = 1_760_000_000.0
LONG_TEXT = "é" * (MAX_TEXT_BYTES // 2 + 500)  # over the item budget: kept whole beside the record


def fill(store: Store) -> None:
    """Two sessions with messages (one cut, one with tool calls), artifacts, and the ephemeral items."""
    for n, sid in enumerate(("s-one", "s-two")):
        store.create_session(
            SessionRecord(id=sid, name=f"Session {n}", status="active", created_at=T0 + n, updated_at=T0 + 10 + n)
        )
        store.put_message(
            MessageRecord(
                session_id=sid,
                id=f"{n}-0001-a",
                role="user",
                text="hello",
                created_at=T0,
                sent_by="person" if n == 0 else "blu",  # a late approval answer Blu carried in
            )
        )
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
                superseded_by=None if n == 0 else f"{n}-0003-c",  # an earlier version (Regenerate)
            )
        )
        store.put_artifact(ArtifactRecord(path=f"dir/file{n}.txt", session_id=sid, tool="Write", updated_at=T0 + 2))
        store.claim_request(AcceptedRequest(session_id=sid, key="k", turn_id="t", message_id="m"), at=T0)
    # Two schedules (one writing to a session, with limits), runs of every shape, the preferences.
    store.create_schedule(
        ScheduleRecord(
            id="sch-b",
            name="Morning news",
            prompt="Summarize the news",
            cron="0 8 * * 1-5",
            repeat="every weekday at 08:00",
            timezone="Europe/Berlin",
            target="session",
            session_id="s-one",
            max_minutes=5.0,
            max_usd=0.5,
            created_at=T0,
            updated_at=T0 + 5,
            next_run_at=T0 + 86_400,
            last_run_at=T0 + 1,
        )
    )
    store.create_schedule(
        ScheduleRecord(id="sch-a", prompt="Once", run_at=T0 + 999, paused=True, created_at=T0 + 3, updated_at=T0 + 3)
    )
    store.put_schedule_run(
        ScheduleRunRecord(
            schedule_id="sch-b",
            id=scheduled_run_id(T0),
            due_at=T0,
            started_at=T0 + 1,
            finished_at=T0 + 30,
            outcome="limit_usd",
            late=True,
            missed=3,
            session_id="s-one",
            turn_id="turn-1",
            cost_usd=0.75,
            error="The run reached its limit of 0.5 USD.",
        )
    )
    store.put_schedule_run(
        ScheduleRunRecord(schedule_id="sch-b", id="1760000500000-mabcd", due_at=T0 + 500, trigger="manual")
    )
    store.put_schedule_run(ScheduleRunRecord(schedule_id="sch-a", id=scheduled_run_id(T0 + 2), due_at=T0 + 2))
    store.set_notification_preferences(NotificationPreferences(kinds={"turn_finished": False, "schedule_run": True}))
    store.set_tool_mode("mcp__github", "deny")  # the tool policy changed at run time (a whole MCP server)
    store.set_tool_mode("Bash", "ask")
    # Ephemeral: they describe this running Blu, or bind to its key pair and the browsers that subscribed.
    store.put_push_subscription(
        PushSubscriptionRecord(id="sub", endpoint="https://push.example/", p256dh="k", auth="a")
    )
    store.claim_vapid_keys(VapidKeys(public_key="pub", private_key="priv", created_at=T0))
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
    assert kinds.count("schedule") == 2 and kinds.count("schedule_run") == 3
    assert kinds.count("notification_preferences") == 1
    (policy,) = [i["item"] for i in items if i["kind"] == "tool_policy"]
    assert policy == {"modes": {"Bash": "ask", "mcp__github": "deny"}}
    assert list(policy["modes"]) == ["Bash", "mcp__github"]  # by name, on both back-ends
    assert "push_subscription" not in kinds and "vapid_keys" not in kinds
    long = next(i for i in items if i["item"].get("id") == "0-0002-b")
    assert long["item"]["text"] == LONG_TEXT  # whole, not the stored cut
    assert long["item"]["truncated"] is True
    earlier = next(i for i in items if i["item"].get("id") == "1-0002-b")
    assert earlier["item"]["superseded_by"] == "1-0003-c" and long["item"]["superseded_by"] is None
    assert [i["item"]["sent_by"] for i in items if i["item"].get("id", "").endswith("-0001-a")] == ["person", "blu"]
    schedules = [i["item"]["id"] for i in items if i["kind"] == "schedule"]
    runs = [(i["item"]["schedule_id"], i["item"]["id"]) for i in items if i["kind"] == "schedule_run"]
    assert schedules == sorted(schedules) and runs == sorted(runs)  # the same order on both back-ends


def test_a_one_session_export_holds_that_session_only(store: Store) -> None:
    fill(store)
    items = exported(store)
    one = exported(store, session_id="s-one")
    assert one == [i for i in items if ExportedItem.from_json(i).session_id == "s-one"]
    # Not the schedule that writes to s-one, nor the runs that ran there: they are no session's.
    assert {i["kind"] for i in one} == set(SESSION_KINDS)


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
    assert [s.id for s in store.list_schedules()] == ["sch-b", "sch-a"]  # creation index rebuilt
    assert [r.id for r in store.list_schedule_runs("sch-b").items] == ["1760000500000-mabcd", scheduled_run_id(T0)]
    running = {(r.schedule_id, r.id) for r in store.running_schedule_runs()}  # the outcome column rebuilt
    assert running == {("sch-a", scheduled_run_id(T0 + 2)), ("sch-b", "1760000500000-mabcd")}
    assert not store.get_notification_preferences().wants("turn_finished")
    assert store.get_tool_policy() == {"Bash": "ask", "mcp__github": "deny"}
    assert [s.id for s in store.list_push_subscriptions()] == ["sub"]  # ephemeral items stay
    assert store.claim_vapid_keys(VapidKeys(public_key="other", private_key="x")).public_key == "pub"


def test_clear_removes_schedules_runs_and_preferences(store: Store) -> None:
    fill(store)
    store.clear_items()
    assert store.list_schedules() == []
    with pytest.raises(NotFound):
        store.get_schedule_run("sch-b", scheduled_run_id(T0))
    assert store.running_schedule_runs() == []
    assert store.get_notification_preferences() == NotificationPreferences()  # back to the defaults
    assert store.get_tool_policy() == {}  # the settings' policy applies again


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


def test_importing_schedules_and_runs_merges_by_id(store: Store) -> None:
    fill(store)
    before = exported(store)
    store.clear_items()
    for _ in range(2):  # the second import adds nothing
        for item in before:
            store.import_item(ExportedItem.from_json(item))
    assert exported(store) == before
    assert len(store.list_schedules()) == 2 and len(store.list_schedule_runs("sch-b").items) == 2
    store.update_schedule("sch-b", paused=True)
    store.update_schedule_run("sch-b", scheduled_run_id(T0), outcome="error")
    store.set_notification_preferences(NotificationPreferences(kinds={}))
    store.set_tool_mode("Bash", "allow")
    store.set_tool_mode("Write", "deny")
    schedule = next(i for i in before if i["kind"] == "schedule" and i["item"]["id"] == "sch-b")
    run = next(i for i in before if i["kind"] == "schedule_run" and i["item"]["id"] == scheduled_run_id(T0))
    preferences = next(i for i in before if i["kind"] == "notification_preferences")
    policy = next(i for i in before if i["kind"] == "tool_policy")
    for item in (schedule, run, preferences, policy):
        assert store.import_item(ExportedItem.from_json(item)) == "kept"
    assert store.get_schedule("sch-b").paused and store.get_schedule_run("sch-b", run["item"]["id"]).outcome == "error"
    assert store.get_notification_preferences() == NotificationPreferences(kinds={})
    # The policy is one item: kept whole (not merged tool by tool), or replaced whole.
    assert store.get_tool_policy() == {"Bash": "allow", "mcp__github": "deny", "Write": "deny"}
    for item in (schedule, run, preferences, policy):
        assert store.import_item(ExportedItem.from_json(item), replace=True) == "replaced"
    assert exported(store) == before


def test_the_tool_policy_is_one_item_an_empty_one_is_none(store: Store) -> None:
    assert exported(store) == []
    store.set_tool_mode("Bash", "deny")
    store.set_tool_mode("Bash", None)  # every entry removed again: nothing to back up
    assert exported(store) == []
    policy = ExportedItem(kind="tool_policy", item={"modes": {"Read": "allow", "mcp__shop": "deny"}})
    assert store.import_item(policy) == "added"  # an empty policy here is none: the archive's goes in
    assert store.get_tool_policy() == {"Read": "allow", "mcp__shop": "deny"}
    assert store.import_item(ExportedItem(kind="tool_policy", item={"modes": {}})) == "kept"
    assert store.import_item(ExportedItem(kind="tool_policy", item={"modes": {"Read": "ask"}}), replace=True) == (
        "replaced"
    )
    assert store.get_tool_policy() == {"Read": "ask"}  # tools the item does not name are gone
    assert store.set_tool_mode("Bash", "allow") == {"Read": "ask", "Bash": "allow"}  # still changes at run time


def test_an_archive_from_an_older_blu_without_the_tool_policy_leaves_the_settings(store: Store) -> None:
    fill(store)
    older = [i for i in exported(store) if i["kind"] != "tool_policy"]  # made before the kind existed
    store.clear_items()
    for item in older:  # a full restore: clear, then import with replace
        store.import_item(ExportedItem.from_json(item), replace=True)
    assert store.get_tool_policy() == {}  # the settings' policy, as the preferences go back to the defaults
    store.set_tool_mode("Bash", "deny")
    for item in older:  # an import (merge) of it leaves the policy here alone
        store.import_item(ExportedItem.from_json(item))
    assert store.get_tool_policy() == {"Bash": "deny"}


def test_a_run_whose_schedule_is_missing_is_skipped(store: Store) -> None:
    fill(store)
    run = next(i for i in store.export_items() if i.kind == "schedule_run")
    store.clear_items()
    assert store.import_item(run) == "skipped"
    assert store.import_item(run, replace=True) == "skipped"
    assert exported(store) == []
    with pytest.raises(NotFound):
        store.get_schedule_run(run.item["schedule_id"], run.item["id"])


def test_replacing_a_long_message_keeps_its_whole_text(store: Store) -> None:
    fill(store)
    long = next(i for i in store.export_items() if i.item.get("id") == "0-0002-b")
    store.update_message("s-one", "0-0002-b", text="short now")
    assert store.import_item(long, replace=True) == "replaced"
    assert store.get_message_text("s-one", "0-0002-b") == LONG_TEXT


def test_a_message_exported_before_earlier_versions_existed_imports_as_a_current_one(store: Store) -> None:
    old = {"session_id": "s-old", "id": "0-0001-a", "role": "assistant", "text": "from an older Blu"}
    assert store.import_item(ExportedItem.from_json({"kind": "message", "item": old})) == "added"
    assert store.get_message("s-old", "0-0001-a").superseded_by is None
    assert store.get_message("s-old", "0-0001-a").sent_by == "person"


def test_bad_items_are_refused_and_write_nothing(store: Store) -> None:
    with pytest.raises(UnknownKind):
        store.import_item(ExportedItem(kind="spaceship", item={"id": "x"}))
    with pytest.raises((ValueError, TypeError)):
        store.import_item(ExportedItem(kind="session", item={"id": "", "name": "no id"}))
    with pytest.raises((ValueError, TypeError)):
        store.import_item(ExportedItem(kind="message", item={"session_id": "s", "id": "m", "role": 5}))
    with pytest.raises((ValueError, TypeError)):
        store.import_item(ExportedItem(kind="schedule", item={"id": "x", "target": "elsewhere"}))
    with pytest.raises((ValueError, TypeError)):
        store.import_item(ExportedItem(kind="schedule_run", item={"schedule_id": "x", "id": "r", "due_at": "soon"}))
    with pytest.raises((ValueError, TypeError)):
        store.import_item(ExportedItem(kind="notification_preferences", item={"kinds": {"x": "yes"}}))
    for modes in ({"Bash": "sometimes"}, {"Bash": None}, {"": "allow"}, {"x" * 201: "deny"}, ["Bash"], "allow"):
        with pytest.raises((ValueError, TypeError)):
            store.import_item(ExportedItem(kind="tool_policy", item={"modes": modes}))
    assert store.get_tool_policy() == {}
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
    fill(store)
    rows = set(store.singleton_names())  # the one table that holds both
    assert rows, "fill() writes singletons"
    unknown_rows = rows - {*local_store.EXPORTED_SINGLETONS.values(), *local_store.EPHEMERAL_SINGLETONS}
    assert not unknown_rows, (
        f"singleton rows {unknown_rows} are neither backed up nor declared ephemeral: export their kind "
        "or name them in core/store/local.py EPHEMERAL_SINGLETONS"
    )
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
    unclassified: list[tuple[str, str]] = []
    ephemeral: list[tuple[str, str]] = []
    seen: set[str] = set()
    for page in aws.get_paginator("scan").paginate(TableName=name):
        for item in page["Items"]:
            pk, sk = item["PK"]["S"], item["SK"]["S"]
            seen.add(pk.split("#")[0])
            if any(pk.startswith(p) and sk.startswith(s) for p, s in dynamo_store.EPHEMERAL_KEYS):
                ephemeral.append((pk, sk))
            elif not any(pk.startswith(p) and sk.startswith(s) for p, s in dynamo_store.EXPORTED_KEYS):
                unclassified.append((pk, sk))
    assert unclassified == [], (
        "items neither backed up nor declared ephemeral: export their kind (core/store/portable.py) "
        "or name their key prefixes in core/store/dynamo.py EPHEMERAL_KEYS"
    )
    assert {"SESSION", "ARTIFACT", "SCHEDULE", "NOTIFY", "SYSTEM", "AUTH"} <= seen  # fill() wrote every kind
    assert ("NOTIFY", "PREFERENCES") not in ephemeral and ("NOTIFY", "VAPID") in ephemeral
    assert "TOOLPOLICY" in seen and not any(pk == "TOOLPOLICY" for pk, _ in ephemeral)


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
