"""What only the DynamoDB store has to prove: the item layout of the blueprint, and table isolation."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto.core.botocore_stubber import BotocoreStubber

from core.store import Conflict, dynamo, open_store
from core.store.codec import session_recency_key, time_key
from core.store.dynamo import DynamoStore
from core.store.models import (
    MAX_TEXT_BYTES,
    AcceptedRequest,
    ArtifactRecord,
    MessageRecord,
    SessionRecord,
    new_message_id,
    to_plain,
)
from tests.support.dynamo import create_table

T0 = 1_760_000_000.0


def items(client: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = client.scan(TableName=table)["Items"]
    return {(row["PK"]["S"], row["SK"]["S"]): row for row in rows}


def test_items_follow_the_blueprint_layout(aws: Any, table: str) -> None:
    store = DynamoStore(table)
    store.create_session(SessionRecord(id="s1", updated_at=T0))
    message_id = new_message_id(T0)
    store.put_message(MessageRecord(session_id="s1", id=message_id, role="user", text="hi"))
    store.put_artifact(ArtifactRecord(path="notes/a.md", session_id="s1", updated_at=T0 + 1))
    store.set_turn_running("s1", "t1")
    store.set_voice_room("room-1", T0)
    store.record_login_failure("1.2.3.4", at=T0, expires_at=T0 + 0.5)

    stored = items(aws, table)
    session = stored[("SESSION#s1", "META")]
    assert session["GSI1PK"] == {"S": "USER#default"}
    assert session["GSI1SK"] == {"S": session_recency_key(T0, "s1")}
    assert ("SESSION#s1", f"MSG#{message_id}") in stored
    artifact = stored[("ARTIFACT#notes/a.md", "SESSION#s1")]
    assert (artifact["GSI1PK"], artifact["GSI1SK"]) == ({"S": "ARTIFACTS#s1"}, {"S": time_key(T0 + 1)})
    activity = stored[("SYSTEM", "ACTIVITY")]
    assert activity["running_turns"] == {"M": {"s1": {"S": "t1"}}}
    assert "room-1" in activity["voice_rooms"]["M"]
    throttle = stored[("AUTH#1.2.3.4", "THROTTLE")]
    assert throttle["ttl"] == {"N": str(math.ceil(T0 + 0.5))}
    assert len(stored) == 5

    store.update_session("s1", updated_at=T0 + 9)
    assert items(aws, table)[("SESSION#s1", "META")]["GSI1SK"] == {"S": session_recency_key(T0 + 9, "s1")}


def test_stores_on_two_tables_do_not_interfere(aws: Any, table: str) -> None:
    create_table(aws, f"{table}-other")
    first, second = DynamoStore(table), DynamoStore(f"{table}-other")
    first.create_session(SessionRecord(id="only-in-first"))
    second.create_session(SessionRecord(id="only-in-second"))
    assert [s.id for s in first.list_sessions().items] == ["only-in-first"]
    assert [s.id for s in second.list_sessions().items] == ["only-in-second"]
    assert set(items(aws, table)) == {("SESSION#only-in-first", "META")}
    aws.delete_table(TableName=f"{table}-other")


def test_open_store_with_a_table_is_dynamo(aws: Any, table: str, tmp_path: Path) -> None:
    store = open_store(table_name=table, data_dir=tmp_path / "unused")
    assert isinstance(store, DynamoStore)
    store.create_session(SessionRecord(id="s1"))
    assert store.get_session("s1").id == "s1"
    assert not (tmp_path / "unused").exists()


def test_host_is_set_only_for_an_explicit_endpoint(aws: Any) -> None:
    """A model with Meta.host escapes moto's mock_aws, so the default must leave it unset."""
    plain = DynamoStore("t", region="eu-west-1")
    local = DynamoStore("t", endpoint_url="http://localhost:8000")
    assert getattr(plain._m.session.Meta, "host", None) is None
    assert plain._m.session.Meta.region == "eu-west-1"
    assert local._m.session.Meta.host == "http://localhost:8000"
    assert local._m.message._get_connection() is local._m.session._get_connection()


