"""The HTTP API's shapes: each request body and each answer, as the OpenAPI schema (docs/openapi.json) shows them.

Stored records (session, message, tool call, artifact) are the store's dataclasses themselves (core/store/models.py),
and events are the union in runtime/agent/event_types.py: one definition each, which pydantic validates and
documents. Answers forbid fields they do not name, so a route that returns more (or less) than its model fails its
tests instead of drifting from the schema and the UI's generated types.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from core.auth.responses import Text
from core.store.models import API_SHAPE, ArtifactRecord, MessageRecord, SessionRecord
from runtime.agent.event_types import BluEvent

SESSION_ID = r"^[0-9a-f]{24}$"
MESSAGE_ID = r"^[0-9]{13}-[0-9a-f]{8}$"


class Body(BaseModel):
    """A request body: unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """An answer: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


# -- request bodies -----------------------------------------------------------------------


class NewSession(Body):
    name: Text = Field("", max_length=120)


class SessionChanges(Body):
    name: Text | None = Field(None, min_length=1, max_length=120)
    status: Literal["active", "archived"] | None = None


class NewMessage(Body):
    text: Text = Field(min_length=1)
    channel: Literal["text", "voice"] = "text"
    # Workspace files to attach (the UI uploads them to `uploads/` first): images go to Claude as image
    # content, other files are named by path in the prompt.
    attachments: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(default_factory=list, max_length=10)


class ForkRequest(Body):
    message_id: str = Field(pattern=MESSAGE_ID)


class UploadRequest(BaseModel):
    path: str = Field(max_length=1024)
    size: int = Field(ge=0)


class DownloadRequest(BaseModel):
    path: str = Field(max_length=1024)


class TokenRequest(Body):
    session_id: str = Field(pattern=SESSION_ID)


# -- system -------------------------------------------------------------------------------


class Health(Answer):
    status: Literal["ok", "stopping"]


class Config(Answer):
    """What the UI shows about this Blu: above all whether it talks to Claude or the stand-in model."""

    model: Literal["claude", "standin"]
    model_notice: str | None
    store: Literal["local", "dynamodb"]
    max_message_chars: int
    max_upload_bytes: int
    direct_transfer_bytes: int = Field(description="Files above this many bytes bypass API Gateway (10 MB cut).")
    file_transfers: Literal["s3", "local"]
    idle_timeout_minutes: int
    voice: bool


class ClientCounts(Answer):
    hot: int
    max_hot: int
    warm: int


class TierTurns(Answer):
    """Turns of one tier since start, with median times in milliseconds (None before the first)."""

    turns: int
    connect_ms_median: float | None
    first_token_ms_median: float | None
    total_ms_median: float | None


class TurnsByTier(Answer):
    hot: TierTurns
    warm: TierTurns
    cold: TierTurns


class CliCounts(Answer):
    """Claude Code processes: running, the task's memory limit, turns waiting for one."""

    running: int
    limit: int
    waiting: int


class Memory(Answer):
    rss_mb: float
    children_rss_mb: float
    claude_processes: int


class Stats(Answer):
    model: Literal["claude", "standin"]
    accepting_turns: bool
    uptime_seconds: float
    clients: ClientCounts
    turns: TurnsByTier
    turn_errors: int
    queues: dict[str, int] = Field(description="Queued turns by session id (sessions with none left out).")
    clis: CliCounts
    running_turns: int
    memory: Memory


# -- login --------------------------------------------------------------------------------


class LoginRefusal(Answer):
    """A refused login: `retry_after` seconds to wait (0 for a wrong password that is not throttled yet)."""

    detail: str
    retry_after: int


class InsecureOrigin(Answer):
    """A login over plain HTTP to a host other than localhost (the browser would drop the cookie)."""

    detail: str
    reason: Literal["insecure_origin"]


# -- sessions, messages, events -------------------------------------------------------------


class SessionPage(Answer):
    sessions: list[SessionRecord]
    next: str | None = Field(description="The cursor of the next page; null on the last page.")


class CreatedSession(Answer):
    """A new session (created, or forked from another)."""

    id: str
    session: SessionRecord


@dataclass(frozen=True, kw_only=True, config=API_SHAPE)
class SessionDetail(SessionRecord):
    """A session with what runs in it now, and where its event log stands in this server process."""

    queue_length: int
    running: bool
    events_head: int
    epoch: str


class MessagePage(Answer):
    messages: list[MessageRecord]
    next: str | None = Field(description="The cursor of the next page; null on the last page.")


class MessageText(Answer):
    id: str
    text: str


class Accepted(Answer):
    """The message is stored and its turn queued; `position` turns run before it (0: it starts now)."""

    turn_id: str
    position: int
    message_id: str
    replayed: bool = Field(False, description="Present (true) only when an Idempotency-Key repeated an earlier POST.")


class Interrupted(Answer):
    interrupted: bool = Field(description="False when no turn was running.")


class ArtifactList(Answer):
    artifacts: list[ArtifactRecord]


class EventsPage(Answer):
    """Events after `after`, oldest first; pass `next` as the following `after`. `reset`: this server cannot
    continue from `after` (it restarted, or the position is too old): reload the messages, go on from `next`."""

    events: list[BluEvent]
    next: int
    epoch: str
    reset: bool


# -- files ----------------------------------------------------------------------------------


class FileEntry(Answer):
    name: str
    path: str
    type: Literal["file", "dir"]
    size: int
    modified: float


class FolderListing(Answer):
    path: str
    entries: list[FileEntry]
    truncated: bool
    hidden: int


class Written(Answer):
    path: str
    size: int


class UploadTarget(Answer):
    """Send the file's bytes with `method` to `url` (a form POST: `fields`, then the file as `file`; a
    PUT: the raw bytes with `headers`), then complete the upload with its `id`."""

    id: str
    path: str
    size: int
    expires_at: float
    method: Literal["POST", "PUT"]
    url: str
    fields: dict[str, str]
    headers: dict[str, str]


class DownloadLink(Answer):
    url: str
    size: int
    direct: bool


# -- voice ----------------------------------------------------------------------------------


class VoiceToken(Answer):
    """Join LiveKit at `url` with `token` (a JWT; `expires_at` is its `exp` in epoch seconds)."""

    url: str
    token: str
    room: str
    identity: str
    expires_at: int
    agent_name: str


class VoiceNotConfigured(Answer):
    detail: str
    code: Literal["voice_not_configured"]
