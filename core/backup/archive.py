"""Blu's backup archive: a gzipped tar with a marker first and a manifest of sizes and sha256 last.

Layout (format version 1), in this order:

    BLU-BACKUP            b"blu-backup\\n1\\n": refuses a foreign archive before anything else is read
    store/items.jsonl     one {"kind": ..., "item": {...}} per line (core/store/portable.py)
    workspace/<path>      the agent's files (regular files and folders only)
    state/<path>          Claude's CLAUDE_CONFIG_DIR: config, transcripts, memory
    manifest.json         what the archive holds: every member's path, type, size and sha256, the Blu
                          version, the time, counts, sessions; written last, after every hash is known

The stdlib only (tarfile, gzip, hashlib, json), so the restore drill Lambda reads it without a package.
A reader refuses, with ArchiveError and before anything is swapped in: a foreign or newer archive,
a truncated or corrupt stream, a member that differs from the manifest (size, sha256, missing, extra,
duplicate), and any path that could escape its folder (absolute, `..`, links, devices, fifos).
The checksums detect corruption and tampering by anyone who does not rewrite the manifest as well;
they are no signature (an import comes from another Blu, which shares no key with this one).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

FORMAT = "blu-backup"
FORMAT_VERSION = 1
MARKER_NAME = "BLU-BACKUP"
MARKER = f"{FORMAT}\n{FORMAT_VERSION}\n".encode()
MANIFEST_NAME = "manifest.json"
ITEMS_NAME = "store/items.jsonl"
SECTIONS: tuple[str, ...] = ("workspace", "state", "store")
CHUNK = 1024 * 1024
SPOOL_BYTES = 8 * 1024 * 1024  # files up to this are copied in memory before they are added
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
COMPRESS_LEVEL = 6


class ArchiveError(ValueError):
    """The archive cannot be used; the message says why in words a person can act on."""


class ForeignArchive(ArchiveError):
    """Not a Blu backup (or from a newer Blu)."""


class TruncatedArchive(ArchiveError):
    """The archive ends early or its compressed stream is corrupt."""


class TamperedArchive(ArchiveError):
    """A member differs from the manifest: changed, missing, added or duplicated."""


class UnsafeMember(ArchiveError):
    """A member whose path or type could escape the folder it is restored into."""


@dataclass(frozen=True)
class Member:
    """One entry of the manifest: `path` inside the archive, `type` "file" or "dir"."""

    path: str
    type: str
    size: int = 0
    sha256: str = ""
    mode: int = 0o644
    mtime: float = 0.0

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "type": self.type, "mode": self.mode, "mtime": self.mtime}
        if self.type == "file":
            data.update(size=self.size, sha256=self.sha256)
        return data


@dataclass
class Manifest:
    """The archive's table of contents (manifest.json). `contents` counts files and bytes per section
    and items per store kind; `sessions` lists id, name and message count for choosing a restore."""

    id: str
    created_at: float
    blu_version: str
    reason: str
    members: list[Member] = field(default_factory=list)
    contents: dict[str, dict[str, int]] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    # Where the snapshot came from: {"workspace": absolute path}. Claude files transcripts under a
    # folder named after the workspace's path, so a restore elsewhere renames that folder.
    origin: dict[str, str] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(m.size for m in self.members)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "id": self.id,
            "created_at": self.created_at,
            "blu_version": self.blu_version,
            "reason": self.reason,
            "total_bytes": self.total_bytes,
            "contents": self.contents,
            "sessions": self.sessions,
            "skipped": self.skipped,
            "origin": self.origin,
            "members": [m.as_json() for m in self.members],
        }

    def summary(self) -> dict[str, Any]:
        """The manifest without its member list (what a listing shows)."""
        data = self.as_json()
        del data["members"]
        return data

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        """Raises ForeignArchive for another format or a newer version, TamperedArchive for a malformed one."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ForeignArchive("This is not a Blu backup (its manifest names another format).")
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ForeignArchive(f"This backup has format version {version!r}; this Blu reads up to {FORMAT_VERSION}.")
        try:
            members = [
                Member(
                    path=str(m["path"]),
                    type=str(m["type"]),
                    size=int(m.get("size", 0)),
                    sha256=str(m.get("sha256", "")),
                    mode=int(m.get("mode", 0o644)),
                    mtime=float(m.get("mtime", 0.0)),
                )
                for m in data["members"]
            ]
            return cls(
                id=str(data["id"]),
                created_at=float(data["created_at"]),
                blu_version=str(data.get("blu_version", "")),
                reason=str(data.get("reason", "")),
                members=members,
                contents={str(k): dict(v) for k, v in dict(data.get("contents") or {}).items()},
                sessions=list(data.get("sessions") or []),
                skipped=list(data.get("skipped") or []),
                origin={str(k): str(v) for k, v in dict(data.get("origin") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TamperedArchive(f"The backup's manifest is malformed ({exc}).") from exc


def check_member_path(name: str) -> PurePosixPath:
    """The member's path, if it stays inside its section; raises UnsafeMember otherwise."""
    if not name or "\x00" in name or name.startswith("/"):
        raise UnsafeMember(f"The backup holds an unsafe path: {name!r}.")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.rstrip("/").split("/")):
        raise UnsafeMember(f"The backup holds a path that leaves its folder: {name!r}.")
    if name in (MARKER_NAME, MANIFEST_NAME, ITEMS_NAME):
        return path
    if path.parts[0] not in ("workspace", "state") or len(path.parts) < 2:
        raise UnsafeMember(f"The backup holds a path outside workspace/ and state/: {name!r}.")
    return path


class _HashingReader(io.RawIOBase):
    """Counts and hashes what tarfile reads from a member."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        self.size += len(data)
        return len(data)


class ArchiveWriter:
    """Writes one archive to a binary stream (a file or an S3 upload), streaming: the manifest goes last.

    Usage: `add_items`, then `add_tree` per section, then `finish()` which returns the manifest.
    Files are copied (and hashed) before they are added, so one that changes meanwhile is archived
    as one consistent copy, never with a size that disagrees with its bytes.
    """

    def __init__(self, out: IO[bytes], *, snapshot_id: str, reason: str, blu_version: str, created_at: float) -> None:
        self.manifest = Manifest(id=snapshot_id, created_at=created_at, blu_version=blu_version, reason=reason)
        # Our own gzip layer: tarfile's stream mode takes no compression level before Python 3.12.
        self._gzip = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=COMPRESS_LEVEL, mtime=int(created_at))
        self._tar = tarfile.open(fileobj=self._gzip, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115 -- closed in finish()
        self._names: set[str] = set()
        self._add(MARKER_NAME, io.BytesIO(MARKER), len(MARKER), mode=0o644, mtime=created_at, record=False)

    def _add(self, name: str, data: IO[bytes], size: int, *, mode: int, mtime: float, record: bool = True) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, mode & 0o7777, int(mtime)
        reader = _HashingReader(data)
        self._tar.addfile(info, io.BufferedReader(reader, CHUNK))
        if reader.size != size:  # tarfile raises first when short; this catches the opposite case
            raise OSError(f"{name}: read {reader.size} bytes, expected {size}")
        if record:
            self._names.add(name)
            self.manifest.members.append(
                Member(path=name, type="file", size=size, sha256=reader.digest.hexdigest(), mode=mode, mtime=mtime)
            )

    def add_bytes(self, name: str, data: bytes, *, mtime: float | None = None) -> None:
        check_member_path(name)
        self._add(name, io.BytesIO(data), len(data), mode=0o644, mtime=mtime or self.manifest.created_at)

    def add_items(self, lines: Iterator[dict[str, Any]]) -> dict[str, int]:
        """store/items.jsonl from exported items' JSON; returns the count per kind."""
        counts: dict[str, int] = {}
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            for line in lines:
                spool.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                counts[line["kind"]] = counts.get(line["kind"], 0) + 1
            size = spool.tell()
            spool.seek(0)
            self._add(ITEMS_NAME, spool, size, mode=0o600, mtime=self.manifest.created_at)  # type: ignore[arg-type]
        self.manifest.contents["store"] = counts
        return counts

    def add_file(self, name: str, source: Path, st: os.stat_result) -> bool:
        """Copy one regular file in; False (and a `skipped` entry) when it vanished or cannot be read."""
        check_member_path(name)
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            self.manifest.skipped.append({"path": name, "reason": exc.strerror or "unreadable"})
            return False
        with os.fdopen(fd, "rb") as src, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                self.manifest.skipped.append({"path": name, "reason": "not a regular file"})
                return False
            while chunk := src.read(CHUNK):
                spool.write(chunk)
            size = spool.tell()
            spool.seek(0)
            self._add(name, spool, size, mode=stat.S_IMODE(st.st_mode), mtime=st.st_mtime)  # type: ignore[arg-type]
        return True

    def add_dir(self, name: str, st: os.stat_result) -> None:
        check_member_path(name + "/x")
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, stat.S_IMODE(st.st_mode), int(st.st_mtime)
        self._tar.addfile(info)
        self.manifest.members.append(Member(path=name, type="dir", mode=stat.S_IMODE(st.st_mode), mtime=st.st_mtime))

    def add_tree(self, section: str, root: Path, *, exclude: tuple[str, ...] = ()) -> dict[str, int]:
        """Every regular file and folder under `root` as `<section>/<relative path>`. Links, sockets,
        fifos and devices are skipped (and listed in the manifest's `skipped`): a restore never makes
        them. `exclude` names relative paths (and what is under them) to leave out."""
        files = size = 0
        if not root.is_dir():
            self.manifest.contents[section] = {"files": 0, "bytes": 0}
            return self.manifest.contents[section]
        for folder, dirs, names in os.walk(root, followlinks=False):
            relative_folder = Path(folder).relative_to(root)
            dirs.sort()
            for entry in list(dirs):
                relative = (relative_folder / entry).as_posix()
                full = Path(folder) / entry
                st = full.lstat()
                if relative in exclude:
                    dirs.remove(entry)
                elif stat.S_ISLNK(st.st_mode):
                    self.manifest.skipped.append({"path": f"{section}/{relative}", "reason": "link"})
                    dirs.remove(entry)
                else:
                    self.add_dir(f"{section}/{relative}", st)
            for entry in sorted(names):
                relative = (relative_folder / entry).as_posix()
                if relative in exclude:
                    continue
                full = Path(folder) / entry
                try:
                    st = full.lstat()
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    kind = "link" if stat.S_ISLNK(st.st_mode) else "special file"
                    self.manifest.skipped.append({"path": f"{section}/{relative}", "reason": kind})
                    continue
                if self.add_file(f"{section}/{relative}", full, st):
                    files += 1
                    size += self.manifest.members[-1].size
        self.manifest.contents[section] = {"files": files, "bytes": size}
        return self.manifest.contents[section]

    def finish(self) -> Manifest:
        body = json.dumps(self.manifest.as_json(), ensure_ascii=False, indent=1).encode()
        self._add(MANIFEST_NAME, io.BytesIO(body), len(body), mode=0o644, mtime=time.time(), record=False)
        self._tar.close()
        self._gzip.close()  # writes gzip's trailer; leaves `out` open for the caller
        return self.manifest


@dataclass
class ReadResult:
    """What a reader saw: the manifest, and where each member went (when extracting)."""

    manifest: Manifest
    extracted_to: Path | None = None


def _open_new(path: Path, mode: int) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode & 0o777 | 0o600)


def read_archive(source: IO[bytes], *, extract_to: Path | None = None, max_bytes: int | None = None) -> ReadResult:
    """Read (and verify) an archive from a stream; with `extract_to` (a new, empty folder this process
    made) write each member beneath it. Raises an ArchiveError subclass; the caller discards
    `extract_to` then. `max_bytes` bounds the unpacked size (a decompression bomb stops there)."""
    seen: dict[str, Member] = {}
    manifest_body: bytes | None = None
    total = 0
    first = True
    try:
        with tarfile.open(fileobj=source, mode="r|gz") as tar:
            for info in tar:
                name = info.name
                if first:
                    first = False
                    if name != MARKER_NAME or not info.isreg() or info.size > 64:
                        raise ForeignArchive("This is not a Blu backup (it does not start with Blu's marker).")
                    marker = _read_member(tar, info)
                    if not marker.startswith(f"{FORMAT}\n".encode()):
                        raise ForeignArchive("This is not a Blu backup (its marker names another format).")
                    if marker != MARKER:
                        raise ForeignArchive("This backup was written by a newer Blu; update this one first.")
                    continue
                if manifest_body is not None:
                    raise TamperedArchive(f"The backup holds {name!r} after its manifest.")
                if name == MANIFEST_NAME:
                    if not info.isreg() or info.size > MAX_MANIFEST_BYTES:
                        raise TamperedArchive("The backup's manifest is not a plain file of sane size.")
                    manifest_body = _read_member(tar, info)
                    continue
                path = check_member_path(name.rstrip("/"))
                key = path.as_posix()
                if key in seen or key == MARKER_NAME:
                    raise TamperedArchive(f"The backup holds {key!r} twice.")
                if info.isdir():
                    seen[key] = Member(path=key, type="dir", mode=info.mode, mtime=float(info.mtime))
                    if extract_to is not None:
                        (extract_to / key).mkdir(parents=True, exist_ok=True)
                    continue
                if not info.isreg():
                    raise UnsafeMember(f"The backup holds {key!r}, which is a link or a special file.")
                total += info.size
                if max_bytes is not None and total > max_bytes:
                    raise ArchiveError(f"The backup unpacks to more than {max_bytes} bytes; refused.")
                seen[key] = _copy_member(tar, info, key, extract_to)
    except ArchiveError:
        raise
    except (tarfile.ReadError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, tarfile.TarError) and exc.errno is not None:
            raise  # a local disk problem, not the archive's
        if first:
            raise ForeignArchive(
                "This is not a Blu backup (not a gzipped tar archive, or damaged from its start)."
            ) from exc
        raise TruncatedArchive(f"The backup is truncated or corrupt ({exc}).") from exc
    except tarfile.TarError as exc:
        if first:
            raise ForeignArchive("This is not a Blu backup (not a tar archive).") from exc
        raise TruncatedArchive(f"The backup is truncated or corrupt ({exc}).") from exc
    if first:
        raise ForeignArchive("This is not a Blu backup (the archive is empty).")
    if manifest_body is None:
        raise TruncatedArchive("The backup ends before its manifest: it is truncated.")
    try:
        manifest = Manifest.from_json(json.loads(manifest_body))
    except json.JSONDecodeError as exc:
        raise TamperedArchive("The backup's manifest is not valid JSON.") from exc
    _compare(manifest, seen)
    return ReadResult(manifest=manifest, extracted_to=extract_to)


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(info)
    assert handle is not None
    data = handle.read()
    if len(data) != info.size:
        raise TruncatedArchive("The backup is truncated.")
    return data


def _copy_member(tar: tarfile.TarFile, info: tarfile.TarInfo, key: str, extract_to: Path | None) -> Member:
    handle = tar.extractfile(info)
    assert handle is not None
    digest = hashlib.sha256()
    size = 0
    fd = None
    if extract_to is not None:
        target = extract_to / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_new(target, info.mode)
    try:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if fd is not None:
                os.write(fd, chunk)
        if fd is not None:
            os.fsync(fd)
    finally:
        if fd is not None:
            os.close(fd)
    if size != info.size:
        raise TruncatedArchive(f"The backup is truncated inside {key!r}.")
    if extract_to is not None:
        os.utime(extract_to / key, (info.mtime, info.mtime), follow_symlinks=False)
    return Member(path=key, type="file", size=size, sha256=digest.hexdigest(), mode=info.mode, mtime=float(info.mtime))


def _compare(manifest: Manifest, seen: dict[str, Member]) -> None:
    listed = {m.path: m for m in manifest.members}
    if len(listed) != len(manifest.members):
        raise TamperedArchive("The backup's manifest lists a path twice.")
    missing = sorted(set(listed) - set(seen))
    extra = sorted(set(seen) - set(listed))
    if missing:
        raise TamperedArchive(f"The backup lacks {len(missing)} member(s) its manifest lists, e.g. {missing[0]!r}.")
    if extra:
        raise TamperedArchive(f"The backup holds {len(extra)} member(s) its manifest does not list, e.g. {extra[0]!r}.")
    for path, member in listed.items():
        actual = seen[path]
        if member.type != actual.type:
            raise TamperedArchive(f"{path!r} is a {actual.type} in the backup but a {member.type} in its manifest.")
        if member.type == "file" and (member.size != actual.size or member.sha256 != actual.sha256):
            raise TamperedArchive(f"{path!r} does not match its checksum in the manifest: the backup was changed.")


def verify_archive(source: IO[bytes], *, max_bytes: int | None = None) -> Manifest:
    """Read the whole archive and check it against its manifest, writing nothing."""
    return read_archive(source, max_bytes=max_bytes).manifest


def verify_extracted(root: Path, manifest: Manifest) -> None:
    """Check a restored copy (the drill's scratch folder) byte for byte against the manifest: every
    listed file is there with its size and sha256, no other file is, and every listed folder exists.
    Raises TamperedArchive."""
    seen: dict[str, Member] = {}
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for entry in names:
            full = Path(folder) / entry
            key = full.relative_to(root).as_posix()
            digest = hashlib.sha256()
            size = 0
            with full.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            seen[key] = Member(path=key, type="file", size=size, sha256=digest.hexdigest())
    files = [m for m in manifest.members if m.type == "file"]
    _compare(Manifest(id=manifest.id, created_at=0, blu_version="", reason="", members=files), seen)
    for member in manifest.members:
        if member.type == "dir" and not (root / member.path).is_dir():
            raise TamperedArchive(f"The restored copy lacks the folder {member.path!r}.")
