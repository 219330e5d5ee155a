"""What only the DynamoDB store has to prove: the item layout of the blueprint, and table isolation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from core.store import open_store
from core.store.codec import session_recency_key, time_key
from core.store.dynamo import DynamoStore
from core.store.models import ArtifactRecord, MessageRecord, SessionRecord, new_message_id
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
    store.update_message("s1", record.id, superseded_by="1760000009000-0000abcd")
    assert items(aws, table)[("SESSION#s1", f"MSG#{record.id}")]["superseded_by"] == {"S": "1760000009000-0000abcd"}
    assert store.get_message("s1", record.id).superseded_by == "1760000009000-0000abcd"
