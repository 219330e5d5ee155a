"""Typed records the session store keeps; one dataclass per item of the single-table design."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

SessionStatus = Literal["new", "active", "archived"]
Role = Literal["user", "assistant", "system"]
Channel = Literal["text", "voice"]
MessageState = Literal["running", "complete", "interrupted", "error"]
ArtifactOperation = Literal["create", "update", "delete"]
ToolMode = Literal["allow", "ask", "deny"]
ApprovalStatus = Literal["pending", "allowed", "denied", "answered"]
ApprovalKind = Literal["tool", "question"]

SESSION_STATUSES: tuple[str, ...] = ("new", "active", "archived")
MESSAGE_STATES: tuple[str, ...] = ("running", "complete", "interrupted", "error")

# DynamoDB rejects items over 400 KB; text fields are cut well below that and the cut is marked.
MAX_TEXT_BYTES = 100_000
MAX_TOOL_FIELD_BYTES = 16_000
TRUNCATION_MARK = "\n…[truncated]"

T = TypeVar("T")


def now() -> float:
    """Seconds since the epoch; one clock for every record."""
    return time.time()


def new_id() -> str:
    """A random, URL-safe identifier for sessions and turns."""
    return os.urandom(12).hex()


def new_message_id(at: float | None = None) -> str:
    """A message id that sorts by creation time: `<ms since epoch, 13 digits>-<random>`."""
    ms = int((at if at is not None else now()) * 1000)
    return f"{ms:013d}-{os.urandom(4).hex()}"


def truncate_text(text: str, limit: int = MAX_TEXT_BYTES) -> tuple[str, bool]:
    """Cut `text` to at most `limit` UTF-8 bytes (plus a mark); returns the text and whether it was cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode("utf-8", errors="ignore") + TRUNCATION_MARK, True


@dataclass(frozen=True)
class SessionRecord:
    id: str
    name: str = ""
    status: SessionStatus = "new"
    claude_session_id: str | None = None
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    message_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    forked_from: str | None = None
    # The turn running or about to run when this record was last written (None when idle): found on start after a crash.
    running_turn_id: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """One tool use inside an assistant message, with its result once known (the audit record)."""

    id: str
    name: str
    input_summary: str
    outcome: Literal["pending", "ok", "error", "denied", "stopped"] = "pending"
    result_summary: str = ""
    duration_ms: int | None = None
    # Who or what let the call run or refused it: "allowed by policy", "allowed by always-allow rule",
    # "allowed by person", "denied by person", "answered by person", ... (None: not decided by Blu).
    decision: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    session_id: str
    id: str  # from new_message_id(); the sort key, so messages list in time order
    role: Role
    text: str = ""
    channel: Channel = "text"
    turn_id: str | None = None
    state: MessageState = "complete"
    created_at: float = field(default_factory=now)
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    truncated: bool = False  # text was cut to fit the item; the whole text is on disk
    claude_message_uuid: str | None = None  # the transcript entry this reply ends with (fork point)


@dataclass(frozen=True)
class ArtifactRecord:
    path: str  # relative to the workspace
    session_id: str
    operation: ArtifactOperation = "create"
    tool: str = ""
    updated_at: float = field(default_factory=now)


@dataclass(frozen=True)
class ActivityRecord:
    """The heartbeat the idle rule reads: who and what is active right now."""

    last_user_action_at: float | None = None
    heartbeat_at: float | None = None
    running_turns: dict[str, str] = field(default_factory=dict)  # session id -> turn id
    voice_rooms: dict[str, float] = field(default_factory=dict)  # room name -> last seen open
    logged_out_at: float | None = None  # login cookies issued before this are refused (server-side logout)


@dataclass(frozen=True)
class ThrottleRecord:
    client: str
    failures: int = 0
    locked_until: float = 0.0
    expires_at: float = 0.0  # ttl


@dataclass(frozen=True)
class AcceptedRequest:
    """A message accepted under an Idempotency-Key: a replay of the same key answers with this turn."""

    session_id: str
    key: str
    turn_id: str
    message_id: str
    expires_at: float = 0.0  # ttl


@dataclass(frozen=True)
class ApprovalRecord:
    """A tool call or a question of Claude's that waits for a person (or was decided): the approval trail.

    `input_json` is the tool's input as JSON (cut to 16 kB); `decided_by` is "person", "policy" or
    "always-allow rule"; `answers` maps each question's text to the answer (AskUserQuestion)."""

    session_id: str
    id: str
    turn_id: str
    tool_use_id: str
    tool_name: str
    input_json: str = "{}"
    kind: ApprovalKind = "tool"
    status: ApprovalStatus = "pending"
    created_at: float = field(default_factory=now)
    decided_at: float | None = None
    decided_by: str | None = None
    message: str = ""  # a denial's reason, or a note that goes to Claude with the decision
    answers: dict[str, str] = field(default_factory=dict)
    always: bool = False  # the person chose "Always allow": the tool's policy became allow
    # How the decision reached Claude: "live" (the waiting turn went on), "resumed" (a new turn carried
    # it in after the waiting turn had ended), or None while pending.
    delivered: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None = None  # opaque cursor; None on the last page


def to_plain(record: Any) -> dict[str, Any]:
    """A record as plain JSON-ready data (tuples of dataclasses become lists of dicts)."""
    from dataclasses import asdict

    return asdict(record)
