"""Resume, fork and interrupt with the real Claude Code CLI against the stand-in."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ResultError,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    UserMessage,
)

from runtime.standin import StandinServer
from tests.runtime.standin.conftest import project_dir, run_turn, wait_until

pytestmark = pytest.mark.slow

Options = Callable[..., ClaudeAgentOptions]


def result_of(messages: list[Any]) -> ResultMessage:
    assert isinstance(messages[-1], ResultMessage)
    return messages[-1]


def init_session_id(messages: list[Any]) -> str:
    init = messages[0]
    assert isinstance(init, SystemMessage) and init.subtype == "init"
    return str(init.data["session_id"])


async def test_resume_sees_the_previous_turns_and_fork_gets_a_new_id(
    make_options: Options, claude_env: dict[str, str], workdir: Path
) -> None:
    async with ClaudeSDKClient(make_options()) as client:
        first = await run_turn(client, "remember the blue door")
        await run_turn(client, "and the red key")
    session_id = result_of(first).session_id
    transcripts = project_dir(claude_env["CLAUDE_CONFIG_DIR"], str(workdir))
    original = transcripts / f"{session_id}.jsonl"
    assert [p.name for p in transcripts.glob("*.jsonl")] == [original.name]

    async with ClaudeSDKClient(make_options(resume=session_id)) as client:
        resumed = await run_turn(client, "[[recall]]")
    assert result_of(resumed).result == "Recall: 3 user turns; first prompt: remember the blue door"
    assert init_session_id(resumed) == result_of(resumed).session_id == session_id  # resume keeps the id
    lines_before_fork = original.read_text().count("\n")

    async with ClaudeSDKClient(make_options(resume=session_id, fork_session=True)) as client:
        forked = await run_turn(client, "[[recall]]")
    fork_id = result_of(forked).session_id
    assert fork_id != session_id and init_session_id(forked) == fork_id  # the fork's id is known from init on
    assert result_of(forked).result == "Recall: 4 user turns; first prompt: remember the blue door"
    assert (transcripts / f"{fork_id}.jsonl").exists()
    assert original.read_text().count("\n") == lines_before_fork  # the fork leaves the original alone


async def test_total_cost_is_cumulative_per_session_and_survives_resume(make_options: Options) -> None:
    async with ClaudeSDKClient(make_options()) as client:
        one = result_of(await run_turn(client, "one"))
        two = result_of(await run_turn(client, "two"))
    async with ClaudeSDKClient(make_options(resume=one.session_id)) as client:
        three = result_of(await run_turn(client, "three"))
    assert one.total_cost_usd and two.total_cost_usd and three.total_cost_usd
    assert one.total_cost_usd < two.total_cost_usd < three.total_cost_usd  # usage, by contrast, is per turn
    assert two.usage and one.usage and two.usage["input_tokens"] < 2 * one.usage["input_tokens"]


async def test_interrupt_ends_a_slow_turn_at_once_and_the_client_answers_next(
    make_options: Options, standin: StandinServer
) -> None:
    async with ClaudeSDKClient(make_options(include_partial_messages=True)) as client:
        await client.query("wait for it [[sleep s=30]]")
        seen: list[Any] = []
        async with asyncio.timeout(20):
            async for message in client.receive_messages():
                seen.append(message)
                if isinstance(message, StreamEvent) and message.event["type"] == "message_start":
                    break  # the model is now "thinking" for 30 s
            started = time.monotonic()
            await client.interrupt()
            interrupt_s = time.monotonic() - started
            async for message in client.receive_response():
                seen.append(message)
        ended_s = time.monotonic() - started
        result = result_of(seen)
        assert interrupt_s < 1 and ended_s < 2
        assert result.result is None
        assert (result.subtype, result.is_error, result.terminal_reason) == (
            "error_during_execution",
            True,
            "aborted_streaming",
        )
        notices = [m for m in seen if isinstance(m, UserMessage)]
        assert notices and notices[0].content == [TextBlock(text="[Request interrupted by user]")]
        closed = await asyncio.to_thread(wait_until, lambda: standin.messages_requests()[0].outcome == "disconnected")
        assert closed  # the CLI closed the HTTP stream

        after = await run_turn(client, "[[recall]]")
    assert result_of(after).result == "Recall: 2 user turns; first prompt: wait for it [[sleep s=30]]"
    assert result_of(after).session_id == result.session_id


async def test_a_chosen_session_id_is_used_and_an_unknown_resume_fails_at_connect(make_options: Options) -> None:
    chosen = str(uuid.uuid4())
    async with ClaudeSDKClient(make_options(session_id=chosen)) as client:
        messages = await run_turn(client, "hi")
        again = await run_turn(client, "again")
    assert init_session_id(messages) == result_of(messages).session_id == chosen
    assert init_session_id(again) == chosen  # every turn starts with a fresh init message
    async with ClaudeSDKClient(make_options(resume=chosen)) as client:
        assert result_of(await run_turn(client, "[[recall]]")).result == "Recall: 3 user turns; first prompt: hi"

    with pytest.raises(ResultError, match="No conversation found with session ID"):
        await ClaudeSDKClient(make_options(resume=str(uuid.uuid4()))).connect()
