"""Every event a session's log carries, as one union discriminated on `type`: the contract of the event stream.

The publishers (the manager, the worker, the sessions router) build each event's `data` as a plain dict; these
models say what it must hold. The events route documents its answer with `BluEvent` (so the OpenAPI schema and
the UI's generated types have every event), and the tests check every event real turns produce against
`EVENT_ADAPTER` (no field missing, none extra, none misspelt). Records inside events (a message, a session, a
tool call, an artifact) are the store's own dataclasses, so they have one definition.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.dataclasses import dataclass

from core.store.models import API_SHAPE, ArtifactRecord, MessageRecord, SessionRecord, ToolCall

Tier = Literal["hot", "warm", "cold"]  # runtime.agent.turns.Tier: how the turn got its Claude client
StopReason = Literal["interrupted", "timeout", "stalled", "shutdown", "cancelled"]
ErrorKind = Literal["auth", "overloaded", "rate_limited", "api", "claude", "internal"]


class EventData(BaseModel):
    """An event's `data`: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


class MessageComplete(EventData):
    """A stored message: the person's when accepted, the reply when its turn ends. Replaces any streamed text
    of the same `message.id`."""

    turn_id: str
    message: MessageRecord


class MessageUpdated(EventData):
    """A finished message changed: its record as stored now. Regenerate publishes the reply it replaced, now an
    earlier version (`superseded_by`: the id of the reply that answers the same prompt instead)."""

    turn_id: str
    message: MessageRecord


class MessageDelta(EventData):
    """Text to append to the reply `message_id`; `received_at` (epoch seconds) is when its first token reached
    the server."""

    turn_id: str
    message_id: str
    text: str
    received_at: float


class TurnQueued(EventData):
    """The person's message was accepted; `position` turns run before this one (0: it starts now)."""

    turn_id: str
    status: Literal["queued"]
    position: int
    user_message_id: str


class TurnWaiting(EventData):
    """The turn waits: for a Claude Code process (`reason` capacity: the task's memory allows no more than
    `max_clis`), or for a person's answer to the approval `approval_id` (`reason` approval)."""

    turn_id: str
    status: Literal["waiting"]
    message_id: str
    user_message_id: str
    tier: Tier | None
    reason: Literal["capacity", "approval"]
    duration_ms: int
    first_token_ms: int | None
    running_clis: int | None = None
    max_clis: int | None = None
    approval_id: str | None = None


class TurnRunning(EventData):
    """The turn has its Claude client and runs; the reply will be `message_id`."""

    turn_id: str
    status: Literal["running"]
    message_id: str
    user_message_id: str
    tier: Tier | None


class TurnEnded(EventData):
    """The turn ended; `reason` says who stopped it (None: it ran to its end). A turn Blu stopped before it ran
    (a shutdown while it was queued) has only `turn_id`, `status`, `reason` and `message_id`."""

    turn_id: str
    status: Literal["complete", "interrupted", "error"]
    message_id: str
    reason: StopReason | None
    user_message_id: str | None = None
    tier: Tier | None = None
    duration_ms: int | None = None
    first_token_ms: int | None = None


TurnStatus = Annotated[TurnQueued | TurnWaiting | TurnRunning | TurnEnded, Field(discriminator="status")]


@dataclass(frozen=True, kw_only=True, config=API_SHAPE)
class ToolEvent(ToolCall):
    """A tool call of the reply `message_id` (`tool.call`: outcome `pending`; `tool.result`: the outcome)."""

    turn_id: str
    message_id: str


@dataclass(frozen=True, kw_only=True, config=API_SHAPE)
class ArtifactChange(ArtifactRecord):
    """A file the turn's tools created or changed in the workspace."""

    turn_id: str


class SessionUpdated(EventData):
    session: SessionRecord


class SessionDeleted(EventData):
    """The session was deleted (its running turn stopped first): the last event of its log; reading on answers
    404. A page that shows it leaves it. `reason` "restore": a restore replaced everything with a snapshot
    that does not have it (made after the snapshot); absent: a person deleted it."""

    session_id: str
    reason: Literal["restore"] | None = None


class MemoryVersionRef(EventData):
    """A kept version of Claude's memory (runtime/memory.py): `etag` is its text's SHA-256, `at` epoch seconds,
    `size` bytes."""

    id: str
    etag: str
    at: float
    author: Literal["you", "Claude", "restore"]
    size: int


class Approval(EventData):
    """A tool call or a question of Claude's that waits for a person, or was decided (the approval trail);
    `input` is the tool's input (`{"text": ...}` when it was cut to fit)."""

    session_id: str
    id: str
    turn_id: str
    tool_use_id: str
    tool_name: str
    input: dict[str, Any]
    kind: Literal["tool", "question"]
    status: Literal["pending", "allowed", "denied", "answered"]
    created_at: float
    decided_at: float | None
    decided_by: str | None
    message: str
    answers: dict[str, str]
    always: bool
    delivered: str | None


class MemoryChanged(EventData):
    """Claude changed its memory (the user-level CLAUDE.md) in this turn: `previous` → `version` as a unified
    `diff` (cut at 20 000 characters when `diff_truncated`). Revert restores `previous` over `version`."""

    turn_id: str | None
    version: MemoryVersionRef
    previous: MemoryVersionRef | None
    diff: str
    diff_truncated: bool


class TurnError(EventData):
    """Why the turn failed, as a sentence a person can act on."""

    turn_id: str
    kind: ErrorKind
    message: str


class Event(BaseModel):
    """One entry of a session's log: `seq` orders it (from 1 in each server process), `at` is epoch seconds."""

    model_config = ConfigDict(extra="forbid")
    seq: int
    at: float


class MessageCompleteEvent(Event):
    type: Literal["message.complete"]
    data: MessageComplete


class MessageUpdatedEvent(Event):
    type: Literal["message.updated"]
    data: MessageUpdated


class MessageDeltaEvent(Event):
    type: Literal["message.delta"]
    data: MessageDelta


class TurnStatusEvent(Event):
    type: Literal["turn.status"]
    data: TurnStatus


class ToolCallEvent(Event):
    type: Literal["tool.call"]
    data: ToolEvent


class ToolResultEvent(Event):
    type: Literal["tool.result"]
    data: ToolEvent


class ArtifactChangedEvent(Event):
    type: Literal["artifact.changed"]
    data: ArtifactChange


class SessionUpdatedEvent(Event):
    type: Literal["session.updated"]
    data: SessionUpdated


class SessionDeletedEvent(Event):
    type: Literal["session.deleted"]
    data: SessionDeleted


class MemoryChangedEvent(Event):
    type: Literal["memory.changed"]
    data: MemoryChanged


class ApprovalRequestedEvent(Event):
    type: Literal["approval.requested"]
    data: Approval


class ApprovalResolvedEvent(Event):
    type: Literal["approval.resolved"]
    data: Approval


class ErrorEvent(Event):
    type: Literal["error"]
    data: TurnError


BluEvent = Annotated[
    TurnStatusEvent
    | MessageDeltaEvent
    | ToolCallEvent
    | ToolResultEvent
    | MessageCompleteEvent
    | MessageUpdatedEvent
    | SessionUpdatedEvent
    | SessionDeletedEvent
    | ArtifactChangedEvent
    | MemoryChangedEvent
    | ApprovalRequestedEvent
    | ApprovalResolvedEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
EVENT_MODELS: tuple[type[Event], ...] = get_args(get_args(BluEvent)[0])
EVENT_TYPES: tuple[str, ...] = tuple(get_args(model.model_fields["type"].annotation)[0] for model in EVENT_MODELS)
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(BluEvent)
