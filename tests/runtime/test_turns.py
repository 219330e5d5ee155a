"""Turns through the real Claude Code CLI against the stand-in model, observed over the HTTP API."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import httpx

from core.store.local import LocalStore
from core.store.models import AcceptedRequest
from runtime.standin import StandinServer
from tests.support.server import BluClient, BluServer


def test_text_turn_streams_in_order_and_is_stored(api: BluClient) -> None:
    sid = api.new_session()
    status, events = api.turn(sid, "hello [[slow ms=20]] [[words n=30]]")
    assert status["status"] == "complete"
    types = [e["type"] for e in events]
    assert types[:3] == ["message.complete", "turn.status", "session.updated"]  # the person's message first
    assert events[1]["data"]["status"] == "queued"
    running = types.index("turn.status", 1 + types.index("turn.status"))
    assert events[running]["data"]["status"] == "running"
    first_delta, last_delta = types.index("message.delta"), len(types) - 1 - types[::-1].index("message.delta")
    assert running < first_delta < last_delta < types.index("message.complete", running)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    streamed = "".join(e["data"]["text"] for e in events if e["type"] == "message.delta")
    final = [e for e in events if e["type"] == "message.complete"][-1]["data"]["message"]
    assert streamed == final["text"] and len(final["text"].split()) >= 30
    stored = api.messages(sid)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["text"] == final["text"] and stored[1]["state"] == "complete"
    assert stored[1]["output_tokens"] > 0 and stored[1]["cost_usd"] > 0
    session = api.http.get(f"/api/sessions/{sid}").json()
    assert session["message_count"] == 2 and session["cost_usd"] == stored[1]["cost_usd"]


def test_text_deltas_are_coalesced(api: BluClient) -> None:
    sid = api.new_session()
    _status, events = api.turn(sid, "[[words n=400]]")
    deltas = [e for e in events if e["type"] == "message.delta"]
    words = sum(len(e["data"]["text"].split()) for e in deltas)
    assert words >= 400
    assert len(deltas) < words / 4  # many tokens per event, not one request per token


def test_tool_use_becomes_tool_events_and_an_artifact(api: BluClient) -> None:
    sid = api.new_session()
    status, events = api.turn(sid, '[[write path=reports/today.md content="# Today"]]')
    assert status["status"] == "complete"
    call = next(e["data"] for e in events if e["type"] == "tool.call")
    result = next(e["data"] for e in events if e["type"] == "tool.result")
    assert call["name"] == "Write" and result["id"] == call["id"] and result["outcome"] == "ok"
    assert result["duration_ms"] is not None
    artifact = next(e["data"] for e in events if e["type"] == "artifact.changed")
    assert artifact["path"] == "reports/today.md" and artifact["operation"] == "create"
    listed = api.http.get(f"/api/sessions/{sid}/artifacts").json()["artifacts"]
    assert [a["path"] for a in listed] == ["reports/today.md"]
    content = api.http.get("/api/files/content", params={"path": "reports/today.md"})
    assert content.status_code == 200 and content.text == "# Today"
    assistant = api.messages(sid)[-1]
    assert assistant["tool_calls"][0]["name"] == "Write" and assistant["tool_calls"][0]["outcome"] == "ok"


def test_second_turn_reuses_the_hot_client(api: BluClient) -> None:
    sid = api.new_session()
    first, _ = api.turn(sid, "one")
    second, _ = api.turn(sid, "two [[recall]]")
    assert (first["tier"], second["tier"]) == ("cold", "hot")
    assert "2" in api.messages(sid)[-1]["text"]  # the model saw both user turns


def test_concurrent_messages_queue_and_run_in_order(api: BluClient) -> None:
    sid = api.new_session()
    accepted = [api.send(sid, f"message {i} [[slow ms=30]]") for i in range(3)]
    assert [a["position"] for a in accepted] == [0, 1, 2]
    api.events_until(sid, accepted[-1]["turn_id"])
    stored = api.messages(sid)
    assert sorted(m["role"] for m in stored) == ["assistant"] * 3 + ["user"] * 3
    replies = [m for m in stored if m["role"] == "assistant"]
    assert [m["turn_id"] for m in replies] == [a["turn_id"] for a in accepted]
    assert all(m["state"] == "complete" for m in replies)
    for i, reply in enumerate(replies):
        assert f"message {i}" in reply["text"]
    # Each reply lists right after its own prompt, though its turn started after the later prompts were sent.
    assert [(m["role"], m["turn_id"]) for m in stored] == [
        (role, a["turn_id"]) for a in accepted for role in ("user", "assistant")
    ]


def test_interrupt_stops_a_long_turn_and_the_session_goes_on(api: BluClient) -> None:
    sid = api.new_session()
    accepted = api.send(sid, "[[sleep s=30]]")
    deadline = time.monotonic() + 20
    while not any(
        e["type"] == "turn.status" and e["data"]["status"] == "running" for e in api.read(sid, wait=2)["events"]
    ):
        assert time.monotonic() < deadline
    started = time.monotonic()
    assert api.http.post(f"/api/sessions/{sid}/interrupt").json() == {"interrupted": True}
    events = api.events_until(sid, accepted["turn_id"])
    assert time.monotonic() - started < 10
    assert events[-1]["data"]["status"] == "interrupted"
    status, _ = api.turn(sid, "still there?")
    assert status["status"] == "complete"
    assert api.messages(sid)[1]["state"] == "interrupted"


def test_two_readers_see_the_same_stream(blu: BluServer) -> None:
    writer, other = blu.client(), blu.client()
    sid = writer.new_session()
    seen: list[list[dict[str, object]]] = []
    accepted = writer.send(sid, "[[slow ms=20]] [[words n=25]]")

    def follow() -> None:
        seen.append(other.events_until(sid, accepted["turn_id"]))

    thread = threading.Thread(target=follow)
    thread.start()
    mine = writer.events_until(sid, accepted["turn_id"])
    thread.join(timeout=60)
    assert [e["seq"] for e in mine] == [e["seq"] for e in seen[0]]
    assert mine == seen[0]


def test_a_replayed_post_runs_one_turn(api: BluClient) -> None:
    sid = api.new_session()
    first = api.send(sid, "only once", **{"Idempotency-Key": "abc-1"})
    again = api.send(sid, "only once", **{"Idempotency-Key": "abc-1"})
    assert again["turn_id"] == first["turn_id"] and again["replayed"] is True
    api.events_until(sid, first["turn_id"])
    assert [m["role"] for m in api.messages(sid)] == ["user", "assistant"]


def test_a_key_reused_for_another_message_is_refused_and_nothing_is_written(api: BluClient) -> None:
    """draft-ietf-httpapi-idempotency-key-header: a key reused with a different payload is a 422, never a replay
    that drops the second text while telling the client it was accepted."""
    sid = api.new_session()
    first = api.send(sid, "the first text", **{"Idempotency-Key": "reused-1"})
    for body in ({"text": "a different text"}, {"text": "the first text", "channel": "voice"}):
        reused = api.http.post(f"/api/sessions/{sid}/messages", json=body, headers={"Idempotency-Key": "reused-1"})
        assert reused.status_code == 422, reused.text
        assert "Idempotency-Key was used for a different message" in reused.json()["detail"]
    again = api.send(sid, "the first text", channel="text", **{"Idempotency-Key": "reused-1"})
    assert (again["turn_id"], again["message_id"], again["replayed"]) == (first["turn_id"], first["message_id"], True)
    api.events_until(sid, first["turn_id"])
    stored = api.messages(sid)
    assert [(m["role"], m["turn_id"]) for m in stored] == [("user", first["turn_id"]), ("assistant", first["turn_id"])]
    assert (stored[0]["id"], stored[0]["text"]) == (first["message_id"], "the first text")
    assert api.http.get(f"/api/sessions/{sid}").json()["message_count"] == 2


def test_a_claim_kept_before_fingerprints_replays_any_message(blu: BluServer, api: BluClient) -> None:
    """A claim stored before claims kept a fingerprint (it expires within a day) is taken to match."""
    sid = api.new_session()
    first = api.send(sid, "kept before", **{"Idempotency-Key": "old-1"})
    store = LocalStore(blu.data_dir / "blu.sqlite3")
    held = store.claim_request(AcceptedRequest(sid, "old-1", turn_id="-", message_id="-"), at=time.time())
    assert held is not None and held.fingerprint
    store.forget_request(sid, "old-1")
    assert store.claim_request(replace(held, fingerprint=""), at=time.time()) is None
    again = api.send(sid, "not the same text", **{"Idempotency-Key": "old-1"})
    assert (again["turn_id"], again["replayed"]) == (first["turn_id"], True)
    api.events_until(sid, first["turn_id"])
    assert [m["text"] for m in api.messages(sid) if m["role"] == "user"] == ["kept before"]


def test_simultaneous_posts_with_one_key_run_one_turn(blu: BluServer, api: BluClient) -> None:
    async def post_together(sid: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=blu.url, cookies=api.http.cookies, timeout=40) as http:
            return await asyncio.gather(
                *(
                    http.post(f"/api/sessions/{sid}/messages", json={"text": "race"}, headers={"Idempotency-Key": "k"})
                    for _ in range(8)
                )
            )

    for _ in range(3):
        sid = api.new_session()
        answers = asyncio.run(post_together(sid))
        assert {r.status_code for r in answers} == {202}
        assert len({r.json()["turn_id"] for r in answers}) == 1
        assert sum("replayed" in r.json() for r in answers) == 7
        api.events_until(sid, answers[0].json()["turn_id"])
        assert [m["role"] for m in api.messages(sid)] == ["user", "assistant"]


def test_a_retried_key_replays_while_new_messages_are_refused(fresh_server: BluServer) -> None:
    """The key is claimed in the same trip as the message: a retry of an accepted message must still get its
    turn (not 429) while the session's queue is full, and the refusal of a new message must not free the key."""
    fresh_server.env["BLU_MAX_QUEUED_TURNS"] = "1"
    api = fresh_server.start().client()
    sid = api.new_session()
    running = api.send(sid, "[[slow ms=150]] [[words n=80]]")
    queued = api.send(sid, "second", **{"Idempotency-Key": "k-2"})
    refused = api.http.post(f"/api/sessions/{sid}/messages", json={"text": "third"}, headers={"Idempotency-Key": "k-3"})
    assert refused.status_code == 429, refused.text
    for _ in range(2):
        again = api.send(sid, "second", **{"Idempotency-Key": "k-2"})
        assert again["turn_id"] == queued["turn_id"] and again["replayed"] is True
    other = api.http.post(f"/api/sessions/{sid}/messages", json={"text": "other"}, headers={"Idempotency-Key": "k-2"})
    assert other.status_code == 422, other.text  # a different message under the key: refused, not replayed
    assert api.http.post(f"/api/sessions/{sid}/interrupt").status_code in (200, 202)
    api.events_until(sid, queued["turn_id"])
    texts = [m["text"] for m in api.messages(sid) if m["role"] == "user"]
    assert texts == ["[[slow ms=150]] [[words n=80]]", "second"]
    assert running["turn_id"] != queued["turn_id"]
    third = api.send(sid, "third", **{"Idempotency-Key": "k-3"})  # refused earlier: the key is free to run it now
    assert "replayed" not in third or third["replayed"] is False


