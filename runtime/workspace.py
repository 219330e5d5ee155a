"""The agent's workspace as the person sees it: listing, reading and writing files, jailed to one folder."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_LIST_ENTRIES = 2000
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255  # NAME_MAX of Linux file systems (EFS included)
READ_CHUNK = 64 * 1024
UPLOAD_PREFIX = ".upload-"

# Every component is opened relative to the folder opened before it and never through a link, so an
# agent swapping a folder for a symlink between a check and an open cannot lead outside the workspace.
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO never hangs us


class PathRejected(ValueError):
    """A path that would leave the workspace or is malformed."""


class TooLarge(ValueError):
    """A body or file over the size limit."""


class NotAFile(ValueError):
    """The path names a folder, a link, a device, or a file with several names (hard links)."""


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    type: str  # file | dir
    size: int
    modified: float


@dataclass(frozen=True)
class Listing:
    entries: list[Entry]
    truncated: bool = False  # more than MAX_LIST_ENTRIES entries: only the first ones are listed
    hidden: int = 0  # entries left out: links, special files, hard-linked files, names that cannot be asked for


@dataclass
class OpenFile:
    """A regular file opened inside the workspace; read it through `chunks()`, which closes it."""

    fd: int
    name: str
    size: int
    _closed: bool = field(default=False, repr=False)

    def chunks(self) -> Iterator[bytes]:
        try:
            remaining = self.size  # never more than was checked against the limit
            while remaining > 0:
                data = os.read(self.fd, min(READ_CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.fd)


def split_path(user_path: str, *, for_writing: bool = False) -> list[str]:
    """The components of a workspace-relative path; refuses anything that could escape or is malformed:
    absolute paths, `..`, NUL and control characters, backslashes, names over 255 bytes. Names are
    taken literally (a `%` is just a character), so every name the listing shows can be asked for."""
    if len(user_path) > MAX_PATH_CHARS:
        raise PathRejected("The path is too long.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in user_path) or "\\" in user_path:
        raise PathRejected("The path contains characters that are not allowed.")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in user_path):
        raise PathRejected("The path is not valid Unicode.")
    if user_path.startswith("/"):
        raise PathRejected("Use a path relative to the workspace, not an absolute one.")
    if for_writing and user_path.endswith("/"):
        raise PathRejected("A file's path cannot end with '/'.")
    parts = [part for part in user_path.split("/") if part not in ("", ".")]
    for part in parts:
        if part == "..":
            raise PathRejected("'..' is not allowed in workspace paths.")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise PathRejected(f"A name on the path is longer than {MAX_NAME_BYTES} bytes.")
        if for_writing and part != part.strip():
            raise PathRejected("Names cannot start or end with spaces; rename the file and try again.")
    return parts


def writable_parts(user_path: str) -> list[str]:
    """The components of a path a file may be written to, or the reason it may not."""
    parts = split_path(user_path, for_writing=True)
    if not parts:
        raise NotAFile("The path names a folder, not a file.")
    if parts[-1].startswith(UPLOAD_PREFIX):
        raise PathRejected(f"Names starting with {UPLOAD_PREFIX!r} are reserved for uploads in progress.")
    return parts


def _display_name(name: str) -> str | None:
    """The name as text, or None when it could not be asked for again (not valid UTF-8, or a character
    `split_path` refuses, such as a backslash or a control character): the listing shows only names
    that open, preview and download."""
    try:
        name.encode("utf-8")
        if split_path(name) != [name]:
            return None
    except (UnicodeEncodeError, PathRejected):
        return None
    return name


class Workspace:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    @contextlib.contextmanager
    def _folder(self, parts: list[str], *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder `parts` names, opened component by component without links."""
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in parts:
                try:
                    child = self._open_dir(part, fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                    child = self._open_dir(part, fd)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _open_dir(name: str, parent: int) -> int:
        """The folder `name` in `parent`, never through a link: a link to a folder is refused as a link (the
        kernel says ENOTDIR for it, as for a file, since O_DIRECTORY looks at the link itself)."""
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except NotADirectoryError as exc:
            try:
                link = stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
            except OSError:
                link = False
            raise _refusal(OSError(errno.ELOOP, "link") if link else exc) from exc
        except OSError as exc:
            raise _refusal(exc) from exc

    def list(self, user_path: str) -> Listing:
        parts = split_path(user_path)
        prefix = "/".join(parts)
        entries: list[Entry] = []
        hidden = 0
        truncated = False
        with self._folder(parts) as fd, os.scandir(fd) as it:
            for item in it:
                name = _display_name(item.name)
                try:
                    info = item.stat(follow_symlinks=False)
                except OSError:  # removed while listing
                    continue
                is_dir = stat.S_ISDIR(info.st_mode)
                if name is None or not (is_dir or (stat.S_ISREG(info.st_mode) and info.st_nlink == 1)):
                    hidden += 1
                    continue
                if len(entries) >= MAX_LIST_ENTRIES:
                    truncated = True
                    break
                entries.append(
                    Entry(
                        name=name,
                        path=f"{prefix}/{name}" if prefix else name,
                        type="dir" if is_dir else "file",
                        size=info.st_size,
                        modified=info.st_mtime,
                    )
                )
        entries.sort(key=lambda e: (e.type != "dir", e.name.lower()))
        return Listing(entries=entries, truncated=truncated, hidden=hidden)

    def open_for_reading(self, user_path: str, *, max_bytes: int) -> OpenFile:
        """Open a regular file with a single name; what is served is what was opened, never reopened."""
        parts = split_path(user_path)
        if not parts or user_path.endswith("/"):
            raise NotAFile("The path names a folder, not a file.")
        with self._folder(parts[:-1]) as parent:
            try:
                fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=parent)
            except OSError as exc:
                raise _refusal(exc) from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile("The path names a folder, not a file.")
            if info.st_nlink != 1:
                raise NotAFile("Files with more than one name (hard links) are not served.")
            if info.st_size > max_bytes:
                raise TooLarge(f"The file is larger than {max_bytes} bytes.")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return OpenFile(fd=fd, name=parts[-1], size=info.st_size)

    def check_writable(self, user_path: str) -> None:
        """Refuse now what `write` would refuse later (a folder or a link at the path, a file where a folder
        is needed), so a direct upload is turned down before its bytes are sent. Creates nothing."""
        parts = writable_parts(user_path)
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in parts[:-1]:
                try:
                    child = self._open_dir(part, fd)
                except FileNotFoundError:
                    return  # the rest of the folders are created by the write
                os.close(fd)
                fd = child
            try:
                existing = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise _refusal(exc) from exc
            if stat.S_ISDIR(existing.st_mode):
                raise NotAFile("The path names a folder, not a file.")
            if stat.S_ISLNK(existing.st_mode):
                raise PathRejected("Symbolic links are not followed in the workspace.")
        finally:
            os.close(fd)

    async def write(self, user_path: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> int:
        """Write atomically: into a temporary file in the target's folder (inside the workspace), renamed
        over the target when complete, so a dropped upload or a crash never leaves half a file."""
        parts = writable_parts(user_path)
        name = parts[-1]
        with self._folder(parts[:-1], create=True) as parent:
            try:
                existing = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                existing = None
            except OSError as exc:
                raise _refusal(exc) from exc
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                raise NotAFile("The path names a folder, not a file.")
            if existing is not None and stat.S_ISLNK(existing.st_mode):
                raise PathRejected("Symbolic links are not followed in the workspace.")
            tmp = UPLOAD_PREFIX + secrets.token_hex(8)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=parent)
            written = 0
            try:
                with os.fdopen(fd, "wb") as out:
                    async for chunk in chunks:
                        written += len(chunk)
                        if written > max_bytes:
                            raise TooLarge(f"The upload is larger than {max_bytes} bytes.")
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                # A rename replaces a link or a hard link's name itself; it never writes through one.
                os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=parent)
                raise
        return written


def _refusal(exc: OSError) -> Exception:
    """The person-facing error for an OS error met while walking or opening a workspace path."""
    if exc.errno == errno.ELOOP:
        return PathRejected("Symbolic links are not followed in the workspace.")
    if exc.errno == errno.ENOTDIR:
        return PathRejected("A name on the path is a file, not a folder.")
    if exc.errno == errno.ENAMETOOLONG:
        return PathRejected("The path is too long.")
    if exc.errno == errno.ENOENT:
        return FileNotFoundError(exc.errno, "No such file or folder")
    if exc.errno in (errno.EISDIR,):
        return NotAFile("The path names a folder, not a file.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PathRejected("Blu may not open this path.")
    return exc
