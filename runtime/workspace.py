"""The agent's workspace as the person sees it: listing, reading and writing files, jailed to one folder."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_ENCODED = re.compile(r"%[0-9a-fA-F]{2}")
MAX_LIST_ENTRIES = 2000
MAX_PATH_CHARS = 1024


class PathRejected(ValueError):
    """A path that would leave the workspace or is malformed."""


class TooLarge(ValueError):
    """A body or file over the size limit."""


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    type: str  # file | dir
    size: int
    modified: float


class Workspace:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def resolve(self, user_path: str) -> Path:
        """The real path for a workspace-relative `user_path`; refuses anything that could escape:
        absolute paths, `..`, NUL and control characters, backslashes, and symlinks on the way."""
        if len(user_path) > MAX_PATH_CHARS:
            raise PathRejected("The path is too long.")
        if any(ord(ch) < 32 for ch in user_path) or "\\" in user_path:
            raise PathRejected("The path contains characters that are not allowed.")
        if _ENCODED.search(user_path):
            raise PathRejected("Percent-encoded characters are not allowed in workspace paths; send the path decoded.")
        pure = PurePosixPath(user_path.strip() or ".")
        if pure.is_absolute():
            raise PathRejected("Use a path relative to the workspace, not an absolute one.")
        if any(part == ".." for part in pure.parts):
            raise PathRejected("'..' is not allowed in workspace paths.")
        candidate = self.root
        for part in pure.parts:
            if part == ".":
                continue
            candidate = candidate / part
            if candidate.is_symlink():
                raise PathRejected("Symbolic links are not followed in the workspace.")
        resolved = candidate.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise PathRejected("The path is outside the workspace.")
        return resolved

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path != self.root else ""

    def list(self, user_path: str) -> list[Entry]:
        directory = self.resolve(user_path)
        if not directory.is_dir():
            raise FileNotFoundError(user_path)
        entries: list[Entry] = []
        with os.scandir(directory) as it:
            for item in it:
                if item.is_symlink():
                    continue
                info = item.stat()
                entries.append(
                    Entry(
                        name=item.name,
                        path=self.relative(Path(item.path)),
                        type="dir" if stat.S_ISDIR(info.st_mode) else "file",
                        size=info.st_size,
                        modified=info.st_mtime,
                    )
                )
                if len(entries) >= MAX_LIST_ENTRIES:
                    break
        return sorted(entries, key=lambda e: (e.type != "dir", e.name.lower()))

    def file_for_reading(self, user_path: str, *, max_bytes: int) -> Path:
        path = self.resolve(user_path)
        if not path.is_file():
            raise FileNotFoundError(user_path)
        if path.stat().st_size > max_bytes:
            raise TooLarge(f"The file is larger than {max_bytes} bytes.")
        return path

    async def write(self, user_path: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> int:
        """Write atomically: into a temporary file beside the target, renamed over it when complete,
        so a dropped upload or a crash never leaves half a file under the real name."""
        target = self.resolve(user_path)
        if target == self.root or target.is_dir():
            raise PathRejected("The path names a folder, not a file.")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.resolve(self.relative(target.parent))  # the folders made must still be inside
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
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
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return written