def test_bad_input_gets_clear_errors(api: BluClient) -> None:
    sid = api.new_session()
    post = api.http.post
    assert post(f"/api/sessions/{sid}/messages", json={"text": ""}).status_code == 422
    assert post(f"/api/sessions/{sid}/messages", json={"text": "   "}).status_code == 422
    assert post(f"/api/sessions/{sid}/messages", json={"text": "x", "extra": 1}).status_code == 422
    assert post(f"/api/sessions/{sid}/messages", json={"text": "x", "channel": "fax"}).status_code == 422
    assert post(f"/api/sessions/{sid}/messages", content=b"{not json").status_code == 422
    assert post(f"/api/sessions/{sid}/messages", json={"text": "x" * 100_001}).status_code == 413
    assert post("/api/sessions/000000000000000000000000/messages", json={"text": "x"}).status_code == 404
    assert post("/api/sessions/../../etc/messages", json={"text": "x"}).status_code in (404, 422)
    assert api.http.get("/api/sessions", params={"cursor": "bogus"}).status_code == 400
    assert api.http.patch(f"/api/sessions/{sid}", json={"status": "deleted"}).status_code == 422
    assert api.http.patch(f"/api/sessions/{sid}", json={}).status_code == 422
    assert api.http.get(f"/api/sessions/{sid}/events", params={"wait": 99}).status_code == 422
    assert [m["role"] for m in api.messages(sid)] == []  # nothing half-stored by the refused requests


