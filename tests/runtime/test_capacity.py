"""Claude Code processes are bounded by the task's memory; turns beyond the bound wait visibly, none is lost."""

from __future__ import annotations

import time

import psutil

from runtime.agent.capacity import CLI_MEMORY_MIB, RESERVED_MEMORY_MIB, cli_limit, hot_cap
from runtime.settings import Settings
from tests.support.server import BluClient, BluServer


def cli_processes(server: BluServer) -> int:
    assert server.process is not None
    children = psutil.Process(server.process.pid).children(recursive=True)
    return sum(1 for c in children if c.name() == "claude")


def wait_status(api: BluClient, sid: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for event in api.read(sid, wait=2)["events"]:
            if event["type"] == "turn.status" and event["data"]["status"] == status:
                return dict(event["data"])
    raise AssertionError(f"no turn.status {status}")


def test_the_limit_follows_the_task_memory() -> None:
    assert cli_limit(Settings(BLU_TASK_MEMORY_MIB=2048)) == (2048 - RESERVED_MEMORY_MIB) // CLI_MEMORY_MIB  # type: ignore[call-arg]
    assert cli_limit(Settings(BLU_TASK_MEMORY_MIB=2048)) == 6  # type: ignore[call-arg]
    assert cli_limit(Settings(BLU_TASK_MEMORY_MIB=1024)) == 2  # type: ignore[call-arg]
    assert cli_limit(Settings(BLU_TASK_MEMORY_MIB=512)) == 1  # type: ignore[call-arg]  # always one


def test_the_hot_cap_follows_the_task_memory_unless_set() -> None:
    """Hot clients are CLIs: all but one of the slots, so a title or a new session's turn needs no demotion."""
    assert hot_cap(Settings(BLU_TASK_MEMORY_MIB=2048)) == 5  # type: ignore[call-arg]
    assert hot_cap(Settings(BLU_TASK_MEMORY_MIB=4096)) == cli_limit(Settings(BLU_TASK_MEMORY_MIB=4096)) - 1 == 14  # type: ignore[call-arg]
    assert hot_cap(Settings(BLU_TASK_MEMORY_MIB=1024)) == 1  # type: ignore[call-arg]
    assert hot_cap(Settings(BLU_TASK_MEMORY_MIB=512)) == 1  # type: ignore[call-arg]  # always one
    assert hot_cap(Settings(BLU_TASK_MEMORY_MIB=2048, BLU_MAX_HOT_CLIENTS=2)) == 2  # type: ignore[call-arg]


def test_turns_beyond_the_limit_wait_in_a_visible_queue(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_TASK_MEMORY_MIB"] = str(RESERVED_MEMORY_MIB + CLI_MEMORY_MIB)  # room for one CLI
    api = fresh_server.start().client()
    first, second, third = api.new_session(), api.new_session(), api.new_session()
    long_turn = api.send(first, "[[sleep s=60]]")
    wait_status(api, first, "running")
    waiting_turns = [api.send(second, "second [[say text=two]]"), api.send(third, "third [[say text=three]]")]
    for sid in (second, third):
        waiting = wait_status(api, sid, "waiting")
        assert waiting["reason"] == "capacity" and waiting["max_clis"] == 1 and waiting["running_clis"] == 1
    stats = api.http.get("/api/stats").json()
    assert stats["clis"] == {"running": 1, "limit": 1, "waiting": 2}
    assert cli_processes(fresh_server) == 1

    # A waiting turn that is stopped ends at once, unanswered, without ever taking a process.
    assert api.http.post(f"/api/sessions/{third}/interrupt").json() == {"interrupted": True}
    assert api.events_until(third, waiting_turns[1]["turn_id"])[-1]["data"]["status"] == "interrupted"
    assert api.http.get("/api/stats").json()["clis"] == {"running": 1, "limit": 1, "waiting": 1}
    waiting_turns[1] = api.send(third, "third again [[say text=three]]")
    wait_status(api, third, "waiting")

    assert api.http.post(f"/api/sessions/{first}/interrupt").json() == {"interrupted": True}
    api.events_until(first, long_turn["turn_id"])
    for sid, accepted, text in zip((second, third), waiting_turns, ("two", "three"), strict=True):
        status = api.events_until(sid, accepted["turn_id"])[-1]["data"]
        assert status["status"] == "complete"
        assert api.messages(sid)[-1]["text"] == text
        assert cli_processes(fresh_server) <= 1
    # The first session's next turn takes the slot back (the idle client of another is let go).
    status, _ = api.turn(first, "[[recall]]")
    assert status["status"] == "complete" and status["tier"] == "warm"
    assert cli_processes(fresh_server) <= 1
