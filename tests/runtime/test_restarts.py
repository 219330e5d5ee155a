"""Warm resume after a restart, and nothing lost when the process is stopped or killed mid-turn."""

from __future__ import annotations

import signal
import time

from runtime.agent.manager import CUT_BEFORE_SAVED, CUT_BY_RESTART
from tests.runtime.test_approvals_cli import pending
from tests.support.server import BluClient, BluServer, assert_totals_are_sums


def wait_running(api: BluClient, sid: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for event in api.read(sid, wait=2)["events"]:
            if event["type"] == "message.delta":
                return
    raise AssertionError("the turn never started streaming")


def test_warm_resume_after_a_restart_keeps_the_context(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    sid = api.new_session()
    first, _ = api.turn(sid, "remember the word pelican")
    assert first["tier"] == "cold"
    fresh_server.restart()
    api = fresh_server.client()
    status, _ = api.turn(sid, "[[recall]]")
    assert status["tier"] == "warm"
    reply = api.messages(sid)[-1]["text"]
    assert "2" in reply and "pelican" in reply  # Claude's transcript came back with the session


def test_a_new_session_after_restart_is_cold(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    status, _ = api.turn(api.new_session(), "hi")
    assert status["tier"] == "cold"


def test_sigterm_mid_turn_saves_partial_output_marked_interrupted(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    sid = api.new_session()
    accepted = api.send(sid, "[[slow ms=200]] [[words n=200]]")
    queued = api.send(sid, "never started")
    wait_running(api, sid)
    time.sleep(1.0)
    assert fresh_server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once done
    api = fresh_server.start().client()
    stored = api.messages(sid)
    by_turn = {(m["turn_id"], m["role"]): m for m in stored}
    assert by_turn[(accepted["turn_id"], "user")]["state"] == "complete"
    partial = by_turn[(accepted["turn_id"], "assistant")]
    assert partial["state"] == "interrupted" and partial["text"].strip()
    assert len(partial["text"].split()) < 200
    assert by_turn[(queued["turn_id"], "user")]["text"] == "never started"
    assert by_turn[(queued["turn_id"], "assistant")]["state"] == "interrupted"
    # What it had used so far: the call's input; its output is not counted (the API reports it when a call ends).
    assert partial["input_tokens"] > 0 and partial["output_tokens"] == 0
    assert api.http.get(f"/api/sessions/{sid}").json()["stopped_replies"] == 1
    assert_totals_are_sums(api, sid)
    status, _ = api.turn(sid, "and now?")
    assert status["status"] == "complete"


def test_sigkill_mid_turn_is_found_and_marked_on_start(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    sid = api.new_session()
    accepted = api.send(sid, "[[slow ms=200]] [[words n=200]]")
    wait_running(api, sid)
    time.sleep(2.5)  # past one checkpoint of the partial reply
    fresh_server.stop(signal.SIGKILL)
    api = fresh_server.start().client()
    stored = {m["role"]: m for m in api.messages(sid)}
    assert stored["user"]["turn_id"] == accepted["turn_id"]
    assert stored["assistant"]["state"] == "interrupted"
    assert "restarted" in stored["assistant"]["error"]
    assert stored["assistant"]["text"].strip()  # the checkpointed part survived the kill
    # And what it had used so far: the call's input (its output is reported only when a call ends).
    assert stored["assistant"]["input_tokens"] > 0 and stored["assistant"]["output_tokens"] == 0
    assert_totals_are_sums(api, sid)
    session = api.http.get(f"/api/sessions/{sid}").json()
    assert session["running_turn_id"] is None and session["running"] is False
    assert session["stopped_replies"] == 1


def test_sigkill_leaves_no_queued_message_unanswered(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    sid = api.new_session()
    running = api.send(sid, "[[slow ms=200]] [[words n=200]]")
    queued_a = api.send(sid, "queued A", **{"Idempotency-Key": "qa"})
    queued_b = api.send(sid, "queued B")
    wait_running(api, sid)
    fresh_server.stop(signal.SIGKILL)
    api = fresh_server.start().client()
    replies = {m["turn_id"]: m for m in api.messages(sid) if m["role"] == "assistant"}
    cut = replies[running["turn_id"]]
    assert cut["state"] == "interrupted"  # and its note says whether any of it was saved
    assert cut["error"] == (CUT_BY_RESTART if cut["text"] or cut["tool_calls"] else CUT_BEFORE_SAVED)
    for queued in (queued_a, queued_b):
        reply = replies[queued["turn_id"]]  # each gets a reply that offers Retry
        assert reply["state"] == "interrupted" and reply["error"].endswith(
            "before this message was answered. Send it again."
        )
    assert_totals_are_sums(api, sid)
    session = api.http.get(f"/api/sessions/{sid}").json()
    assert session["running_turn_id"] is None and session["running"] is False and session["queue_length"] == 0
    # The key's turn never ran, so a retry with it runs the message instead of answering for that turn.
    again = api.send(sid, "queued A", **{"Idempotency-Key": "qa"})
    assert "replayed" not in again and again["turn_id"] != queued_a["turn_id"]
    assert api.events_until(sid, again["turn_id"])[-1]["data"]["status"] == "complete"
    assert api.send(sid, "queued A", **{"Idempotency-Key": "qa"})["turn_id"] == again["turn_id"]


def test_a_reader_from_before_a_restart_is_told_to_reload(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    sid = api.new_session()
    api.turn(sid, "hello")
    before = api.read(sid, wait=0)
    fresh_server.restart()
    api = fresh_server.client()
    response = api.http.get(
        f"/api/sessions/{sid}/events", params={"after": before["next"], "epoch": before["epoch"], "wait": 0}
    ).json()
    assert response["reset"] is True and response["epoch"] != before["epoch"]


def test_an_idempotency_key_is_honoured_across_a_restart(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    sid = api.new_session()
    first = api.send(sid, "only once", **{"Idempotency-Key": "k-123"})
    api.events_until(sid, first["turn_id"])
    fresh_server.restart()
    api = fresh_server.client()
    again = api.send(sid, "only once", **{"Idempotency-Key": "k-123"})
    assert again == {**first, "position": 0, "replayed": True}
    assert [m["role"] for m in api.messages(sid)] == ["user", "assistant"]
    other = api.send(sid, "another", **{"Idempotency-Key": "k-124"})
    assert other["turn_id"] != first["turn_id"] and "replayed" not in other


def test_a_turn_killed_while_it_waits_for_a_person_keeps_its_tool_call(fresh_server: BluServer) -> None:
    """The call a turn waits on is saved as the wait starts (a wait may be long, and a restart likely): after a
    SIGKILL the reply still shows it, ended as `stopped`, and says the reply above is what was saved."""
    fresh_server.env["BLU_ASK_TOOLS"] = "Bash"
    api = fresh_server.start().client()
    sid = api.new_session()
    accepted = api.send(sid, "[[bash cmd='touch cut.txt']]")
    approval = pending(api, sid)
    fresh_server.stop(signal.SIGKILL)
    api = fresh_server.start().client()
    reply = next(m for m in api.messages(sid) if m["turn_id"] == accepted["turn_id"] and m["role"] == "assistant")
    assert (reply["state"], reply["error"]) == ("interrupted", CUT_BY_RESTART)
    calls = [(c["id"], c["name"], c["outcome"]) for c in reply["tool_calls"]]
    assert calls == [(approval["tool_use_id"], "Bash", "stopped")], reply["tool_calls"]