def test_a_long_message_is_kept_whole_and_its_limit_counts_characters(api: BluClient, model: StandinServer) -> None:
    sid = api.new_session()
    japanese = "日本語のテキスト。" * 11_000  # 99,000 characters (297 kB): under the 100,000-character limit
    status, _ = api.turn(sid, japanese)
    assert status["status"] == "complete"
    asked = [r for r in model.messages_requests() if r.prompt and r.prompt.startswith("日本語")]
    assert asked and len(asked[-1].prompt or "") == len(japanese)  # Claude got all of it
    user, reply = api.messages(sid)
    assert user["truncated"] and reply["truncated"]  # the list says the records hold the text cut
    whole = api.http.get(f"/api/sessions/{sid}/messages/{user['id']}/text").json()["text"]
    assert whole == japanese
    assert api.http.get(f"/api/sessions/{sid}/messages/{reply['id']}/text").json()["text"] == f"Echo: {japanese}"
    fork = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": reply["id"]}).json()["id"]
    forked_user = api.messages(fork)[0]
    assert api.http.get(f"/api/sessions/{fork}/messages/{forked_user['id']}/text").json()["text"] == japanese
    missing = api.http.get(f"/api/sessions/{sid}/messages/0000000000000-00000000/text")
    assert missing.status_code == 404
    # Characters are code points, as the UI counts them: 100,001 emoji are over the limit.
    post = api.http.post
    assert post(f"/api/sessions/{sid}/messages", json={"text": "🙂" * 100_001}).status_code == 413


