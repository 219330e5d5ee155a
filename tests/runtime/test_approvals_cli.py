"""Approvals with the real Claude Code CLI (the offline stand-in model) through the real runtime over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from runtime.standin import StandinServer
from tests.support.server import BluClient, BluServer

QUESTION = {
    "questions": [
        {
            "question": "Which colour?",
            "header": "Colour",
            "options": [{"label": "Blue", "description": "calm"}, {"label": "Red", "description": "loud"}],
            "multiSelect": False,
        }
    ]
}


def pending(api: BluClient, sid: str, timeout: float = 60) -> dict[str, Any]:
    """The session's first pending approval, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.http.get(f"/api/sessions/{sid}/approvals", params={"pending": "true"})
        assert response.status_code == 200, response.text
        if response.json()["approvals"]:
            return dict(response.json()["approvals"][0])
        time.sleep(0.1)  # polling the list leaves the event stream's cursor where the test reads it
    raise AssertionError("no approval was requested")


def answer(api: BluClient, sid: str, approval_id: str, **body: Any) -> dict[str, Any]:
    response = api.http.post(f"/api/sessions/{sid}/approvals/{approval_id}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_tool_set_to_ask_pauses_then_runs_after_allow_and_not_after_deny(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_ASK_TOOLS"] = "Bash"
    api = fresh_server.start().client()
    workspace: Path = fresh_server.data_dir / "workspace"
    sid = api.new_session()

    allowed = api.send(sid, "[[bash cmd='touch allowed.txt']]")
    approval = pending(api, sid)
    assert (approval["tool_name"], approval["input"]["command"], approval["live"]) == (
        "Bash",
        "touch allowed.txt",
        True,
    )
    listed = api.http.get("/api/sessions").json()["sessions"]
    assert next(s for s in listed if s["id"] == sid)["pending_approvals"] == 1
    assert not (workspace / "allowed.txt").exists()  # paused before the tool ran
    assert answer(api, sid, approval["id"], decision="allow")["replayed"] is False
    events = api.events_until(sid, allowed["turn_id"])
    statuses = [e["data"] for e in events if e["type"] == "turn.status"]
    assert any(s["status"] == "waiting" and s.get("reason") == "approval" for s in statuses)
    assert statuses[-1]["status"] == "complete"
    assert (workspace / "allowed.txt").exists()
    assert answer(api, sid, approval["id"], decision="allow")["replayed"] is True
    stale = api.http.post(f"/api/sessions/{sid}/approvals/{approval['id']}", json={"decision": "deny"})
    assert stale.status_code == 409
    call = api.messages(sid)[-1]["tool_calls"][0]
    assert (call["outcome"], call["decision"]) == ("ok", "allowed by person")

    denied = api.send(sid, "[[bash cmd='touch denied.txt']]")
    approval = pending(api, sid)
    answer(api, sid, approval["id"], decision="deny", message="not now")
    events = api.events_until(sid, denied["turn_id"])
    assert events[-1]["data"]["status"] == "complete"
    assert not (workspace / "denied.txt").exists()
    call = api.messages(sid)[-1]["tool_calls"][0]
    assert (call["outcome"], call["decision"]) == ("denied", "denied by person")


def test_a_question_reaches_claude_with_the_answer(fresh_server: BluServer) -> None:
    api = fresh_server.start().client()
    sid = api.new_session()
    asked = api.send(sid, f"[[tool name=AskUserQuestion input='{json.dumps(QUESTION)}']]")
    approval = pending(api, sid)
    assert approval["kind"] == "question" and approval["input"]["questions"][0]["question"] == "Which colour?"
    answer(api, sid, approval["id"], decision="answer", answers={"Which colour?": "Teal, please"})
    events = api.events_until(sid, asked["turn_id"])
    assert events[-1]["data"]["status"] == "complete"
    reply = api.messages(sid)[-1]
    assert "Teal, please" in reply["text"]  # the CLI's tool result carries the person's answer to Claude


def test_an_answer_after_a_restart_resumes_the_work(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_ASK_TOOLS"] = "Bash"
    api = fresh_server.start().client()
    sid = api.new_session()
    api.send(sid, "Tidy up, please. [[bash cmd='touch after-restart.txt']]")
    approval = pending(api, sid)
    api = fresh_server.restart().client()
    assert pending(api, sid)["live"] is False  # kept across the restart; no turn is paused on it now
    answer(api, sid, approval["id"], decision="allow")
    deadline = time.monotonic() + 90
    while not (fresh_server.data_dir / "workspace" / "after-restart.txt").exists():
        assert time.monotonic() < deadline, "the work did not continue after the answer"
        time.sleep(0.2)
    messages = api.messages(sid)
    assert "allowed your call Bash" in next(m["text"] for m in reversed(messages) if m["role"] == "user")
    stored = api.http.get(f"/api/sessions/{sid}/approvals").json()["approvals"][0]
    assert (stored["status"], stored["delivered"]) == ("allowed", "reapplied")


def test_a_tool_the_policy_denies_or_allows_again_changes_what_a_hot_session_offers(
    fresh_server: BluServer, model: StandinServer
) -> None:
    """A denied tool is hidden from Claude (the CLI's disallowed tools), so the hot client started before the
    change is let go and the next turn resumes the session (warm) with the tools of now, both ways."""
    api = fresh_server.start().client()
    sid = api.new_session()

    def turn(marker: str) -> tuple[str, list[str]]:
        status, _ = api.turn(sid, f"[[say text=ok]] {marker}")
        assert status["status"] == "complete", status
        request = next(r for r in model.messages_requests() if r.prompt and marker in r.prompt)
        return status["tier"], request.tools

    def set_bash(mode: str | None) -> None:
        response = api.http.put("/api/tools/policy", json={"tool": "Bash", "mode": mode})
        assert response.status_code == 200, response.text

    tier, tools = turn("policy-one")
    assert tier == "cold" and "Bash" in tools, (tier, tools)
    assert turn("policy-two")[0] == "hot"
    set_bash("deny")
    tier, tools = turn("policy-three")
    assert tier == "warm" and "Bash" not in tools and "Read" in tools, (tier, tools)
    assert turn("policy-four")[0] == "hot"  # nothing changed since: the client stays
    set_bash(None)
    tier, tools = turn("policy-five")
    assert tier == "warm" and "Bash" in tools, (tier, tools)


def test_the_policy_api_stores_the_tools_name_and_refuses_one_that_matches_nothing(api: BluClient) -> None:
    def put(tool: str, mode: str | None) -> httpx.Response:
        return api.http.put("/api/tools/policy", json={"tool": tool, "mode": mode})

    try:
        answered = put("bash", "ask")
        assert answered.status_code == 200, answered.text
        assert answered.json()["run_time"].get("Bash") == "ask" and "bash" not in answered.json()["run_time"]
        for name, why in (
            ("mcp__", "names no MCP tool"),
            ("rm", "No Claude Code tool"),
            ("x" * 200, "No Claude"),
            ("Bash(ls:*)", "whole tools (Bash)"),
            ("*", "No Claude Code tool is named '*'"),
        ):
            refused = put(name, "ask")
            assert refused.status_code == 422 and why in refused.json()["detail"], refused.text
        assert "rm" not in api.http.get("/api/tools/policy").json()["run_time"]
        assert put("stale_entry", None).status_code == 200  # removing is by the exact name, whatever it is
    finally:
        put("Bash", None)
