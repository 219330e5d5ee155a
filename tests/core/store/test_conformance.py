"""One contract, two back-ends: every test here runs against DynamoDB (moto) and the SQLite store."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import pytest

from core.auth import LoginThrottle, attempt_login, hash_password
from core.auth.throttle import FREE_FAILURES
from core.store import Conflict, InvalidCursor, NotFound, Store
from core.store.models import (
    MAX_TEXT_BYTES,
    MAX_TOOL_FIELD_BYTES,
    TRUNCATION_MARK,
    AcceptedRequest,
    ActivityRecord,
    ApprovalRecord,
    ArtifactRecord,
    MessageRecord,
    Page,
    SessionRecord,
    ToolCall,
    new_message_id,
    to_plain,
)

T0 = 1_760_000_000.0
MARK_BYTES = len(TRUNCATION_MARK.encode())


def run_threads(count: int, work: Callable[[int], None]) -> None:
    """Run work(0..count-1) on `count` threads started together; re-raise the first failure."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def all_pages(fetch: Callable[[str | None], Page[Any]]) -> tuple[list[Any], list[int]]:
    """Follow cursors to the end; returns the items and the size of each page."""
    items: list[Any] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items.extend(page.items)
        sizes.append(len(page.items))
        if page.next is None:
            return items, sizes
        assert re.fullmatch(r"[A-Za-z0-9_-]+", page.next), "cursors must be URL-safe"
        cursor = page.next


def message(session_id: str, i: int, **fields: Any) -> MessageRecord:
    defaults: dict[str, Any] = {
        "id": new_message_id(T0 + i),
        "role": "user" if i % 2 == 0 else "assistant",
        "text": f"message {i}",
        "created_at": T0 + i,
    }
    return MessageRecord(session_id=session_id, **(defaults | fields))


# sessions ----------------------------------------------------------------------------------------


def test_session_round_trips_every_field(store: Store) -> None:
    session = SessionRecord(
        id="s1",
        name="Trip planning",
        status="active",
        claude_session_id="claude-1",
        created_at=T0,
        updated_at=T0 + 1.25,
        message_count=3,
        input_tokens=120,
        output_tokens=45,
        cost_usd=0.0123,
        forked_from="s0",
        running_turn_id="turn-1",
    )
    store.create_session(session)
    assert store.get_session("s1") == session

    minimal = SessionRecord(id="s2", created_at=T0, updated_at=T0)
    store.create_session(minimal)
    assert store.get_session("s2") == minimal


def test_create_session_conflicts_on_existing_id(store: Store) -> None:
    store.create_session(SessionRecord(id="s1", name="first"))
    with pytest.raises(Conflict):
        store.create_session(SessionRecord(id="s1", name="second"))
    assert store.get_session("s1").name == "first"


