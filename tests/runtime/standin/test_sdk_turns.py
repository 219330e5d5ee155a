"""Text and tool turns through the real Claude Code CLI (claude_agent_sdk) against the stand-in."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookContext,
    HookInput,
    HookJSONOutput,
    HookMatcher,
    PermissionResultAllow,
    ProcessError,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ToolPermissionContext,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    query,
)

from runtime.standin import StandinServer
from tests.runtime.standin.conftest import project_dir, run_turn

pytestmark = pytest.mark.slow

Options = Callable[..., ClaudeAgentOptions]


def result_of(messages: list[Any]) -> ResultMessage:
    assert isinstance(messages[-1], ResultMessage)
    return messages[-1]


async def test_text_turn_streams_deltas_and_reports_usage(make_options: Options, standin: StandinServer) -> None:
    async with ClaudeSDKClient(make_options(include_partial_messages=True)) as client:
        messages = await run_turn(client, "hello there friend")
    init = messages[0]
    assert isinstance(init, SystemMessage) and init.subtype == "init"  # the first message names the session
    result = result_of(messages)
    assert init.data["session_id"] == result.session_id and init.data["cwd"] == str(standin.requests[0].cwd)
    events = [m.event for m in messages if isinstance(m, StreamEvent)]
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # the stand-in's `ping` is not forwarded
    deltas = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    (answer,) = [m for m in messages if isinstance(m, AssistantMessage)]
    assert deltas == "Echo: hello there friend" == answer.content[0].text == result.result  # type: ignore[union-attr]
    assert answer.session_id == result.session_id and answer.model == "claude-opus-5-5"
    assert (result.subtype, result.is_error, result.num_turns, result.stop_reason) == ("success", False, 1, "end_turn")
    assert result.usage is not None and result.usage["input_tokens"] > 0 and result.usage["output_tokens"] > 0
    assert result.total_cost_usd is not None and result.total_cost_usd > 0
    assert result.terminal_reason == "completed"
    # Offline, the CLI calls nothing but the streaming Messages endpoint.
    assert [(r.method, r.path, r.query, r.stream) for r in standin.requests] == [
        ("POST", "/v1/messages", "beta=true", True)
    ]


async def test_write_runs_in_cwd_fires_post_tool_use_and_the_hot_client_answers_again(
    make_options: Options, workdir: Path, claude_env: dict[str, str]
) -> None:
    hook_calls: list[tuple[dict[str, Any], str | None, HookContext]] = []

    async def on_tool(hook_input: HookInput, tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
        hook_calls.append((dict(hook_input), tool_use_id, context))
        return {}

    options = make_options(hooks={"PostToolUse": [HookMatcher(matcher="Write|Edit", hooks=[on_tool])]})
    async with ClaudeSDKClient(options) as client:
        messages = await run_turn(client, 'make notes [[write path=notes/a.txt content="hello world"]]')
        target = workdir / "notes" / "a.txt"
        assert target.read_text() == "hello world"
        uses = [
            b for m in messages if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, ToolUseBlock)
        ]
        assert [(u.name, u.input) for u in uses] == [("Write", {"file_path": str(target), "content": "hello world"})]
        (tool_message,) = [m for m in messages if isinstance(m, UserMessage)]
        assert isinstance(tool_message.content[0], ToolResultBlock)
        assert tool_message.content[0].tool_use_id == uses[0].id and not tool_message.content[0].is_error
        assert tool_message.tool_use_result == {
            "type": "create",
            "filePath": str(target),
            "content": "hello world",
            "structuredPatch": [],
            "originalFile": None,
            "userModified": False,
        }
        result = result_of(messages)
        assert (result.result, result.num_turns, result.is_error) == ("Wrote notes/a.txt.", 2, False)

        hook_input, tool_use_id, _context = hook_calls[0]
        assert tool_use_id == uses[0].id == hook_input["tool_use_id"]
        assert set(hook_input) == {
            "session_id",
            "transcript_path",
            "cwd",
            "prompt_id",
            "permission_mode",
            "effort",
            "hook_event_name",
            "tool_name",
            "tool_input",
            "tool_response",
            "tool_use_id",
            "duration_ms",
        }
        assert hook_input["hook_event_name"] == "PostToolUse" and hook_input["tool_name"] == "Write"
        assert hook_input["tool_response"] == tool_message.tool_use_result
        assert hook_input["session_id"] == result.session_id and hook_input["cwd"] == str(workdir)
        transcript = project_dir(claude_env["CLAUDE_CONFIG_DIR"], str(workdir)) / f"{result.session_id}.jsonl"
        assert hook_input["transcript_path"] == str(transcript) and transcript.exists()

        # Same connected client, second turn: Edit (the stand-in reads the file first, as Claude Code requires).
        again = await run_turn(client, "[[edit path=notes/a.txt old=world new=there]]")
    assert target.read_text() == "hello there"
    read_result, edit_result = [m.tool_use_result for m in again if isinstance(m, UserMessage)]
    assert read_result is not None and read_result["type"] == "text"  # Read: {"type": "text", "file": {...}}
    assert edit_result is not None and "type" not in edit_result  # Edit's result has no "type"
    assert (edit_result["filePath"], edit_result["oldString"], edit_result["newString"]) == (
        str(target),
        "world",
        "there",
    )
    assert result_of(again).result == "Edited notes/a.txt." and result_of(again).session_id == result.session_id
    assert [call[0]["tool_name"] for call in hook_calls] == ["Write", "Edit"]  # the matcher left out Read


async def test_bash_as_root_needs_allowed_tools_or_can_use_tool(make_options: Options) -> None:
    prompt = "[[bash cmd='python3 -c \"print(6*7)\"']]"
    async with ClaudeSDKClient(make_options()) as client:  # acceptEdits alone
        denied = await run_turn(client, prompt)
    assert result_of(denied).result == "Bash failed: This command requires approval"

    async with ClaudeSDKClient(make_options(allowed_tools=["Bash"])) as client:
        allowed = await run_turn(client, prompt)
    assert result_of(allowed).result == 'Ran `python3 -c "print(6*7)"`: 42'

    asked: list[str] = []

    async def can_use_tool(name: str, tool_input: dict[str, Any], context: ToolPermissionContext) -> Any:
        asked.append(name)
        return PermissionResultAllow()

    options = make_options(permission_mode="default", can_use_tool=can_use_tool)
    async with ClaudeSDKClient(options) as client:
        called = await run_turn(client, prompt + " [[write path=b.txt content=x]]")
    assert asked == ["Bash", "Write"]
    assert result_of(called).result == 'Ran `python3 -c "print(6*7)"`: 42\nWrote b.txt.'


async def test_default_permission_mode_denies_write_without_a_callback(make_options: Options, workdir: Path) -> None:
    async with ClaudeSDKClient(make_options(permission_mode="default")) as client:
        messages = await run_turn(client, "[[write path=a.txt content=x]]")
    denial = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "permission_denied"]
    assert denial and denial[0].data["tool_name"] == "Write"
    assert result_of(messages).result.startswith("Write failed: Claude requested permissions")  # type: ignore[union-attr]
    assert not (workdir / "a.txt").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal only happens as root")
async def test_bypass_permissions_is_refused_as_root(make_options: Options) -> None:
    with pytest.raises(ProcessError):
        async with ClaudeSDKClient(make_options(permission_mode="bypassPermissions")):
            pass


async def test_one_shot_title_query(make_options: Options, standin: StandinServer) -> None:
    prompt = "Title: write a 3-6 word title for this conversation.\nUser: plan a trip to Lisbon in spring"
    options = make_options(max_turns=1, tools=[], model="claude-haiku-4-5")
    messages = [m async for m in query(prompt=prompt, options=options)]
    assert result_of(messages).result == "Plan Trip Lisbon Spring"
    assert [(r.kind, r.model) for r in standin.messages_requests()] == [("title", "claude-haiku-4-5")]
    assert isinstance(messages[-2], AssistantMessage) and isinstance(messages[-2].content[0], TextBlock)


async def test_hooks_run_before_the_tool_result_is_yielded(make_options: Options) -> None:
    order: list[str] = []

    async def note(hook_input: HookInput, tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
        order.append(hook_input["hook_event_name"])
        return {}

    hooks = {event: [HookMatcher(hooks=[note])] for event in ("PreToolUse", "PostToolUse", "Stop")}
    async with ClaudeSDKClient(make_options(hooks=hooks)) as client:
        await client.query("[[write path=x.txt content=hi]]")
        async for message in client.receive_response():
            order.append(type(message).__name__)
    assert order == [
        "SystemMessage",
        "AssistantMessage",  # "Using Write."
        "AssistantMessage",  # the tool_use
        "PreToolUse",
        "PostToolUse",
        "UserMessage",  # the tool_result
        "AssistantMessage",
        "Stop",
        "ResultMessage",
    ]
