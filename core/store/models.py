"""Typed records the session store keeps; one dataclass per item of the single-table design."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import ConfigDict

SessionStatus = Literal["new", "active", "archived"]
Role = Literal["user", "assistant", "system"]
Channel = Literal["text", "voice"]
MessageState = Literal["running", "complete", "interrupted", "error"]
# Who sent a user-role message: the person, Blu itself (a turn that carries a late approval answer in), or a schedule.
Sender = Literal["person", "blu", "schedule"]
ArtifactOperation = Literal["create", "update", "delete"]
ScheduleTarget = Literal["new", "session"]  # a new session per run, or one chosen session
RunTrigger = Literal["schedule", "manual"]
# running; how it ended (complete/error/interrupted); stopped at a limit; or not run (skipped: the cost guard)
RunOutcome = Literal["running", "complete", "error", "interrupted", "limit_minutes", "limit_usd", "skipped"]
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

# How the HTTP API validates and documents the records it serves (pydantic reads `__pydantic_config__` off a
# plain dataclass): no field beyond these, and every field present in an answer.
API_SHAPE = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


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


def reply_id_for(prompt_id: str) -> str:
    """The id of a prompt's reply: 1 ms after the prompt's, so the reply lists right after its prompt and before
    any message sent while it waited in the queue (ids sort by time, and the turn starts later)."""
    ms = prompt_id.partition("-")[0]
    if len(ms) != 13 or not ms.isdigit():
        return new_message_id()
    return f"{int(ms) + 1:013d}-{os.urandom(4).hex()}"


def output_partial(state: str, input_tokens: int, output_tokens: int) -> bool:
    """Whether a reply's output count leaves out a model call: it was stopped (`interrupted`) after a call
    reported usage. The Messages API reports a call's output tokens only when the call ends."""
    return state == "interrupted" and bool(input_tokens or output_tokens)


