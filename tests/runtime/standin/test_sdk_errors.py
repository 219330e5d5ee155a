"""How API failures reach the SDK: error results on a connected client, ResultError from one-shot query()."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ResultError,
    ResultMessage,
    SystemMessage,
    query,
)

from runtime.standin import StandinServer
from tests.runtime.standin.conftest import run_turn

pytestmark = pytest.mark.slow

Options = Callable[..., ClaudeAgentOptions]


async def timed_turn(options: ClaudeAgentOptions, prompt: str) -> tuple[list[Any], float]:
    async with ClaudeSDKClient(options) as client:
        started = time.monotonic()
        messages = await run_turn(client, prompt)
        took = time.monotonic() - started
    return messages, took


@pytest.mark.parametrize(
    ("prompt", "status", "error", "text"),
    [
        ("[[error status=529]]", 529, "server_error", "API Error: 529 Overloaded."),
        ("[[error status=500]]", 500, "server_error", "API Error: 500 Internal server error."),
        ("[[error status=401]]", 401, "authentication_failed", "Invalid API key · Fix external API key"),
    ],
)
async def test_api_errors_end_in_an_error_result_quickly_without_retries(
    make_options: Options, standin: StandinServer, prompt: str, status: int, error: str, text: str
) -> None:
    messages, took = await timed_turn(make_options(), prompt)  # CLAUDE_CODE_MAX_RETRIES=0
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert (result.subtype, result.is_error, result.api_error_status) == ("success", True, status)
    assert result.terminal_reason == "api_error" and result.total_cost_usd == 0
    assert result.result is not None and result.result.startswith(text)
    (synthetic,) = [m for m in messages if isinstance(m, AssistantMessage)]
    assert (synthetic.model, synthetic.error) == ("<synthetic>", error)
    assert len(standin.messages_requests()) == 1 and took < 3


async def test_each_retry_is_reported_and_backs_off(make_options: Options, standin: StandinServer) -> None:
    messages, took = await timed_turn(make_options(env={"CLAUDE_CODE_MAX_RETRIES": "2"}), "[[error status=529]]")
    retries = [m.data for m in messages if isinstance(m, SystemMessage) and m.subtype == "api_retry"]
    assert [(r["attempt"], r["max_retries"], r["error_status"], r["error"]) for r in retries] == [
        (1, 2, 529, "overloaded"),
        (2, 2, 529, "overloaded"),
    ]
    assert all(r["retry_delay_ms"] > 0 for r in retries)
    assert len(standin.messages_requests()) == 3 and 1.0 < took < 6  # about 0.5 s, then about 1 s


async def test_a_retry_that_succeeds_gives_a_normal_result(make_options: Options) -> None:
    messages, _ = await timed_turn(
        make_options(env={"CLAUDE_CODE_MAX_RETRIES": "1"}), "hi [[error status=529 times=1]]"
    )
    result = messages[-1]
    assert isinstance(result, ResultMessage) and not result.is_error
    assert result.result == "Echo: hi [[error status=529 times=1]]"


async def test_rejected_api_key_and_bearer_token(make_options: Options, standin: StandinServer) -> None:
    messages, _ = await timed_turn(make_options(env={"ANTHROPIC_API_KEY": "sk-invalid"}), "hi")
    assert isinstance(messages[-1], ResultMessage) and messages[-1].api_error_status == 401
    # CLAUDE_CODE_OAUTH_TOKEN is sent as a Bearer token (and makes the CLI pick a subscription's default model).
    env = {"ANTHROPIC_API_KEY": "", "CLAUDE_CODE_OAUTH_TOKEN": "standin-oauth-token"}
    messages, _ = await timed_turn(make_options(env=env), "hi")
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "Echo: hi"
    assert [r.auth for r in standin.messages_requests()] == ["x-api-key", "bearer"]


async def test_no_credentials_means_not_logged_in(make_options: Options, standin: StandinServer) -> None:
    messages, took = await timed_turn(make_options(env={"ANTHROPIC_API_KEY": ""}), "hi")
    result = messages[-1]
    assert isinstance(result, ResultMessage) and result.is_error
    assert result.result == "Not logged in · Please run /login" and result.subtype == "success"
    assert result.api_error_status is None
    (synthetic,) = [m for m in messages if isinstance(m, AssistantMessage)]
    assert (synthetic.model, synthetic.error) == ("<synthetic>", "authentication_failed")
    assert standin.messages_requests() == [] and took < 3  # the CLI never calls the API


async def test_dropped_stream_falls_back_to_a_non_streaming_request(
    make_options: Options, standin: StandinServer
) -> None:
    messages, _ = await timed_turn(make_options(include_partial_messages=True), "one two three four [[drop]]")
    result = messages[-1]
    assert isinstance(result, ResultMessage) and not result.is_error
    assert result.result == "Echo: one two three four [[drop]]"
    assert [(r.stream, r.outcome) for r in standin.messages_requests()] == [(True, "dropped"), (False, "ok")]


async def test_one_shot_query_yields_the_error_result_then_raises(make_options: Options) -> None:
    seen: list[Any] = []
    with pytest.raises(ResultError) as raised:
        async for message in query(prompt="[[error status=529]]", options=make_options(max_turns=1)):
            seen.append(message)
    assert isinstance(seen[-1], ResultMessage) and seen[-1].is_error
    assert (raised.value.subtype, raised.value.terminal_reason, raised.value.api_error_status) == (
        "success",
        "api_error",
        529,
    )
