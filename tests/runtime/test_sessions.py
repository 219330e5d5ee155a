"""Session features: titles, rename, archive, fork, delete, listing, errors from Claude."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.runtime.conftest import model_env
from tests.support.server import BluClient, BluServer, assert_totals_are_sums


def test_rename_archive_unarchive_and_list(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "plan a trip to Lisbon in spring")
    session = api.http.get(f"/api/sessions/{sid}").json()
    assert session["name"].startswith("plan a trip to Lisbon")  # first words until a title arrives
    assert api.http.patch(f"/api/sessions/{sid}", json={"name": "Lisbon"}).json()["name"] == "Lisbon"
    assert api.http.patch(f"/api/sessions/{sid}", json={"status": "archived"}).json()["status"] == "archived"
    active = api.http.get("/api/sessions", params={"archived": "false", "limit": 200}).json()["sessions"]
    assert sid not in [s["id"] for s in active]
    everything = api.http.get("/api/sessions", params={"limit": 200}).json()["sessions"]
    assert sid in [s["id"] for s in everything]
    assert api.http.patch(f"/api/sessions/{sid}", json={"status": "active"}).json()["status"] == "active"


def test_sessions_list_newest_first_in_pages(api: BluClient) -> None:
    ids = [api.new_session() for _ in range(5)]
    for sid in ids:
        api.http.patch(f"/api/sessions/{sid}", json={"name": f"s-{sid[:4]}"})
        time.sleep(0.01)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.http.get("/api/sessions", params=params).json()
        seen.extend(s["id"] for s in body["sessions"])
        cursor = body["next"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in ids] == list(reversed(ids))


def test_fork_copies_history_and_claude_context(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "the secret is heron")
    api.turn(sid, "second thing")
    first_reply = next(m for m in api.messages(sid) if m["role"] == "assistant")
    response = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": first_reply["id"]})
    assert response.status_code == 201
    fork = response.json()["id"]
    copied = api.messages(fork)
    assert [m["text"] for m in copied] == ["the secret is heron", first_reply["text"]]
    status, _ = api.turn(fork, "[[recall]]")
    assert status["status"] == "complete"
    recalled = api.messages(fork)[-1]["text"]
    assert "heron" in recalled and "2" in recalled  # the fork's Claude saw turn 1 only, not "second thing"
    forked = api.http.get(f"/api/sessions/{fork}").json()
    assert forked["forked_from"] == sid
    assert len(api.messages(sid)) == 4  # the source is untouched
    missing = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": "0000000000000-00000000"})
    assert missing.status_code == 404


def test_delete_removes_the_session(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "short lived")
    assert api.http.delete(f"/api/sessions/{sid}").status_code == 204
    assert api.http.get(f"/api/sessions/{sid}").status_code == 404
    assert api.http.get(f"/api/sessions/{sid}/messages").status_code == 404


def test_delete_removes_claudes_transcript_too(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "remember the walrus")
    claude_id = api.http.get(f"/api/sessions/{sid}").json()["claude_session_id"]

    def transcripts() -> list[Path]:
        return list((blu.data_dir / "claude" / "projects").glob(f"*/{claude_id}.jsonl"))

    assert claude_id and transcripts()
    assert api.http.delete(f"/api/sessions/{sid}").status_code == 204
    assert transcripts() == []


def test_delete_while_a_turn_runs_stops_it_then_deletes(blu: BluServer, api: BluClient) -> None:
    """Deleting a session whose turn runs stops the turn, drops what is queued and deletes (no 409);
    a page following its events (another tab) is told, and its stream then answers 404."""
    sid = api.new_session()
    other_tab = blu.client()
    running = api.send(sid, "[[slow ms=100]] [[words n=400]]")
    api.send(sid, "queued behind it [[say text=never]]")
    deadline = time.monotonic() + 30
    while not any(
        e["type"] == "message.delta" and e["data"]["turn_id"] == running["turn_id"] for e in api.read(sid)["events"]
    ):
        assert time.monotonic() < deadline, "the turn did not start streaming"

    started = time.monotonic()
    assert api.http.delete(f"/api/sessions/{sid}").status_code == 204
    assert time.monotonic() - started < 15
    assert api.http.get(f"/api/sessions/{sid}").status_code == 404
    assert api.http.get("/api/stats").json()["running_turns"] == 0
    # New messages are refused; the deleted session does not come back.
    assert api.http.post(f"/api/sessions/{sid}/messages", json={"text": "hello?"}).status_code == 404
    assert sid not in [s["id"] for s in api.http.get("/api/sessions", params={"limit": 200}).json()["sessions"]]

    # The other tab reads on from where it was: the turn's end, then `session.deleted` as the last event.
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["type"] != "session.deleted":
        seen.extend(other_tab.read(sid, wait=2)["events"])
        assert time.monotonic() < deadline + 30, [e["type"] for e in seen]
    assert seen[-1]["data"] == {"session_id": sid}
    ended = [e["data"] for e in seen if e["type"] == "turn.status" and e["data"]["turn_id"] == running["turn_id"]]
    assert ended[-1]["status"] == "interrupted"
    after = other_tab.http.get(f"/api/sessions/{sid}/events", params={"after": seen[-1]["seq"], "wait": 0})
    assert after.status_code == 404


def test_a_queued_turn_can_be_cancelled_before_it_runs(api: BluClient) -> None:
    sid = api.new_session()
    running = api.send(sid, "[[sleep s=3]] first")
    queued = api.send(sid, "second, never to run")
    later = api.send(sid, "third")
    assert (queued["position"], later["position"]) == (1, 2)
    cancel = api.http.delete(f"/api/sessions/{sid}/turns/{queued['turn_id']}")
    assert cancel.status_code == 200 and cancel.json() == {"cancelled": True}
    # The running turn cannot be cancelled this way (Stop interrupts it).
    again = api.http.delete(f"/api/sessions/{sid}/turns/{running['turn_id']}")
    assert again.json() == {"cancelled": False}
    events = api.events_until(sid, running["turn_id"])
    statuses = [(e["data"]["turn_id"], e["data"]["status"]) for e in events if e["type"] == "turn.status"]
    assert (queued["turn_id"], "interrupted") in statuses
    assert (queued["turn_id"], "running") not in statuses
    cancelled = next(
        e["data"]
        for e in events
        if e["type"] == "turn.status"
        and e["data"]["turn_id"] == queued["turn_id"]
        and e["data"]["status"] == "interrupted"
    )
    assert cancelled["reason"] == "cancelled"
    replies = {m["turn_id"]: m for m in api.messages(sid) if m["role"] == "assistant"}
    assert replies[queued["turn_id"]]["state"] == "interrupted"
    assert replies[queued["turn_id"]]["error"] == "Cancelled before it ran."
    assert replies[running["turn_id"]]["state"] == "complete"
    # "Cancelled before it ran." is listed under the cancelled message, before the message sent after it.
    api.events_until(sid, later["turn_id"])
    assert [(m["role"], m["turn_id"]) for m in api.messages(sid)] == [
        (role, turn["turn_id"]) for turn in (running, queued, later) for role in ("user", "assistant")
    ]
    assert api.http.delete(f"/api/sessions/{sid}/turns/x").json() == {"cancelled": False}
    assert api.http.delete("/api/sessions/000000000000000000000000/turns/x").status_code == 404
    assert_totals_are_sums(api, sid)


def test_overloaded_api_ends_the_turn_with_a_clear_error(api: BluClient) -> None:
    sid = api.new_session()
    started = time.monotonic()
    status, events = api.turn(sid, "[[error status=529]]")
    assert time.monotonic() - started < 20
    assert status["status"] == "error"
    error = next(e["data"] for e in events if e["type"] == "error")
    assert error["kind"] == "overloaded" and "overloaded" in error["message"].lower()
    assert api.turn(sid, "works again")[0]["status"] == "complete"


def test_a_rejected_token_is_reported_within_seconds(fresh_server: BluServer, model: object) -> None:
    fresh_server.env.update(model_env(model, api_key="invalid-key"))  # type: ignore[arg-type]
    api = fresh_server.start().client()
    sid = api.new_session()
    started = time.monotonic()
    status, events = api.turn(sid, "hello")
    assert time.monotonic() - started < 20
    error = next(e["data"] for e in events if e["type"] == "error")
    assert status["status"] == "error" and error["kind"] == "auth"
    assert "credentials" in error["message"]


def test_a_stalled_stream_is_stopped_by_the_watchdog(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_WATCHDOG_SECONDS"] = "2"
    api = fresh_server.start().client()
    sid = api.new_session()
    status, _ = api.turn(sid, "[[sleep s=30]]")
    assert status["status"] == "interrupted" and status["reason"] == "stalled"
    assert api.turn(sid, "and again")[0]["status"] == "complete"


def test_stats_report_tiers_queues_and_memory(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "one")
    api.turn(sid, "two")
    stats = api.http.get("/api/stats").json()
    assert stats["model"] == "claude"  # this server was given credentials (for the stand-in at its URL)
    assert stats["turns"]["cold"]["turns"] >= 1 and stats["turns"]["hot"]["turns"] >= 1
    assert stats["turns"]["hot"]["total_ms_median"] is not None
    assert stats["memory"]["rss_mb"] > 0 and stats["clients"]["hot"] >= 1


def test_the_least_recently_used_client_is_demoted_over_the_cap(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_MAX_HOT_CLIENTS"] = "1"
    api = fresh_server.start().client()
    first, second = api.new_session(), api.new_session()
    assert api.turn(first, "a")[0]["tier"] == "cold"
    assert api.turn(second, "b")[0]["tier"] == "cold"  # connecting it demoted the first
    assert api.turn(first, "c [[recall]]")[0]["tier"] == "warm"
    assert "2" in api.messages(first)[-1]["text"]  # resumed with its context
    stats = api.http.get("/api/stats").json()
    assert stats["clients"]["hot"] == 1


def test_a_dropped_stream_still_completes_the_turn(api: BluClient) -> None:
    sid = api.new_session()
    status, _ = api.turn(sid, "[[drop]] [[words n=20]]")
    assert status["status"] == "complete"  # the CLI retried without streaming
    assert len(api.messages(sid)[-1]["text"].split()) >= 20


def test_a_title_comes_from_the_small_model_after_the_first_successful_exchange(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_TITLE_MODE"] = "model"
    api = fresh_server.start().client()
    sid = api.new_session()
    assert api.turn(sid, "[[error status=529]] hello there")[0]["status"] == "error"
    status, _ = api.turn(sid, "please compare three cheap electric bicycles for commuting")
    assert status["status"] == "complete"
    assert api.http.get(f"/api/sessions/{sid}").json()["name"] == "hello there"  # first words until then
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = api.read(sid, wait=5)["events"]
        if any(e["data"]["session"]["name"] != "hello there" for e in events if e["type"] == "session.updated"):
            break
    # The stand-in titles with the conversation's first four words that are not stopwords or speaker labels.
    assert api.http.get(f"/api/sessions/{sid}").json()["name"] == "Compare Three Cheap Electric"


def test_forking_at_the_persons_messages_gives_claude_what_the_fork_shows(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "one")
    api.turn(sid, "two")
    one, _reply, two, _ = api.messages(sid)
    expected = {one["id"]: (["one"], 2), two["id"]: (["one", _reply["text"], "two"], 3)}
    for message_id, (shown, prompts) in expected.items():
        fork = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": message_id}).json()["id"]
        assert [m["text"] for m in api.messages(fork)] == shown
        status, _ = api.turn(fork, "[[recall]]")
        assert status["status"] == "complete"
        # Claude sees every prompt the fork shows, then the new one (the CLI merges the two last).
        assert api.messages(fork)[-1]["text"] == f"Recall: {prompts} user turns; first prompt: one"
    # A failed reply offers "Fork from here" too: Claude knows the prompt it failed on.
    assert api.turn(sid, "[[error status=529]] three")[0]["status"] == "error"
    failed = api.messages(sid)[-1]
    fork = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": failed["id"]}).json()["id"]
    assert [m["role"] for m in api.messages(fork)] == ["user", "assistant"] * 3
    api.turn(fork, "[[recall]]")
    assert api.messages(fork)[-1]["text"] == "Recall: 4 user turns; first prompt: one"


def test_one_accounting_across_complete_interrupted_failed_and_forked_turns(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "[[words n=40]]")
    accepted = api.send(sid, "[[slow ms=200]] [[words n=200]]")
    deadline = time.monotonic() + 30
    while not any(e["type"] == "message.delta" for e in api.read(sid, wait=2)["events"]):
        assert time.monotonic() < deadline
    api.http.post(f"/api/sessions/{sid}/interrupt")
    api.events_until(sid, accepted["turn_id"])
    api.turn(sid, "[[error status=529]]")
    replies = {m["state"]: m for m in api.messages(sid) if m["role"] == "assistant"}
    assert set(replies) == {"complete", "interrupted", "error"}
    for reply in replies.values():
        # A reply that cost something used tokens, and the reverse.
        assert (reply["cost_usd"] > 0) == (reply["input_tokens"] > 0), reply
    assert replies["complete"]["output_tokens"] > 0 and replies["error"]["output_tokens"] == 0
    # The stopped call never reported its output (the API sends the count when a call ends): none is made up,
    # and the session counts the reply whose output is left out.
    assert replies["interrupted"]["input_tokens"] > 0 and replies["interrupted"]["output_tokens"] == 0
    assert api.http.get(f"/api/sessions/{sid}").json()["stopped_replies"] == 1

    assert_totals_are_sums(api, sid)
    last = api.messages(sid)[-1]["id"]
    fork = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": last}).json()["id"]
    assert_totals_are_sums(api, fork)
    forked = api.http.get(f"/api/sessions/{fork}").json()
    assert forked["cost_usd"] > 0 and forked["stopped_replies"] == 1


def test_an_unreachable_api_is_explained_in_blus_words(fresh_server: BluServer, model: object) -> None:
    from tests.support.server import free_port

    fresh_server.env.update(model_env(model))  # type: ignore[arg-type]
    fresh_server.env["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    api = fresh_server.start().client()
    sid = api.new_session()
    status, events = api.turn(sid, "hello")
    assert status["status"] == "error"
    error = next(e["data"] for e in events if e["type"] == "error")
    assert error["kind"] == "api" and error["message"].startswith("Blu could not reach Claude's API")
    stored = api.messages(sid)[-1]["error"]
    assert stored == error["message"] and "127.0.0.1" not in stored and "gateway" not in stored


def _fork(api: BluClient, session_id: str, message_id: str) -> str:
    response = api.http.post(f"/api/sessions/{session_id}/fork", json={"message_id": message_id})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _recall(api: BluClient, session_id: str) -> str:
    assert api.turn(session_id, "[[recall]]")[0]["status"] == "complete"
    return str(api.messages(session_id)[-1]["text"])


def test_a_fork_of_a_fork_cuts_claudes_context_at_messages_it_copied(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "one")
    api.turn(sid, "two")
    fork = _fork(api, sid, api.messages(sid)[-1]["id"])
    assert _recall(api, fork) == "Recall: 3 user turns; first prompt: one"
    one, echo_one, two = api.messages(fork)[:3]
    for message, prompts in ((one, 2), (echo_one, 2), (two, 3)):
        again = _fork(api, fork, message["id"])
        assert _recall(api, again) == f"Recall: {prompts} user turns; first prompt: one", message["text"]
    # A fork of a fork that never ran a turn, three deep, at the first message of all.
    never_run = _fork(api, fork, echo_one["id"])
    deepest = _fork(api, never_run, api.messages(never_run)[0]["id"])
    assert [m["text"] for m in api.messages(deepest)] == ["one"]
    assert _recall(api, deepest) == "Recall: 2 user turns; first prompt: one"


def test_a_fork_that_cannot_take_claudes_context_says_so(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "the secret is heron")
    claude_id = api.http.get(f"/api/sessions/{sid}").json()["claude_session_id"]
    for transcript in (blu.data_dir / "claude" / "projects").glob(f"*/{claude_id}.jsonl"):
        transcript.unlink()  # lost, as a disk that lost the file would
    fork = _fork(api, sid, api.messages(sid)[-1]["id"])
    shown = api.messages(fork)
    assert [m["role"] for m in shown] == ["user", "assistant", "system"]
    assert "could not be carried into this fork" in shown[-1]["text"]
    assert_totals_are_sums(api, fork)
    assert _recall(api, fork).startswith("Recall: 1 user turns")  # what the notice said


def test_a_failed_reply_is_blus_explanation_never_the_clis_text(api: BluClient) -> None:
    sid = api.new_session()
    for status in (500, 401, 429, 529, 400):
        final, events = api.turn(sid, f"[[error status={status}]] x")
        assert final["status"] == "error"
        explained = next(e["data"]["message"] for e in events if e["type"] == "error")
        reply = api.messages(sid)[-1]
        assert reply["state"] == "error" and reply["error"] == explained, status
        assert reply["text"] == "", (status, reply["text"])  # the CLI's "API Error: …" stays in the log
        streamed = "".join(e["data"]["text"] for e in events if e["type"] == "message.delta")
        assert "API Error" not in streamed and "API Error" not in str(final)


def test_messages_a_fork_copied_before_uuids_were_carried_over_still_find_their_entries(tmp_path: Path) -> None:
    from runtime.agent.manager import _transcript_entries

    lines = [
        {"type": "user", "uuid": "f-1", "forkedFrom": {"sessionId": "s", "messageUuid": "s-1"}},
        {
            "type": "assistant",
            "uuid": "f-2",
            "parentUuid": "f-1",
            "forkedFrom": {"sessionId": "s", "messageUuid": "s-2"},
        },
        {"type": "user", "uuid": "own-3", "parentUuid": "f-2"},
        {"type": "assistant", "uuid": "side", "isSidechain": True},
        {"type": "custom-title", "customTitle": "x"},
    ]
    transcript = tmp_path / "fork.jsonl"
    transcript.write_text("\n".join(json.dumps(line) for line in lines) + "\n{broken\n")
    assert _transcript_entries(transcript) == {"s-1": "f-1", "s-2": "f-2", "f-1": "f-1", "f-2": "f-2", "own-3": "own-3"}


def test_search_finds_message_text_session_names_and_artifacts(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, '[[write path=notes/quokka.md content="hi"]] the quokka question')
    api.http.patch(f"/api/sessions/{sid}", json={"name": "Marsupial research"})
    body = api.http.get("/api/search", params={"q": "QUOKKA"}).json()
    assert body["complete"] is True
    kinds = [(h["kind"], h["session_id"]) for h in body["hits"]]
    assert kinds[0] == ("artifact", sid) and ("message", sid) in kinds
    user_hit = next(h for h in body["hits"] if h["kind"] == "message" and h["role"] == "user")
    assert "quokka question" in user_hit["snippet"] and user_hit["session_name"] == "Marsupial research"
    named = api.http.get("/api/search", params={"q": "marsupial"}).json()["hits"]
    assert [(h["kind"], h["session_id"]) for h in named] == [("session", sid)]
    assert api.http.get("/api/search", params={"q": "x", "limit": 0}).status_code == 422
    assert api.http.get("/api/search", params={"q": ""}).json() == {"hits": [], "complete": True}