def test_tool_calls_say_where_in_the_text_they_happened(api: BluClient) -> None:
    sid = api.new_session()
    status, events = api.turn(sid, "[[write path=where.txt content=a]] [[edit path=where.txt old=a new=b]]")
    assert status["status"] == "complete"
    calls = [e["data"] for e in events if e["type"] == "tool.call"]
    stored = api.messages(sid)[-1]
    text = stored["text"]
    # Each call's offset is the length of the text written before it: the card goes right after "Using X."
    assert [c["name"] for c in calls] == ["Write", "Read", "Edit"]
    for call in calls:
        assert text[: call["text_offset"]].endswith(f"Using {call['name']}.")
    assert [c["text_offset"] for c in stored["tool_calls"]] == [c["text_offset"] for c in calls]


def test_a_reply_stopped_mid_stream_records_no_made_up_output_count(api: BluClient) -> None:
    sid = api.new_session()
    accepted = api.send(sid, "[[slow ms=150]] [[words n=300]]")
    deadline = time.monotonic() + 30
    while not any(e["type"] == "message.delta" for e in api.read(sid, wait=2)["events"]):
        assert time.monotonic() < deadline
    assert api.http.post(f"/api/sessions/{sid}/interrupt").json() == {"interrupted": True}
    assert api.events_until(sid, accepted["turn_id"])[-1]["data"]["status"] == "interrupted"
    stopped = api.messages(sid)[1]
    assert stopped["state"] == "interrupted" and stopped["text"]
    # The model reports a call's output tokens only at its end: none here, and no placeholder stands in.
    assert stopped["input_tokens"] > 0 and stopped["output_tokens"] == 0
