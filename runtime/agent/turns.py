"""What one turn is made of while it runs, and how its parts become records and events."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.store.models import MAX_TOOL_FIELD_BYTES, Channel, MessageState, ToolCall, truncate_text

if TYPE_CHECKING:
    from claude_agent_sdk import ResultMessage

log = logging.getLogger(__name__)

FILE_TOOLS = {"Write": "create", "Edit": "update", "MultiEdit": "update", "NotebookEdit": "update"}


class Tier(StrEnum):
    """How a turn got its Claude client: already connected, resumed from a transcript, or new."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


@dataclass(frozen=True)
class TurnRequest:
    """A person's message waiting for its turn in the session's queue."""

    session_id: str
    turn_id: str
    user_message_id: str
    text: str
    channel: Channel
    # Sent with the prompt: the CLI names the prompt's transcript entry by it and marks the stream events
    # and result of the turn that took it in, so a turn reads only its own output.
    prompt_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Sent by a person (True) or by a schedule (False): a scheduled run is announced by its own notification.
    user_action: bool = True
    # The message's attachments (workspace path → image media type or "file"), read when the turn starts.
    attachments: dict[str, str] = field(default_factory=dict)
    # The id the reply gets, when it was chosen before the turn (Regenerate links the earlier version to it);
    # None: the worker picks one when the turn starts.
    reply_id: str | None = None


