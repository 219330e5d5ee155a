"""An in-memory Claude client for the worker's seam: scripted SDK message objects, no CLI, no network."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ContentBlock,
    Message,
    PermissionResult,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ToolPermissionContext,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

CLAUDE_SESSION = "5f0c7d0e-0000-4000-8000-000000000001"
MODEL = "claude-test"


class Hang:
    """In a script: Claude Code goes quiet here; what follows is sent when the turn is interrupted."""


HANG = Hang()


@dataclass(frozen=True)
class Quiet:
    """In a script: Claude Code sends nothing for this long (s), then goes on."""

    seconds: float


@dataclass(frozen=True)
class Ask:
    """In a script: Claude Code asks `can_use_tool` about a call and waits for the answer, as the CLI does
    before it runs a tool; `then(answer)` is what it sends next (the tool's result, or its refusal)."""

    tool_use_id: str
    name: str
    input: dict[str, Any]
    then: Callable[[PermissionResult], list[Any]]


Item = Message | Hang | Quiet | Ask | BaseException  # an exception is raised by receive_messages (the CLI broke off)
Script = Callable[[str], list[Item]]  # the prompt's uuid -> what Claude Code sends back for it


class FakeClaude:
    """A `ClientFactory`: every client it makes answers each prompt with the next script of `scripts`,
    shared by all its clients in order. Keeps the clients and their options for the test to look at."""

    def __init__(self) -> None:
        self.scripts: deque[Script] = deque()
        self.clients: list[FakeClient] = []
        self.connect_error: BaseException | None = None

    def __call__(self, options: ClaudeAgentOptions) -> FakeClient:
        client = FakeClient(self, options)
        self.clients.append(client)
        return client

    def answer(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)


class FakeClient:
    """What the worker sees of `ClaudeSDKClient`: one stream of messages over the connection's turns."""

    def __init__(self, claude: FakeClaude, options: ClaudeAgentOptions) -> None:
        self.claude = claude
        self.options = options
        self.prompts: list[dict[str, Any]] = []
        self.connected = False
        self.gone = asyncio.Event()  # set by disconnect
        self.interrupts = 0
        self._inbox: asyncio.Queue[Item] = asyncio.Queue()
        self._after_interrupt: list[Item] = []
        self.permissions: list[tuple[str, PermissionResult]] = []  # (tool_use_id, what can_use_tool said)

    async def connect(self) -> None:
        if self.claude.connect_error is not None:
            raise self.claude.connect_error
        self.connected = True

    async def query(self, prompt: AsyncIterable[dict[str, Any]]) -> None:
        async for message in prompt:
            self.prompts.append(message)
        script = self.claude.scripts.popleft()(self.prompts[-1]["uuid"])
        now = script
        if HANG in script:
            at = script.index(HANG)
            now, self._after_interrupt = script[:at], script[at + 1 :]
        for item in now:
            self._inbox.put_nowait(item)

    async def receive_messages(self) -> AsyncIterator[Message]:
        front: deque[Item] = deque()  # what an answered Ask sends next, before anything queued
        while True:
            item = front.popleft() if front else await self._inbox.get()
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Quiet):
                await asyncio.sleep(item.seconds)
                continue
            if isinstance(item, Ask):
                assert self.options.can_use_tool is not None
                context = ToolPermissionContext(tool_use_id=item.tool_use_id)
                answer = await self.options.can_use_tool(item.name, item.input, context)
                self.permissions.append((item.tool_use_id, answer))
                front.extend(item.then(answer))
                continue
            assert not isinstance(item, Hang)
            yield item

    async def interrupt(self) -> None:
        self.interrupts += 1
        later, self._after_interrupt = self._after_interrupt, []
        for item in later:
            self._inbox.put_nowait(item)

    async def disconnect(self) -> None:
        self.gone.set()

    @property
    def disconnected(self) -> bool:
        return self.gone.is_set()


# -- SDK messages as the CLI sends them ---------------------------------------------------
def init(session_id: str = CLAUDE_SESSION) -> SystemMessage:
    return SystemMessage(
        subtype="init", data={"type": "system", "subtype": "init", "session_id": session_id, "model": MODEL}
    )


def stream(
    prompt: str | None, event: dict[str, Any], *, parent: str | None = None, session_id: str = CLAUDE_SESSION
) -> StreamEvent:
    return StreamEvent(
        uuid=str(uuid.uuid4()),
        session_id=session_id,
        event=event,
        parent_tool_use_id=parent,
        user_message_uuid=prompt,
    )


