"""The running Blu's backups: daily snapshots while anything changed, one before sleep, metrics."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.observability.metrics import record_backup, record_backup_pending
from core.store.base import Store
from runtime.backup.engine import BackupBusy, Backups, ImportReport, Sources
from runtime.backup.repository import LocalRepository, Repository, S3Repository, SnapshotInfo
from runtime.settings import Settings

log = logging.getLogger(__name__)
CHECK_SECONDS = 15 * 60.0  # how often a running Blu asks whether a daily snapshot is due


def keeping_heartbeat(store: Store, work: Callable[[], Any], every_seconds: float = 60.0) -> Any:
    """Run `work` in this thread while another writes the activity heartbeat every minute: a long
    snapshot before sleep holds up the heartbeat loop, and the idle checker would call a task whose
    heartbeat is 10 minutes old stale and stop it mid-snapshot."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every_seconds):
            try:
                store.heartbeat(time.time())
            except Exception:
                log.warning("Could not write the heartbeat during a backup", exc_info=True)

    beater = threading.Thread(target=beat, name="backup-heartbeat", daemon=True)
    beater.start()
    try:
        return work()
    finally:
        done.set()
        beater.join(timeout=5)


def repository_for(settings: Settings) -> Repository:
    """The backups bucket in AWS; on a laptop a private folder of Blu's (BLU_DATA_DIR/backups)."""
    if settings.backups_bucket:
        return S3Repository(settings.backups_bucket, region=settings.aws_region)
    return LocalRepository(settings.data_dir / "backups")


def backups_for(settings: Settings, store: Store) -> Backups:
    return Backups(
        sources=Sources(workspace=settings.workspace_dir, state=settings.claude_config_dir, data_dir=settings.data_dir),
        store=store,
        repository=repository_for(settings),
    )


@dataclass
class Operation:
    """A snapshot, restore or import the API started in the background (API Gateway cuts a request at
    30 s): `state` running/done/failed, `result` its report, `error` what went wrong in words."""

    kind: str
    started_at: float
    state: str = "running"
    finished_at: float | None = None
    result: Any = None
    error: str | None = None
    id: str = field(default_factory=lambda: secrets.token_hex(8))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": self.result,
            "error": self.error,
        }


