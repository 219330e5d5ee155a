"""A message's attachments: workspace files, images sent to Claude as image content, others named by path."""

from __future__ import annotations

import base64
from typing import Any

from runtime.workspace import Workspace

UPLOADS_FOLDER = "uploads"  # where the UI saves what a person attaches
MAX_ATTACHMENTS = 10
# The Messages API refuses an image over 5 MB (platform.claude.com/docs/en/build-with-claude/vision).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
FILE = "file"  # the kind of an attachment that is no image Claude can see: named by its path
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class AttachmentRefused(ValueError):
    """An attachment that cannot be sent, with the reason a person reads."""


def _sniff(head: bytes) -> str:
    """The image type the bytes really are (the API refuses a media type that does not match), or FILE."""
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return FILE


def kinds(workspace: Workspace, paths: list[str]) -> dict[str, str]:
    """Each path (an existing workspace file) with its kind: an image's media type, else FILE. Blocking."""
    if len(paths) > MAX_ATTACHMENTS:
        raise AttachmentRefused(f"At most {MAX_ATTACHMENTS} attachments per message.")
    found: dict[str, str] = {}
    for path in paths:
        try:
            file = workspace.open_for_reading(path, max_bytes=2**62)
        except FileNotFoundError as exc:
            raise AttachmentRefused(f"{path}: no such file in the workspace.") from exc
        except ValueError as exc:  # PathRejected, NotAFile
            raise AttachmentRefused(f"{path}: {exc}") from exc
        try:
            kind = _sniff(next(iter(file.chunks()), b"")[:12])
            if kind != FILE and file.size > MAX_IMAGE_BYTES:
                raise AttachmentRefused(f"{path}: images over {MAX_IMAGE_BYTES // 2**20} MB cannot be sent to Claude.")
        finally:
            file.close()
        found[path] = kind
    return found


def prompt_content(workspace: Workspace, text: str, attachments: dict[str, str]) -> str | list[dict[str, Any]]:
    """What the prompt sends: the text alone, or a content list of the text (other files named by path)
    and each image as a base64 image block, read now. Blocking."""
    if not attachments:
        return text
    images: list[dict[str, Any]] = []
    named = [path for path, kind in attachments.items() if kind == FILE]
    for path, kind in attachments.items():
        if kind == FILE:
            continue
        try:
            file = workspace.open_for_reading(path, max_bytes=MAX_IMAGE_BYTES)
            try:
                data = b"".join(file.chunks())
            finally:
                file.close()
        except (OSError, ValueError):
            named.append(f"{path} (an image that could no longer be read)")
            continue
        source = {"type": "base64", "media_type": kind, "data": base64.b64encode(data).decode("ascii")}
        images.append({"type": "image", "source": source})
    if named:
        text += "\n\nAttached files (in the workspace):\n" + "\n".join(f"- {path}" for path in named)
    return [{"type": "text", "text": text}, *images]
