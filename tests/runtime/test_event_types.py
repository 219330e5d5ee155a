"""Every event real turns put in a session's log is exactly a member of the `BluEvent` union (the stream's contract)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from runtime.agent.capacity import CLI_MEMORY_MIB, RESERVED_MEMORY_MIB
from runtime.agent.event_types import EVENT_ADAPTER, EVENT_TYPES
from tests.support.server import BluClient, BluServer


def check(event: dict[str, Any]) -> None:
    """Valid (no field missing, none unknown, every type right) and exact: dumping the parsed event gives back
    what was sent, so a record with a field left out (filled by a default) or a value coerced fails too."""
    parsed = EVENT_ADAPTER.validate_python(event)
    assert EVENT_ADAPTER.dump_python(parsed, mode="json", exclude_unset=True) == event


def all_events(server: BluServer, session_id: str) -> list[dict[str, Any]]:
    """The whole log of a session in this server process, read as the UI reads it (from 0)."""
    reader = server.client()
    events: list[dict[str, Any]] = []
    while True:
        after = reader.cursors.get(session_id, 0)
        response = reader.http.get(f"/api/sessions/{session_id}/events", params={"after": after, "wait": 0})
        if response.status_code == 404 and events and events[-1]["type"] == "session.deleted":
            return events  # a deleted session's log ends there
        assert response.status_code == 200, response.text
        batch = response.json()
        if not batch["events"]:
            return events
        events.extend(batch["events"])
        reader.cursors[session_id] = batch["next"]


def wait_for(api: BluClient, sid: str, type_: str, **data: str) -> None:
    """Read the session's events until one of `type_` whose data holds `data` arrives."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for event in api.read(sid, wait=2)["events"]:
            if event["type"] == type_ and data.items() <= event["data"].items():
                return
    raise AssertionError(f"no {type_} {data} in {sid}")