class BackupService:
    """Runs Backups operations in a worker thread, one at a time (the engine's lock), and measures them.

    `turns_running` says whether a turn is running right now: a scheduled snapshot waits for a quiet
    moment (the next check) rather than copying files a turn is changing; a restore refuses.
    `quiesce(session_id | None)` drops idle Claude clients after a restore (their memory predates it) and
    has every reader of the sessions reload.
    `schedules_replaced()` is awaited after a full restore or an import, which may bring schedules (and
    the tool policy) back: the scheduler looks again and puts the EventBridge wakes in line with them,
    and the approvals read the tool policy again (docs/backups.md).
    Both follow a restore or import that `python -m runtime.backup` made while this Blu runs too: the
    engine records each one it finishes (`Backups.last_change`), and `follow_changes()` (every few
    seconds) does for one this process did not make what this process does after its own.
    """

    def __init__(
        self,
        backups: Backups,
        *,
        daily: bool,
        turns_running: Callable[[], bool] = lambda: False,
        quiesce: Callable[[str | None], Awaitable[None]] | None = None,
        schedules_replaced: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.backups = backups
        self.daily = daily
        self.turns_running = turns_running
        self.quiesce = quiesce
        self.schedules_replaced = schedules_replaced
        self.last_error: str | None = None
        self.running: str | None = None  # what is running now ("snapshot", "restore", "import")
        self.operation: Operation | None = None  # the latest one the API started
        self._due_since: float | None = None  # monotonic time a check first found a snapshot due
        self._tasks: set[asyncio.Task[None]] = set()
        self._followed: str | None = None  # the id of the last restore or import whose effects this process applied
        self._changing = asyncio.Lock()  # held while this process restores or imports, or follows a change

    def adopt_changes(self) -> None:
        """At start (in a thread): what is on disk and in the store now is what this process starts from,
        so any restore or import recorded so far needs no following."""
        change = self.backups.last_change()
        self._followed = change["id"] if change else None

    async def follow_changes(self) -> bool:
        """A restore or import recorded since the last one followed (by `python -m runtime.backup` while this
        Blu runs): drop the idle Claude clients and reload the readers, read the tool policy, memory and
        schedules again, as after one of this process's own. True when there was one."""
        if self._changing.locked():
            return False  # this process's own operation follows its change when it ends
        async with self._changing:
            return await self._follow_locked()

    async def _follow_locked(self) -> bool:
        change = await asyncio.to_thread(self.backups.last_change)
        if change is None or change.get("id") == self._followed:
            return False
        log.warning(
            "A %s of snapshot %s was made outside this server; following it",
            "import" if change.get("scope") == "import" else "restore",
            change.get("snapshot"),
        )
        await self._after_change(change)
        return True

    async def run_following(self, every_seconds: float = 2.0) -> None:
        """Look for a restore or import made outside this process every few seconds (a stat and a small read)."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.follow_changes()
            except Exception:
                log.exception("Could not follow a restore made outside this server")

    async def _after_change(self, change: dict[str, Any]) -> None:
        """What a restore or import leaves stale in this process, put right: `quiesce` after a restore (all, or
        the session), `schedules_replaced` after a full restore or an import. A file restore needs neither."""
        self._followed = change.get("id")
        scope = change.get("scope")
        if scope in ("all", "session") and self.quiesce is not None:
            await self.quiesce(change.get("session_id") if scope == "session" else None)
        if scope in ("all", "import") and self.schedules_replaced is not None:
            await self.schedules_replaced()

    def launch(self, kind: str, work: Callable[[], Awaitable[Any]]) -> Operation:
        """Run `work` in the background as the current operation. Raises BackupBusy while one runs."""
        if self.running is not None or (self.operation is not None and self.operation.state == "running"):
            raise BackupBusy("A backup, restore or import is already running; try again when it ends.")
        operation = self.operation = Operation(kind=kind, started_at=time.time())

        async def run() -> None:
            try:
                result = await work()
                operation.result = result.as_json() if hasattr(result, "as_json") else result
                operation.state = "done"
            except Exception as exc:
                operation.state, operation.error = "failed", str(exc) or type(exc).__name__
                if not isinstance(exc, ValueError | LookupError | BackupBusy):
                    log.exception("The %s failed", kind)
            finally:
                operation.finished_at = time.time()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return operation

    # snapshots --------------------------------------------------------------------------------

    def take_sync(self, reason: str) -> SnapshotInfo:
        """Take a snapshot in this thread, with its metrics (outcome, size, duration)."""
        started = time.monotonic()
        self.running = "snapshot"
        try:
            info = self.backups.snapshot(reason)
        except BackupBusy:
            raise
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            record_backup(ok=False)
            log.exception("The %s backup failed", reason, extra={"event": "backup_failed"})
            raise
        finally:
            self.running = None
        duration = time.monotonic() - started
        self.last_error = None
        record_backup(ok=True, size_bytes=info.size, duration_seconds=duration)
        log.info(
            "Backup %s written (%s bytes in %.1f s)",
            info.id,
            info.size,
            duration,
            extra={"event": "backup", "reason": reason, "snapshot": info.id},
        )
        return info

    async def take(self, reason: str = "manual") -> SnapshotInfo:
        return await asyncio.to_thread(self.take_sync, reason)

    def take_if_due_sync(self, reason: str) -> SnapshotInfo | None:
        """A snapshot when one is due (changes, and the last is older than a day). Reports how long a
        due snapshot has waited while this Blu ran (BackupPendingHours: 0 once one is written), so a
        Blu that slept for days with old changes does not alarm at its wake, but one that cannot back
        up does. Never raises: a failure is logged and counted, and the next check tries again."""
        info = None
        try:
            due, _ = self.backups.due()
            if due:
                now = time.monotonic()
                self._due_since = now if self._due_since is None else self._due_since
                if not self.turns_running():
                    info = self.take_sync(reason)
        except BackupBusy:
            pass
        except Exception:
            log.warning("The %s backup check failed", reason, exc_info=True)
        else:
            if not due:
                self._due_since = None
        if info is not None:
            self._due_since = None
        waited = 0.0 if self._due_since is None else (time.monotonic() - self._due_since) / 3600.0
        record_backup_pending(hours=waited)
        return info

    def before_sleep(self, wait_seconds: float = 600.0) -> SnapshotInfo | None:
        """Called (in a thread) right before Blu scales itself to 0 or stops: the last chance for a day.
        A snapshot already running is waited for (up to `wait_seconds`), not cut off by the stop."""
        deadline = time.monotonic() + wait_seconds
        while self.running is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.take_if_due_sync("before-sleep")

    async def run_daily(self) -> None:
        """The scheduler: check every CHECK_SECONDS while Blu runs."""
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            await asyncio.to_thread(self.take_if_due_sync, "daily")

    # restore and import -----------------------------------------------------------------------

    async def restore(self, snapshot_id: str, *, session_id: str | None = None, path: str | None = None) -> Any:
        if path is None and self.turns_running():
            raise BackupBusy("A turn is running; restore when it has finished (or stop it first).")

        def run() -> Any:
            self.running = "restore"
            try:
                if path is not None:
                    return self.backups.restore_file(snapshot_id, path)
                if session_id is not None:
                    return self.backups.restore_session(snapshot_id, session_id)
                return self.backups.restore_all(snapshot_id)
            finally:
                self.running = None

        async with self._changing:
            await self._follow_locked()  # one made outside just before: its effects first
            result = await asyncio.to_thread(run)
            if path is None:  # this restore's change, by what was asked (its record may have failed to write)
                change = await asyncio.to_thread(self.backups.last_change) or {}
                scope = {"scope": "all" if session_id is None else "session", "session_id": session_id}
                await self._after_change({**change, **scope})
        return result

    async def import_archive(self, source: Path | IO[bytes]) -> ImportReport:
        def run() -> ImportReport:
            self.running = "import"
            try:
                if isinstance(source, Path):
                    with source.open("rb") as stream:
                        return self.backups.import_archive(stream)
                return self.backups.import_archive(source)
            finally:
                self.running = None

        async with self._changing:
            await self._follow_locked()  # one made outside just before: its effects first
            report = await asyncio.to_thread(run)
            change = await asyncio.to_thread(self.backups.last_change) or {}
            await self._after_change({**change, "scope": "import"})
        return report
