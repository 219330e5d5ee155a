"""The session store interface: one contract, a DynamoDB and a local on-disk implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from core.store.models import (
    AcceptedRequest,
    ActivityRecord,
    ApprovalRecord,
    ArtifactRecord,
    MessageRecord,
    NotificationPreferences,
    Page,
    PushSubscriptionRecord,
    ScheduleRecord,
    ScheduleRunRecord,
    SearchResults,
    SessionRecord,
    ThrottleRecord,
    VapidKeys,
)
from core.store.portable import ExportedItem, ImportOutcome


class StoreError(Exception):
    """Base class of the store's own errors."""


class NotFound(StoreError):
    """The item asked for does not exist."""


class Conflict(StoreError):
    """A conditional write lost: the item exists already, or changed meanwhile."""


class InvalidCursor(StoreError):
    """A pagination cursor that this store did not issue."""


class KeyClaimed(StoreError):
    """An earlier request holds this Idempotency-Key (`earlier`); nothing was written."""

    def __init__(self, earlier: AcceptedRequest) -> None:
        super().__init__(f"key {earlier.key} is held by turn {earlier.turn_id}")
        self.earlier = earlier


class Store(Protocol):
    """Everything Blu keeps between restarts. All methods are synchronous and thread-safe;
    async callers run them in a worker thread."""

    # sessions ------------------------------------------------------------------------------
    def create_session(self, session: SessionRecord) -> None:
        """Insert; raises Conflict when the id exists."""

    def get_session(self, session_id: str) -> SessionRecord:
        """Raises NotFound."""

    def update_session(self, session_id: str, **changes: object) -> SessionRecord:
        """Set the given fields (name, status, claude_session_id, running_turn_id, updated_at, ...);
        returns the new record. Raises NotFound; never creates. An unknown field or a value of the
        wrong type raises ValueError or TypeError, on every back-end."""

    def add_session_usage(
        self,
        session_id: str,
        *,
        messages: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
        stopped_replies: int = 0,
        at: float | None = None,
    ) -> SessionRecord:
        """Atomically add to the counters (and bump updated_at to `at` when given)."""

    def list_sessions(
        self, *, limit: int = 50, cursor: str | None = None, include_archived: bool = True
    ) -> Page[SessionRecord]:
        """Most recently updated first. `cursor` is the `next` of the previous page; `limit` is 1..1000.
        Raises InvalidCursor for a cursor not issued for this listing."""

    def delete_session(self, session_id: str) -> None:
        """Delete the session, its messages and its artifact links. Raises NotFound."""

    def sessions_with_running_turns(self) -> list[SessionRecord]:
        """Sessions whose running_turn_id is set (for crash recovery on start)."""

    # a turn's writes: each all or nothing (one transaction), in as few round trips as the back-end allows -----
    def accept_message(
        self,
        message: MessageRecord,
        *,
        name: Callable[[], str],
        claim: AcceptedRequest | None = None,
        check: Callable[[], None] | None = None,
        user_action: bool = True,
    ) -> SessionRecord:
        """A person's message is stored, with what it changes, all or nothing and in this order: `claim` (an
        Idempotency-Key, live at `message.created_at`) is taken first, KeyClaimed when a live claim holds the key
        (even when `check` would refuse: a retry replays its turn); `check()` runs next and may raise to refuse
        the message; NotFound when the session does not exist. Then codec.accepted_changes (an archived or new
        session becomes active, it is marked running by the message's turn when no turn is, and named `name()` when
        it has none), the message (put_message: kept as stored when its id exists), one more message counted,
        `updated_at` set to `message.created_at`, and the person's last action when `user_action`. Nothing is
        written when anything raises. Returns the session: as read in the same transaction plus these changes (on
        DynamoDB the counters in the store are exact, ADDed, but another writer's change that landed between
        the read and the write is not in the returned record)."""

    def start_turn(self, reply: MessageRecord) -> None:
        """A turn starts, all or nothing: its reply's record (put_message), the session marked running by the
        reply's turn and active (codec.started_changes; NotFound when the session is gone) and the turn in the
        activity item's running turns (set_turn_running)."""

    def end_turn(
        self,
        session_id: str,
        message_id: str,
        *,
        reply: Mapping[str, object],
        usage: Mapping[str, float],
        session: Mapping[str, object],
        at: float,
    ) -> tuple[MessageRecord, SessionRecord]:
        """A turn ends, all or nothing: the reply's changes (update_message's), the usage added to the session's
        counters (add_session_usage's keyword arguments, `at` its updated_at), the session's changes
        (update_session's; no counter and no updated_at, which usage sets) and the turn's running mark in
        the activity item cleared. NotFound (nothing written) when the reply or the session is gone. Returns
        the reply and the session as read plus these changes (see accept_message)."""

    # messages ------------------------------------------------------------------------------
    def put_message(self, message: MessageRecord) -> bool:
        """Insert if absent. Returns False (and changes nothing) when a message with the same
        session and id exists: a retried write never duplicates. Text over the item's budget is cut in
        the record (`truncated`) and kept whole beside it (get_message_text); other long fields are cut."""

    def update_message(self, session_id: str, message_id: str, **changes: object) -> MessageRecord:
        """Set fields of an existing message (text, state, tool_calls, usage, error). Raises NotFound.
        Oversized fields are truncated as in put_message; `truncated`, once set, stays set."""

    def get_message(self, session_id: str, message_id: str) -> MessageRecord:
        """Raises NotFound."""

    def get_message_text(self, session_id: str, message_id: str) -> str:
        """The whole text of a message, also when the record's was cut. Raises NotFound."""

    def list_messages(
        self, session_id: str, *, limit: int = 50, cursor: str | None = None, newest_first: bool = False
    ) -> Page[MessageRecord]:
        """Messages of one session in id (time) order, or newest first. A cursor is bound to its
        session and direction (InvalidCursor otherwise)."""

    # artifacts -----------------------------------------------------------------------------
    def put_artifact(self, artifact: ArtifactRecord) -> None:
        """Insert or replace the (path, session) link."""

    def list_artifacts(self, session_id: str) -> list[ArtifactRecord]:
        """Artifacts of one session, most recently changed first."""

    def sessions_for_path(self, path: str) -> list[ArtifactRecord]:
        """Which sessions touched a workspace path, most recently changed first."""

    # search --------------------------------------------------------------------------------
    def search(self, query: str, *, limit: int = 30) -> SearchResults:
        """Sessions by name, artifacts by path and messages by text that match every word of `query`
        (codec.search_matches: each word starts a word there, ignoring case and accents), ordered by
        codec.order_hits, at most `limit` (1..200). Deleted sessions are gone from it at once. A back-end
        without a full-text index may stop early and say so (`complete: False`)."""

    # activity heartbeat --------------------------------------------------------------------
    def get_activity(self) -> ActivityRecord: ...

    def record_user_action(self, at: float) -> None: ...

    def heartbeat(self, at: float) -> None: ...

    def record_logout(self, at: float) -> None:
        """Refuse every login cookie issued before `at` (the activity item's `logged_out_at`)."""

    def set_turn_running(self, session_id: str, turn_id: str | None) -> None:
        """Mark (turn_id) or clear (None) the running turn of a session in the activity item."""

    def set_voice_room(self, room: str, opened_at: float | None) -> None:
        """Mark (opened_at) or clear (None) an open voice room."""

    # login throttling ----------------------------------------------------------------------
    def get_throttle(self, client: str) -> ThrottleRecord | None:
        """The record as stored, which may have expired (DynamoDB's TTL deletes lazily): compare
        `expires_at` with the time yourself."""

    def record_login_failure(self, client: str, *, at: float, expires_at: float) -> ThrottleRecord:
        """Atomically count one more failure (starting again from 1 when the record expired before
        `at`) and set its expiry; returns the new record."""

    def claim_login_attempt(
        self, client: str, *, at: float, expires_at: float, lock_for: Callable[[int], float]
    ) -> tuple[ThrottleRecord, bool]:
        """Atomically count one attempt unless the client is locked at `at`: returns (record, True) with
        the failure counted in advance and `locked_until = at + lock_for(failures)` when that is > 0, or
        (current record, False) while locked. Parallel attempts are counted one by one, so a burst gets
        no more password checks than the rule allows."""

    def lock_client(self, client: str, *, locked_until: float) -> None:
        """Set the lock time of an existing throttle record. Raises NotFound."""

    def clear_throttle(self, client: str) -> None:
        """Delete the record; nothing happens when there is none."""

    # idempotency keys ----------------------------------------------------------------------
    def claim_request(self, request: AcceptedRequest, *, at: float) -> AcceptedRequest | None:
        """Atomically keep `request` unless a live one (expires_at >= at) holds the same session and key:
        returns that one, or None when `request` was kept. Deleted with the session."""

    def forget_request(self, session_id: str, key: str) -> None:
        """Delete the key's record; nothing happens when there is none."""

    # notifications -------------------------------------------------------------------------
    def put_push_subscription(self, subscription: PushSubscriptionRecord) -> None:
        """Insert, or replace the subscription with the same id (the same endpoint)."""

    def list_push_subscriptions(self) -> list[PushSubscriptionRecord]:
        """Every subscription, oldest first."""

    def delete_push_subscription(self, subscription_id: str) -> bool:
        """Delete one; False (and nothing changes) when there is none."""

    def get_notification_preferences(self) -> NotificationPreferences:
        """The stored preferences, or the defaults (every kind on) when none were saved."""

    def set_notification_preferences(self, preferences: NotificationPreferences) -> None:
        """Replace the preferences."""

    def claim_vapid_keys(self, keys: VapidKeys) -> VapidKeys:
        """Keep `keys` unless a pair is stored already; returns the stored pair. Atomic, so processes that
        race on a first start all end up signing with the same pair."""

    # schedules ----------------------------------------------------------------------------
    def create_schedule(self, schedule: ScheduleRecord) -> None:
        """Insert; raises Conflict when the id exists."""

    def get_schedule(self, schedule_id: str) -> ScheduleRecord:
        """Raises NotFound."""

    def update_schedule(self, schedule_id: str, **changes: object) -> ScheduleRecord:
        """Set the given fields; returns the new record. Raises NotFound (never creates); ValueError or
        TypeError for an unknown field, a key field or a value of the wrong type."""

    def list_schedules(self) -> list[ScheduleRecord]:
        """Every schedule, oldest first (one person has a handful: no paging)."""

    def delete_schedule(self, schedule_id: str) -> None:
        """Delete the schedule and its runs. Raises NotFound."""

    def claim_schedule_run(
        self, run: ScheduleRunRecord, *, expected_next_run_at: float, next_run_at: float | None
    ) -> bool:
        """Atomically, in one transaction: move the schedule's next_run_at from `expected_next_run_at` to
        `next_run_at`, set its last_run_at to the run's started_at, and insert `run`. False (and nothing
        written) when the schedule is gone, its next_run_at is no longer `expected_next_run_at`, or the
        run exists: of any number of claimers (threads, processes, a restart) exactly one wins an
        occurrence, so a due run starts once."""

    def put_schedule_run(self, run: ScheduleRunRecord) -> bool:
        """Insert a run (a manual one) if absent; False when one with the same ids exists. Raises NotFound
        when the schedule does not exist."""

    def update_schedule_run(self, schedule_id: str, run_id: str, **changes: object) -> ScheduleRunRecord:
        """Set fields of a run (finished_at, outcome, cost_usd, session_id, turn_id, error). Raises NotFound."""

    def get_schedule_run(self, schedule_id: str, run_id: str) -> ScheduleRunRecord:
        """Raises NotFound."""

    def list_schedule_runs(
        self, schedule_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ScheduleRunRecord]:
        """The schedule's runs, newest first; a cursor is bound to its schedule (InvalidCursor otherwise)."""

    def running_schedule_runs(self) -> list[ScheduleRunRecord]:
        """Runs of every schedule still marked running (for recovery on start)."""

    # export and import (backups, moving a Blu) ---------------------------------------------
    def export_items(self, *, session_id: str | None = None) -> Iterator[ExportedItem]:
        """Every lasting item (portable.EXPORT_KINDS, kind by kind in that order), or one session's
        only (portable.SESSION_KINDS: no schedules, runs or preferences); a message carries its whole
        text. Activity, throttles, idempotency keys and the power log describe this running Blu, and push
        subscriptions and the VAPID keys are bound to it: they are left out."""

    def import_item(self, item: ExportedItem, *, replace: bool = False) -> ImportOutcome:
        """Keep one exported item under its own key (a session's id; a message's session and id; an
        artifact's path and session; a schedule's id; a run's schedule and id; the one preferences item):
        "added" when absent; when present, "replaced" with replace=True, else "kept" unchanged, so
        importing twice never duplicates. "skipped", writing nothing, for a run whose schedule is not in
        the store. Raises portable.UnknownKind, or ValueError/TypeError for malformed fields (nothing is
        written then)."""

    def clear_items(self) -> int:
        """Delete every exported item (what a full restore replaces: sessions, schedules and their runs,
        the preferences, which fall back to their defaults); returns how many sessions went. The
        activity item, throttles, the power log, push subscriptions and the VAPID keys stay."""

    # approvals and the tool policy -------------------------------------------------------
    def put_approval(self, approval: ApprovalRecord) -> bool:
        """Insert if absent (False, nothing changed, when the session already has this id). The input
        is cut to 16 kB. Deleted with the session."""

    def get_approval(self, session_id: str, approval_id: str) -> ApprovalRecord:
        """Raises NotFound."""

    def decide_approval(
        self, session_id: str, approval_id: str, decision: ApprovalRecord
    ) -> tuple[ApprovalRecord, bool]:
        """Atomically set the decision's status, decided_at/by, message, answers, always and delivered
        on a pending approval: (new record, True). When it was decided already, nothing changes:
        (the stored record, False). Raises NotFound."""

    def mark_approval_delivered(self, session_id: str, approval_id: str, delivered: str) -> ApprovalRecord:
        """Record how a decided approval's answer reached Claude ("live" or "resumed"). Raises NotFound."""

    def list_approvals(self, session_id: str, *, pending_only: bool = False) -> list[ApprovalRecord]:
        """A session's approvals, oldest first."""

    def pending_approvals(self) -> list[ApprovalRecord]:
        """Every pending approval of every session, oldest first (session list badges, the idle rule)."""

    def get_tool_policy(self) -> dict[str, str]:
        """The tool policy changed at run time: tool name -> "allow" | "ask" | "deny" (empty when unset)."""

    def set_tool_mode(self, name: str, mode: str | None) -> dict[str, str]:
        """Set one tool's mode (None removes the entry: the settings' default applies again); returns the
        whole policy. Raises ValueError for an empty name or an unknown mode."""

    def close(self) -> None:
        """Release files and connections."""
