"""A stand-in prompt in which Claude keeps a task list with the Claude Code CLI's task tools, and the model the CLI
offers them to.

This CLI (2.1.x) offers no task-list tool with its default model (claude-opus-5-5): not TodoWrite, not TaskCreate.
It offers TaskCreate, TaskGet, TaskList and TaskUpdate (deferred: their schemas load through ToolSearch) to the
models it lists as needing them (the 4.x ones: claude-sonnet-4-6, claude-opus-4-7, claude-haiku-4-5…), or with
CLAUDE_CODE_ENABLE_TODO_TOOLS=1; TodoWrite only when CLAUDE_CODE_ENABLE_TASKS=0 too (docs/ui.md, "Task lists").
"""

from __future__ import annotations

import json

TASK_MODEL = "claude-sonnet-4-6"
TASK_LIST_TOOLS = frozenset({"TodoWrite", "TaskCreate", "TaskGet", "TaskList", "TaskUpdate"})


def _tool(name: str, **arguments: str) -> str:
    return f"[[tool name={name} input='{json.dumps(arguments)}']]"


def task_prompt(pause_s: float = 0) -> str:
    """Load the task tools, make a list of two, then work through it (`pause_s`: a Bash sleep while each task
    is in progress, so a page sees the list change as the turn runs)."""
    pause = f"[[bash cmd='sleep {pause_s:g}']] " if pause_s else ""
    return (
        "Plan my trip. "
        + _tool("ToolSearch", query="select:TaskCreate,TaskUpdate")
        + " "
        + _tool("TaskCreate", subject="Plan the trip", description="Dates and route", activeForm="Planning the trip")
        + " "
        + _tool("TaskCreate", subject="Book the hotels", description="Two nights each", activeForm="Booking the hotels")
        + " "
        + _tool("TaskUpdate", taskId="1", status="in_progress")
        + " "
        + pause
        + _tool("TaskUpdate", taskId="1", status="completed")
        + " "
        + _tool("TaskUpdate", taskId="2", status="in_progress")
        + " "
        + pause
        + _tool("TaskUpdate", taskId="2", status="completed")
    )
