"""The laptop back-end of the store: one SQLite file (WAL), same semantics as the DynamoDB table."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

from core.store import codec, portable
from core.store.base import Conflict, KeyClaimed, NotFound
from core.store.models import (
    AcceptedRequest,
    ActivityRecord,
    ApprovalRecord,
    ArtifactRecord,
    MessageRecord,
    NotificationPreferences,
    Page,
    PushSubscriptionRecord,
    Role,
    ScheduleRecord,
    ScheduleRunRecord,
    SearchHit,
    SearchResults,
    Sender,
    SessionRecord,
    ThrottleRecord,
    ToolPolicyRecord,
    VapidKeys,
    to_plain,
)

R = TypeVar("R")
# A message in one of these states is finished: its commit asks for the log to be synced to disk.
FINAL_STATES = frozenset({"complete", "interrupted", "error"})


class WalSyncer:
    """Syncs the store's write-ahead log to disk in its own thread, as soon as a commit asks for it.

    A commit is in the log (the OS holds it) when it returns, so a killed Blu loses nothing; what the
    sync adds is surviving the machine's own crash (power loss). Doing it here rather than inside the
    commit keeps an fsync (1.5-4 ms here, 10-16 ms on a busy disk) off the turn: requests that come
    while a sync runs are covered by the next one.
    """

    def __init__(self, wal: Path) -> None:
        self.wal = wal
        self.requested = 0  # requests so far
        self.synced = 0  # requests covered by a finished sync
        self._wanted = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="blu-wal-sync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        with self._wanted:
            self.requested += 1
            self._wanted.notify_all()

    def wait(self, timeout: float = 10.0) -> bool:
        """Until every request so far is synced (tests, close)."""
        with self._wanted:
            target = self.requested
            return self._wanted.wait_for(lambda: self.synced >= target or self._closed, timeout)

    def close(self) -> None:
        self.wait()
        with self._wanted:
            self._closed = True
            self._wanted.notify_all()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._wanted:
                self._wanted.wait_for(lambda: self.requested > self.synced or self._closed)
                if self._closed:
                    return
                target = self.requested
            try:
                fd = os.open(self.wal, os.O_RDONLY)
            except FileNotFoundError:
                pass  # checkpointed and removed: a checkpoint syncs the database file itself
            else:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            with self._wanted:
                self.synced = target
                self._wanted.notify_all()


# Each record is kept whole as JSON in `body` (decoded by the codec both back-ends share); the other
# columns exist only to key, order and filter, mirroring the table's keys and GSI1.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, recency TEXT NOT NULL, status TEXT NOT NULL, running_turn_id TEXT,
        body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_by_recency ON sessions (recency)",
    """CREATE TABLE IF NOT EXISTS messages (
        session_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (session_id, id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS artifacts (
        path TEXT NOT NULL, session_id TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (path, session_id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS artifacts_by_session ON artifacts (session_id)",
    "CREATE TABLE IF NOT EXISTS singletons (name TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS throttles (client TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS message_texts (
        session_id TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
        PRIMARY KEY (session_id, id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS requests (
        session_id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (session_id, key)) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS push_subscriptions (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, created TEXT NOT NULL, body TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS schedule_runs (
        schedule_id TEXT NOT NULL, id TEXT NOT NULL, outcome TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (schedule_id, id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS approvals (
        session_id TEXT NOT NULL, id TEXT NOT NULL, created TEXT NOT NULL, status TEXT NOT NULL,
        body TEXT NOT NULL, PRIMARY KEY (session_id, id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, created)",
)
_TOOL_POLICY = "tool_policy"
_ACTIVITY = "activity"
_NOTIFY_PREFERENCES = "notification_preferences"
_VAPID = "vapid_keys"
# Tables whose rows are a person's data (exported by kind) and those that describe this running Blu;
# a test requires every table to be in one of them, so a new table forces the decision. `singletons`
# is both: its rows are classified by name below (the same test checks every row it finds).
EXPORTED_TABLES: dict[str, str] = {
    portable.SESSION: "sessions",
    portable.MESSAGE: "messages",
    portable.ARTIFACT: "artifacts",
    portable.SCHEDULE: "schedules",
    portable.SCHEDULE_RUN: "schedule_runs",
    portable.NOTIFICATION_PREFERENCES: "singletons",
    portable.TOOL_POLICY: "singletons",
}
PART_TABLES: tuple[str, ...] = ("message_texts",)  # exported inside their message
_SEARCH_READY = "search-index-v1"  # a singleton row: the index holds everything stored before it existed

# The search index (SQLite FTS5) of message texts. A row's rowid is its message's time (ms, times 4096, plus
# a few bits to tell apart messages of the same millisecond), so the newest matches come first straight
# from the index (`ORDER BY rowid DESC LIMIT n`) without sorting every match. `search_rows` finds a
# message's row, so an edit or a deleted session touches only its own rows. Session names and artifact
# paths are few: they are matched by reading their tables.
_SEARCH_SCHEMA = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
        body, session_id UNINDEXED, ref UNINDEXED, role UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2')""",
    """CREATE TABLE IF NOT EXISTS search_rows (
        session_id TEXT NOT NULL, ref TEXT NOT NULL, row INTEGER NOT NULL,
        PRIMARY KEY (session_id, ref)) WITHOUT ROWID""",
)

# Push subscriptions (and the VAPID keys among the singletons) are bound to this Blu's key pair and to
# the browsers that subscribed to it: not exported (core/store/portable.py says why).
# A pending approval belongs to a turn of this Blu; each decision is kept in its tool call's record.
EPHEMERAL_TABLES: tuple[str, ...] = ("singletons", "throttles", "requests", "push_subscriptions", "approvals")
EXPORTED_SINGLETONS: dict[str, str] = {
    portable.NOTIFICATION_PREFERENCES: _NOTIFY_PREFERENCES,
    portable.TOOL_POLICY: _TOOL_POLICY,
}
EPHEMERAL_SINGLETONS: tuple[str, ...] = (_ACTIVITY, _VAPID, _SEARCH_READY)
# The search index (FTS5 and its shadow tables): rebuilt from the messages, never exported.
INDEX_TABLES: tuple[str, ...] = (
    "search", "search_rows", "search_data", "search_idx", "search_content", "search_docsize", "search_config",
)  # fmt: skip


def _dump(record: object) -> str:
    return json.dumps(to_plain(record), separators=(",", ":"), ensure_ascii=False)


def _load(cls: type[R], body: str) -> R:
    return codec.from_plain(cls, json.loads(body))


class LocalStore:
    """The Store on one SQLite file. Every write is one transaction begun IMMEDIATE (it takes the write
    lock before reading), so read-modify-write updates are atomic across threads and processes alike
    (the voice worker is a separate process), and a crash never leaves half an item."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection shared under a lock: simple, and enough for one person's traffic.
        self._lock = threading.RLock()
        # While `batch()` runs (in the thread holding the lock): whether a write in it asked for a sync.
        self._batch_durable: bool | None = None
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode a NORMAL commit is written to the log before it returns: it survives the process's
        # crash or SIGKILL; only the machine's own crash (power loss) could roll back the last ones. A
        # commit that makes a message final (`durable`) then has the log synced by the WalSyncer, which
        # covers every write before it, within milliseconds and off the turn's path. A hot turn used to
        # wait for 11 fsyncs (FULL): 1.5-4 ms each here, 10-16 ms on a busy disk.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self.syncer = WalSyncer(path.with_name(path.name + "-wal"))
        with self._write() as db:
            for statement in _SCHEMA + _SEARCH_SCHEMA:
                db.execute(statement)
            if db.execute("SELECT 1 FROM singletons WHERE name = ?", (_SEARCH_READY,)).fetchone() is None:
                self._index_everything(db)

    # the search index ------------------------------------------------------------------------

    @staticmethod
    def _index_message(db: sqlite3.Connection, message: MessageRecord, text: str) -> None:
        """Insert or replace the index row of one message's text."""
        found = db.execute(
            "SELECT row FROM search_rows WHERE session_id = ? AND ref = ?", (message.session_id, message.id)
        ).fetchone()
        if found is not None:
            db.execute("UPDATE search SET body = ? WHERE rowid = ?", (text, found[0]))
            return
        row = int(message.created_at * 1000) * 4096 + zlib.crc32(message.id.encode()) % 4096
        while db.execute("SELECT 1 FROM search WHERE rowid = ?", (row,)).fetchone() is not None:
            row += 1
        db.execute(
            "INSERT INTO search (rowid, body, session_id, ref, role) VALUES (?, ?, ?, ?, ?)",
            (row, text, message.session_id, message.id, message.role),
        )
        db.execute("INSERT INTO search_rows VALUES (?, ?, ?)", (message.session_id, message.id, row))

    def _index_everything(self, db: sqlite3.Connection) -> None:
        """Index the messages of a store written before the index existed (once)."""
        for (body,) in db.execute("SELECT body FROM messages").fetchall():
            message = _load(MessageRecord, body)
            self._index_message(db, message, message.text)
        db.execute("INSERT OR REPLACE INTO singletons VALUES (?, ?)", (_SEARCH_READY, "{}"))

    def search(self, query: str, *, limit: int = 30) -> SearchResults:
        codec.check_limit(limit)
        terms = codec.search_terms(query)
        if not terms:
            return SearchResults(hits=[])
        match = " ".join(f'"{term}"*' for term in terms)
        with self._lock:
            loaded = (_load(SessionRecord, b) for (b,) in self._db.execute("SELECT body FROM sessions"))
            sessions = {s.id: s for s in loaded}
            artifacts = [_load(ArtifactRecord, b) for (b,) in self._db.execute("SELECT body FROM artifacts")]
            rows = self._db.execute(
                "SELECT session_id, ref, role, body, rowid FROM search WHERE search MATCH ?"
                " ORDER BY rowid DESC LIMIT ?",
                (match, limit),
            ).fetchall()
            # Who sent each prompt found (the index holds only the text): at most `limit` reads by key.
            senders: dict[tuple[str, str], Sender] = {}
            for session_id, ref, role, _, _ in rows:
                if role != "user":
                    continue
                found = self._db.execute(
                    "SELECT body FROM messages WHERE session_id = ? AND id = ?", (session_id, ref)
                ).fetchone()
                if found is not None:
                    senders[(session_id, ref)] = _load(MessageRecord, found[0]).sent_by
        hits = [
            SearchHit("session", s.id, s.name, s.updated_at, snippet=s.name)
            for s in sessions.values()
            if codec.search_matches(s.name, terms)
        ]
        hits += [
            SearchHit("artifact", a.session_id, sessions[a.session_id].name, a.updated_at, path=a.path, snippet=a.path)
            for a in artifacts
            if a.session_id in sessions and codec.search_matches(a.path, terms)
        ]
        for session_id, ref, role, body, row in rows:
            if session_id in sessions:
                hits.append(
                    SearchHit(
                        "message",
                        session_id,
                        sessions[session_id].name,
                        (row // 4096) / 1000,
                        message_id=ref,
                        role=cast(Role, role),
                        snippet=codec.search_snippet(body, terms),
                        sent_by=senders.get((session_id, ref), "person"),
                    )
                )
        return SearchResults(hits=codec.order_hits(hits, limit))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write made inside (by this thread) is part of one transaction: all of them are committed
        together, or none when one raises. One commit instead of several, for writes that belong together
        (a turn's reply and the session's counters); a sync follows when any of them asked for one."""
        with self._lock:
            if self._batch_durable is not None:  # already inside a batch: part of that one
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._batch_durable = False
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            finally:
                durable, self._batch_durable = self._batch_durable, None
        if durable:
            self.syncer.request()

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._batch_durable is not None:  # inside `batch()`: its transaction, committed there
                self._batch_durable = self._batch_durable or durable
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if durable:
            self.syncer.request()

    def _one(self, sql: str, *args: Any) -> str | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return None if row is None else str(row[0])

    def _all(self, sql: str, *args: Any) -> list[str]:
        with self._lock:
            return [str(row[0]) for row in self._db.execute(sql, args).fetchall()]

    # sessions ------------------------------------------------------------------------------

    @staticmethod
    def _session_row(session: SessionRecord) -> tuple[str, str, str, str | None, str]:
        recency = codec.session_recency_key(session.updated_at, session.id)
        return session.id, recency, session.status, session.running_turn_id, _dump(session)

    def _read_session(self, db: sqlite3.Connection, session_id: str) -> SessionRecord:
        row = db.execute("SELECT body FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NotFound(f"session {session_id}")
        return _load(SessionRecord, row[0])

    def _rewrite_session(self, db: sqlite3.Connection, session: SessionRecord) -> None:
        sid, recency, status, running, body = self._session_row(session)
        db.execute(
            "UPDATE sessions SET recency = ?, status = ?, running_turn_id = ?, body = ? WHERE id = ?",
            (recency, status, running, body, sid),
        )

    def create_session(self, session: SessionRecord) -> None:
        record = codec.validated(session)
        try:
            with self._write() as db:
                db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", self._session_row(record))
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"session {session.id} exists") from exc

    def get_session(self, session_id: str) -> SessionRecord:
        with self._lock:
            return self._read_session(self._db, session_id)

    def update_session(self, session_id: str, **changes: object) -> SessionRecord:
        values = codec.session_changes(changes)
        with self._write() as db:
            record = replace(self._read_session(db, session_id), **values)
            self._rewrite_session(db, record)
        return record

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
        deltas = codec.usage_deltas(
            messages=messages,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            stopped_replies=stopped_replies,
        )
        at = None if at is None else codec.check_time(at, "at")
        with self._write() as db:
            record = codec.with_usage(self._read_session(db, session_id), deltas, at)
            self._rewrite_session(db, record)
        return record

    def list_sessions(
        self, *, limit: int = 50, cursor: str | None = None, include_archived: bool = True
    ) -> Page[SessionRecord]:
        codec.check_limit(limit)
        after = codec.decode_cursor(cursor, codec.SESSIONS_SCOPE)
        where = ["1 = 1"]
        args: list[Any] = []
        if after is not None:
            where.append("recency < ?")
            args.append(after)
        if not include_archived:
            where.append("status != 'archived'")
        rows = self._all(
            f"SELECT body FROM sessions WHERE {' AND '.join(where)} ORDER BY recency DESC LIMIT ?",  # noqa: S608
            *args,
            limit + 1,
        )
        return codec.make_page(
            [_load(SessionRecord, body) for body in rows],
            limit,
            codec.SESSIONS_SCOPE,
            lambda s: codec.session_recency_key(s.updated_at, s.id),
        )

    def delete_session(self, session_id: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount == 0:
                raise NotFound(f"session {session_id}")
            db.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM artifacts WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM requests WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM message_texts WHERE session_id = ?", (session_id,))
            db.execute(
                "DELETE FROM search WHERE rowid IN (SELECT row FROM search_rows WHERE session_id = ?)", (session_id,)
            )
            db.execute("DELETE FROM search_rows WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM approvals WHERE session_id = ?", (session_id,))

    def sessions_with_running_turns(self) -> list[SessionRecord]:
        rows = self._all("SELECT body FROM sessions WHERE running_turn_id IS NOT NULL ORDER BY recency DESC")
        return [_load(SessionRecord, body) for body in rows]

    # a turn's writes: each one transaction (`batch`) of the single writes ------------------------

    def accept_message(
        self,
        message: MessageRecord,
        *,
        name: Callable[[], str],
        claim: AcceptedRequest | None = None,
        check: Callable[[], None] | None = None,
        user_action: bool = True,
    ) -> SessionRecord:
        at = codec.check_time(message.created_at, "created_at")
        with self.batch():
            if claim is not None and (earlier := self.claim_request(claim, at=at)) is not None:
                raise KeyClaimed(earlier)
            if check is not None:
                check()
            session = self.get_session(message.session_id)
            changes = codec.accepted_changes(session, message.turn_id, name)
            if changes:
                self.update_session(session.id, **changes)
            self.put_message(message)
            session = self.add_session_usage(session.id, messages=1, at=at)
            if user_action:
                self.record_user_action(at)
        return session

    def start_turn(self, reply: MessageRecord) -> None:
        changes = codec.started_changes(reply)
        with self.batch():
            self.put_message(reply)
            self.update_session(reply.session_id, **changes)
            self.set_turn_running(reply.session_id, reply.turn_id)

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
        changes, deltas, at = codec.ended_changes(session, usage, at)
        with self.batch():
            message = self.update_message(session_id, message_id, **reply)
            with self._write() as db:
                record = codec.with_usage(replace(self._read_session(db, session_id), **changes), deltas, at)
                self._rewrite_session(db, record)
            self.set_turn_running(session_id, None)
        return message, record

    # messages ------------------------------------------------------------------------------

    def put_message(self, message: MessageRecord) -> bool:
        record = codec.fit_message(message)
        with self._write(durable=record.state in FINAL_STATES) as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO messages VALUES (?, ?, ?)",
                (record.session_id, record.id, _dump(record)),
            ).rowcount
            if inserted:
                self._keep_text(db, record.session_id, record.id, message.text)
                self._index_message(db, record, message.text)
        return inserted == 1

    @staticmethod
    def _keep_text(db: sqlite3.Connection, session_id: str, message_id: str, text: str) -> None:
        """Keep the whole text beside a record that holds it cut (and drop it when it fits again)."""
        if codec.text_overflows(text):
            db.execute("INSERT OR REPLACE INTO message_texts VALUES (?, ?, ?)", (session_id, message_id, text))
        else:
            db.execute("DELETE FROM message_texts WHERE session_id = ? AND id = ?", (session_id, message_id))

    def get_message_text(self, session_id: str, message_id: str) -> str:
        with self._lock:
            record = self._read_message(self._db, session_id, message_id)
            row = self._db.execute(
                "SELECT text FROM message_texts WHERE session_id = ? AND id = ?", (session_id, message_id)
            ).fetchone()
        return record.text if row is None else str(row[0])

    def _read_message(self, db: sqlite3.Connection, session_id: str, message_id: str) -> MessageRecord:
        row = db.execute(
            "SELECT body FROM messages WHERE session_id = ? AND id = ?", (session_id, message_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"message {session_id}/{message_id}")
        return _load(MessageRecord, row[0])

    def update_message(self, session_id: str, message_id: str, **changes: object) -> MessageRecord:
        values = codec.message_changes(changes)
        with self._write(durable=values.get("state") in FINAL_STATES) as db:
            record = replace(self._read_message(db, session_id, message_id), **values)
            db.execute(
                "UPDATE messages SET body = ? WHERE session_id = ? AND id = ?",
                (_dump(record), session_id, message_id),
            )
            if isinstance(changes.get("text"), str):
                self._keep_text(db, session_id, message_id, str(changes["text"]))
                self._index_message(db, record, str(changes["text"]))
        return record

    def get_message(self, session_id: str, message_id: str) -> MessageRecord:
        with self._lock:
            return self._read_message(self._db, session_id, message_id)

    def list_messages(
        self, session_id: str, *, limit: int = 50, cursor: str | None = None, newest_first: bool = False
    ) -> Page[MessageRecord]:
        codec.check_limit(limit)
        scope = codec.messages_scope(session_id, newest_first)
        after = codec.decode_cursor(cursor, scope)
        op, order = ("<", "DESC") if newest_first else (">", "ASC")
        where = "session_id = ?" + ("" if after is None else f" AND id {op} ?")
        args = [session_id] + ([] if after is None else [after])
        rows = self._all(
            f"SELECT body FROM messages WHERE {where} ORDER BY id {order} LIMIT ?",  # noqa: S608
            *args,
            limit + 1,
        )
        return codec.make_page([_load(MessageRecord, b) for b in rows], limit, scope, lambda m: m.id)

    # artifacts -----------------------------------------------------------------------------

    def put_artifact(self, artifact: ArtifactRecord) -> None:
        record = codec.validated(artifact)
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?)",
                (record.path, record.session_id, _dump(record)),
            )

    def list_artifacts(self, session_id: str) -> list[ArtifactRecord]:
        rows = self._all("SELECT body FROM artifacts WHERE session_id = ?", session_id)
        return codec.order_artifacts([_load(ArtifactRecord, body) for body in rows])

    def sessions_for_path(self, path: str) -> list[ArtifactRecord]:
        rows = self._all("SELECT body FROM artifacts WHERE path = ?", path)
        return codec.order_artifacts([_load(ArtifactRecord, body) for body in rows])

    # activity heartbeat --------------------------------------------------------------------

    def _change_activity(self, change: Callable[[ActivityRecord], ActivityRecord]) -> None:
        with self._write() as db:
            row = db.execute("SELECT body FROM singletons WHERE name = ?", (_ACTIVITY,)).fetchone()
            current = ActivityRecord() if row is None else _load(ActivityRecord, row[0])
            db.execute("INSERT OR REPLACE INTO singletons VALUES (?, ?)", (_ACTIVITY, _dump(change(current))))

    def get_activity(self) -> ActivityRecord:
        body = self._one("SELECT body FROM singletons WHERE name = ?", _ACTIVITY)
        return ActivityRecord() if body is None else _load(ActivityRecord, body)

    def record_user_action(self, at: float) -> None:
        when = codec.check_time(at, "at")
        self._change_activity(lambda a: replace(a, last_user_action_at=when))

    def record_logout(self, at: float) -> None:
        when = codec.check_time(at, "at")
        self._change_activity(lambda a: replace(a, logged_out_at=when))

    def heartbeat(self, at: float) -> None:
        when = codec.check_time(at, "at")
        self._change_activity(lambda a: replace(a, heartbeat_at=when))

    def set_turn_running(self, session_id: str, turn_id: str | None) -> None:
        codec.check_key(session_id, "session id")

        def change(activity: ActivityRecord) -> ActivityRecord:
            turns = {k: v for k, v in activity.running_turns.items() if k != session_id}
            if turn_id is not None:
                turns[session_id] = turn_id
            return replace(activity, running_turns=turns)

        self._change_activity(change)

    def set_voice_room(self, room: str, opened_at: float | None) -> None:
        codec.check_key(room, "room")

        def change(activity: ActivityRecord) -> ActivityRecord:
            rooms = {k: v for k, v in activity.voice_rooms.items() if k != room}
            if opened_at is not None:
                rooms[room] = codec.check_time(opened_at, "opened_at")
            return replace(activity, voice_rooms=rooms)

        self._change_activity(change)

    # login throttling ----------------------------------------------------------------------

    def get_throttle(self, client: str) -> ThrottleRecord | None:
        body = self._one("SELECT body FROM throttles WHERE client = ?", client)
        return None if body is None else _load(ThrottleRecord, body)

    def record_login_failure(self, client: str, *, at: float, expires_at: float) -> ThrottleRecord:
        codec.check_key(client, "client")
        at, expires_at = codec.check_time(at, "at"), codec.check_time(expires_at, "expires_at")
        with self._write() as db:
            row = db.execute("SELECT body FROM throttles WHERE client = ?", (client,)).fetchone()
            current = None if row is None else _load(ThrottleRecord, row[0])
            record = codec.count_login_failure(current, client, at=at, expires_at=expires_at)
            db.execute("INSERT OR REPLACE INTO throttles VALUES (?, ?)", (client, _dump(record)))
        return record

    def claim_login_attempt(
        self, client: str, *, at: float, expires_at: float, lock_for: Callable[[int], float]
    ) -> tuple[ThrottleRecord, bool]:
        codec.check_key(client, "client")
        at, expires_at = codec.check_time(at, "at"), codec.check_time(expires_at, "expires_at")
        with self._write() as db:
            row = db.execute("SELECT body FROM throttles WHERE client = ?", (client,)).fetchone()
            current = None if row is None else _load(ThrottleRecord, row[0])
            claimed = codec.claim_login_attempt(current, client, at=at, expires_at=expires_at, lock_for=lock_for)
            if claimed is None:
                assert current is not None
                return current, False
            db.execute("INSERT OR REPLACE INTO throttles VALUES (?, ?)", (client, _dump(claimed)))
        return claimed, True

    def lock_client(self, client: str, *, locked_until: float) -> None:
        until = codec.check_time(locked_until, "locked_until")
        with self._write() as db:
            row = db.execute("SELECT body FROM throttles WHERE client = ?", (client,)).fetchone()
            if row is None:
                raise NotFound(f"throttle {client}")
            record = replace(_load(ThrottleRecord, row[0]), locked_until=until)
            db.execute("UPDATE throttles SET body = ? WHERE client = ?", (_dump(record), client))

    def clear_throttle(self, client: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM throttles WHERE client = ?", (client,))

    # idempotency keys ----------------------------------------------------------------------

    def claim_request(self, request: AcceptedRequest, *, at: float) -> AcceptedRequest | None:
        request = codec.validated(request)
        codec.check_key(request.key, "key")
        at = codec.check_time(at, "at")
        with self._write() as db:
            row = db.execute(
                "SELECT body FROM requests WHERE session_id = ? AND key = ?", (request.session_id, request.key)
            ).fetchone()
            if row is not None and (held := _load(AcceptedRequest, row[0])).expires_at >= at:
                return held
            db.execute(
                "INSERT OR REPLACE INTO requests VALUES (?, ?, ?)", (request.session_id, request.key, _dump(request))
            )
        return None

    def forget_request(self, session_id: str, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM requests WHERE session_id = ? AND key = ?", (session_id, key))

    # notifications -------------------------------------------------------------------------

    def put_push_subscription(self, subscription: PushSubscriptionRecord) -> None:
        record = codec.validated(subscription)
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO push_subscriptions VALUES (?, ?)", (record.id, _dump(record)))

    def list_push_subscriptions(self) -> list[PushSubscriptionRecord]:
        records = [_load(PushSubscriptionRecord, body) for body in self._all("SELECT body FROM push_subscriptions")]
        return codec.order_subscriptions(records)

    def delete_push_subscription(self, subscription_id: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM push_subscriptions WHERE id = ?", (subscription_id,)).rowcount == 1

    def get_notification_preferences(self) -> NotificationPreferences:
        body = self._one("SELECT body FROM singletons WHERE name = ?", _NOTIFY_PREFERENCES)
        return NotificationPreferences() if body is None else _load(NotificationPreferences, body)

    def set_notification_preferences(self, preferences: NotificationPreferences) -> None:
        record = codec.validated(preferences)
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO singletons VALUES (?, ?)", (_NOTIFY_PREFERENCES, _dump(record)))

    def claim_vapid_keys(self, keys: VapidKeys) -> VapidKeys:
        record = codec.validated(keys)
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO singletons VALUES (?, ?)", (_VAPID, _dump(record)))
            row = db.execute("SELECT body FROM singletons WHERE name = ?", (_VAPID,)).fetchone()
        return _load(VapidKeys, row[0])

    # schedules ----------------------------------------------------------------------------

    def _read_schedule(self, db: sqlite3.Connection, schedule_id: str) -> ScheduleRecord:
        row = db.execute("SELECT body FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
        if row is None:
            raise NotFound(f"schedule {schedule_id}")
        return _load(ScheduleRecord, row[0])

    def create_schedule(self, schedule: ScheduleRecord) -> None:
        record = codec.validated(schedule)
        created = codec.session_recency_key(record.created_at, record.id)
        try:
            with self._write() as db:
                db.execute("INSERT INTO schedules VALUES (?, ?, ?)", (record.id, created, _dump(record)))
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"schedule {schedule.id} exists") from exc

    def get_schedule(self, schedule_id: str) -> ScheduleRecord:
        with self._lock:
            return self._read_schedule(self._db, schedule_id)

    def update_schedule(self, schedule_id: str, **changes: object) -> ScheduleRecord:
        values = codec.schedule_changes(changes)
        with self._write() as db:
            record = replace(self._read_schedule(db, schedule_id), **values)
            db.execute("UPDATE schedules SET body = ? WHERE id = ?", (_dump(record), schedule_id))
        return record

    def list_schedules(self) -> list[ScheduleRecord]:
        return [_load(ScheduleRecord, body) for body in self._all("SELECT body FROM schedules ORDER BY created")]

    def delete_schedule(self, schedule_id: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount == 0:
                raise NotFound(f"schedule {schedule_id}")
            db.execute("DELETE FROM schedule_runs WHERE schedule_id = ?", (schedule_id,))

    def _insert_run(self, db: sqlite3.Connection, run: ScheduleRunRecord) -> bool:
        return (
            db.execute(
                "INSERT OR IGNORE INTO schedule_runs VALUES (?, ?, ?, ?)",
                (run.schedule_id, run.id, run.outcome, _dump(run)),
            ).rowcount
            == 1
        )

    def claim_schedule_run(
        self, run: ScheduleRunRecord, *, expected_next_run_at: float, next_run_at: float | None
    ) -> bool:
        record = codec.fit_run(run)
        expected = codec.check_time(expected_next_run_at, "expected_next_run_at")
        changes = codec.schedule_changes({"next_run_at": next_run_at, "last_run_at": record.started_at})
        with self._write() as db:
            try:
                schedule = self._read_schedule(db, record.schedule_id)
            except NotFound:
                return False
            if schedule.next_run_at != expected:
                return False
            if not self._insert_run(db, record):
                return False
            db.execute("UPDATE schedules SET body = ? WHERE id = ?", (_dump(replace(schedule, **changes)), schedule.id))
        return True

    def put_schedule_run(self, run: ScheduleRunRecord) -> bool:
        record = codec.fit_run(run)
        with self._write() as db:
            self._read_schedule(db, record.schedule_id)
            return self._insert_run(db, record)

    def _read_run(self, db: sqlite3.Connection, schedule_id: str, run_id: str) -> ScheduleRunRecord:
        row = db.execute(
            "SELECT body FROM schedule_runs WHERE schedule_id = ? AND id = ?", (schedule_id, run_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"run {schedule_id}/{run_id}")
        return _load(ScheduleRunRecord, row[0])

    def update_schedule_run(self, schedule_id: str, run_id: str, **changes: object) -> ScheduleRunRecord:
        values = codec.run_changes(changes)
        with self._write() as db:
            record = replace(self._read_run(db, schedule_id, run_id), **values)
            db.execute(
                "UPDATE schedule_runs SET outcome = ?, body = ? WHERE schedule_id = ? AND id = ?",
                (record.outcome, _dump(record), schedule_id, run_id),
            )
        return record

    def get_schedule_run(self, schedule_id: str, run_id: str) -> ScheduleRunRecord:
        with self._lock:
            return self._read_run(self._db, schedule_id, run_id)

    def list_schedule_runs(
        self, schedule_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ScheduleRunRecord]:
        codec.check_limit(limit)
        scope = codec.runs_scope(schedule_id)
        after = codec.decode_cursor(cursor, scope)
        where = "schedule_id = ?" + ("" if after is None else " AND id < ?")
        args = [schedule_id] + ([] if after is None else [after])
        rows = self._all(
            f"SELECT body FROM schedule_runs WHERE {where} ORDER BY id DESC LIMIT ?",  # noqa: S608
            *args,
            limit + 1,
        )
        return codec.make_page([_load(ScheduleRunRecord, b) for b in rows], limit, scope, lambda r: r.id)

    def running_schedule_runs(self) -> list[ScheduleRunRecord]:
        rows = self._all("SELECT body FROM schedule_runs WHERE outcome = 'running' ORDER BY schedule_id, id")
        return [_load(ScheduleRunRecord, body) for body in rows]

    # export and import -------------------------------------------------------------------

    def table_names(self) -> list[str]:
        """Every table in the database file (for the export guard test)."""
        return self._all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")

    def singleton_names(self) -> list[str]:
        """The rows of the singletons table (for the export guard test)."""
        return self._all("SELECT name FROM singletons ORDER BY name")

    def export_items(self, *, session_id: str | None = None) -> Iterator[portable.ExportedItem]:
        # Fixed SQL fragments only; the session id is always a bound parameter.
        only = "" if session_id is None else " WHERE session_id = ?"
        only_session = "" if session_id is None else " WHERE id = ?"
        only_messages = "" if session_id is None else " WHERE m.session_id = ?"
        args = () if session_id is None else (session_id,)
        # One read transaction: the export is a consistent cut even while turns write.
        with self._lock:
            self._db.execute("BEGIN")
            try:
                sessions = self._db.execute(
                    f"SELECT body FROM sessions{only_session} ORDER BY id",  # noqa: S608
                    args,
                ).fetchall()
                messages = self._db.execute(
                    "SELECT m.body, t.text FROM messages m LEFT JOIN message_texts t"  # noqa: S608
                    f" ON t.session_id = m.session_id AND t.id = m.id{only_messages} ORDER BY m.session_id, m.id",
                    args,
                ).fetchall()
                artifacts = self._db.execute(
                    f"SELECT body FROM artifacts{only} ORDER BY session_id, path",  # noqa: S608
                    args,
                ).fetchall()
                # Schedules and their runs are no session's, nor are the preferences and the tool policy:
                # a one-session export leaves them out (docs/backups.md).
                schedules, runs, preferences, policy = [], [], [], []
                if session_id is None:
                    schedules = self._db.execute("SELECT body FROM schedules ORDER BY id").fetchall()
                    runs = self._db.execute("SELECT body FROM schedule_runs ORDER BY schedule_id, id").fetchall()
                    preferences = self._db.execute(
                        "SELECT body FROM singletons WHERE name = ?", (_NOTIFY_PREFERENCES,)
                    ).fetchall()
                    policy = self._db.execute("SELECT body FROM singletons WHERE name = ?", (_TOOL_POLICY,)).fetchall()
            finally:
                self._db.execute("COMMIT")
        for (body,) in sessions:
            yield portable.export(portable.SESSION, _load(SessionRecord, body))
        for body, whole in messages:
            record = _load(MessageRecord, body)
            yield portable.export(portable.MESSAGE, record if whole is None else replace(record, text=whole))
        for (body,) in artifacts:
            yield portable.export(portable.ARTIFACT, _load(ArtifactRecord, body))
        for (body,) in schedules:
            yield portable.export(portable.SCHEDULE, _load(ScheduleRecord, body))
        for (body,) in runs:
            yield portable.export(portable.SCHEDULE_RUN, _load(ScheduleRunRecord, body))
        for (body,) in preferences:
            yield portable.export(portable.NOTIFICATION_PREFERENCES, _load(NotificationPreferences, body))
        for (body,) in policy:
            modes = json.loads(body)
            if modes:  # an empty policy is no item, as in DynamoDB (one item per tool)
                yield portable.export(portable.TOOL_POLICY, ToolPolicyRecord(modes=dict(sorted(modes.items()))))

    def import_item(self, item: portable.ExportedItem, *, replace: bool = False) -> portable.ImportOutcome:
        record = portable.record_of(item)
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._write() as db:
            if isinstance(record, SessionRecord):
                existed = db.execute("SELECT 1 FROM sessions WHERE id = ?", (record.id,)).fetchone()
                if existed is None or replace:
                    db.execute(f"{verb} INTO sessions VALUES (?, ?, ?, ?, ?)", self._session_row(record))
            elif isinstance(record, MessageRecord):
                fitted = codec.fit_message(record)
                existed = db.execute(
                    "SELECT 1 FROM messages WHERE session_id = ? AND id = ?", (record.session_id, record.id)
                ).fetchone()
                if existed is None or replace:
                    db.execute(f"{verb} INTO messages VALUES (?, ?, ?)", (fitted.session_id, fitted.id, _dump(fitted)))
                    self._keep_text(db, record.session_id, record.id, record.text)
                    self._index_message(db, record, record.text)  # restored messages are found by search
            elif isinstance(record, ArtifactRecord):
                existed = db.execute(
                    "SELECT 1 FROM artifacts WHERE path = ? AND session_id = ?", (record.path, record.session_id)
                ).fetchone()
                if existed is None or replace:
                    db.execute(
                        f"{verb} INTO artifacts VALUES (?, ?, ?)", (record.path, record.session_id, _dump(record))
                    )
            elif isinstance(record, ScheduleRecord):
                existed = db.execute("SELECT 1 FROM schedules WHERE id = ?", (record.id,)).fetchone()
                if existed is None or replace:
                    created = codec.session_recency_key(record.created_at, record.id)
                    db.execute(f"{verb} INTO schedules VALUES (?, ?, ?)", (record.id, created, _dump(record)))
            elif isinstance(record, ScheduleRunRecord):
                if db.execute("SELECT 1 FROM schedules WHERE id = ?", (record.schedule_id,)).fetchone() is None:
                    return "skipped"  # a run without its schedule could never be seen or deleted
                fitted_run = codec.fit_run(record)
                existed = db.execute(
                    "SELECT 1 FROM schedule_runs WHERE schedule_id = ? AND id = ?", (record.schedule_id, record.id)
                ).fetchone()
                if existed is None or replace:
                    db.execute(
                        f"{verb} INTO schedule_runs VALUES (?, ?, ?, ?)",
                        (fitted_run.schedule_id, fitted_run.id, fitted_run.outcome, _dump(fitted_run)),
                    )
            elif isinstance(record, ToolPolicyRecord):
                row = db.execute("SELECT body FROM singletons WHERE name = ?", (_TOOL_POLICY,)).fetchone()
                existed = row if row is not None and json.loads(row[0]) else None  # an empty policy is none
                if existed is None or replace:
                    body = json.dumps(record.modes)  # the shape set_tool_mode writes: tool -> mode
                    db.execute("INSERT OR REPLACE INTO singletons VALUES (?, ?)", (_TOOL_POLICY, body))
            else:
                existed = db.execute("SELECT 1 FROM singletons WHERE name = ?", (_NOTIFY_PREFERENCES,)).fetchone()
                if existed is None or replace:
                    db.execute(f"{verb} INTO singletons VALUES (?, ?)", (_NOTIFY_PREFERENCES, _dump(record)))
        if existed is None:
            return "added"
        return "replaced" if replace else "kept"

    def clear_items(self) -> int:
        with self._write() as db:
            count = db.execute("DELETE FROM sessions").rowcount
            for table in (
                "messages",
                "artifacts",
                "message_texts",
                "requests",
                "schedules",
                "schedule_runs",
                "search",
                "search_rows",
            ):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 -- fixed names
            db.execute("DELETE FROM singletons WHERE name IN (?, ?)", (_NOTIFY_PREFERENCES, _TOOL_POLICY))
        return count

    # approvals and the tool policy -------------------------------------------------------

    def put_approval(self, approval: ApprovalRecord) -> bool:
        record = codec.fit_approval(approval)
        with self._write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO approvals VALUES (?, ?, ?, ?, ?)",
                (record.session_id, record.id, codec.time_key(record.created_at), record.status, _dump(record)),
            )
            return cursor.rowcount == 1

    def _read_approval(self, db: sqlite3.Connection, session_id: str, approval_id: str) -> ApprovalRecord:
        row = db.execute(
            "SELECT body FROM approvals WHERE session_id = ? AND id = ?", (session_id, approval_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"approval {session_id}/{approval_id}")
        return _load(ApprovalRecord, row[0])

    def _rewrite_approval(self, db: sqlite3.Connection, record: ApprovalRecord) -> None:
        db.execute(
            "UPDATE approvals SET status = ?, body = ? WHERE session_id = ? AND id = ?",
            (record.status, _dump(record), record.session_id, record.id),
        )

    def get_approval(self, session_id: str, approval_id: str) -> ApprovalRecord:
        with self._lock:
            return self._read_approval(self._db, session_id, approval_id)

    def decide_approval(
        self, session_id: str, approval_id: str, decision: ApprovalRecord
    ) -> tuple[ApprovalRecord, bool]:
        codec.check_decision(decision)
        with self._write() as db:
            current = self._read_approval(db, session_id, approval_id)
            if current.status != "pending":
                return current, False
            record = codec.decided_approval(current, decision)
            self._rewrite_approval(db, record)
        return record, True

    def mark_approval_delivered(self, session_id: str, approval_id: str, delivered: str) -> ApprovalRecord:
        with self._write() as db:
            record = replace(self._read_approval(db, session_id, approval_id), delivered=delivered)
            self._rewrite_approval(db, codec.validated(record))
        return record

    def list_approvals(self, session_id: str, *, pending_only: bool = False) -> list[ApprovalRecord]:
        sql = "SELECT body FROM approvals WHERE session_id = ?"
        if pending_only:
            sql += " AND status = 'pending'"
        rows = self._all(sql + " ORDER BY created, id", session_id)
        return [_load(ApprovalRecord, body) for body in rows]

    def pending_approvals(self) -> list[ApprovalRecord]:
        rows = self._all("SELECT body FROM approvals WHERE status = 'pending' ORDER BY created, id")
        return [_load(ApprovalRecord, body) for body in rows]

    def get_tool_policy(self) -> dict[str, str]:
        body = self._one("SELECT body FROM singletons WHERE name = ?", _TOOL_POLICY)
        return {} if body is None else dict(json.loads(body))

    def set_tool_mode(self, name: str, mode: str | None) -> dict[str, str]:
        codec.check_tool_mode(name, mode)
        with self._write() as db:
            row = db.execute("SELECT body FROM singletons WHERE name = ?", (_TOOL_POLICY,)).fetchone()
            policy: dict[str, str] = {} if row is None else dict(json.loads(row[0]))
            if mode is None:
                policy.pop(name, None)
            else:
                policy[name] = mode
            db.execute("INSERT OR REPLACE INTO singletons VALUES (?, ?)", (_TOOL_POLICY, json.dumps(policy)))
        return policy

    def close(self) -> None:
        self.syncer.close()
        with self._lock:
            self._db.close()
