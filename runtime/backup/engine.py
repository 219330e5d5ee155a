"""Snapshots, restores and imports of a whole Blu: workspace, Claude's state and the store, one at a time.

Everything here is synchronous and may take minutes: the API and the scheduler run it in a worker
thread (runtime/backup/service.py), the command (`python -m runtime.backup`) runs it directly. A file
lock in the data folder keeps it to one operation at a time across those processes.

A full restore never leaves a mix of two states. It stages the snapshot beside each folder it
replaces (`<folder>/.blu-restore-new`, same file system, so every move is a rename), then writes a
marker (`<data dir>/restore.json`) and from there only rolls forward, phase by phase, each phase
repeatable: move the current entries out (`.blu-restore-old`), move the staged ones in, replace the
store's items, clean up. A crash before the marker leaves the old state (the staging is discarded
on the next start); after it, `recover()` (run on every start) finishes the restore.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from core.backup.archive import ITEMS_NAME, ArchiveError, ArchiveWriter, Manifest, read_archive
from core.store import NotFound
from core.store.base import Store
from core.store.portable import SESSION, ExportedItem, UnknownKind, record_of
from runtime.backup.repository import Repository, SnapshotInfo, SnapshotNotFound
from runtime.workspace import PathRejected, Workspace, split_path

log = logging.getLogger(__name__)

BLU_VERSION = "0.1.0"  # pyproject.toml's version (a test keeps them equal)
NEW = ".blu-restore-new"
OLD = ".blu-restore-old"
RESERVED = (NEW, OLD)
MARKER = "restore.json"
# The last restore or import that finished, by whichever process (the server, `python -m runtime.backup`): a
# running server that did not make it follows it (BackupService.follow_changes) as it follows its own.
CHANGED = "restored.json"
ITEMS = "restore-items.jsonl"
LOCK = "backup.lock"
DAY_SECONDS = 24 * 3600.0
SECTIONS: tuple[str, ...] = ("workspace", "state")
PHASES: tuple[str, ...] = ("move-out", "move-in", "store", "cleanup")
# Never in a snapshot: Claude Code's login (an OAuth token, when someone ran `claude login` on this
# machine). Blu's own credentials come from its secret; an export must not carry a key elsewhere.
EXCLUDED: dict[str, tuple[str, ...]] = {"workspace": RESERVED, "state": (*RESERVED, ".credentials.json")}


class BackupBusy(RuntimeError):
    """Another backup, restore or import is running, or a turn is (a restore waits for quiet)."""


class RestoreError(ValueError):
    """The restore cannot be done as asked (no such session or file in the snapshot)."""


@dataclass(frozen=True)
class Sources:
    """What a snapshot holds: the workspace, Claude's CLAUDE_CONFIG_DIR, and (beside them) Blu's
    data folder for the marker, the lock and the record of the last snapshot."""

    workspace: Path
    state: Path
    data_dir: Path

    def root(self, section: str) -> Path:
        return self.workspace if section == "workspace" else self.state


@dataclass
class ImportReport:
    """What an import did: per store kind how many items were added, kept (already there, by id) or
    skipped (a schedule run whose schedule is missing, only when some were);
    files added, identical, or conflicting (kept as they were, the import's copy written beside)."""

    snapshot: dict[str, Any]
    store: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped_kinds: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=lambda: {"added": 0, "same": 0, "conflicts": 0})
    conflicts: list[dict[str, str]] = field(default_factory=list)
    safety_snapshot: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "store": self.store,
            "skipped_kinds": self.skipped_kinds,
            "files": self.files,
            "conflicts": self.conflicts[:100],
            "safety_snapshot": self.safety_snapshot,
        }


def project_folder(workspace: str) -> str:
    """The folder Claude Code files a workspace's transcripts under (docs/sdk-notes.md)."""
    return re.sub(r"[^A-Za-z0-9]", "-", workspace)


