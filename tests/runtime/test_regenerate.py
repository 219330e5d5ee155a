"""Regenerate: the newest reply answered again in the same session, with Claude's context rewound to just before
its prompt, and the reply it replaces kept as an earlier version (the real Claude Code CLI against the stand-in)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.standin import StandinServer
from tests.support.server import BluClient, BluServer, assert_totals_are_sums


def regenerate(api: BluClient, session_id: str, message_id: str) -> httpx.Response:
    return api.http.post(f"/api/sessions/{session_id}/messages/{message_id}/regenerate")


def regenerated(api: BluClient, session_id: str, message_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Regenerate and follow the new turn to its end: (the answer, the turn's events)."""
    response = regenerate(api, session_id, message_id)
    assert response.status_code == 202, response.text
    answer = dict(response.json())
    return answer, api.events_until(session_id, answer["turn_id"])


def turn_requests(model: StandinServer, marker: str) -> list[dict[str, Any]]:
    """The bodies of the turns' requests to the model whose prompt holds `marker` (titles left out)."""
    found = [r for r in model.messages_requests() if r.kind != "title" and r.prompt and marker in r.prompt]
    return [r.body for r in found if r.body is not None]


def user_texts(body: dict[str, Any]) -> list[str]:
    """Every text the request carries from the person (tool results and system reminders aside)."""
    texts: list[str] = []
    for message in body["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        texts.extend(b["text"] for b in blocks if b.get("type") == "text" and not b["text"].startswith("<system"))
    return texts


def transcripts(server: BluServer, claude_id: str) -> list[Path]:
    return list((server.data_dir / "claude" / "projects").glob(f"*/{claude_id}.jsonl"))


def test_claude_sees_the_prompt_once_and_never_the_reply_it_replaces(
    blu: BluServer, api: BluClient, model: StandinServer
) -> None:
    sid = api.new_session()
    marker = f"heron-{time.time_ns()}"
    api.turn(sid, "first [[say text='the first answer']]")
    assert api.turn(sid, f"second {marker} [[recall]]")[0]["status"] == "complete"
    prompt, reply = api.messages(sid)[-2:]
    assert reply["text"].startswith("Recall: 2 user turns")
    before = api.http.get(f"/api/sessions/{sid}").json()

    answer, events = regenerated(api, sid, reply["id"])
    assert (answer["turn_id"], answer["user_message_id"], answer["position"]) == (reply["turn_id"], prompt["id"], 0)
    assert answer["earlier"] == {**reply, "superseded_by": answer["message_id"]}

    # Claude got the prompt once, after the first exchange, and nothing of the reply it replaces (its context was
    # the hot client's: that client went, and the turn resumed the transcript cut before the prompt).
    body = turn_requests(model, marker)[-1]
    texts = user_texts(body)
    assert sum(marker in t for t in texts) == 1, texts
    assert "first [[say text='the first answer']]" in texts[0]
    assert "Recall:" not in json.dumps(body)
    assert "the first answer" in json.dumps(body)  # what came before the prompt is still known

    # Stored: the prompt once, the earlier version, then the new reply of the same turn.
    messages = api.messages(sid)
    assert [m["id"] for m in messages[-3:]] == [prompt["id"], reply["id"], answer["message_id"]]
    assert sum(m["text"] == prompt["text"] for m in messages) == 1
    earlier, new = messages[-2:]
    assert earlier == answer["earlier"]
    assert (new["turn_id"], new["state"], new["superseded_by"]) == (reply["turn_id"], "complete", None)
    assert new["text"].startswith("Recall: 2 user turns")  # not 3: the prompt was not sent twice
    # It costs what it cost: the cut transcript holds no cost of the CLI's, so its running total starts at 0.
    assert new["cost_usd"] == pytest.approx(reply["cost_usd"], rel=0.05) and new["cost_usd"] > 0
    assert_totals_are_sums(api, sid)

    # Every tab hears of it: the earlier version, then the turn as any other (the prompt is not published again).
    events = events[[e["type"] for e in events].index("message.updated") :]  # after the previous turn's last ones
    types = [e["type"] for e in events]
    assert types[:2] == ["message.updated", "turn.status"], types
    assert events[0]["data"] == {"turn_id": reply["turn_id"], "message": earlier}
    assert events[1]["data"] == {
        "turn_id": reply["turn_id"],
        "status": "queued",
        "position": 0,
        "user_message_id": prompt["id"],
    }
    running = next(e["data"] for e in events if e["type"] == "turn.status" and e["data"]["status"] == "running")
    assert running["message_id"] == answer["message_id"]
    assert not [e for e in events if e["type"] == "message.complete" and e["data"]["message"]["role"] == "user"]

    # Claude resumes the cut transcript; the old one, which held the replaced reply, is gone.
    after = api.http.get(f"/api/sessions/{sid}").json()
    assert after["claude_session_id"] not in (None, before["claude_session_id"])
    deadline = time.monotonic() + 15
    while transcripts(blu, before["claude_session_id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert transcripts(blu, before["claude_session_id"]) == []

    # Again: two earlier versions, and Claude still sees the prompt once.
    again, _ = regenerated(api, sid, answer["message_id"])
    texts = user_texts(turn_requests(model, marker)[-1])
    assert sum(marker in t for t in texts) == 1, texts
    messages = api.messages(sid)
    assert [m["id"] for m in messages[-4:]] == [prompt["id"], reply["id"], answer["message_id"], again["message_id"]]
    assert [m["superseded_by"] for m in messages[-3:]] == [answer["message_id"], again["message_id"], None]
    assert messages[-1]["text"].startswith("Recall: 2 user turns")

    # The conversation goes on from the new version: Claude knows the first exchange and the new reply.
    api.turn(sid, f"third {marker} [[recall]]")
    assert api.messages(sid)[-1]["text"].startswith("Recall: 3 user turns")
    assert "Recall: 2 user turns" in json.dumps(turn_requests(model, marker)[-1])
    assert_totals_are_sums(api, sid)


def test_regenerating_the_first_reply_starts_claude_afresh(api: BluClient, model: StandinServer) -> None:
    sid = api.new_session()
    marker = f"egret-{time.time_ns()}"
    api.turn(sid, f"only {marker} [[recall]]")
    reply = api.messages(sid)[-1]
    old_context = api.http.get(f"/api/sessions/{sid}").json()["claude_session_id"]
    _, events = regenerated(api, sid, reply["id"])
    assert events[-1]["data"]["status"] == "complete"
    assert [m["role"] for m in api.messages(sid)] == ["user", "assistant", "assistant"]
    expected = f"Recall: 1 user turns; first prompt: only {marker} [[recall]]"
    assert api.messages(sid)[-1]["text"] == reply["text"] == expected
    texts = user_texts(turn_requests(model, marker)[-1])
    assert sum(marker in t for t in texts) == 1, texts
    assert api.http.get(f"/api/sessions/{sid}").json()["claude_session_id"] not in (None, old_context)


def test_a_fork_after_a_regeneration_follows_the_new_version(api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "one")
    api.turn(sid, "two [[recall]]")
    answer, _ = regenerated(api, sid, api.messages(sid)[-1]["id"])
    one, echo, two, earlier, new = api.messages(sid)
    # The earlier messages were moved to the cut transcript's entries: forks at them still cut there.
    for message, prompts in ((one, 2), (echo, 2), (two, 3), (new, 3)):
        fork = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": message["id"]}).json()["id"]
        assert api.turn(fork, "[[recall]]")[0]["status"] == "complete"
        assert api.messages(fork)[-1]["text"] == f"Recall: {prompts} user turns; first prompt: one", message["text"]
    assert earlier["superseded_by"] == new["id"] == answer["message_id"]


def test_a_warm_session_is_rewound_too(fresh_server: BluServer, model: StandinServer) -> None:
    """After a restart no client holds the session: the turn resumes the cut transcript from disk."""
    from tests.runtime.conftest import model_env

    fresh_server.env.update(model_env(model))
    api = fresh_server.start().client()
    sid = api.new_session()
    marker = f"stork-{time.time_ns()}"
    api.turn(sid, "first")
    api.turn(sid, f"second {marker} [[recall]]")
    api = fresh_server.restart().client()
    _, events = regenerated(api, sid, api.messages(sid)[-1]["id"])
    running = next(e["data"] for e in events if e["type"] == "turn.status" and e["data"]["status"] == "running")
    assert running["tier"] == "warm"
    texts = user_texts(turn_requests(model, marker)[-1])
    assert sum(marker in t for t in texts) == 1 and "first" in texts[0], texts
    assert api.messages(sid)[-1]["text"].startswith("Recall: 2 user turns")


def test_only_the_newest_reply_can_be_regenerated_and_only_while_nothing_runs(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "one")
    api.turn(sid, "two")
    _, first_reply, two, reply = api.messages(sid)

    def refused(message_id: str, status: int, session_id: str = sid) -> str:
        response = regenerate(api, session_id, message_id)
        assert response.status_code == status, response.text
        return str(response.json()["detail"])

    assert refused(reply["id"], 404, "0123456789abcdef01234567") == "Session or message not found."
    assert refused("0000000000000-00000000", 404) == "Session or message not found."
    assert api.http.post(f"/api/sessions/{sid}/messages/not-an-id/regenerate").status_code == 422
    assert refused(two["id"], 409).startswith("Only Blu's replies can be regenerated")
    assert refused(first_reply["id"], 409) == "Only the newest reply can be regenerated."
    assert httpx.post(f"{blu.url}/api/sessions/{sid}/messages/{reply['id']}/regenerate").status_code == 401

    # While a turn runs (and while one is queued behind it) nothing is regenerated.
    running = api.send(sid, "[[sleep s=2]] three")
    assert refused(reply["id"], 409).startswith("A reply is being written in this session")
    queued = api.send(sid, "four")
    assert refused(reply["id"], 409).startswith("A reply is being written")
    api.events_until(sid, running["turn_id"])
    api.events_until(sid, queued["turn_id"])
    assert refused(reply["id"], 409) == "Only the newest reply can be regenerated."  # newer ones came

    newest = api.messages(sid)[-1]
    answer, _ = regenerated(api, sid, newest["id"])
    assert refused(newest["id"], 409) == "This reply is an earlier version already; regenerate the newest one."
    assert answer["earlier"]["id"] == newest["id"]
    assert [m["text"] for m in api.messages(sid)].count("four") == 1
    assert_totals_are_sums(api, sid)


def test_a_restart_before_the_new_version_ran_answers_its_prompt_with_retry(fresh_server: BluServer) -> None:
    """Blu stopped after marking the earlier version and before the new reply was stored: on start the prompt
    counts as unanswered (an earlier version answers nothing), so it gets a reply that offers Retry."""
    from core.store import open_store
    from core.store.models import new_message_id

    api = fresh_server.start().client()
    sid = api.new_session()
    api.turn(sid, "one")
    prompt, reply = api.messages(sid)
    fresh_server.stop()
    store = open_store(table_name=None, data_dir=fresh_server.data_dir)
    store.update_session(sid, running_turn_id=reply["turn_id"])  # as regenerate leaves them, just before the turn
    store.update_message(sid, reply["id"], superseded_by=new_message_id())
    store.close()  # type: ignore[attr-defined]
    api = fresh_server.start().client()
    messages = api.messages(sid)
    assert [m["id"] for m in messages[:2]] == [prompt["id"], reply["id"]] and len(messages) == 3
    answer = messages[-1]
    assert (answer["turn_id"], answer["state"], answer["superseded_by"]) == (reply["turn_id"], "interrupted", None)
    assert answer["error"] == "Blu restarted before this message was answered. Send it again."
    assert api.http.get(f"/api/sessions/{sid}").json()["running_turn_id"] is None
    assert_totals_are_sums(api, sid)


def test_a_turn_on_a_cut_transcript_counts_its_own_cost(api: BluClient) -> None:
    """The CLI goes on from the cost it saved in a transcript it resumes (`cost-state`); a transcript cut by a fork
    or by Regenerate holds none, so the turn's cost is the CLI's whole total, never that less the session's."""
    sid = api.new_session()
    api.turn(sid, "one [[words n=20]]")
    api.turn(sid, "two [[words n=20]]")
    last = api.messages(sid)[-1]
    fork = api.http.post(f"/api/sessions/{sid}/fork", json={"message_id": last["id"]}).json()["id"]
    api.turn(fork, "three [[words n=20]]")
    regenerated(api, sid, last["id"])
    for session_id in (sid, fork):
        costs = [m["cost_usd"] for m in api.messages(session_id) if m["role"] == "assistant"]
        assert all(cost > 0 for cost in costs), (session_id, costs)
        assert_totals_are_sums(api, session_id)


def test_the_cost_a_resumed_cli_goes_on_from_is_the_last_it_saved_in_the_transcript(tmp_path: Path) -> None:
    from runtime.agent.options import transcript_cost
    from runtime.settings import Settings

    settings = Settings(BLU_DATA_DIR=tmp_path)  # type: ignore[call-arg]
    folder = settings.claude_config_dir / "projects" / "-workspace"
    folder.mkdir(parents=True)
    lines = [
        {"type": "user", "uuid": "u1", "message": {"role": "user", "content": '{"type":"cost-state"'}},
        {"type": "cost-state", "sessionId": "abc", "totalCostUSD": 0.25},
        {"type": "cost-state", "sessionId": "other", "totalCostUSD": 9.0},  # copied from another session: not ours
        {"type": "cost-state", "sessionId": "abc", "totalCostUSD": 0.5},
        {"type": "cost-state", "sessionId": "abc", "totalCostUSD": "a lot"},
    ]
    text = "\n".join(json.dumps(line, separators=(",", ":")) for line in lines)
    (folder / "abc.jsonl").write_text(text + "\n{broken\n")
    assert transcript_cost(settings, "abc") == 0.5
    (folder / "cut.jsonl").write_text(json.dumps({"type": "user", "uuid": "u1"}) + "\n")
    assert transcript_cost(settings, "cut") == 0.0
    assert transcript_cost(settings, "missing") == 0.0


def test_a_regeneration_that_cannot_rewind_claudes_context_says_so(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "the secret is heron")
    api.turn(sid, "[[recall]]")
    claude_id = api.http.get(f"/api/sessions/{sid}").json()["claude_session_id"]
    for transcript in transcripts(blu, claude_id):
        transcript.unlink()  # lost, as a disk that lost the file would
    answer, _ = regenerated(api, sid, api.messages(sid)[-1]["id"])
    messages = api.messages(sid)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "system", "assistant"]
    assert messages[3]["superseded_by"] == answer["message_id"] == messages[5]["id"]
    assert "could not be rewound" in messages[4]["text"]
    assert messages[5]["text"].startswith("Recall: 1 user turns")  # what the note says: Claude starts afresh
    assert_totals_are_sums(api, sid)
