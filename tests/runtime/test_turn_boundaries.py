"""A turn's output is its own, and only a stall stops it: background commands, long tools, Blu's stops."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.server import BluClient, BluServer

BACKGROUND_SCRIPT = "import pathlib, time\\ntime.sleep(1)\\nprint(42)\\npathlib.Path('bg-done').touch()\\n"


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_output_after_a_result_never_becomes_the_next_reply(blu: BluServer, api: BluClient) -> None:
    # run_in_background is what the CLI does by itself to a Bash command still running after ~120 s:
    # its end arrives later, and the CLI answers it in a turn of its own on the same connection.
    sid = api.new_session()
    first, _ = api.turn(
        sid, f'[[write path=bg.py content="{BACKGROUND_SCRIPT}"]] [[bash background=1 cmd="python3 bg.py"]]'
    )
    assert first["status"] == "complete"
    wait_for(blu.data_dir / "workspace" / "bg-done")
    for n in range(2, 6):
        status, _ = api.turn(sid, f"[[say text=reply-{n}]]")
        assert status["status"] == "complete"
        assert api.messages(sid)[-1]["text"] == f"reply-{n}"
    replies = [m["text"] for m in api.messages(sid) if m["role"] == "assistant"]
    assert replies[1:] == [f"reply-{n}" for n in range(2, 6)]


def test_a_silent_tool_is_work_not_a_stall(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_WATCHDOG_SECONDS"] = "1"
    api = fresh_server.start().client()
    sid = api.new_session()
    script = "import time\\ntime.sleep(3)\\nprint('built')\\n"
    status, events = api.turn(sid, f'[[write path=build.py content="{script}"]] [[bash cmd="python3 build.py"]]')
    assert status["status"] == "complete", status
    result = [e["data"] for e in events if e["type"] == "tool.result"][-1]
    assert result["name"] == "Bash" and result["outcome"] == "ok" and "built" in result["result_summary"]


def test_a_tool_blu_stops_is_recorded_as_blus_stop(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_TURN_TIMEOUT_SECONDS"] = "4"
    api = fresh_server.start().client()
    sid = api.new_session()
    script = "import time\\ntime.sleep(60)\\n"
    status, events = api.turn(sid, f'[[write path=forever.py content="{script}"]] [[bash cmd="python3 forever.py"]]')
    assert status["status"] == "interrupted" and status["reason"] == "timeout"
    bash = [m for m in api.messages(sid) if m["role"] == "assistant"][-1]["tool_calls"][-1]
    assert bash["name"] == "Bash" and bash["outcome"] == "stopped"
    assert bash["result_summary"].startswith("Stopped by Blu") and "4 s" in bash["result_summary"]
    every_result = " ".join(e["data"]["result_summary"] for e in events if e["type"] == "tool.result")
    assert "doesn't want to proceed" not in every_result and "denied" not in every_result
    assert api.turn(sid, "and again")[0]["status"] == "complete"


def test_a_tool_the_person_stops_says_so(api: BluClient) -> None:
    sid = api.new_session()
    script = "import time\\ntime.sleep(60)\\n"
    accepted = api.send(sid, f'[[write path=wait.py content="{script}"]] [[bash cmd="python3 wait.py"]]')
    deadline = time.monotonic() + 60
    while not any(e["type"] == "tool.call" and e["data"]["name"] == "Bash" for e in api.read(sid, wait=2)["events"]):
        assert time.monotonic() < deadline
    assert api.http.post(f"/api/sessions/{sid}/interrupt").json() == {"interrupted": True}
    api.events_until(sid, accepted["turn_id"])
    bash = api.messages(sid)[-1]["tool_calls"][-1]
    assert bash["outcome"] == "stopped" and bash["result_summary"] == "Stopped on request before the tool finished."