def test_missing_session_raises_not_found_and_updates_never_create(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_session("nope")
    with pytest.raises(NotFound):
        store.update_session("nope", name="x")
    with pytest.raises(NotFound):
        store.add_session_usage("nope", messages=1)
    with pytest.raises(NotFound):
        store.delete_session("nope")
    with pytest.raises(NotFound):
        store.get_session("nope")
    assert store.list_sessions().items == []


def test_update_session_sets_and_clears_fields(store: Store) -> None:
    store.create_session(SessionRecord(id="s1", created_at=T0, updated_at=T0))
    updated = store.update_session(
        "s1", name="Renamed", status="active", claude_session_id="c-9", running_turn_id="t-1"
    )
    assert (updated.name, updated.status, updated.claude_session_id, updated.running_turn_id) == (
        "Renamed",
        "active",
        "c-9",
        "t-1",
    )
    assert updated.updated_at == T0, "updated_at only changes when given"
    assert store.get_session("s1") == updated

    cleared = store.update_session("s1", running_turn_id=None, claude_session_id=None)
    assert cleared.running_turn_id is None and cleared.claude_session_id is None
    assert store.get_session("s1") == cleared
    assert store.update_session("s1") == cleared


def test_update_session_rejects_bad_changes(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    with pytest.raises(ValueError):
        store.update_session("s1", status="deleted")
    with pytest.raises(ValueError):
        store.update_session("s1", colour="blue")
    with pytest.raises(ValueError):
        store.update_session("s1", id="s2")
    with pytest.raises(TypeError):
        store.update_session("s1", name=5)
    with pytest.raises(ValueError):
        store.create_session(SessionRecord(id="s3", status="bogus"))  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [9, 7])  # 9 = three exactly-full pages of 3
def test_list_sessions_by_recency_across_pages(store: Store, count: int) -> None:
    times = [T0 + i for i in range(count - 2)] + [T0 + 100.0, T0 + 100.0]  # a tie at the top
    sessions = [SessionRecord(id=f"s{i:02d}", created_at=T0, updated_at=t) for i, t in enumerate(times)]
    for session in random.Random(count).sample(sessions, len(sessions)):
        store.create_session(session)

    listed, sizes = all_pages(lambda cursor: store.list_sessions(limit=3, cursor=cursor))

    expected = sorted(sessions, key=lambda s: (s.updated_at, s.id), reverse=True)
    assert [s.id for s in listed] == [s.id for s in expected]
    assert listed == expected
    assert sizes == [3] * (count // 3) + ([count % 3] if count % 3 else [])


def test_recency_follows_updated_at(store: Store) -> None:
    for i in range(3):
        store.create_session(SessionRecord(id=f"s{i}", created_at=T0, updated_at=T0 + i))
    store.update_session("s0", updated_at=T0 + 10)
    assert [s.id for s in store.list_sessions().items] == ["s0", "s2", "s1"]
    store.add_session_usage("s1", messages=1, at=T0 + 20)
    assert [s.id for s in store.list_sessions().items] == ["s1", "s0", "s2"]
    assert store.get_session("s1").updated_at == T0 + 20


def test_list_sessions_can_leave_out_archived(store: Store) -> None:
    # Archived runs between live ones make the back-ends skip filtered items while paging.
    statuses = ["archived"] * 5 + ["active", "new"] + ["archived"] * 4 + ["active"]
    for i, status in enumerate(statuses):
        store.create_session(SessionRecord(id=f"s{i:02d}", status=status, updated_at=T0 + i))  # type: ignore[arg-type]

    live, _ = all_pages(lambda c: store.list_sessions(limit=2, cursor=c, include_archived=False))
    everything, _ = all_pages(lambda c: store.list_sessions(limit=4, cursor=c))

    assert [s.id for s in live] == ["s11", "s06", "s05"]
    assert [s.id for s in everything] == [f"s{i:02d}" for i in reversed(range(len(statuses)))]


def test_usage_counters_add_up_under_concurrency(store: Store) -> None:
    store.create_session(SessionRecord(id="s1", created_at=T0, updated_at=T0))

    def work(_: int) -> None:
        for _ in range(25):
            store.add_session_usage(
                "s1", messages=1, input_tokens=10, output_tokens=3, cost_usd=0.01, stopped_replies=1
            )

    run_threads(8, work)
    session = store.get_session("s1")
    assert (session.message_count, session.input_tokens, session.output_tokens) == (200, 2000, 600)
    assert session.stopped_replies == 200
    assert session.cost_usd == pytest.approx(2.0)
    assert session.updated_at == T0

    returned = store.add_session_usage("s1", input_tokens=5)
    assert returned == store.get_session("s1") and returned.input_tokens == 2005


def test_delete_session_takes_messages_and_artifacts_along(store: Store) -> None:
    for sid in ("gone", "kept"):
        store.create_session(SessionRecord(id=sid))
        for i in range(30):  # more than one DynamoDB batch of 25
            store.put_message(message(sid, i))
        store.put_artifact(ArtifactRecord(path="shared.md", session_id=sid, updated_at=T0))
        store.put_artifact(ArtifactRecord(path=f"{sid}.txt", session_id=sid, updated_at=T0))

    store.delete_session("gone")

    with pytest.raises(NotFound):
        store.get_session("gone")
    assert store.list_messages("gone").items == []
    assert store.list_artifacts("gone") == []
    assert [a.session_id for a in store.sessions_for_path("shared.md")] == ["kept"]
    assert store.sessions_for_path("gone.txt") == []
    assert len(all_pages(lambda c: store.list_messages("kept", limit=50, cursor=c))[0]) == 30
    assert len(store.list_artifacts("kept")) == 2
    assert [s.id for s in store.list_sessions().items] == ["kept"]


def test_sessions_with_running_turns(store: Store) -> None:
    for i in range(4):
        store.create_session(SessionRecord(id=f"s{i}", updated_at=T0 + i))
    assert store.sessions_with_running_turns() == []
    store.update_session("s1", running_turn_id="t1")
    store.update_session("s3", running_turn_id="t3")
    assert {s.id: s.running_turn_id for s in store.sessions_with_running_turns()} == {"s1": "t1", "s3": "t3"}
    store.update_session("s3", running_turn_id=None)
    assert [s.id for s in store.sessions_with_running_turns()] == ["s1"]


# messages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [8, 11])  # 8 = two exactly-full pages of 4
def test_messages_list_in_order_both_ways(store: Store, count: int) -> None:
    messages = [message("s1", i) for i in range(count)]
    for m in random.Random(count).sample(messages, count):
        assert store.put_message(m) is True
    store.put_message(message("other", 0))

    oldest_first, sizes = all_pages(lambda c: store.list_messages("s1", limit=4, cursor=c))
    newest_first, _ = all_pages(lambda c: store.list_messages("s1", limit=4, cursor=c, newest_first=True))

    assert oldest_first == messages
    assert newest_first == messages[::-1]
    assert sizes == [4] * (count // 4) + ([count % 4] if count % 4 else [])
    assert store.list_messages("s1", limit=3, newest_first=True).items == messages[::-1][:3]


def test_message_round_trips_every_field(store: Store) -> None:
    m = MessageRecord(
        session_id="s1",
        id=new_message_id(T0),
        role="assistant",
        text="Here you go — ünïcödé ✓",
        channel="voice",
        turn_id="turn-1",
        state="interrupted",
        created_at=T0,
        tool_calls=(
            ToolCall(id="tc1", name="Write", input_summary="notes.md", outcome="ok", result_summary="", duration_ms=12),
            ToolCall(id="tc2", name="Bash", input_summary="ls"),
        ),
        input_tokens=10,
        output_tokens=20,
        cost_usd=0.5,
        error="stopped",
        claude_message_uuid="0c5e7c1e-8f57-4a4e-9d1e-4f1f3f0c2a77",
        superseded_by=new_message_id(T0 + 5),
    )
    store.put_message(m)
    assert store.get_message("s1", m.id) == m
    with pytest.raises(NotFound):
        store.get_message("s1", "missing")
    with pytest.raises(NotFound):
        store.get_message("s2", m.id)


def test_put_message_is_idempotent(store: Store) -> None:
    m = message("s1", 0)
    assert store.put_message(m) is True
    assert store.put_message(m) is False
    assert store.put_message(MessageRecord(session_id="s1", id=m.id, role="user", text="changed")) is False
    assert store.list_messages("s1").items == [m]


def test_invalid_records_are_refused_alike(store: Store) -> None:
    for bad in (
        message("s1", 0, role="robot"),
        message("s1", 0, created_at=float("nan")),
        message("s1", 0, id=""),
        message("s1", 0, tool_calls=(ToolCall(id="t", name="Bash", input_summary="", outcome="maybe"),)),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError):
            store.put_message(bad)
    with pytest.raises(TypeError):
        store.put_message(message("s1", 0, text=None))
    with pytest.raises(ValueError):
        store.create_session(SessionRecord(id=""))
    with pytest.raises(ValueError):
        store.put_artifact(ArtifactRecord(path="", session_id="s1"))
    assert store.list_messages("s1").items == []
    assert store.list_sessions().items == []


def test_update_message(store: Store) -> None:
    m = message("s1", 0, role="assistant", state="running")
    store.put_message(m)
    updated = store.update_message(
        "s1",
        m.id,
        text="final answer",
        state="complete",
        tool_calls=[{"id": "tc1", "name": "Read", "input_summary": "a.txt", "outcome": "ok"}],
        input_tokens=7,
        output_tokens=9,
        cost_usd=0.25,
        error=None,
    )
    assert updated.text == "final answer" and updated.state == "complete"
    assert updated.tool_calls == (ToolCall(id="tc1", name="Read", input_summary="a.txt", outcome="ok"),)
    assert (updated.input_tokens, updated.output_tokens, updated.cost_usd) == (7, 9, 0.25)
    assert updated.created_at == m.created_at and updated.role == "assistant"
    assert store.get_message("s1", m.id) == updated

    errored = store.update_message("s1", m.id, state="error", error="boom")
    assert (errored.state, errored.error, errored.text) == ("error", "boom", "final answer")

    with pytest.raises(NotFound):
        store.update_message("s1", "missing", text="x")
    with pytest.raises(NotFound):
        store.get_message("s1", "missing")
    with pytest.raises(ValueError):
        store.update_message("s1", m.id, state="done")
    with pytest.raises(ValueError):
        store.update_message("s1", m.id, id="other")


def test_a_reply_becomes_an_earlier_version_and_back(store: Store) -> None:
    """Regenerate marks the reply it replaces (`superseded_by`); the mark reads back alike everywhere."""
    reply = message("s1", 1, role="assistant", turn_id="turn-1")
    store.put_message(reply)
    assert store.get_message("s1", reply.id).superseded_by is None  # the default: a current reply
    newer = new_message_id(T0 + 9)
    earlier = store.update_message("s1", reply.id, superseded_by=newer)
    assert earlier == replace(reply, superseded_by=newer)
    assert store.get_message("s1", reply.id) == earlier
    assert store.list_messages("s1").items == [earlier]
    assert store.list_messages("s1", newest_first=True).items == [earlier]
    assert store.update_message("s1", reply.id, superseded_by=None).superseded_by is None
    with pytest.raises(TypeError):
        store.update_message("s1", reply.id, superseded_by=7)


def test_a_prompt_says_who_sent_it(store: Store) -> None:
    """`sent_by`: the person (the default), Blu (a late approval answer carried in) or a schedule; it reads back
    alike everywhere, in a page of messages too, and a value outside those is refused."""
    own = message("s1", 0)
    blus = message("s1", 2, sent_by="blu", turn_id="turn-2")
    scheduled = message("s1", 4, sent_by="schedule", turn_id="turn-4")
    for m in (own, blus, scheduled):
        store.put_message(m)
    assert [m.sent_by for m in store.list_messages("s1").items] == ["person", "blu", "schedule"]
    assert store.get_message("s1", blus.id) == blus
    with pytest.raises(ValueError):
        store.put_message(message("s1", 6, sent_by="someone"))


def test_oversized_message_is_truncated_to_fit_one_item(store: Store) -> None:
    calls = tuple(
        ToolCall(id=f"tc{i}", name="Bash", input_summary="i" * 50_000, result_summary="r" * 50_000) for i in range(40)
    )
    huge = message("s1", 0, role="assistant", text="é" * 300_000, tool_calls=calls, error="e" * 50_000)

    assert store.put_message(huge) is True  # DynamoDB (moto too) rejects an item over 400 KB

    stored = store.get_message("s1", huge.id)
    assert stored.truncated is True
    assert stored.text.endswith(TRUNCATION_MARK) and huge.text.startswith(stored.text[:1000])
    assert len(stored.text.encode()) <= MAX_TEXT_BYTES + MARK_BYTES
    assert stored.error is not None and len(stored.error.encode()) <= MAX_TOOL_FIELD_BYTES + MARK_BYTES
    assert stored.tool_calls, "tool calls are kept (shortened) while the budget lasts"
    for call in stored.tool_calls:
        assert len(call.input_summary.encode()) <= MAX_TOOL_FIELD_BYTES + MARK_BYTES
        assert len(call.result_summary.encode()) <= MAX_TOOL_FIELD_BYTES + MARK_BYTES
    assert len(json.dumps(to_plain(stored), ensure_ascii=False).encode()) < 400_000

    small = message("s1", 1)
    store.put_message(small)
    assert store.get_message("s1", small.id).truncated is False
    grown = store.update_message("s1", small.id, text="x" * (MAX_TEXT_BYTES + 1))
    assert grown.truncated is True and len(grown.text.encode()) == MAX_TEXT_BYTES + MARK_BYTES
    assert store.get_message("s1", small.id) == grown


# artifacts ---------------------------------------------------------------------------------------


def test_artifacts(store: Store) -> None:
    store.put_artifact(ArtifactRecord(path="a.md", session_id="s1", tool="Write", updated_at=T0 + 1))
    store.put_artifact(ArtifactRecord(path="b/c.py", session_id="s1", tool="Write", updated_at=T0 + 2))
    store.put_artifact(ArtifactRecord(path="a.md", session_id="s2", tool="Edit", updated_at=T0 + 3))
    assert [a.path for a in store.list_artifacts("s1")] == ["b/c.py", "a.md"]

    changed = ArtifactRecord(path="a.md", session_id="s1", operation="update", tool="Edit", updated_at=T0 + 5)
    store.put_artifact(changed)  # replaces the (path, session) link, no duplicate
    assert store.list_artifacts("s1") == [
        changed,
        ArtifactRecord(path="b/c.py", session_id="s1", tool="Write", updated_at=T0 + 2),
    ]
    assert [(a.session_id, a.operation) for a in store.sessions_for_path("a.md")] == [
        ("s1", "update"),
        ("s2", "create"),
    ]
    assert store.sessions_for_path("never.txt") == []
    assert store.list_artifacts("s3") == []


# activity heartbeat ------------------------------------------------------------------------------


def test_activity(store: Store) -> None:
    assert store.get_activity() == ActivityRecord()
    store.record_user_action(T0)
    store.heartbeat(T0 + 1)
    store.set_turn_running("s1", "t1")
    store.set_turn_running("s2", "t2")
    store.set_voice_room("room.one[1]%x", T0 + 2)  # characters that mean something in a document path
    assert store.get_activity() == ActivityRecord(
        last_user_action_at=T0,
        heartbeat_at=T0 + 1,
        running_turns={"s1": "t1", "s2": "t2"},
        voice_rooms={"room.one[1]%x": T0 + 2},
    )

    store.set_turn_running("s1", "t3")
    store.set_turn_running("s2", None)
    store.set_turn_running("never-ran", None)
    store.set_voice_room("room.one[1]%x", None)
    store.record_user_action(T0 + 10)
    activity = store.get_activity()
    assert activity.running_turns == {"s1": "t3"}
    assert activity.voice_rooms == {}
    assert (activity.last_user_action_at, activity.heartbeat_at) == (T0 + 10, T0 + 1)


def test_clearing_on_an_empty_activity_item(store: Store) -> None:
    store.set_voice_room("r", None)
    store.set_turn_running("s", None)
    assert store.get_activity() == ActivityRecord()


def test_concurrent_activity_writers_do_not_clobber_each_other(store: Store) -> None:
    def work(i: int) -> None:
        for j in range(3):
            store.set_turn_running(f"s{i}-{j}", f"t{i}-{j}")
            store.set_voice_room(f"r{i}-{j}", T0 + j)
        store.heartbeat(T0 + i)
        store.set_turn_running(f"s{i}-1", None)
        store.set_voice_room(f"r{i}-1", None)

    run_threads(8, work)
    activity = store.get_activity()
    assert activity.running_turns == {f"s{i}-{j}": f"t{i}-{j}" for i in range(8) for j in (0, 2)}
    assert activity.voice_rooms == {f"r{i}-{j}": T0 + j for i in range(8) for j in (0, 2)}
    assert activity.heartbeat_at is not None and T0 <= activity.heartbeat_at <= T0 + 7


# login throttling --------------------------------------------------------------------------------


def test_throttle_counts_expires_locks_and_clears(store: Store) -> None:
    assert store.get_throttle("1.2.3.4") is None

    first = store.record_login_failure("1.2.3.4", at=T0, expires_at=T0 + 100)
    assert (first.client, first.failures, first.locked_until, first.expires_at) == ("1.2.3.4", 1, 0.0, T0 + 100)
    second = store.record_login_failure("1.2.3.4", at=T0 + 50, expires_at=T0 + 150)
    assert (second.failures, second.expires_at) == (2, T0 + 150)
    assert store.get_throttle("1.2.3.4") == second

    store.lock_client("1.2.3.4", locked_until=T0 + 120)
    locked = store.get_throttle("1.2.3.4")
    assert locked is not None and (locked.failures, locked.locked_until) == (2, T0 + 120)
    assert store.record_login_failure("1.2.3.4", at=T0 + 150, expires_at=T0 + 200).failures == 3

    restarted = store.record_login_failure("1.2.3.4", at=T0 + 201, expires_at=T0 + 300)
    assert (restarted.failures, restarted.locked_until, restarted.expires_at) == (1, 0.0, T0 + 300)
    assert store.get_throttle("1.2.3.4") == restarted

    assert store.record_login_failure("5.6.7.8", at=T0, expires_at=T0 + 100).failures == 1
    store.clear_throttle("1.2.3.4")
    store.clear_throttle("never-seen")
    assert store.get_throttle("1.2.3.4") is None
    assert store.get_throttle("5.6.7.8") is not None
    with pytest.raises(NotFound):
        store.lock_client("1.2.3.4", locked_until=T0)


def test_concurrent_login_failures_all_count(store: Store) -> None:
    def work(_: int) -> None:
        for _ in range(5):
            store.record_login_failure("c", at=T0, expires_at=T0 + 60)

    run_threads(8, work)
    throttle = store.get_throttle("c")
    assert throttle is not None and throttle.failures == 40


def test_login_attempts_are_claimed_before_the_check(store: Store) -> None:
    def lock(failures: int) -> float:
        return 10.0 if failures >= 3 else 0.0

    claims = [store.claim_login_attempt("c", at=T0, expires_at=T0 + 100, lock_for=lock) for _ in range(4)]
    assert [(r.failures, ok) for r, ok in claims] == [(1, True), (2, True), (3, True), (3, False)]
    assert claims[2][0].locked_until == T0 + 10 and claims[3][0] == store.get_throttle("c")
    after_lock, ok = store.claim_login_attempt("c", at=T0 + 11, expires_at=T0 + 100, lock_for=lock)
    assert ok and (after_lock.failures, after_lock.locked_until) == (4, T0 + 21)
    expired, ok = store.claim_login_attempt("c", at=T0 + 101, expires_at=T0 + 200, lock_for=lock)
    assert ok and (expired.failures, expired.locked_until) == (1, 0.0)


def test_a_parallel_burst_of_wrong_passwords_gets_three_checks(store: Store) -> None:
    checks: list[int] = []
    throttle = LoginThrottle(store, clock=lambda: T0)
    wrong = hash_password("right", rounds=4)

    def work(_: int) -> None:
        for _ in range(2):
            result = attempt_login("wrong", password_hash=wrong, client="burst", throttle=throttle)
            if not result.throttled:
                checks.append(1)

    run_threads(8, work)
    assert len(checks) == FREE_FAILURES


# cursors and limits ------------------------------------------------------------------------------


def test_foreign_or_tampered_cursors_are_refused(store: Store) -> None:
    for i in range(3):
        store.create_session(SessionRecord(id=f"s{i}", updated_at=T0 + i))
        store.put_message(message("s0", i))
    session_cursor = store.list_sessions(limit=1).next
    message_cursor = store.list_messages("s0", limit=1).next
    assert session_cursor and message_cursor

    flipped = session_cursor[:-3] + ("A" if session_cursor[-3] != "A" else "B") + session_cursor[-2:]
    for bad in ["", "not a cursor", "!!!!", "eyJ4IjoxfQ", flipped, message_cursor, session_cursor + "x"]:
        with pytest.raises(InvalidCursor):
            store.list_sessions(cursor=bad)
    with pytest.raises(InvalidCursor):
        store.list_messages("s1", cursor=message_cursor)  # another session's cursor
    with pytest.raises(InvalidCursor):
        store.list_messages("s0", cursor=message_cursor, newest_first=True)  # another direction
    with pytest.raises(InvalidCursor):
        store.list_messages("s0", cursor=session_cursor)
    assert len(store.list_sessions(limit=1, cursor=session_cursor).items) == 1


def test_page_limits_are_checked(store: Store) -> None:
    for limit in (0, -1, 100_000):
        with pytest.raises(ValueError):
            store.list_sessions(limit=limit)
        with pytest.raises(ValueError):
            store.list_messages("s1", limit=limit)


def test_idempotency_keys_are_claimed_once_until_they_expire(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    first = AcceptedRequest("s1", "k-123", turn_id="t1", message_id="m1", expires_at=T0 + 100, fingerprint="a1" * 32)
    assert store.claim_request(first, at=T0) is None
    again = AcceptedRequest("s1", "k-123", turn_id="t2", message_id="m2", expires_at=T0 + 200)  # no fingerprint: ""
    assert store.claim_request(again, at=T0 + 50) == first
    other_session = AcceptedRequest("s2", "k-123", turn_id="t3", message_id="m3", expires_at=T0 + 100)
    assert store.claim_request(other_session, at=T0) is None
    assert store.claim_request(again, at=T0 + 101) is None  # expired: the key is free again
    assert store.claim_request(first, at=T0 + 102) == again
    store.forget_request("s1", "k-123")
    assert store.claim_request(first, at=T0) is None
    store.delete_session("s1")
    store.create_session(SessionRecord(id="s1"))
    assert store.claim_request(again, at=T0) is None  # deleted with its session


def test_concurrent_claims_of_one_key_leave_one_winner(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    winners: list[int] = []

    def claim(i: int) -> None:
        request = AcceptedRequest("s1", "same", turn_id=f"t{i}", message_id=f"m{i}", expires_at=T0 + 100)
        if store.claim_request(request, at=T0) is None:
            winners.append(i)

    run_threads(8, claim)
    assert len(winners) == 1


def test_text_over_the_item_budget_is_kept_whole_beside_it(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    japanese = "日本語のテキスト。" * 11_000  # 99,000 characters, 297,000 bytes
    message = MessageRecord(session_id="s1", id=new_message_id(T0), role="user", text=japanese)
    assert store.put_message(message)
    stored = store.get_message("s1", message.id)
    assert stored.truncated and len(stored.text.encode()) <= MAX_TEXT_BYTES + MARK_BYTES
    assert store.get_message_text("s1", message.id) == japanese
    assert store.list_messages("s1").items[0].text == stored.text  # pages stay small
    longer = "🙂" * 150_000  # 600,000 bytes: more than one item's worth
    store.update_message("s1", message.id, text=longer)
    assert store.get_message_text("s1", message.id) == longer
    store.update_message("s1", message.id, text="short again")
    assert store.get_message_text("s1", message.id) == "short again"
    fits = MessageRecord(session_id="s1", id=new_message_id(T0 + 1), role="assistant", text="fits")
    store.put_message(fits)
    assert store.get_message_text("s1", fits.id) == "fits"
    with pytest.raises(NotFound):
        store.get_message_text("s1", new_message_id(T0 + 2))
    store.update_message("s1", message.id, text=japanese)
    store.delete_session("s1")
    store.create_session(SessionRecord(id="s1"))
    store.put_message(replace(message, text="new"))
    assert store.get_message_text("s1", message.id) == "new"  # the old parts went with the session


def _approval(session_id: str, approval_id: str, at: float, **fields: Any) -> ApprovalRecord:
    values: dict[str, Any] = {"tool_name": "Bash", "input_json": json.dumps({"command": "ls"}), **fields}
    return ApprovalRecord(
        session_id=session_id, id=approval_id, turn_id="t1", tool_use_id=f"toolu_{approval_id}", created_at=at, **values
    )


def test_approvals_are_kept_listed_and_deleted_with_their_session(store: Store) -> None:
    for sid in ("s1", "s2"):
        store.create_session(SessionRecord(id=sid, created_at=T0, updated_at=T0))
    assert store.put_approval(_approval("s1", "b", T0 + 2))
    assert store.put_approval(_approval("s1", "a", T0 + 1, kind="question", tool_name="AskUserQuestion"))
    assert store.put_approval(_approval("s2", "c", T0 + 3))
    assert not store.put_approval(_approval("s1", "a", T0 + 9, tool_name="Write"))  # a retried write
    assert [a.id for a in store.list_approvals("s1")] == ["a", "b"]
    assert store.get_approval("s1", "a").tool_name == "AskUserQuestion"
    assert [(a.session_id, a.id) for a in store.pending_approvals()] == [("s1", "a"), ("s1", "b"), ("s2", "c")]
    with pytest.raises(NotFound):
        store.get_approval("s2", "a")
    store.delete_session("s1")
    assert store.list_approvals("s1") == []
    assert [a.id for a in store.pending_approvals()] == ["c"]


def test_an_approval_is_decided_once(store: Store) -> None:
    store.create_session(SessionRecord(id="s1", created_at=T0, updated_at=T0))
    store.put_approval(_approval("s1", "a", T0))
    decision = replace(
        _approval("s1", "a", T0),
        status="answered",
        decided_at=T0 + 5,
        decided_by="person",
        answers={"Which colour?": "Blue"},
        message="thanks",
    )
    record, decided = store.decide_approval("s1", "a", decision)
    assert decided
    assert (record.status, record.decided_by, record.answers, record.decided_at) == (
        "answered",
        "person",
        {"Which colour?": "Blue"},
        T0 + 5,
    )
    again, decided = store.decide_approval("s1", "a", replace(decision, status="denied", decided_by="policy"))
    assert not decided
    assert again.status == "answered" and again.decided_by == "person"
    assert store.pending_approvals() == []
    assert store.list_approvals("s1", pending_only=True) == []
    assert store.mark_approval_delivered("s1", "a", "resumed").delivered == "resumed"
    assert store.get_approval("s1", "a").delivered == "resumed"
    with pytest.raises(NotFound):
        store.decide_approval("s1", "missing", decision)
    with pytest.raises(ValueError):
        store.decide_approval("s1", "a", replace(decision, status="pending"))


def test_concurrent_answers_to_one_approval_leave_one_decision(store: Store) -> None:
    store.create_session(SessionRecord(id="s1", created_at=T0, updated_at=T0))
    store.put_approval(_approval("s1", "a", T0))
    won: list[str] = []

    def answer(i: int) -> None:
        status: Literal["allowed", "denied"] = "allowed" if i % 2 else "denied"
        decision = replace(_approval("s1", "a", T0), status=status, decided_at=T0 + i, decided_by=f"p{i}")
        record, decided = store.decide_approval("s1", "a", decision)
        if decided:
            won.append(record.decided_by or "")

    run_threads(6, answer)
    assert len(won) == 1
    assert store.get_approval("s1", "a").decided_by == won[0]


def test_the_tool_policy_is_set_per_tool_and_removed(store: Store) -> None:
    assert store.get_tool_policy() == {}
    store.set_tool_mode("Bash", "ask")
    assert store.set_tool_mode("mcp__github__create_issue", "deny") == {
        "Bash": "ask",
        "mcp__github__create_issue": "deny",
    }
    store.set_tool_mode("Bash", "allow")
    assert store.set_tool_mode("mcp__github__create_issue", None) == {"Bash": "allow"}
    assert store.get_tool_policy() == {"Bash": "allow"}
    with pytest.raises(ValueError):
        store.set_tool_mode("Bash", "sometimes")
    with pytest.raises(ValueError):
        store.set_tool_mode("", "allow")
