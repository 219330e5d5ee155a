"""The laptop back-end of the store: one SQLite file (WAL), same semantics as the DynamoDB table."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from core.store import codec
from core.store.base import Conflict, NotFound
from core.store.models import (
    AcceptedRequest,
    ActivityRecord,
    ApprovalRecord,
    ArtifactRecord,
    MessageRecord,
    Page,
    SessionRecord,
    ThrottleRecord,
    to_plain,
)

R = TypeVar("R")

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
    """CREATE TABLE IF NOT EXISTS approvals (
        session_id TEXT NOT NULL, id TEXT NOT NULL, created TEXT NOT NULL, status TEXT NOT NULL,
        body TEXT NOT NULL, PRIMARY KEY (session_id, id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, created)",
)
_TOOL_POLICY = "tool_policy"
_ACTIVITY = "activity"


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
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not only a crash
        with self._write() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

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
        at: float | None = None,
    ) -> SessionRecord:
        deltas = codec.usage_deltas(
            messages=messages, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost_usd
        )
        bump = {} if at is None else codec.session_changes({"updated_at": at})
        with self._write() as db:
            record = self._read_session(db, session_id)
            record = replace(record, **{k: getattr(record, k) + v for k, v in deltas.items()}, **bump)
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
            db.execute("DELETE FROM approvals WHERE session_id = ?", (session_id,))

    def sessions_with_running_turns(self) -> list[SessionRecord]:
        rows = self._all("SELECT body FROM sessions WHERE running_turn_id IS NOT NULL ORDER BY recency DESC")
        return [_load(SessionRecord, body) for body in rows]

    # messages ------------------------------------------------------------------------------

    def put_message(self, message: MessageRecord) -> bool:
        record = codec.fit_message(message)
        with self._write() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO messages VALUES (?, ?, ?)",
                (record.session_id, record.id, _dump(record)),
            ).rowcount
            if inserted:
                self._keep_text(db, record.session_id, record.id, message.text)
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
        with self._write() as db:
            record = replace(self._read_message(db, session_id, message_id), **values)
            db.execute(
                "UPDATE messages SET body = ? WHERE session_id = ? AND id = ?",
                (_dump(record), session_id, message_id),
            )
            if isinstance(changes.get("text"), str):
                self._keep_text(db, session_id, message_id, str(changes["text"]))
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
        with self._lock:
            self._db.close()