def model_call(
    prompt: str | None,
    *texts: str,
    tools: tuple[ToolUseBlock, ...] = (),
    input_tokens: int = 10,
    cached_tokens: int = 0,
    output_tokens: int = 5,
    parent: str | None = None,
    session_id: str = CLAUDE_SESSION,
) -> list[StreamEvent]:
    """The stream events of one model call: a text block streamed as `texts` (none without), then `tools`."""
    usage = {"input_tokens": input_tokens, "cache_read_input_tokens": cached_tokens, "output_tokens": 1}

    def event(data: dict[str, Any]) -> StreamEvent:
        return stream(prompt, data, parent=parent, session_id=session_id)

    blocks: list[StreamEvent] = []
    if texts:
        blocks.append(event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
        blocks.extend(
            event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
            for text in texts
        )
        blocks.append(event({"type": "content_block_stop", "index": 0}))
    for index, tool in enumerate(tools, start=len(blocks) and 1):
        start = {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(tool.input)}
        blocks.append(event({"type": "content_block_start", "index": index, "content_block": start}))
        blocks.append(event({"type": "content_block_delta", "index": index, "delta": delta}))
        blocks.append(event({"type": "content_block_stop", "index": index}))
    return [
        event({"type": "message_start", "message": {"model": MODEL, "usage": usage}}),
        *blocks,
        event(
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output_tokens}}
        ),
        event({"type": "message_stop"}),
    ]


def calls(prompt: str | None, *tools: ToolUseBlock, text: str = "", parent: str | None = None) -> list[Item]:
    """A model call that says `text` (if any) and calls `tools`: its stream events, then its message."""
    texts = (text,) if text else ()
    return [*model_call(prompt, *texts, tools=tools, parent=parent), said(*texts, *tools, parent=parent)]


def said(
    *blocks: ContentBlock | str,
    parent: str | None = None,
    error: Any = None,
    message_uuid: str | None = None,
    session_id: str = CLAUDE_SESSION,
) -> AssistantMessage:
    """A complete assistant message (a str is a text block)."""
    content = [TextBlock(block) if isinstance(block, str) else block for block in blocks]
    return AssistantMessage(
        content=content,
        model=MODEL,
        parent_tool_use_id=parent,
        error=error,
        session_id=session_id,
        uuid=message_uuid or str(uuid.uuid4()),
    )


def tool_use(tool_use_id: str, name: str, **tool_input: Any) -> ToolUseBlock:
    return ToolUseBlock(id=tool_use_id, name=name, input=tool_input)


def tool_result(
    tool_use_id: str,
    content: str,
    *,
    is_error: bool = False,
    tool_use_result: dict[str, Any] | None = None,
    parent: str | None = None,
) -> UserMessage:
    return UserMessage(
        content=[ToolResultBlock(tool_use_id=tool_use_id, content=content, is_error=is_error)],
        uuid=str(uuid.uuid4()),
        parent_tool_use_id=parent,
        tool_use_result=tool_use_result,
    )


def result(
    prompt: str | None,
    total_cost_usd: float,
    *,
    text: str = "",
    is_error: bool = False,
    subtype: str = "success",
    errors: list[str] | None = None,
    api_error_status: int | None = None,
    origin: Any = None,
    session_id: str = CLAUDE_SESSION,
) -> ResultMessage:
    """The end of a turn; `total_cost_usd` is the Claude session's running total, as the CLI reports it."""
    return ResultMessage(
        subtype=subtype,
        duration_ms=10,
        duration_api_ms=8,
        is_error=is_error,
        num_turns=1,
        session_id=session_id,
        total_cost_usd=total_cost_usd,
        result=text,
        errors=errors,
        api_error_status=api_error_status,
        origin=origin,
        user_message_uuid=prompt,
    )


def interrupted(prompt: str | None, total_cost_usd: float) -> ResultMessage:
    """What the CLI ends an interrupted turn with."""
    return result(prompt, total_cost_usd, is_error=True, subtype="error_during_execution")


def text_turn(
    *texts: str, total_cost_usd: float = 0.01, input_tokens: int = 10, cached_tokens: int = 0, output_tokens: int = 5
) -> Script:
    """A plain reply: init, one streamed model call, the complete message, the result."""

    def script(prompt: str) -> list[Item]:
        return [
            init(),
            *model_call(
                prompt, *texts, input_tokens=input_tokens, cached_tokens=cached_tokens, output_tokens=output_tokens
            ),
            said("".join(texts)),
            result(prompt, total_cost_usd, text="".join(texts)),
        ]

    return script