def test_a_message_stored_before_earlier_versions_existed_loads_as_a_current_one(aws: Any, table: str) -> None:
    """An item written by an older Blu has no `superseded_by` attribute: it reads as None (a current reply)."""
    store = DynamoStore(table)
    record = MessageRecord(session_id="s1", id=new_message_id(T0), role="assistant", text="old", created_at=T0)
    store.put_message(record)
    key = {"PK": {"S": "SESSION#s1"}, "SK": {"S": f"MSG#{record.id}"}}
    stored = items(aws, table)[("SESSION#s1", f"MSG#{record.id}")]
    assert "superseded_by" not in stored  # None is not written, so old and new items look alike
    aws.update_item(TableName=table, Key=key, UpdateExpression="REMOVE superseded_by")
    assert store.get_message("s1", record.id) == record
    # Nor `sent_by`: a prompt stored before it existed is the person's.
    assert stored["sent_by"] == {"S": "person"}
    aws.update_item(TableName=table, Key=key, UpdateExpression="REMOVE sent_by")
    assert store.get_message("s1", record.id).sent_by == "person"
    store.update_message("s1", record.id, superseded_by="1760000009000-0000abcd")
    assert items(aws, table)[("SESSION#s1", f"MSG#{record.id}")]["superseded_by"] == {"S": "1760000009000-0000abcd"}
    assert store.get_message("s1", record.id).superseded_by == "1760000009000-0000abcd"


# a turn's writes: one transaction each -------------------------------------------------------------


@contextmanager
def requests_counted() -> Iterator[Counter[str]]:
    """DynamoDB operations sent meanwhile, by name."""
    seen: Counter[str] = Counter()
    process_request = BotocoreStubber.process_request

    def counted(self: BotocoreStubber, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        seen[(target.decode() if isinstance(target, bytes) else str(target)).rsplit(".", 1)[-1]] += 1
        return process_request(self, request)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BotocoreStubber, "process_request", counted)
        yield seen


def turn_records(at: float, turn_id: str) -> tuple[MessageRecord, AcceptedRequest, MessageRecord]:
    message = MessageRecord(
        session_id="s1", id=new_message_id(at), role="user", text="hi", turn_id=turn_id, state="complete", created_at=at
    )
    claim = AcceptedRequest("s1", f"key-{turn_id}", turn_id=turn_id, message_id=message.id, expires_at=at + 60)
    reply = MessageRecord(
        session_id="s1", id=new_message_id(at + 0.001), role="assistant", turn_id=turn_id, state="running"
    )
    return message, claim, reply


def test_a_hot_turn_writes_in_one_transaction_a_step(aws: Any, table: str) -> None:
    """The counts of docs/architecture.md ("Hot turns"): each step's writes are one TransactWriteItems (all or
    nothing), after at most one read."""
    store = DynamoStore(table)
    store.create_session(SessionRecord(id="s1", name="named", status="active"))
    store.set_turn_running("s0", None)  # the activity item's maps exist, as after any earlier turn
    message, claim, reply = turn_records(T0, "t1")
    with requests_counted() as accept:
        store.accept_message(message, name=lambda: "n", claim=claim, check=lambda: None)
    with requests_counted() as start:
        store.start_turn(reply)
    with requests_counted() as end:
        store.end_turn(
            "s1", reply.id, reply={"text": "done", "state": "complete"}, usage={"messages": 1}, session={}, at=T0 + 1
        )
    assert accept == {"TransactGetItems": 1, "TransactWriteItems": 1}
    assert start == {"TransactWriteItems": 1}
    assert end == {"TransactGetItems": 1, "TransactWriteItems": 1}


