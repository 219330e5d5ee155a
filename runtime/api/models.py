"""The HTTP API's shapes: each request body and each answer, as the OpenAPI schema (docs/openapi.json) shows them.

Stored records (session, message, tool call, artifact) are the store's dataclasses themselves (core/store/models.py),
and events are the union in runtime/agent/event_types.py: one definition each, which pydantic validates and
documents. Answers forbid fields they do not name, so a route that returns more (or less) than its model fails its
tests instead of drifting from the schema and the UI's generated types.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.dataclasses import dataclass

from core.auth.responses import Text
from core.store.models import API_SHAPE, ArtifactRecord, MessageRecord, SessionRecord
from runtime.agent.event_types import Approval, BluEvent

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

    def fingerprint(self) -> str:
        """What tells a retry under an Idempotency-Key from the key reused for another message: SHA-256 hex of the
        canonical JSON of the fields as sent (text, channel, attachments in order). Defaults are left out, so
        `{"text": "x"}` and `{"text": "x", "channel": "text"}` are one message, and a field added later with a
        default keeps earlier fingerprints."""
        payload = self.model_dump(mode="json", exclude_defaults=True)
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class ForkRequest(Body):
    message_id: str = Field(pattern=MESSAGE_ID)


class UploadRequest(BaseModel):
    path: str = Field(max_length=1024)
    size: int = Field(ge=0)


class DownloadRequest(BaseModel):
    path: str = Field(max_length=1024)


class TokenRequest(Body):
    session_id: str = Field(pattern=SESSION_ID)


class RestoreScope(BaseModel):
    """What to restore (or preview): everything (both empty), one session, or one workspace file."""

    session_id: str | None = Field(None, max_length=200)
    path: str | None = Field(None, max_length=1024)


MAX_IMPORT_BYTES = 5 * 1024**3  # S3's largest form POST: the browser sends it straight to the files bucket


class ImportRequest(BaseModel):
    size: int = Field(ge=1, le=MAX_IMPORT_BYTES, description="The archive's size in bytes.")


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
    workspace_dir: str = Field(description="The agent's workspace: tool cards show paths relative to it.")


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


@dataclass(frozen=True, kw_only=True, config=API_SHAPE)
class SessionListed(SessionRecord):
    """A session in the list, with how many approvals and questions wait for the person (the list's badge)."""

    pending_approvals: int = 0


class SessionPage(Answer):
    sessions: list[SessionListed]
    next: str | None = Field(description="The cursor of the next page; null on the last page.")


class CreatedSession(Answer):
    """A new session (created, or forked from another)."""

    id: str
    session: SessionRecord


@dataclass(frozen=True, kw_only=True, config=API_SHAPE)
class SessionDetail(SessionRecord):
    """A session with what runs in it now, and where its event log stands in this server process."""

    queue_length: int
    pending_approvals: int
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


class Regenerating(Answer):
    """The reply is kept as an earlier version and its prompt is being answered again, in the same session:
    `turn_id` is the prompt's own turn, `message_id` the new reply's id, `position` how many turns run before
    it (0: it starts now)."""

    turn_id: str
    position: int
    user_message_id: str
    message_id: str
    earlier: MessageRecord = Field(description="The reply as stored now: an earlier version (`superseded_by` set).")


class Interrupted(Answer):
    interrupted: bool = Field(description="False when no turn was running.")


class Cancelled(Answer):
    cancelled: bool = Field(description="False when the turn already runs (interrupt it instead) or ended.")


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


# -- backups (runtime/api/backups.py; the records are written by runtime/backup/engine.py) ---------


class FolderTotals(Answer):
    files: int
    bytes: int


class SnapshotContents(Answer):
    """What a snapshot holds: items per store kind, and files and bytes of the workspace and of Claude's state."""

    store: dict[str, int]
    workspace: FolderTotals
    state: FolderTotals


class SnapshotSession(Answer):
    """A session as the snapshot holds it."""

    id: str
    name: str
    updated_at: float | None
    messages: int


class Snapshot(Answer):
    """One stored snapshot (runtime/backup/repository.py, SnapshotInfo): `size` is the archive's bytes,
    `total_bytes` the files' bytes inside it, `skipped` how many entries were left out (links, special files)."""

    id: str
    created_at: float
    size: int
    reason: str = Field(description="manual, daily, before-sleep, pre-restore, pre-import, export, or the command's.")
    blu_version: str
    total_bytes: int
    contents: SnapshotContents
    sessions: list[SnapshotSession] = Field(description="Newest first.")
    skipped: int


class ArchiveSummary(Answer):
    """An imported archive's manifest without its member list. `contents`, `sessions` and `skipped` are as the
    archive says (from another Blu: their entries are not checked); a Blu's own archive has them as in Snapshot."""

    format: Literal["blu-backup"]
    format_version: int
    id: str
    created_at: float
    blu_version: str
    reason: str
    total_bytes: int
    contents: dict[str, dict[str, Any]]
    sessions: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    origin: dict[str, str]


class LastSnapshot(Answer):
    """The newest snapshot this Blu took (not counting pre-restore and pre-import ones)."""

    id: str
    created_at: float
    fingerprint: str


class RestoredAll(Answer):
    restored: str
    scope: Literal["all"]
    safety_snapshot: str = Field(description="The snapshot of what the restore replaced.")
    contents: SnapshotContents


class RestoredSession(Answer):
    restored: str
    scope: Literal["session"]
    session_id: str
    messages: int
    transcripts: int = Field(description="Claude Code transcript files put back.")
    safety_snapshot: str = Field(description="The snapshot of what the restore replaced.")


class RestoredFile(Answer):
    restored: str
    scope: Literal["file"]
    path: str
    size: int
    safety_snapshot: str = Field(description="The snapshot of what the restore replaced.")


class ImportCounts(Answer):
    added: int
    kept: int = Field(description="Already here (by id): left as it is.")


class ImportedFiles(Answer):
    added: int
    same: int
    conflicts: int


class ImportConflict(Answer):
    """A file that differs here: kept as it is, the archive's copy written beside it."""

    path: str
    imported_as: str


class ImportReport(Answer):
    """What an import did (runtime/backup/engine.py, ImportReport)."""

    snapshot: ArchiveSummary
    store: dict[str, ImportCounts] = Field(description="Per store kind.")
    skipped_kinds: dict[str, int] = Field(description="Items of kinds this Blu does not keep, per kind.")
    files: ImportedFiles
    conflicts: list[ImportConflict] = Field(description="The first 100.")
    safety_snapshot: str | None


class _Operation(Answer):
    """A snapshot, restore or import started in the background: `result` once done, `error` once failed."""

    id: str
    kind: str
    state: Literal["running", "done", "failed"]
    started_at: float
    finished_at: float | None
    result: Any
    error: str | None


class SnapshotOperation(_Operation):
    kind: Literal["snapshot"]
    result: Snapshot | None


class RestoreOperation(_Operation):
    kind: Literal["restore"]
    result: Annotated[RestoredAll | RestoredSession | RestoredFile, Field(discriminator="scope")] | None


class ImportOperation(_Operation):
    kind: Literal["import"]
    result: ImportReport | None


BackupOperation = Annotated[SnapshotOperation | RestoreOperation | ImportOperation, Field(discriminator="kind")]


class OperationStarted(Answer):
    """Follow it with GET /api/backups/operation."""

    operation: BackupOperation


class CurrentOperation(Answer):
    """The running or latest operation started here; null when none was since Blu started."""

    operation: BackupOperation | None


class SnapshotList(Answer):
    snapshots: list[Snapshot] = Field(description="Newest first.")
    storage: Literal["s3", "local"]
    daily: bool = Field(description="Whether Blu takes a snapshot each day something changed.")
    last_scheduled: LastSnapshot | None
    operation: BackupOperation | None


class CurrentTotals(Answer):
    """What a full restore would replace: the sessions, the person's files (`workspace`) and, apart from them,
    Claude Code's own files (`state`: its transcripts, memory and config), as a snapshot's contents count them."""

    sessions: int
    workspace: FolderTotals
    state: FolderTotals


class SessionName(Answer):
    id: str
    name: str


class ReplacedSession(Answer):
    id: str
    name: str
    messages: int


class AllPreview(Answer):
    """Restoring everything: the sessions that would go, come back or be rewound, and what is here now."""

    scope: Literal["all"]
    snapshot: Snapshot
    current: CurrentTotals
    sessions_removed: list[SessionName]
    sessions_restored: list[str]
    sessions_rewound: list[str]


class SessionPreview(Answer):
    """Restoring one session: it as the snapshot holds it, and the one it replaces (null when there is none)."""

    scope: Literal["session"]
    snapshot: Snapshot
    session: SnapshotSession
    replaces: ReplacedSession | None


class FilePreview(Answer):
    scope: Literal["file"]
    snapshot: Snapshot
    path: str
    replaces_existing: bool


class RestorePreview(RootModel[Annotated[AllPreview | SessionPreview | FilePreview, Field(discriminator="scope")]]):
    """What a restore would replace, changing nothing; `scope` says which of the three."""


class ImportTarget(Answer):
    """Send the archive's bytes as for a large file upload (UploadTarget), then complete the import with its `id`."""

    id: str
    size: int
    expires_at: float
    method: Literal["POST", "PUT"]
    url: str
    fields: dict[str, str]
    headers: dict[str, str]


# -- approvals and the tool policy (runtime/api/approvals.py) -----------------------------------------------

ToolModeName = Literal["allow", "ask", "deny"]


class ListedApproval(Approval):
    """An approval as the session's list shows it: `live` says whether a turn is paused on it now (false:
    answering it resumes the work in a new turn)."""

    live: bool


class ApprovalList(Answer):
    approvals: list[ListedApproval] = Field(description="Oldest first.")
    pending: int = Field(description="How many still wait for the person.")


class Answered(Answer):
    approval: Approval
    replayed: bool = Field(description="The same answer was given before: nothing changed.")


class ToolPolicy(Answer):
    """Each tool's mode: run-time entries win over the settings', which win over `default`."""

    default: ToolModeName
    settings: dict[str, ToolModeName]
    run_time: dict[str, ToolModeName]
