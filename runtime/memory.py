"""Claude's memory about the person (the user-level CLAUDE.md): conflict-safe saves, every version kept."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Author = Literal["you", "Claude", "restore"]
MEMORY_FILE = "CLAUDE.md"
MAX_MEMORY_CHARS = 200_000  # Claude Code sends the whole file with every first request of a session
MAX_DIFF_CHARS = 20_000


class Conflict(Exception):
    """The memory changed since the version the caller edited; `current` is what it is now."""

    def __init__(self, current: Snapshot) -> None:
        super().__init__("The memory changed since you loaded it.")
        self.current = current


class UnknownVersion(KeyError):
    """No version has this id."""


@dataclass(frozen=True)
class Version:
    """One kept state of the memory. `at` is seconds since the epoch."""

    id: str
    sha: str
    at: float
    author: Author
    size: int
    session_id: str | None = None
    turn_id: str | None = None
    restored_from: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The memory now: its text, its ETag (sha256 hex) and the version that holds this text."""

    content: str
    etag: str
    version: Version | None


@dataclass(frozen=True)
class Change:
    """A change Claude made, as the chat's card shows it: before, after, and a unified diff."""

    previous: Version | None
    current: Version
    diff: str
    diff_truncated: bool


def etag_of(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def unified_diff(before: str, after: str) -> tuple[str, bool]:
    """A unified diff of two texts, cut at MAX_DIFF_CHARS (and whether it was cut)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="CLAUDE.md (before)",
        tofile="CLAUDE.md",
    )
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    if len(text) > MAX_DIFF_CHARS:
        return text[:MAX_DIFF_CHARS], True
    return text, False


class Memory:
    """The memory file and its history. Methods block (file I/O): call them with `asyncio.to_thread`.

    The memory is one Markdown file that every Claude Code session loads: `$CLAUDE_CONFIG_DIR/CLAUDE.md`
    (the CLI's "user memory", read with setting source "user"). Claude edits it with its own tools; the
    person edits it through the API. Its ETag is the SHA-256 of its bytes (a missing file reads as empty).

    History lives in Blu's data folder (not the agent's config folder): `<data>/memory/objects/<sha>.md`
    (content-addressed, so a restore or a repeated text costs nothing) and `<data>/memory/versions.jsonl`,
    one JSON line per version: id, sha, time, author ("you", "Claude" or "restore"), size, and the session
    and turn (a change Claude made) or the version restored. A change seen on disk that Blu did not write
    is Claude's: it is recorded the next time Blu looks (after each turn, or on any read or save).

    Saves are atomic (a temporary file in the same folder, fsync, rename) and conditional: the caller names
    the ETag it edited; when the file changed meanwhile (Claude, or another tab), `Conflict` carries the
    current text instead. One lock orders Blu's own reads and writes; the CLI writes without it, so the
    check and the rename leave a window of microseconds, not of a whole edit.
    """

    def __init__(self, path: Path, history_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.history_dir = history_dir
        self._clock = clock
        self._lock = threading.RLock()
        self._objects = history_dir / "objects"
        self._index = history_dir / "versions.jsonl"
        # The last version a change of Claude's was reported up to (`claim`); in this process only, so
        # history from before a restart is never reported as new.
        latest = self.latest()
        self._reported = latest.id if latest else None

    # -- reading ----------------------------------------------------------------------------
    def _read_file(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def versions(self) -> list[Version]:
        """Every version, oldest first."""
        try:
            lines = self._index.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                found.append(Version(**json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut by a crash mid-append
        return found

    def latest(self) -> Version | None:
        versions = self.versions()
        return versions[-1] if versions else None

    def get(self, version_id: str) -> tuple[Version, str]:
        """A version and its text; UnknownVersion when no version has this id."""
        for version in self.versions():
            if version.id == version_id:
                return version, (self._objects / f"{version.sha}.md").read_text(encoding="utf-8")
        raise UnknownVersion(version_id)

    def etag(self) -> str:
        """The ETag of the memory now, recording nothing: whether a reader's copy is still current."""
        return etag_of(self._read_file())

    def read(self) -> Snapshot:
        """The memory now (a change nobody recorded yet is recorded first, as Claude's)."""
        with self._lock:
            content = self._read_file()
            version = self._observe_locked(content, author="Claude")[1]
            return Snapshot(content, etag_of(content), version)

    # -- changes ----------------------------------------------------------------------------
    def observe(self, *, session_id: str | None = None, turn_id: str | None = None) -> Change | None:
        """Record what is on disk when it differs from the latest version (a change of Claude's, kept with
        this session and turn), then return Claude's changes not yet reported, or None.

        The change runs from the version before Claude's first unreported one to its last (changes a read
        or a save found meanwhile included). It stays unreported until `claim`ed, so a caller that is not
        the turn which made it can leave it to the one that is.
        """
        with self._lock:
            self._observe_locked(self._read_file(), author="Claude", session_id=session_id, turn_id=turn_id)
            versions = self.versions()
            ids = [v.id for v in versions]
            start = ids.index(self._reported) + 1 if self._reported in ids else 0
            claude = [i for i in range(start, len(versions)) if versions[i].author == "Claude"]
            if not claude:
                return None
            before = versions[claude[0] - 1] if claude[0] > 0 else None
            current = versions[claude[-1]]
            old = self.get(before.id)[1] if before else ""
            diff, cut = unified_diff(old, self.get(current.id)[1])
            return Change(before, current, diff, cut)

    def adopt(self, author: Author = "restore") -> Version | None:
        """Record what is on disk now as `author`'s, not Claude's: a restore or an import wrote it. It is
        not reported as a change of Claude's afterwards."""
        with self._lock:
            version = self._observe_locked(self._read_file(), author=author)[1]
            if version is not None:
                self._reported = version.id
            return version

    def claim(self, change: Change) -> None:
        """Mark a change as reported (shown in a chat): `observe` does not return it again."""
        with self._lock:
            self._reported = change.current.id

    def save(
        self, content: str, *, base_etag: str, author: Author = "you", restored_from: str | None = None
    ) -> Snapshot:
        """Replace the memory if it still has `base_etag`; raises Conflict otherwise.

        Saving the text it already has records nothing and returns the current snapshot.
        """
        if len(content) > MAX_MEMORY_CHARS:
            raise ValueError(f"The memory holds at most {MAX_MEMORY_CHARS} characters.")
        with self._lock:
            current = self._read_file()
            current_version = self._observe_locked(current, author="Claude")[1]
            if etag_of(current) != base_etag:
                raise Conflict(Snapshot(current, etag_of(current), current_version))
            if content == current and current_version is not None:
                return Snapshot(current, etag_of(current), current_version)
            self._write_atomically(content)
            version = self._record(content, author=author, restored_from=restored_from)
            return Snapshot(content, etag_of(content), version)

    def restore(self, version_id: str, *, base_etag: str) -> Snapshot:
        """Make a kept version the memory again (a new version, author "restore"); Conflict as `save`."""
        version, content = self.get(version_id)
        return self.save(content, base_etag=base_etag, author="restore", restored_from=version.id)

    # -- internals --------------------------------------------------------------------------
    def _observe_locked(
        self, content: str, *, author: Author, session_id: str | None = None, turn_id: str | None = None
    ) -> tuple[bool, Version | None]:
        """(whether a version was recorded now, the version holding `content`). An empty, never
        recorded memory has no version."""
        latest = self.latest()
        sha = etag_of(content)
        if latest is not None and latest.sha == sha:
            return False, latest
        if latest is None and not content:
            return False, None
        return True, self._record(content, author=author, session_id=session_id, turn_id=turn_id)

    def _record(
        self,
        content: str,
        *,
        author: Author,
        session_id: str | None = None,
        turn_id: str | None = None,
        restored_from: str | None = None,
    ) -> Version:
        sha = etag_of(content)
        self._objects.mkdir(parents=True, exist_ok=True)
        obj = self._objects / f"{sha}.md"
        if not obj.exists():
            _atomic_write(obj, content, 0o600)  # Blu's own history: no one else reads it
        at = self._clock()
        version_id = f"{int(at * 1000):013d}-{sha[:12]}"
        if any(v.id == version_id for v in self.versions()[-5:]):
            version_id = f"{version_id}-{os.urandom(2).hex()}"
        version = Version(
            id=version_id,
            sha=sha,
            at=at,
            author=author,
            size=len(content.encode("utf-8")),
            session_id=session_id,
            turn_id=turn_id,
            restored_from=restored_from,
        )
        line = json.dumps(asdict(version), separators=(",", ":")) + "\n"
        with self._index.open("a+b") as index:
            if index.tell() > 0:
                index.seek(-1, os.SEEK_END)
                if index.read(1) != b"\n":  # a line a crash cut short: end it, never append to it
                    line = "\n" + line
            index.write(line.encode("utf-8"))
            index.flush()
            os.fsync(index.fileno())
        return version

    def _write_atomically(self, content: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, content, 0o660)  # the agent's group keeps reading and writing it


def _atomic_write(path: Path, content: str, mode: int) -> None:
    """Write beside the target, fsync, then rename over it: readers see the old or the new text, never half."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
