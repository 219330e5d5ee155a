"""Which task-list tool the real Claude Code CLI offers Blu's sessions (read from the tools it sends the stand-in
model), and that the ones it offers answer as the UI's checklist reads them (web/src/tools.ts, taskLists).

The first test is a tripwire: when a CLI upgrade starts offering a task-list tool with the default model, the
browser test of the checklist (tests/web/test_tool_cards.py) should run with the default model too."""

from __future__ import annotations

from pathlib import Path

from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.server import BluClient, BluServer
from tests.support.tasks import TASK_LIST_TOOLS, TASK_MODEL, task_prompt


def offered(model: StandinServer, marker: str) -> list[str]:
    request = next(r for r in model.messages_requests() if r.prompt and marker in r.prompt)
    return request.tools


def test_the_default_model_is_offered_no_task_list_tool(api: BluClient, model: StandinServer) -> None:
    sid = api.new_session()
    assert api.turn(sid, "which tools? [[say text=ok]] default-model-tools")[0]["status"] == "complete"
    tools = offered(model, "default-model-tools")
    assert {"Bash", "Read", "Write", "Edit", "ToolSearch"} <= set(tools), tools
    assert not TASK_LIST_TOOLS & set(tools), tools
    assert "TaskStop" in tools  # stops a background task: no checklist


def test_a_model_offered_the_task_tools_keeps_a_list_the_ui_can_read(model: StandinServer, tmp_path: Path) -> None:
    server = BluServer(tmp_path / "data", env={**model_env(model), "BLU_MODEL": TASK_MODEL}).start()
    try:
        api = server.client()
        sid = api.new_session()
        status, events = api.turn(sid, task_prompt())
        assert status["status"] == "complete"
        tools = offered(model, "Plan my trip.")
        assert {"TaskCreate", "TaskGet", "TaskList", "TaskUpdate"} <= set(tools) and "TodoWrite" not in tools, tools
        results = [(e["data"]["name"], e["data"]["outcome"], e["data"]["result_summary"]) for e in events
                   if e["type"] == "tool.result"]  # fmt: skip
        assert results[1:3] == [
            ("TaskCreate", "ok", "Task #1 created successfully: Plan the trip"),  # the id taskLists reads
            ("TaskCreate", "ok", "Task #2 created successfully: Book the hotels"),
        ]
        assert [r[:2] for r in results[3:]] == [("TaskUpdate", "ok")] * 4
        # The stored reply holds the calls with their inputs, as the UI rebuilds the list after a reload.
        reply = api.messages(sid)[-1]
        updates = [c["input_summary"] for c in reply["tool_calls"] if c["name"] == "TaskUpdate"]
        assert '"taskId": "2"' in updates[-1] and '"status": "completed"' in updates[-1]
    finally:
        server.stop()