def test_every_event_of_real_turns_is_a_member_of_the_union(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_TASK_MEMORY_MIB"] = str(RESERVED_MEMORY_MIB + CLI_MEMORY_MIB)  # one CLI: turns wait
    fresh_server.env["BLU_TITLE_MODE"] = "model"
    api = fresh_server.start().client()
    first, second = api.new_session(), api.new_session()

    assert api.turn(first, "[[error status=529]] hello there")[0]["status"] == "error"  # error
    status, _ = api.turn(
        first, 'compare three cheap bicycles [[slow ms=10]] [[words n=20]] [[write path=a.md content="# A"]]'
    )
    assert status["status"] == "complete"  # text, deltas, a tool, an artifact, then a title
    assert api.turn(first, "[[say text=spoken]]", channel="voice")[0]["status"] == "complete"

    # A tool running in the one CLI; the other session's turn waits for it, then the first is interrupted.
    script = "import time\\ntime.sleep(60)\\n"
    long_turn = api.send(first, f'[[write path=wait.py content="{script}"]] [[bash cmd="python3 wait.py"]]')
    wait_for(api, first, "tool.call", name="Bash")  # the tool runs: stopping the turn marks it stopped
    waiting_turn = api.send(second, "[[say text=two]]")
    wait_for(api, second, "turn.status", status="waiting")
    assert api.http.post(f"/api/sessions/{first}/interrupt").json() == {"interrupted": True}
    assert api.events_until(first, long_turn["turn_id"])[-1]["data"]["status"] == "interrupted"
    assert api.events_until(second, waiting_turn["turn_id"])[-1]["data"]["status"] == "complete"

    # A fork, a turn in it, that turn regenerated, and a rename (the sessions router publishes that one).
    reply = next(m for m in api.messages(first) if m["role"] == "assistant" and m["state"] == "complete")
    fork = api.http.post(f"/api/sessions/{first}/fork", json={"message_id": reply["id"]}).json()["id"]
    assert api.turn(fork, "[[recall]]")[0]["status"] == "complete"
    # Regenerate the fork's newest reply: the earlier version is published as message.updated.
    newest = api.messages(fork)[-1]["id"]
    regenerated = api.http.post(f"/api/sessions/{fork}/messages/{newest}/regenerate").json()
    assert api.events_until(fork, regenerated["turn_id"])[-1]["data"]["status"] == "complete"
    assert api.http.patch(f"/api/sessions/{second}", json={"name": "Renamed"}).status_code == 200

    # Claude writes its memory (the user-level CLAUDE.md): the turn's end publishes memory.changed.
    memory = fresh_server.data_dir / "claude" / "CLAUDE.md"
    assert api.turn(second, f'[[write path={memory} content="- likes herons"]]')[0]["status"] == "complete"
    wait_for(api, second, "memory.changed")

    # Claude asks the person a question: the turn waits for the answer (the approval events).
    question = {"questions": [{"question": "Which?", "header": "Pick", "options": [{"label": "A", "description": "a"},
                 {"label": "B", "description": "b"}], "multiSelect": False}]}  # fmt: skip
    asked = api.send(second, f"[[tool name=AskUserQuestion input='{json.dumps(question)}']]")
    wait_for(api, second, "approval.requested", tool_name="AskUserQuestion")
    (pending,) = api.http.get(f"/api/sessions/{second}/approvals?pending=true").json()["approvals"]
    answer = {"decision": "answer", "answers": {"Which?": "A"}}
    assert api.http.post(f"/api/sessions/{second}/approvals/{pending['id']}", json=answer).status_code == 200
    assert api.events_until(second, asked["turn_id"])[-1]["data"]["status"] == "complete"

    deadline = time.monotonic() + 30  # the title comes after the first successful exchange, from its own CLI run
    while api.http.get(f"/api/sessions/{first}").json()["name"] == "hello there" and time.monotonic() < deadline:
        time.sleep(0.2)

    assert api.http.delete(f"/api/sessions/{fork}").status_code == 204  # its log ends with session.deleted

    events = [event for sid in (first, second, fork) for event in all_events(fresh_server, sid)]
    for event in events:
        check(event)
    assert {e["type"] for e in events} == set(EVENT_TYPES)
    statuses = {e["data"]["status"] for e in events if e["type"] == "turn.status"}
    assert statuses == {"queued", "waiting", "running", "complete", "interrupted", "error"}
    outcomes = {e["data"]["outcome"] for e in events if e["type"].startswith("tool.")}
    assert {"pending", "ok", "stopped"} <= outcomes
    names = [e["data"]["session"]["name"] for e in events if e["type"] == "session.updated"]
    assert "Renamed" in names and any(name not in ("", "hello there", "Renamed") for name in names)  # the title


SAMPLES: list[dict[str, Any]] = [
    {
        "seq": 1,
        "at": 1.5,
        "type": "turn.status",
        "data": {"turn_id": "t", "status": "queued", "position": 0, "user_message_id": "u"},
    },
    {
        "seq": 2,
        "at": 1.5,
        "type": "turn.status",
        "data": {"turn_id": "t", "status": "interrupted", "reason": "shutdown", "message_id": "m"},
    },
    {
        "seq": 3,
        "at": 1.5,
        "type": "message.delta",
        "data": {"turn_id": "t", "message_id": "m", "text": "Hi", "received_at": 1.25},
    },
    {
        "seq": 4,
        "at": 1.5,
        "type": "artifact.changed",
        "data": {
            "path": "a.md",
            "session_id": "s",
            "operation": "create",
            "tool": "Write",
            "updated_at": 1.0,
            "turn_id": "t",
        },
    },
]


@pytest.mark.parametrize("event", SAMPLES, ids=[s["type"] for s in SAMPLES])
def test_the_check_takes_each_shape_and_refuses_a_missing_an_unknown_or_a_misspelt_field(event: dict[str, Any]) -> None:
    check(event)
    for key in event["data"]:
        missing = copy.deepcopy(event)
        del missing["data"][key]
        with pytest.raises((ValidationError, AssertionError)):
            check(missing)
        misspelt = copy.deepcopy(event)
        misspelt["data"][key + "s"] = misspelt["data"].pop(key)
        with pytest.raises(ValidationError):
            check(misspelt)
    unknown = copy.deepcopy(event)
    unknown["data"]["extra"] = 1
    with pytest.raises(ValidationError):
        check(unknown)
    wrong_type = {**event, "type": "message.deleted"}
    with pytest.raises(ValidationError):
        check(wrong_type)