@dataclass
class RunningTurn:
    """The mutable state of the turn a worker is running; turned into the assistant message at the end."""

    request: TurnRequest
    assistant_message_id: str
    started_at: float = field(default_factory=time.monotonic)
    tier: Tier | None = None
    connect_seconds: float = 0.0
    first_token_at: float | None = None
    streamed_text: str = ""
    text_blocks: list[str] = field(default_factory=list)
    tools: dict[str, ToolCall] = field(default_factory=dict)
    tool_started: dict[str, float] = field(default_factory=dict)
    tool_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    claude_message_uuid: str | None = None
    cost_usd: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    stop_reason: str | None = None  # set when the turn was stopped: interrupted / timeout / stalled / shutdown
    # Tokens of the model calls finished so far, and of the call streaming now (from its stream events).
    done_input_tokens: int = 0
    done_output_tokens: int = 0
    call_input_tokens: int = 0
    call_output_tokens: int = 0
    last_checkpoint: float = field(default_factory=time.monotonic)
    # Tool calls decided by Blu's policy or a person (tool_use_id -> "allowed by person", ...): the
    # decision can come before or after the call's own record, so it is kept here and merged.
    decisions: dict[str, str] = field(default_factory=dict)
    # Approvals this turn waits for (id -> when the wait began, monotonic) and the time spent waiting
    # on ones already answered: waiting is not running, so neither counts against the turn's limits.
    waiting_since: dict[str, float] = field(default_factory=dict)
    waited_seconds: float = 0.0
    # The context meter: what the last main-thread request carried (input + cache reads + writes), its
    # model, and the window Claude Code reported for that model (from the result).
    context_tokens: int | None = None
    context_model: str | None = None
    context_window: int | None = None

    @property
    def text(self) -> str:
        """The reply so far: the complete text blocks when Claude sent them, else what streamed."""
        return "\n\n".join(block for block in self.text_blocks if block) or self.streamed_text

    @property
    def state(self) -> MessageState:
        if self.stop_reason:
            return "interrupted"
        if self.error:
            return "error"
        return "complete"

    def first_token_seconds(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started_at

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(self.tools.values())

    @property
    def tool_pending(self) -> bool:
        """A tool is running: its silence is work, not a stall."""
        return any(call.outcome == "pending" for call in self.tools.values())

    def count_usage(self, event: dict[str, Any]) -> None:
        """Add one model call's usage from its stream events: input at message_start, output at
        message_delta. Works for turns that end without a result (interrupted, killed). The Messages API
        knows a call's output only at its end: message_start's figure is a placeholder (1), and when a call
        is stopped the CLI sends a message_delta of its own with no `stop_reason` that repeats it. Neither
        counts, so a stopped call adds no output rather than a made-up figure."""
        kind = event.get("type")
        if kind == "message_start":
            self.done_input_tokens += self.call_input_tokens
            self.done_output_tokens += self.call_output_tokens
            usage = event.get("message", {}).get("usage") or {}
            self.call_input_tokens = input_tokens(usage)
            self.call_output_tokens = 0
        elif kind == "message_delta" and (event.get("delta") or {}).get("stop_reason"):
            usage = event.get("usage") or {}
            self.call_output_tokens = max(self.call_output_tokens, int(usage.get("output_tokens") or 0))

    def note_context(self, usage: dict[str, Any] | None, model: str | None) -> None:
        """A main-thread request's usage: the context the model was sent, last request wins."""
        if usage:
            self.context_tokens = input_tokens(usage)
            self.context_model = model or self.context_model

    @property
    def input_tokens(self) -> int:
        """Input tokens (cached ones included) of every model call of the turn."""
        return self.done_input_tokens + self.call_input_tokens

    @property
    def output_tokens(self) -> int:
        return self.done_output_tokens + self.call_output_tokens

    def stopped_by(self) -> str:
        """Who stopped the turn, for the tool calls it cut short."""
        if self.stop_reason == "interrupted":
            return "Stopped on request before the tool finished."
        return f"Stopped by Blu before the tool finished: {self.error or 'the turn was ended.'}"

    def stop_pending_tools(self) -> list[ToolCall]:
        """Mark tools still running when the turn was stopped; returns them."""
        stopped = []
        for tool_use_id, call in list(self.tools.items()):
            if call.outcome == "pending":
                stopped.append(self.finish_tool(tool_use_id, is_error=True, content=""))
        return [call for call in stopped if call is not None]

    @property
    def waiting_for_person(self) -> bool:
        return bool(self.waiting_since)

    def waited(self, now: float) -> float:
        """Seconds this turn has spent waiting for a person so far (ongoing waits included)."""
        ongoing = min(self.waiting_since.values()) if self.waiting_since else now
        return self.waited_seconds + (now - ongoing)

    def decide_tool(self, tool_use_id: str, decision: str) -> ToolCall | None:
        """Note who decided a call; returns its updated record when Blu has seen the call already."""
        self.decisions[tool_use_id] = decision
        call = self.tools.get(tool_use_id)
        if call is None:
            return None
        self.tools[tool_use_id] = call = replace(call, decision=decision)
        return call

    def start_tool(self, tool_use_id: str, name: str, tool_input: dict[str, Any]) -> ToolCall:
        call = ToolCall(
            id=tool_use_id,
            name=name,
            input_summary=summarize(tool_input),
            text_offset=len(self.text),
            decision=self.decisions.get(tool_use_id),
        )
        self.tools[tool_use_id] = call
        self.tool_started[tool_use_id] = time.monotonic()
        self.tool_inputs[tool_use_id] = tool_input
        return call

    def finish_tool(self, tool_use_id: str, *, is_error: bool, content: Any) -> ToolCall | None:
        call = self.tools.get(tool_use_id)
        if call is None:
            return None
        started = self.tool_started.get(tool_use_id, time.monotonic())
        outcome: Literal["ok", "error", "denied", "stopped"] = "error" if is_error else "ok"
        summary = summarize(content)
        if is_error and self.stop_reason:
            # The CLI answers a stopped tool with "The user doesn't want to proceed": say who stopped it.
            outcome, summary = "stopped", self.stopped_by()
        elif is_error and "permission" in summary.lower():
            outcome = "denied"
        call = replace(
            call,
            outcome=outcome,
            result_summary=summary,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        self.tools[tool_use_id] = call
        return call


def summarize(value: Any, limit: int = MAX_TOOL_FIELD_BYTES) -> str:
    """A bounded text form of a tool's input or result for the audit record and the UI."""
    if isinstance(value, list):
        parts = [item.get("text", "") if isinstance(item, dict) else str(item) for item in value]
        text = "\n".join(parts)
    elif isinstance(value, str):
        text = value
    elif value is None:
        text = ""
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return truncate_text(text, limit)[0]


def input_tokens(usage: dict[str, Any]) -> int:
    """Input tokens of a usage block, cached ones included."""
    return (
        int(usage.get("input_tokens") or 0)
        + int(usage.get("cache_read_input_tokens") or 0)
        + int(usage.get("cache_creation_input_tokens") or 0)
    )


def artifact_path(workspace: Path, tool_input: dict[str, Any]) -> str | None:
    """The workspace-relative path a file tool touched, or None when it lies outside the workspace."""
    raw = tool_input.get("file_path") or tool_input.get("notebook_path")
    if not isinstance(raw, str) or not raw:
        return None
    path = Path(raw)
    if not path.is_absolute():
        path = workspace / path
    try:
        return str(path.resolve().relative_to(workspace.resolve()))
    except ValueError:
        return None


def describe_failure(result: ResultMessage) -> tuple[str, str]:
    """(kind, message a person can act on) for a result that ended in error."""
    status = getattr(result, "api_error_status", None)
    text = (result.result or "") + " " + " ".join(result.errors or [])
    lowered = text.lower()
    if "not logged in" in lowered or ("invalid api key" in lowered and status is None):
        return (
            "auth",
            "Blu has no working Claude credentials. Set CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY.",
        )
    if status in (401, 403) or "authentication" in lowered:
        return (
            "auth",
            f"Claude rejected Blu's credentials (HTTP {status or 401}). Renew the token in the secret.",
        )
    if status == 429 or "rate limit" in lowered:
        return "rate_limited", "Claude's rate limit was reached. Wait a minute and send the message again."
    if status == 529 or "overloaded" in lowered:
        return "overloaded", "Claude is overloaded right now. Try again in a minute."
    if status is not None and status >= 500:
        return "api", f"Claude's API failed (HTTP {status}). Try again shortly."
    if status is None and any(sign in lowered for sign in _UNREACHABLE_SIGNS):
        return "api", "Blu could not reach Claude's API. Retry in a minute; if it keeps failing, check Blu's network."
    if status is not None:
        return "api", f"Claude's API refused the request (HTTP {status}). Retry, or start a new session."
    # The CLI's own wording (paths, addresses, hints meant for its own users) stays in Blu's log.
    log.warning("turn ended with an error Blu has no explanation for", extra={"cli_text": text.strip()[:2000]})
    return "claude", "Claude Code stopped this reply with an error. Retry; if it happens again, start a new session."


_UNREACHABLE_SIGNS = (
    "connection error",
    "connection refused",
    "econnrefused",
    "econnreset",
    "etimedout",
    "enotfound",
    "fetch failed",
    "socket hang up",
    "network error",
    "inference gateway",
    "timed out",
    "timeout",
)
