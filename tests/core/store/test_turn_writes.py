"""A turn's writes (accept_message, start_turn, end_turn), on both back-ends: the same results, the rules applied
in one place, and all or nothing (each is one transaction)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.store import NotFound, Store
from core.store.base import KeyClaimed
from core.store.models import MAX_TEXT_BYTES, AcceptedRequest, MessageRecord, SessionRecord, ToolCall, new_message_id

T0 = 1_760_000_000.0


class Refused(Exception):
    pass


def prompt(at: float, turn_id: str = "t1", text: str = "hello there", sid: str = "s1") -> MessageRecord:
    return MessageRecord(
        session_id=sid,
        id=new_message_id(at),
        role="user",
        text=text,
        channel="text",
        turn_id=turn_id,
        state="complete",
        created_at=at,
    )


def claim_for(message: MessageRecord, key: str, expires_at: float) -> AcceptedRequest:
    assert message.turn_id is not None
    return AcceptedRequest(
        message.session_id, key, turn_id=message.turn_id, message_id=message.id, expires_at=expires_at
    )


def reply_for(message: MessageRecord) -> MessageRecord:
    return MessageRecord(
        session_id=message.session_id,
        id=new_message_id(message.created_at + 0.001),
        role="assistant",
        channel="text",
        turn_id=message.turn_id,
        state="running",
        created_at=message.created_at + 0.001,
    )


def refuse() -> None:
    raise Refused()


def not_called() -> str:
    raise AssertionError("the fallback name is made only for a session without one")


def test_accepting_a_message_applies_the_rules_and_returns_the_stored_session(store: Store) -> None:
    store.create_session(SessionRecord(id="s1", created_at=T0, updated_at=T0))
    message = prompt(T0 + 1)
    session = store.accept_message(message, name=lambda: "Hello there", claim=claim_for(message, "k1", T0 + 60))
    assert session == store.get_session("s1")
    assert (session.name, session.status, session.running_turn_id) == ("Hello there", "active", "t1")
    assert (session.message_count, session.updated_at) == (1, T0 + 1)
    assert store.get_message("s1", message.id) == message
    assert store.get_activity().last_user_action_at == T0 + 1
    assert store.claim_request(claim_for(message, "k1", T0 + 60), at=T0 + 2) == claim_for(message, "k1", T0 + 60)

    # A named session running a turn: its name and mark stay; an archived one comes back; no user action.
    store.update_session("s1", status="archived", name="Kept")
    second = prompt(T0 + 2, turn_id="t2")
    session = store.accept_message(second, name=not_called, user_action=False)  # named: no fallback made
    assert session == store.get_session("s1")
    assert (session.name, session.status, session.running_turn_id, session.message_count) == ("Kept", "active", "t1", 2)
    assert store.get_activity().last_user_action_at == T0 + 1


def test_a_held_key_replays_even_when_new_messages_are_refused_and_nothing_is_written(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    first = prompt(T0 + 1)
    held = claim_for(first, "k1", T0 + 60)
    store.accept_message(first, name=lambda: "n", claim=held)
    retry = prompt(T0 + 2, turn_id="t2")
    with pytest.raises(KeyClaimed) as caught:
        store.accept_message(retry, name=lambda: "n", claim=claim_for(retry, "k1", T0 + 62), check=refuse)
    assert caught.value.earlier == held
    # Refused (a new key): nothing written, not even the claim.
    with pytest.raises(Refused):
        store.accept_message(retry, name=lambda: "n", claim=claim_for(retry, "k2", T0 + 62), check=refuse)
    with pytest.raises(NotFound):
        store.get_message("s1", retry.id)
    assert store.get_session("s1").message_count == 1
    assert store.claim_request(claim_for(retry, "k2", T0 + 62), at=T0 + 3) is None  # k2 was free


def test_a_claims_fingerprint_is_kept_in_the_messages_transaction(store: Store) -> None:
    """The API tells a retry from a reused key by it: the held claim read in accept_message carries it."""
    store.create_session(SessionRecord(id="s1"))
    first = prompt(T0 + 1)
    held = replace(claim_for(first, "k1", T0 + 60), fingerprint="f0" * 32)
    store.accept_message(first, name=lambda: "n", claim=held)
    retry = prompt(T0 + 2, turn_id="t2", text="another text")
    other = replace(claim_for(retry, "k1", T0 + 62), fingerprint="0f" * 32)
    with pytest.raises(KeyClaimed) as caught:
        store.accept_message(retry, name=lambda: "n", claim=other)
    assert caught.value.earlier == held
    assert store.claim_request(claim_for(retry, "k1", T0 + 62), at=T0 + 3) == held


def test_an_expired_claim_is_claimed_again(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    first = prompt(T0 + 1)
    store.accept_message(first, name=lambda: "n", claim=claim_for(first, "k1", T0 + 1.5))
    later = prompt(T0 + 2, turn_id="t2")
    store.accept_message(later, name=lambda: "n", claim=claim_for(later, "k1", T0 + 60))
    assert store.claim_request(claim_for(first, "k1", T0 + 70), at=T0 + 3) == claim_for(later, "k1", T0 + 60)
    assert store.get_session("s1").message_count == 2


def test_a_message_to_a_missing_session_writes_nothing(store: Store) -> None:
    message = prompt(T0 + 1, sid="gone")
    with pytest.raises(NotFound):
        store.accept_message(message, name=lambda: "n", claim=claim_for(message, "k1", T0 + 60))
    assert store.claim_request(claim_for(message, "k1", T0 + 60), at=T0 + 2) is None
    with pytest.raises(NotFound):
        store.get_message("gone", message.id)
    assert store.get_activity().last_user_action_at is None


def test_a_message_whose_id_is_stored_is_kept_and_counted(store: Store) -> None:
    """As put_message: a retried write never duplicates (the rest is written as for a new one)."""
    store.create_session(SessionRecord(id="s1"))
    message = prompt(T0 + 1)
    store.put_message(message)
    session = store.accept_message(replace(message, text="other"), name=lambda: "n")
    assert store.get_message("s1", message.id).text == "hello there"
    assert session.message_count == 1 and session == store.get_session("s1")


def test_a_turn_starts_and_ends(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    message = prompt(T0 + 1)
    store.accept_message(message, name=lambda: "n")
    store.update_session("s1", running_turn_id=None)
    reply = reply_for(message)
    store.start_turn(reply)
    assert store.get_message("s1", reply.id) == reply
    assert store.get_session("s1").running_turn_id == "t1"
    assert store.get_activity().running_turns == {"s1": "t1"}

    call = ToolCall(id="c1", name="Read", input_summary="a.md", outcome="ok")
    store.add_session_usage("s1", input_tokens=5)  # another writer's count: kept
    message_after, session = store.end_turn(
        "s1",
        reply.id,
        reply={"text": "done", "state": "complete", "tool_calls": (call,), "input_tokens": 10, "cost_usd": 0.5},
        usage={"messages": 1, "input_tokens": 10, "output_tokens": 3, "cost_usd": 0.5},
        session={"running_turn_id": None, "context_tokens": 1234},
        at=T0 + 9,
    )
    assert message_after == store.get_message("s1", reply.id)
    assert (message_after.text, message_after.state, message_after.tool_calls) == ("done", "complete", (call,))
    assert session == store.get_session("s1")
    assert (session.message_count, session.input_tokens, session.output_tokens) == (2, 15, 3)
    assert (session.cost_usd, session.updated_at, session.context_tokens) == (0.5, T0 + 9, 1234)
    assert session.running_turn_id is None
    assert store.get_activity().running_turns == {}


def test_a_turn_end_may_keep_the_session_marked_for_the_next_turn(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    reply = reply_for(prompt(T0 + 1))
    store.start_turn(reply)
    _, session = store.end_turn(
        "s1", reply.id, reply={"state": "complete"}, usage={"messages": 1}, session={"running_turn_id": "t9"}, at=T0 + 2
    )
    assert session.running_turn_id == "t9" == store.get_session("s1").running_turn_id


def test_turn_writes_to_a_missing_item_write_nothing(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    reply = reply_for(prompt(T0 + 1, sid="gone"))
    with pytest.raises(NotFound):
        store.start_turn(reply)
    with pytest.raises(NotFound):
        store.get_message("gone", reply.id)
    assert store.get_activity().running_turns == {}

    kept = reply_for(prompt(T0 + 2))
    store.start_turn(kept)
    before = store.get_session("s1")
    with pytest.raises(NotFound):  # the reply is not there
        store.end_turn("s1", "missing", reply={"text": "x"}, usage={"messages": 1}, session={}, at=T0 + 3)
    assert store.get_session("s1") == before
    assert store.get_activity().running_turns == {"s1": kept.turn_id}
    store.put_message(MessageRecord(session_id="gone", id=kept.id, role="assistant", state="running"))
    with pytest.raises(NotFound):  # the session is not there
        store.end_turn("gone", kept.id, reply={"text": "x"}, usage={"messages": 1}, session={}, at=T0 + 3)
    assert store.get_message("gone", kept.id).text == ""


def test_a_turn_end_refuses_to_set_what_its_usage_sets(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    reply = reply_for(prompt(T0 + 1))
    store.start_turn(reply)
    for changes in ({"message_count": 3}, {"updated_at": T0}):
        with pytest.raises(ValueError):
            store.end_turn("s1", reply.id, reply={}, usage={"messages": 1}, session=changes, at=T0 + 2)
    with pytest.raises(TypeError):
        store.end_turn("s1", reply.id, reply={}, usage={"bogus": 1}, session={}, at=T0 + 2)
    assert store.get_session("s1").message_count == 0


def test_long_texts_are_kept_whole_through_a_turn(store: Store) -> None:
    store.create_session(SessionRecord(id="s1"))
    long_prompt = "p" * (MAX_TEXT_BYTES + 10)
    message = prompt(T0 + 1, text=long_prompt)
    store.accept_message(message, name=lambda: "n")
    assert store.get_message("s1", message.id).truncated
    assert store.get_message_text("s1", message.id) == long_prompt

    reply = reply_for(message)
    store.start_turn(reply)
    long_reply = "é" * 200_000  # 400 kB: three parts
    store.update_message("s1", reply.id, text=long_reply)  # a checkpoint
    final = "r" * (MAX_TEXT_BYTES + 5)  # shorter: one part, the others dropped
    record, _ = store.end_turn(
        "s1", reply.id, reply={"text": final, "state": "complete"}, usage={"messages": 1}, session={}, at=T0 + 2
    )
    assert record.truncated and record == store.get_message("s1", reply.id)
    assert store.get_message_text("s1", reply.id) == final
    record, _ = store.end_turn(
        "s1", reply.id, reply={"text": "short"}, usage={}, session={}, at=T0 + 3
    )  # fits again: stays marked, parts dropped
    assert record.truncated and store.get_message_text("s1", reply.id) == "short"