def truncate_text(text: str, limit: int = MAX_TEXT_BYTES) -> tuple[str, bool]:
    """Cut `text` to at most `limit` UTF-8 bytes (plus a mark); returns the text and whether it was cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode("utf-8", errors="ignore") + TRUNCATION_MARK, True


@dataclass(frozen=True)
class SessionRecord:
    __pydantic_config__ = API_SHAPE
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
    # How many of its replies were stopped after a model call started (`output_partial`): their output
    # tokens leave out the call that was stopped, so `output_tokens` is then a lower bound.
    stopped_replies: int = 0
    forked_from: str | None = None
    # The turn running or about to run when this record was last written (None when idle): found on start after a crash.
    running_turn_id: str | None = None
    # The context meter: input + cache reads + cache writes of the last model request of the last turn
    # (or Claude Code's size after a compaction), the window of that request's model, and the model.
    context_tokens: int | None = None
    context_window: int | None = None
    context_model: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """One tool use inside an assistant message, with its result once known (the audit record)."""

    __pydantic_config__ = API_SHAPE
    id: str
    name: str
    input_summary: str
    outcome: Literal["pending", "ok", "error", "denied", "stopped"] = "pending"
    result_summary: str = ""
    duration_ms: int | None = None
    # Where the call happened: the length (in Unicode code points) of the message's text when it started,
    # so a reader can show the card between the text before and after it. None in records written before.
    text_offset: int | None = None
    # Who or what let the call run or refused it: "allowed by policy", "allowed by always-allow rule",
    # "allowed by person", "denied by person", "answered by person", ... (None: not decided by Blu).
    decision: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    __pydantic_config__ = API_SHAPE
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
    # A person's attachments: workspace path → an image's media type (sent as image content) or "file".
    attachments: dict[str, str] = field(default_factory=dict)
    # Set on a reply that Regenerate replaced: the id of the reply that answers the same prompt now. The
    # reply is kept as an earlier version (the UI shows it collapsed); Claude's context no longer holds it.
    superseded_by: str | None = None
    # Who sent a prompt (role "user"): the UI shows only the person's own as "You", with Edit and resend.
    sent_by: Sender = "person"


@dataclass(frozen=True)
class ArtifactRecord:
    __pydantic_config__ = API_SHAPE
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
    """A message accepted under an Idempotency-Key: a replay of the same key answers with this turn, when it
    carries the same message (`fingerprint`, a SHA-256 hex of the request's payload made by the API)."""

    session_id: str
    key: str
    turn_id: str
    message_id: str
    expires_at: float = 0.0  # ttl
    fingerprint: str = ""  # "" in claims kept before fingerprints were (they expire within the TTL)

    def same_request(self, fingerprint: str) -> bool:
        """Whether a request whose payload has `fingerprint` is a retry of this one; a claim without a fingerprint
        cannot tell, and is taken to be."""
        return not self.fingerprint or self.fingerprint == fingerprint


# Notifications (runtime/notify) ------------------------------------------------------------------

# What a person can be notified of; each can be switched off (NotificationPreferences). Schedules and
# approvals send the last three through runtime.notify.Notifier.notify.
NotificationKind = Literal["turn_finished", "schedule_finished", "schedule_failed", "approval_waiting"]
NOTIFICATION_KINDS: tuple[str, ...] = ("turn_finished", "schedule_finished", "schedule_failed", "approval_waiting")


@dataclass(frozen=True)
class PushSubscriptionRecord:
    """One browser's Web Push subscription (the PushSubscription's JSON). `id` is derived from the
    endpoint (runtime.notify.subscription_id), so subscribing the same browser again replaces it."""

    id: str
    endpoint: str  # the push service URL to POST to
    p256dh: str  # the browser's P-256 public key, base64url (65 bytes raw)
    auth: str  # the browser's auth secret, base64url (16 bytes raw)
    created_at: float = field(default_factory=now)
    user_agent: str = ""  # which browser, shown in the list of devices


@dataclass(frozen=True)
class NotificationPreferences:
    """Which kinds the person gets (kind -> on); a kind absent here is on."""

    kinds: dict[str, bool] = field(default_factory=dict)

    def wants(self, kind: str) -> bool:
        return self.kinds.get(kind, True)


@dataclass(frozen=True)
class ToolPolicyRecord:
    """The tool policy changed at run time, as a backup holds it: tool name (MCP tools `mcp__server__tool`,
    or a whole server `mcp__server`) -> "allow" | "ask" | "deny". Empty: the settings' policy applies."""

    modes: dict[str, ToolMode] = field(default_factory=dict)


@dataclass(frozen=True)
class VapidKeys:
    """The VAPID key pair (P-256) Blu signs pushes with, generated once (docs/architecture.md). Only the
    public key ever leaves the runtime; the private one is kept out of repr and logs."""

    public_key: str  # uncompressed point, base64url without padding (what PushManager.subscribe takes)
    private_key: str = field(repr=False)  # the 32-byte private scalar, base64url without padding
    created_at: float = field(default_factory=now)


@dataclass(frozen=True)
class ScheduleRecord:
    """Work Blu does on its own at set times: a prompt, when (cron, or one shot), where, and its limits."""

    id: str
    name: str = ""
    prompt: str = ""
    cron: str = ""  # 5-field cron in `timezone` (also for a plain repeat); "" for a one-shot
    repeat: str = ""  # the plain repeat as written ("every weekday at 08:00"), "" when a cron or one shot
    run_at: float | None = None  # a one-shot's time (seconds since the epoch)
    timezone: str = "UTC"  # IANA name the cron is read in
    target: ScheduleTarget = "new"
    session_id: str | None = None  # the chosen session when target is "session"
    max_minutes: float | None = None  # a run longer than this is stopped (outcome limit_minutes)
    max_usd: float | None = None  # a run costing more than this is stopped (outcome limit_usd)
    paused: bool = False
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    next_run_at: float | None = None  # the next occurrence not yet claimed; None: nothing more to run
    last_run_at: float | None = None  # when the latest run (scheduled or manual) started


@dataclass(frozen=True)
class ScheduleRunRecord:
    """One run of a schedule. A scheduled run's id is its occurrence (`<due ms, 13 digits>-s`), so one
    occurrence can be claimed once only; a manual run's is `<ms>-m<random>`. Ids sort by time."""

    schedule_id: str
    id: str
    due_at: float
    trigger: RunTrigger = "schedule"
    started_at: float | None = None
    finished_at: float | None = None
    outcome: RunOutcome = "running"
    late: bool = False  # started well after its time (Blu was asleep or interrupted)
    missed: int = 0  # earlier occurrences passed over meanwhile: only the latest one runs, once
    session_id: str | None = None
    turn_id: str | None = None
    cost_usd: float = 0.0
    error: str | None = None


def scheduled_run_id(due_at: float) -> str:
    """The id of the run for one occurrence: the same occurrence always gets the same id."""
    return f"{round(due_at * 1000):013d}-s"


def manual_run_id(at: float | None = None) -> str:
    ms = int((at if at is not None else now()) * 1000)
    return f"{ms:013d}-m{os.urandom(4).hex()}"


SearchKind = Literal["session", "artifact", "message"]


@dataclass(frozen=True)
class SearchHit:
    """One thing a search found: a session by its name, an artifact by its path, or a message by its text."""

    __pydantic_config__ = API_SHAPE

    kind: SearchKind
    session_id: str
    session_name: str
    at: float  # the session's updated_at, the artifact's updated_at or the message's created_at
    message_id: str | None = None
    role: Role | None = None
    path: str | None = None
    snippet: str = ""  # the name, the path, or the part of the text around the first match
    sent_by: Sender | None = None  # a message hit's sender (a prompt may be Blu's note or a schedule's)


@dataclass(frozen=True)
class SearchResults:
    """GET /api/search's answer: the hits in order (names, paths, then message texts, newest first)."""

    __pydantic_config__ = API_SHAPE
    hits: list[SearchHit]
    complete: bool = True  # False: a bounded back-end stopped before it looked at everything


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
