"""The agent's workspace: list, read, download and upload, jailed to the workspace folder."""

from __future__ import annotations

import mimetypes
from dataclasses import asdict
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from runtime.api.deps import LoginRequired, SettingsDep, StateDep
from runtime.api.errors import error_responses
from runtime.workspace import NotAFile, PathRejected, TooLarge

router = APIRouter(prefix="/api/files", tags=["files"], dependencies=LoginRequired, responses=error_responses(400, 404))

FilePath = Annotated[str, Query(max_length=1024)]
MAX_READ_BYTES = 50 * 1024 * 1024
# Served inline only when the browser cannot run them; everything else downloads.
INLINE_TYPES = (
    "text/plain",
    "text/markdown",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/json",
)


class FileEntry(BaseModel):
    name: str
    path: str
    type: str
    size: int
    modified: float


class FolderListing(BaseModel):
    path: str
    entries: list[FileEntry]
    truncated: bool
    hidden: int


class Written(BaseModel):
    path: str
    size: int


def _rejected(exc: Exception) -> HTTPException:
    if isinstance(exc, PathRejected | NotAFile):
        return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))
    if isinstance(exc, TooLarge):
        return HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(exc))
    return HTTPException(status.HTTP_404_NOT_FOUND, "No such file or folder in the workspace.")


@router.get("")
async def list_files(state: StateDep, path: FilePath = "") -> FolderListing:
    """A folder's files and folders (links, special files and hard-linked files are left out and counted
    in `hidden`); `truncated` says the folder holds more entries than are listed."""
    try:
        listing = state.workspace.list(path)
    except (PathRejected, FileNotFoundError) as exc:
        raise _rejected(exc) from exc
    return FolderListing(
        path=path.strip("/"),
        entries=[FileEntry(**asdict(e)) for e in listing.entries],
        truncated=listing.truncated,
        hidden=listing.hidden,
    )


def content_disposition(kind: str, filename: str) -> str:
    quoted = quote(filename, safe="")
    if quoted == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename*=utf-8''{quoted}"


@router.get(
    "/content",
    response_class=StreamingResponse,
    responses={**error_responses(413), 200: {"content": {"application/octet-stream": {}}, "description": "The bytes"}},
)
async def read_file(state: StateDep, path: FilePath, download: bool = False) -> StreamingResponse:
    try:
        file = state.workspace.open_for_reading(path, max_bytes=MAX_READ_BYTES)
    except (PathRejected, NotAFile, TooLarge, FileNotFoundError) as exc:
        raise _rejected(exc) from exc
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.name.lower().endswith((".md", ".markdown")):
        media_type = "text/markdown"
    inline = not download and media_type in INLINE_TYPES
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    # Streamed from the descriptor that was opened inside the jail: the name is never opened again.
    return StreamingResponse(
        file.chunks(),
        media_type=media_type,
        headers={
            "Content-Length": str(file.size),
            "Content-Disposition": content_disposition("inline" if inline else "attachment", file.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.put(
    "/content",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(413),
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def write_file(state: StateDep, settings: SettingsDep, request: Request, path: FilePath) -> Written:
    """Upload raw bytes. The file keeps exactly the name given; names that cannot be kept are refused."""
    limit = settings.max_upload_bytes
    try:
        size = await state.workspace.write(path, request.stream(), max_bytes=limit)
    except (PathRejected, NotAFile, TooLarge, FileNotFoundError) as exc:
        raise _rejected(exc) from exc
    return Written(path="/".join(p for p in path.split("/") if p not in ("", ".")), size=size)