def test_a_failed_transaction_changes_no_item(aws: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An action that fails (injected: a condition on an item that is not there) cancels all the others."""
    store = DynamoStore(table)
    store.create_session(SessionRecord(id="s1"))
    store.set_turn_running("s0", None)
    message, _, reply = turn_records(T0, "t1")
    commit = dynamo._Transaction.commit

    def with_a_failing_action(self: Any, connection: Any) -> None:
        self.check("injected", store._m.item("NOWHERE", "NOTHING"), store._m.item.PK.exists())
        commit(self, connection)

    monkeypatch.setattr(dynamo._Transaction, "commit", with_a_failing_action)
    before = items(aws, table)
    with pytest.raises(Conflict):
        store.accept_message(message, name=lambda: "n", claim=turn_records(T0, "t1")[1])
    with pytest.raises(Conflict):
        store.start_turn(reply)
    assert items(aws, table) == before
    monkeypatch.undo()
    store.accept_message(message, name=lambda: "n")
    store.start_turn(reply)
    monkeypatch.setattr(dynamo._Transaction, "commit", with_a_failing_action)
    before = items(aws, table)
    with pytest.raises(Conflict):
        store.end_turn("s1", reply.id, reply={"text": "done"}, usage={"messages": 1}, session={}, at=T0 + 1)
    assert items(aws, table) == before


def test_the_first_turn_on_a_new_table_creates_the_activity_maps(aws: Any, table: str) -> None:
    store = DynamoStore(table)
    store.create_session(SessionRecord(id="s1"))
    _, _, reply = turn_records(T0, "t1")
    store.start_turn(reply)
    assert store.get_activity().running_turns == {"s1": "t1"}


def test_a_session_changed_between_read_and_write_is_read_again(
    aws: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn ending while a queued message is accepted: the accept's rules are applied to the session as it is
    when written (here: the mark was cleared meanwhile, so the message's turn marks it), and no count is lost."""
    store = DynamoStore(table)
    store.create_session(SessionRecord(id="s1", name="named", status="active", running_turn_id="t0"))
    read = DynamoStore._read
    calls: list[int] = []

    def read_then_another_writer(self: DynamoStore, *keys: Any) -> Any:
        found = read(self, *keys)
        if not calls:
            store.add_session_usage("s1", messages=1, output_tokens=7)
            store.update_session("s1", running_turn_id=None)
        calls.append(1)
        return found

    monkeypatch.setattr(DynamoStore, "_read", read_then_another_writer)
    message, _, reply = turn_records(T0, "t1")
    session = store.accept_message(message, name=lambda: "n")
    assert len(calls) == 2
    assert session == store.get_session("s1")
    assert (session.running_turn_id, session.message_count, session.output_tokens) == ("t1", 2, 7)

    # A turn's end does not depend on what it read of the session: written at once, the counters ADDed.
    calls.clear()
    store.put_message(reply)
    _, returned = store.end_turn(
        "s1", reply.id, reply={"state": "complete"}, usage={"messages": 1, "output_tokens": 3}, session={}, at=T0 + 1
    )
    assert len(calls) == 1
    stored = store.get_session("s1")
    assert (stored.message_count, stored.output_tokens) == (4, 17)
    assert (returned.message_count, returned.output_tokens) == (3, 10)  # as read, plus this turn's


def test_a_text_too_long_for_one_transaction_is_still_kept_whole(
    aws: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamo, "TRANSACTION_TEXT_BYTES", MAX_TEXT_BYTES + 50_000)
    store = DynamoStore(table)
    store.create_session(SessionRecord(id="s1"))
    message, _, reply = turn_records(T0, "t1")
    long = "x" * (MAX_TEXT_BYTES + 60_000)
    message = MessageRecord(**{**to_plain(message), "text": long})
    store.accept_message(message, name=lambda: "n")
    assert store.get_message_text("s1", message.id) == long
    store.start_turn(reply)
    _, session = store.end_turn(
        "s1", reply.id, reply={"text": long + "!", "state": "complete"}, usage={"messages": 1}, session={}, at=T0 + 1
    )
    assert store.get_message_text("s1", reply.id) == long + "!"
    assert store.get_message("s1", reply.id).state == "complete"
    assert session.message_count == 2
