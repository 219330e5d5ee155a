"""From Claude Code's messages to Blu's events and records: one handler per SDK message type."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    Message,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from core.store.aio import AsyncStore
from core.store.models import ArtifactRecord, ToolCall, to_plain
from runtime.agent.context import reported_window
from runtime.agent.events import DeltaCoalescer, EventHub
from runtime.agent.turns import FILE_TOOLS, RunningTurn, artifact_path, describe_failure

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 2.0


@dataclass
class ClaudeConnection:
    """What one connected client has told Blu so far, kept by the worker across the connection's turns.

    `claude_session_id`: the id last stored on the session (each new one is stored once, at once).
    `cost_baseline`: the Claude session's running cost total (USD) when the current turn began; the
    worker sets it on connect (a resumed transcript's total goes on from what its earlier turns cost)."""

    claude_session_id: str | None = None
    cost_baseline: float = 0.0


class TurnTranslator:
    """Applies one turn's SDK messages to the turn's state (`RunningTurn`), to readers as events
    (`hub.publish`, shapes in docs/protocol.md) and to the store (Claude's session id, artifacts,
    checkpoints of the partial reply). Messages of a subagent (`parent_tool_use_id`) only count usage
    and name the session: they are no part of the reply."""

    def __init__(
        self,
        *,
        session_id: str,
        turn: RunningTurn,
        connection: ClaudeConnection,
        hub: EventHub,
        store: AsyncStore,
        workspace: Path,
    ) -> None:
        self.session_id = session_id
        self.turn = turn
        self.connection = connection
        self.hub = hub
        self.store = store
        self.workspace = workspace
        self.coalescer = DeltaCoalescer(hub.log(session_id))

    async def handle(self, message: Message) -> None:
        """One message of the turn; types Blu has no use for (rate limit notices, …) change nothing."""
        match message:
            case StreamEvent():
                await self.on_stream_event(message)
            case SystemMessage():
                await self.on_system(message)
            case AssistantMessage():
                await self.on_assistant(message)
            case UserMessage():
                await self.on_user(message)
            case ResultMessage():
                await self.on_result(message)

    # -- per message type -----------------------------------------------------------------
    async def on_stream_event(self, message: StreamEvent) -> None:
        """The raw API stream: every model call's usage, and the reply's text as it streams."""
        await self.remember_claude_session(message.session_id)
        self.turn.count_usage(message.event)
        if message.parent_tool_use_id:
            return
        event = message.event
        kind = event.get("type")
        if kind == "message_start":
            start = event.get("message") or {}
            self.turn.note_context(start.get("usage"), start.get("model"))
        if kind == "content_block_start" and event.get("content_block", {}).get("type") == "text":
            self._separate_text_block()
        elif kind == "content_block_delta" and event.get("delta", {}).get("type") == "text_delta":
            await self._stream_text(event["delta"].get("text", ""))

    async def on_system(self, message: SystemMessage) -> None:
        """`init` names Claude's session before anything else of a new connection; `compact_boundary`
        says Claude Code compacted the conversation (`/compact`), with its size after."""
        if message.subtype == "init":
            await self.remember_claude_session(message.data.get("session_id"))
        elif message.subtype == "compact_boundary":
            metadata = message.data.get("compact_metadata") or {}
            before, after = metadata.get("pre_tokens"), metadata.get("post_tokens")
            if isinstance(after, int):
                self.turn.context_tokens = after
            if isinstance(before, int) and isinstance(after, int):
                self.turn.text_blocks.append(f"Compacted the conversation: {before:,} → {after:,} tokens of context.")
            else:
                self.turn.text_blocks.append("Compacted the conversation.")

    async def on_assistant(self, message: AssistantMessage) -> None:
        """A complete assistant message: its text blocks (the reply as stored) and its tool calls."""
        await self.remember_claude_session(message.session_id)
        if message.parent_tool_use_id:
            return
        turn = self.turn
        turn.claude_message_uuid = message.uuid or turn.claude_message_uuid
        if message.error:
            # The CLI's own account of a failed request ("API Error: …", addresses, hints for its
            # users) is no part of the reply: the result's failure becomes Blu's explanation.
            raw = " ".join(block.text for block in message.content if isinstance(block, TextBlock))
            log.warning("Claude Code reported a failed request", extra={"kind": message.error, "cli_text": raw[:2000]})
            return
        turn.note_context(message.usage, message.model)  # also a request the CLI made without streaming
        for block in message.content:
            if isinstance(block, TextBlock):
                turn.text_blocks.append(block.text)
            elif isinstance(block, ToolUseBlock):
                self.tool_call(block)

    async def on_user(self, message: UserMessage) -> None:
        """What the CLI answers a tool call with: the tool's result, and for file tools an artifact."""
        if message.parent_tool_use_id or not isinstance(message.content, list):
            return
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                finished = self.tool_result(block)
                if finished is not None and finished.outcome == "ok" and finished.name in FILE_TOOLS:
                    await self.record_artifact(block.tool_use_id, finished.name, message.tool_use_result)
        await self.checkpoint(force=True)

    async def on_result(self, message: ResultMessage) -> None:
        """The end of the turn: its cost, and Blu's explanation when it failed."""
        await self.remember_claude_session(message.session_id)
        # Tokens come from each call's stream events (an interrupted turn's result reports none);
        # total_cost_usd is a running total for the Claude session, so a turn costs the difference.
        total = float(message.total_cost_usd or 0.0)
        self.turn.cost_usd = max(0.0, total - self.connection.cost_baseline)
        self.connection.cost_baseline = total
        self.turn.context_window = reported_window(message.model_usage, self.turn.context_model)
        if message.is_error and self.turn.stop_reason is None:
            self.turn.error_kind, self.turn.error = describe_failure(message)

    # -- text -----------------------------------------------------------------------------
    def _separate_text_block(self) -> None:
        """A new text block after earlier text starts a new paragraph, in the stream as in the record."""
        turn = self.turn
        if turn.streamed_text and not turn.streamed_text.endswith("\n\n"):
            turn.streamed_text += "\n\n"
            self.coalescer.add(turn_id=turn.request.turn_id, message_id=turn.assistant_message_id, text="\n\n")

    async def _stream_text(self, text: str) -> None:
        turn = self.turn
        if turn.first_token_at is None:
            turn.first_token_at = time.monotonic()
        turn.streamed_text += text
        self.coalescer.add(turn_id=turn.request.turn_id, message_id=turn.assistant_message_id, text=text)
        await self.checkpoint()

    def flush(self) -> None:
        """Send the text gathered so far (before any other event, and at the end of the turn)."""
        self.coalescer.flush()

    # -- tools ----------------------------------------------------------------------------
    def tool_call(self, block: ToolUseBlock) -> ToolCall:
        """A tool call starts: its audit record (pending) and `tool.call`."""
        self.flush()
        call = self.turn.start_tool(block.id, block.name, block.input)
        self.publish_tool("tool.call", call)
        return call

    def tool_result(self, block: ToolResultBlock) -> ToolCall | None:
        """A tool call ends: its audit record's outcome and `tool.result`; None for a call Blu never saw."""
        self.flush()
        finished = self.turn.finish_tool(block.tool_use_id, is_error=bool(block.is_error), content=block.content)
        if finished is not None:
            self.publish_tool("tool.result", finished)
        return finished

    def stop_pending_tools(self) -> None:
        """The turn was stopped: every tool still running ends as `stopped`, each with its `tool.result`."""
        for call in self.turn.stop_pending_tools():
            self.publish_tool("tool.result", call)

    def publish_tool(self, type_: str, call: ToolCall) -> None:
        turn = self.turn
        self.hub.publish(
            self.session_id,
            type_,
            {"turn_id": turn.request.turn_id, "message_id": turn.assistant_message_id, **to_plain(call)},
        )

    async def record_artifact(self, tool_use_id: str, tool: str, tool_use_result: dict[str, Any] | None) -> None:
        """A file tool changed a file in the workspace: its artifact record and `artifact.changed`.
        The path comes from the call's input, else from the CLI's account of the result; a file outside
        the workspace is no artifact."""
        path = artifact_path(self.workspace, self.turn.tool_inputs.get(tool_use_id, {}))
        if path is None and tool_use_result:
            path = artifact_path(self.workspace, {"file_path": tool_use_result.get("filePath")})
        if path is None:
            return
        operation = FILE_TOOLS[tool]
        if tool_use_result and tool_use_result.get("type") in ("create", "update"):
            operation = tool_use_result["type"]
        artifact = ArtifactRecord(path=path, session_id=self.session_id, operation=operation, tool=tool)  # type: ignore[arg-type]
        await self.store.put_artifact(artifact)
        data = {"turn_id": self.turn.request.turn_id, **to_plain(artifact)}
        self.hub.publish(self.session_id, "artifact.changed", data)

    # -- records --------------------------------------------------------------------------
    async def remember_claude_session(self, claude_session_id: str | None) -> None:
        """Store Claude's session id the moment the SDK reports it, so a crash can still resume."""
        if not claude_session_id or claude_session_id == self.connection.claude_session_id:
            return
        self.connection.claude_session_id = claude_session_id
        await self.store.update_session(self.session_id, claude_session_id=claude_session_id)

    async def checkpoint(self, *, force: bool = False) -> None:
        """Save the partial reply now and then, so a killed process loses at most a few seconds of it."""
        turn = self.turn
        now = time.monotonic()
        if not force and now - turn.last_checkpoint < CHECKPOINT_SECONDS:
            return
        turn.last_checkpoint = now
        await self.store.update_message(
            self.session_id,
            turn.assistant_message_id,
            text=turn.text,
            tool_calls=turn.tool_calls(),
            input_tokens=turn.input_tokens,
            output_tokens=turn.output_tokens,
        )