def new_snapshot_id(now: float) -> str:
    """`<UTC time to the second>-<8 hex>` (core.backup.layout.SNAPSHOT_ID): the hex is the millisecond (3
    digits) then 5 random ones, so snapshots taken within one second still list newest first (a restore's
    safety snapshot right after a manual one)."""
    millisecond = int(now * 1000) % 1000
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + f"-{millisecond:03x}" + secrets.token_hex(3)[:5]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    with contextlib.suppress(OSError):  # the rename itself survives power loss once the folder is synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    """Delete a file, link or folder tree without following links."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def _adopt(path: Path, like: Path) -> None:
    """Give restored entries the owner and group of the folder they land in (the agent's user, when
    Blu runs as root), so the agent can keep working on them; harmless when it cannot (EFS access points)."""
    st = like.stat()
    if os.geteuid() != 0:
        return
    for folder, dirs, names in os.walk(path):
        for name in [*dirs, *names]:
            with contextlib.suppress(OSError):
                os.lchown(Path(folder) / name, st.st_uid, st.st_gid)
    with contextlib.suppress(OSError):
        os.lchown(path, st.st_uid, st.st_gid)


def _items(path: Path) -> Iterator[ExportedItem]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield ExportedItem.from_json(json.loads(line))


def _check_items(path: Path) -> None:
    """Every store item of an unpacked archive parses and validates as its kind (a kind this Blu does not
    keep is skipped later, not refused). Raises ArchiveError naming the first bad line, so a restore or
    an import is refused before anything changes."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            kind = "?"
            try:
                item = ExportedItem.from_json(json.loads(line))
                kind = item.kind
                record_of(item)
            except UnknownKind:
                continue
            except (ValueError, TypeError) as exc:
                raise ArchiveError(
                    f"The archive's store item on line {number} of {ITEMS_NAME} (kind {kind}) is not valid: {exc}"
                ) from exc


class Backups:
    """Snapshot, restore and import against one store and one repository."""

    def __init__(
        self,
        *,
        sources: Sources,
        store: Store,
        repository: Repository,
        clock: Callable[[], float] = time.time,
        scratch: Path | None = None,
    ) -> None:
        self.sources = sources
        self.store = store
        self.repository = repository
        self.clock = clock
        self.scratch = scratch  # None: the system's temporary folder (local disk in a Fargate task)
        # A test sets this to raise at a named step ("move-out:1", "store:3", ...) to simulate a crash.
        self.crash_at: Callable[[str], None] = lambda step: None

    # one at a time ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.sources.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.sources.data_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise BackupBusy("A backup, restore or import is already running; try again when it ends.") from exc
            yield
        finally:
            os.close(fd)

    def _require_quiet(self, session_id: str | None = None) -> None:
        running = self.store.get_activity().running_turns
        if (session_id is None and running) or (session_id is not None and session_id in running):
            raise BackupBusy("A turn is running; restore when it has finished (or stop it first).")

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(prefix="blu-backup-", dir=self.scratch))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # what changed -----------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """A digest of everything a snapshot holds, cheap to compute (names, sizes, times; the store's
        items): equal digests mean nothing changed since."""
        digest = hashlib.sha256()
        for item in self.store.export_items():
            digest.update(json.dumps(item.as_json(), sort_keys=True, default=str).encode())
        for section in SECTIONS:
            root = self.sources.root(section)
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not (Path(folder) == root and d in RESERVED))
                for name in sorted(names):
                    with contextlib.suppress(OSError):
                        st = (Path(folder) / name).lstat()
                        rel = (Path(folder) / name).relative_to(root).as_posix()
                        digest.update(f"{section}/{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def last(self) -> dict[str, Any] | None:
        """{"id", "created_at", "fingerprint"} of the newest snapshot this Blu took, or None."""
        try:
            data: dict[str, Any] = json.loads((self.sources.data_dir / "backup-last.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data

    def due(self, now: float | None = None, *, max_age_seconds: float = DAY_SECONDS) -> tuple[bool, float]:
        """Whether a scheduled snapshot is due: something changed since the last one and that one is
        older than `max_age_seconds` (or there is none). Also returns how many hours the changes have
        waited beyond that age (0 when not due): the BackupPendingHours metric."""
        now = self.clock() if now is None else now
        last = self.last()
        if last is None:
            return True, 0.0
        age = now - float(last.get("created_at", 0.0))
        if age < max_age_seconds:
            return False, 0.0
        if self.fingerprint() == last.get("fingerprint"):
            return False, 0.0
        return True, (age - max_age_seconds) / 3600.0

    # snapshots --------------------------------------------------------------------------------

    def snapshot(self, reason: str = "manual") -> SnapshotInfo:
        """Write a snapshot to the repository and return it. Raises BackupBusy."""
        with self._exclusive():
            return self._snapshot(reason)

    def _snapshot(self, reason: str) -> SnapshotInfo:
        now = self.clock()
        snapshot_id = new_snapshot_id(now)
        fingerprint = self.fingerprint()
        with self._scratch() as scratch:
            path = scratch / f"{snapshot_id}.tar.gz"
            with path.open("wb") as out:
                writer = ArchiveWriter(
                    out, snapshot_id=snapshot_id, reason=reason, blu_version=BLU_VERSION, created_at=now
                )
                sessions: dict[str, dict[str, Any]] = {}

                def lines() -> Iterator[dict[str, Any]]:
                    for item in self.store.export_items():
                        if item.kind == SESSION:
                            sessions[item.item["id"]] = {
                                "id": item.item["id"],
                                "name": item.item.get("name", ""),
                                "updated_at": item.item.get("updated_at"),
                                "messages": 0,
                            }
                        elif item.kind == "message" and item.session_id in sessions:
                            sessions[item.session_id]["messages"] += 1
                        yield item.as_json()

                writer.add_items(lines())
                writer.manifest.sessions = sorted(sessions.values(), key=lambda s: -(s["updated_at"] or 0))
                writer.manifest.origin = {"workspace": str(self.sources.workspace.resolve())}
                for section in SECTIONS:
                    writer.add_tree(section, self.sources.root(section), exclude=EXCLUDED[section])
                manifest = writer.finish()
                out.flush()
                os.fsync(out.fileno())
            summary = manifest.summary()
            summary["fingerprint"] = fingerprint
            info = self.repository.put(snapshot_id, path, summary)
        if reason not in ("pre-restore", "pre-import"):
            record = {"id": snapshot_id, "created_at": now, "fingerprint": fingerprint}
            _write_json(self.sources.data_dir / "backup-last.json", record)
        return info

    def _extract(self, snapshot_id: str, scratch: Path) -> Manifest:
        with contextlib.closing(self.repository.open(snapshot_id)) as stream:
            return self._extract_stream(stream, scratch)

    def _extract_stream(self, stream: IO[bytes], scratch: Path) -> Manifest:
        target = scratch / "unpacked"
        target.mkdir()
        manifest = read_archive(stream, extract_to=target).manifest
        _check_items(target / ITEMS_NAME)
        for section in (*SECTIONS, "store"):
            (target / section).mkdir(exist_ok=True)
        for section in SECTIONS:  # an archive from elsewhere may hold them; they are never restored
            for name in EXCLUDED[section]:
                _remove(target / section / name)
        self._move_transcripts(target / "state", manifest)
        return manifest

    def _move_transcripts(self, state: Path, manifest: Manifest) -> None:
        """Claude keeps a session's transcript under `projects/<workspace path, non-alphanumerics as ->`;
        a snapshot from a Blu whose workspace lay elsewhere (a laptop's `.data/workspace`, AWS's
        `/workspace`) has them under the other name, where resume would not find them: rename."""
        source = manifest.origin.get("workspace")
        if not source:
            return
        old = state / "projects" / project_folder(source)
        new = state / "projects" / project_folder(str(self.sources.workspace.resolve()))
        if old == new or not old.is_dir():
            return
        if not new.exists():
            old.rename(new)
            return
        for entry in sorted(os.listdir(old)):
            if not os.path.lexists(new / entry):
                os.rename(old / entry, new / entry)
        shutil.rmtree(old)

    # preview ----------------------------------------------------------------------------------

    def preview(self, snapshot_id: str, *, session_id: str | None = None, path: str | None = None) -> dict[str, Any]:
        """What a restore would replace, from the snapshot's summary and the current state: for all,
        the sessions that would go, come back or be rewound and how many files and bytes are there
        now; for a session, its current name and message count; for a file, whether one is there."""
        info = self.repository.get(snapshot_id)
        current = {s.id: s for s in self._current_sessions()}
        snap_sessions = {s["id"]: s for s in info.summary.get("sessions", [])}
        if path is not None:
            parts = split_path(path)
            exists = (self.sources.workspace.joinpath(*parts)).is_file() if parts else False
            return {"scope": "file", "snapshot": info.as_json(), "path": "/".join(parts), "replaces_existing": exists}
        if session_id is not None:
            if session_id not in snap_sessions:
                raise RestoreError(f"The snapshot holds no session {session_id!r}.")
            now = current.get(session_id)
            return {
                "scope": "session",
                "snapshot": info.as_json(),
                "session": snap_sessions[session_id],
                "replaces": None if now is None else {"id": now.id, "name": now.name, "messages": now.message_count},
            }
        # Per folder, as a snapshot's contents count them: the person's files (the workspace) apart from Claude
        # Code's own (its transcripts, memory and config), which a person does not think of as their files.
        counts = {section: {"files": 0, "bytes": 0} for section in SECTIONS}
        for section in SECTIONS:
            root = self.sources.root(section)
            for folder, dirs, names in os.walk(root):
                if Path(folder) == root:
                    dirs[:] = [d for d in dirs if d not in RESERVED]
                    names = [n for n in names if n not in EXCLUDED[section]]  # never replaced by a restore
                for name in names:
                    with contextlib.suppress(OSError):
                        counts[section]["bytes"] += (Path(folder) / name).lstat().st_size
                        counts[section]["files"] += 1
        return {
            "scope": "all",
            "snapshot": info.as_json(),
            "current": {"sessions": len(current), **counts},
            "sessions_removed": sorted(
                ({"id": s.id, "name": s.name} for s in current.values() if s.id not in snap_sessions),
                key=lambda s: s["id"],
            ),
            "sessions_restored": sorted(sid for sid in snap_sessions if sid not in current),
            "sessions_rewound": sorted(sid for sid in snap_sessions if sid in current),
        }

    def check_restore(self, snapshot_id: str, *, session_id: str | None = None, path: str | None = None) -> None:
        """What a restore can refuse before anything changes, from the snapshot's summary: an unknown
        snapshot (SnapshotNotFound), a session it does not hold (RestoreError, as `preview` says), a path
        that is no workspace file's (PathRejected, RestoreError). Whether it holds a file is only known
        from its archive, so `restore_file` still checks that."""
        info = self.repository.get(snapshot_id)
        if session_id is not None and session_id not in {s.get("id") for s in info.summary.get("sessions", [])}:
            raise RestoreError(f"The snapshot holds no session {session_id!r}.")
        if path is not None and not split_path(path):
            raise RestoreError("Name a file, not the workspace.")

    def _current_sessions(self) -> list[Any]:
        sessions, cursor = [], None
        while True:
            page = self.store.list_sessions(limit=1000, cursor=cursor)
            sessions.extend(page.items)
            if page.next is None:
                return sessions
            cursor = page.next

    # restore all ------------------------------------------------------------------------------

    def restore_all(self, snapshot_id: str) -> dict[str, Any]:
        """Replace the workspace, Claude's state and the store's items with the snapshot's. Keeps a
        snapshot of what it replaces first ("pre-restore"). Raises SnapshotNotFound, ArchiveError
        (nothing changed then), BackupBusy."""
        with self._exclusive():
            self._require_quiet()
            self.repository.get(snapshot_id)
            with self._scratch() as scratch:
                manifest = self._extract(snapshot_id, scratch)  # verified before anything else happens
                unpacked = scratch / "unpacked"
                safety = self._snapshot("pre-restore")
                for section in SECTIONS:
                    root = self.sources.root(section)
                    root.mkdir(parents=True, exist_ok=True)
                    for name in RESERVED:
                        _remove(root / name)
                    shutil.move(unpacked / section, root / NEW)
                    _adopt(root / NEW, root)
                items = unpacked / ITEMS_NAME
                if not items.exists():
                    items.write_text("")  # a snapshot of an empty store
                shutil.move(items, self.sources.data_dir / ITEMS)
            marker = {
                "op": "all",
                "snapshot": snapshot_id,
                "safety_snapshot": safety.id,
                "phase": PHASES[0],
                "started_at": self.clock(),
            }
            _write_json(self.sources.data_dir / MARKER, marker)
            self._roll_forward(marker)
        return {"restored": snapshot_id, "scope": "all", "safety_snapshot": safety.id, "contents": manifest.contents}

    def _set_phase(self, marker: dict[str, Any], phase: str) -> None:
        marker["phase"] = phase
        _write_json(self.sources.data_dir / MARKER, marker)

    def _roll_forward(self, marker: dict[str, Any]) -> None:
        """Finish a restore from its marker's phase; every phase may be repeated after a crash."""
        if marker["op"] == "session":
            self._roll_forward_session(marker)
        else:
            self._roll_forward_all(marker)
        self._record_change(marker["op"], str(marker.get("snapshot")), marker.get("session_id"))

    def _record_change(self, scope: str, snapshot: str, session_id: str | None = None) -> None:
        """Say that the store and Claude's state changed under whatever runs on them (scope `all`, `session`,
        `import`), with an id of its own each time: a running server compares it with the last it followed."""
        change = {"id": secrets.token_hex(8), "scope": scope, "snapshot": snapshot, "session_id": session_id}
        try:
            _write_json(self.sources.data_dir / CHANGED, {**change, "at": self.clock()})
        except OSError:  # the restore itself is done; only a server running beside it would not notice
            log.warning("Could not record the %s of snapshot %s for a running server", scope, snapshot, exc_info=True)

    def last_change(self) -> dict[str, Any] | None:
        """The last restore or import any process finished here ({"id", "scope", "snapshot", "session_id",
        "at"}), or None before the first."""
        try:
            data: dict[str, Any] = json.loads((self.sources.data_dir / CHANGED).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data

    def _roll_forward_all(self, marker: dict[str, Any]) -> None:
        phase = marker["phase"]
        if phase == "move-out":
            for section in SECTIONS:
                root = self.sources.root(section)
                (root / OLD).mkdir(exist_ok=True)
                for entry in sorted(os.listdir(root)):
                    if entry not in EXCLUDED[section]:  # what no snapshot holds stays where it is
                        self.crash_at(f"move-out:{section}/{entry}")
                        os.rename(root / entry, root / OLD / entry)
            self._set_phase(marker, phase := "move-in")
        if phase == "move-in":
            for section in SECTIONS:
                root = self.sources.root(section)
                staged = root / NEW
                for entry in sorted(os.listdir(staged)) if staged.is_dir() else []:
                    self.crash_at(f"move-in:{section}/{entry}")
                    os.rename(staged / entry, root / entry)
            self._set_phase(marker, phase := "store")
        if phase == "store":
            self.store.clear_items()
            for n, item in enumerate(_items(self.sources.data_dir / ITEMS)):
                self.crash_at(f"store:{n}")
                try:
                    self.store.import_item(item, replace=True)
                except UnknownKind:
                    log.warning("The snapshot holds items of a kind this Blu does not keep: %s", item.kind)
            self._set_phase(marker, phase := "cleanup")
        self._cleanup()

    def _cleanup(self) -> None:
        for section in SECTIONS:
            for name in RESERVED:
                _remove(self.sources.root(section) / name)
        _remove(self.sources.data_dir / ITEMS)
        _remove(self.sources.data_dir / MARKER)

    def recover(self) -> str | None:
        """On start: finish a restore that a crash interrupted after its marker (returns the snapshot id),
        or discard the staging of one interrupted before it (the old state stands). Raises BackupBusy."""
        with self._exclusive():
            marker_path = self.sources.data_dir / MARKER
            try:
                marker = json.loads(marker_path.read_text())
            except FileNotFoundError:
                marker = None
            except json.JSONDecodeError:
                marker = None  # a marker is only ever replaced whole; an unreadable one never got written
            if marker is None:
                self._cleanup()
                return None
            log.warning("Finishing the restore of snapshot %s that was interrupted", marker.get("snapshot"))
            self._roll_forward(marker)
            return str(marker.get("snapshot"))

    # restore one session ----------------------------------------------------------------------

    def restore_session(self, snapshot_id: str, session_id: str) -> dict[str, Any]:
        """Put back one session as the snapshot holds it (its messages, artifacts and Claude transcript),
        replacing its current state; other sessions and files stay. Raises RestoreError when the
        snapshot does not hold the session."""
        with self._exclusive():
            self._require_quiet(session_id)
            self.repository.get(snapshot_id)
            with self._scratch() as scratch:
                self._extract(snapshot_id, scratch)
                unpacked = scratch / "unpacked"
                items = [i for i in _items(unpacked / ITEMS_NAME) if i.session_id == session_id]
                session = next((i for i in items if i.kind == SESSION), None)
                if session is None:
                    raise RestoreError(f"The snapshot holds no session {session_id!r}.")
                safety = self._snapshot("pre-restore")
                transcripts = self._transcripts(unpacked / "state", session.item.get("claude_session_id"))
                with (self.sources.data_dir / ITEMS).open("w", encoding="utf-8") as handle:
                    for item in items:
                        handle.write(json.dumps(item.as_json(), ensure_ascii=False) + "\n")
                staged = self.sources.state / NEW
                _remove(staged)
                for relative in transcripts:
                    (staged / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(unpacked / "state" / relative, staged / relative)
                if staged.exists():
                    _adopt(staged, self.sources.state)
            marker = {
                "op": "session",
                "snapshot": snapshot_id,
                "session_id": session_id,
                "files": transcripts,
                "safety_snapshot": safety.id,
                "phase": "files",
            }
            _write_json(self.sources.data_dir / MARKER, marker)
            self._roll_forward(marker)
        return {
            "restored": snapshot_id,
            "scope": "session",
            "session_id": session_id,
            "messages": sum(1 for i in items if i.kind == "message"),
            "transcripts": len(transcripts),
            "safety_snapshot": safety.id,
        }

    @staticmethod
    def _transcripts(state: Path, claude_session_id: object) -> list[str]:
        """The session's transcript files in a snapshot's state (`projects/<cwd>/<id>.jsonl` and
        anything under a folder named after the id)."""
        if not isinstance(claude_session_id, str) or not claude_session_id:
            return []
        found = []
        for folder, _dirs, names in os.walk(state):
            for name in names:
                relative = (Path(folder) / name).relative_to(state)
                if name == f"{claude_session_id}.jsonl" or claude_session_id in relative.parts[:-1]:
                    found.append(relative.as_posix())
        return sorted(found)

    def _roll_forward_session(self, marker: dict[str, Any]) -> None:
        state = self.sources.state
        if marker["phase"] == "files":
            for relative in marker["files"]:
                source = state / NEW / relative
                if not source.exists():
                    continue  # moved in before a crash
                target = state / relative
                self._check_inside(state, target.parent)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
            self._set_phase(marker, "store")
        if marker["phase"] == "store":
            with contextlib.suppress(NotFound):
                self.store.delete_session(marker["session_id"])
            for n, item in enumerate(_items(self.sources.data_dir / ITEMS)):
                self.crash_at(f"store:{n}")
                self.store.import_item(item, replace=True)
            self._set_phase(marker, "cleanup")
        self._cleanup()

    @staticmethod
    def _check_inside(root: Path, folder: Path) -> None:
        resolved = folder.resolve()
        if resolved != root.resolve() and root.resolve() not in resolved.parents:
            raise RestoreError(f"{folder} leads outside {root}; not restored.")

    # restore one file -------------------------------------------------------------------------

    def restore_file(self, snapshot_id: str, path: str) -> dict[str, Any]:
        """Put back one workspace file as the snapshot holds it (an atomic rename through the
        workspace's jail: links on the way are refused). Raises RestoreError, PathRejected."""
        parts = split_path(path)
        if not parts:
            raise RestoreError("Name a file, not the workspace.")
        relative = "/".join(parts)
        with self._exclusive():
            self.repository.get(snapshot_id)
            with self._scratch() as scratch:
                manifest = self._extract(snapshot_id, scratch)
                source = scratch / "unpacked" / "workspace" / relative
                listed = {m.path: m for m in manifest.members}.get(f"workspace/{relative}")
                if listed is None or listed.type != "file":
                    raise RestoreError(f"The snapshot holds no file {relative!r}.")
                safety = self._snapshot("pre-restore")

                async def chunks() -> Any:
                    with source.open("rb") as handle:
                        while data := handle.read(1024 * 1024):
                            yield data

                size = asyncio.run(Workspace(self.sources.workspace).write(relative, chunks(), max_bytes=listed.size))
        return {
            "restored": snapshot_id,
            "scope": "file",
            "path": relative,
            "size": size,
            "safety_snapshot": safety.id,
        }

    # import (merge) ---------------------------------------------------------------------------

    def import_archive(self, stream: IO[bytes]) -> ImportReport:
        """Merge an archive from another Blu: store items by id (present ones kept), files by path
        (absent ones added; a differing one kept and the imported copy written beside it). Never
        removes anything; repeating an import changes nothing more. Keeps a "pre-import" snapshot.
        Raises ArchiveError before anything changes."""
        with self._exclusive(), self._scratch() as scratch:
            manifest = self._extract_stream(stream, scratch)
            unpacked = scratch / "unpacked"
            safety = self._snapshot("pre-import")
            report = ImportReport(snapshot=manifest.summary(), safety_snapshot=safety.id)
            for item in _items(unpacked / ITEMS_NAME):
                try:
                    outcome = self.store.import_item(item)
                except UnknownKind:
                    report.skipped_kinds[item.kind] = report.skipped_kinds.get(item.kind, 0) + 1
                    continue
                counts = report.store.setdefault(item.kind, {"added": 0, "kept": 0})
                key = "kept" if outcome == "replaced" else outcome  # "skipped": a run without its schedule
                counts[key] = counts.get(key, 0) + 1
            for section in SECTIONS:
                self._merge_tree(unpacked / section, self.sources.root(section), section, manifest.id, report)
            self._record_change("import", manifest.id)
            return report

    def _merge_tree(self, source: Path, root: Path, section: str, snapshot_id: str, report: ImportReport) -> None:
        root.mkdir(parents=True, exist_ok=True)
        for folder, _dirs, names in os.walk(source):
            relative_folder = Path(folder).relative_to(source)
            target_folder = root / relative_folder
            self._check_inside(root, target_folder.parent if relative_folder.parts else root)
            if target_folder.is_symlink() or (target_folder.exists() and not target_folder.is_dir()):
                raise RestoreError(f"{section}/{relative_folder} is not a folder here; import refused there.")
            target_folder.mkdir(parents=True, exist_ok=True)
            for name in sorted(names):
                incoming = Path(folder) / name
                target = target_folder / name
                relative = (relative_folder / name).as_posix()
                if not os.path.lexists(target):
                    shutil.move(incoming, target)
                    _adopt(target, root)
                    report.files["added"] += 1
                elif target.is_file() and not target.is_symlink() and _same_bytes(incoming, target):
                    report.files["same"] += 1
                else:
                    stem, suffix = _split_suffix(name)
                    beside = target_folder / f"{stem} (imported {snapshot_id}){suffix}"
                    if not os.path.lexists(beside):
                        shutil.move(incoming, beside)
                        _adopt(beside, root)
                    report.files["conflicts"] += 1
                    report.conflicts.append(
                        {"path": f"{section}/{relative}", "imported_as": f"{section}/{beside.relative_to(root)}"}
                    )


def _split_suffix(name: str) -> tuple[str, str]:
    pure = PurePosixPath(name)
    return (pure.stem, pure.suffix) if pure.suffix and pure.stem else (name, "")


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as left, b.open("rb") as right:
        while True:
            x, y = left.read(1024 * 1024), right.read(1024 * 1024)
            if x != y:
                return False
            if not x:
                return True


__all__ = [
    "ArchiveError",
    "BackupBusy",
    "Backups",
    "ImportReport",
    "PathRejected",
    "RestoreError",
    "SnapshotNotFound",
    "Sources",
]
