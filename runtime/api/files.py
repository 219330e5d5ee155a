"""The agent's workspace: list, read, download and upload, jailed to the workspace folder."""

from __future__ import annotations

import mimetypes
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import FileResponse

from runtime.api.deps import LoginRequired, SettingsDep, StateDep
from runtime.workspace import PathRejected, TooLarge

router = APIRouter(prefix="/api/files", tags=["files"], dependencies=LoginRequired)

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


def _rejected(exc: Exception) -> HTTPException:
    if isinstance(exc, PathRejected):
        return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))
    if isinstance(exc, TooLarge):
        return HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(exc))
    return HTTPException(status.HTTP_404_NOT_FOUND, "No such file or folder in the workspace.")


@router.get("")
async def list_files(state: StateDep, path: FilePath = "") -> dict[str, Any]:
    try:
        entries = state.workspace.list(path)
    except (PathRejected, FileNotFoundError, NotADirectoryError) as exc:
        raise _rejected(exc) from exc
    return {"path": path.strip("/"), "entries": [asdict(e) for e in entries]}


@router.get("/content")
async def read_file(state: StateDep, path: FilePath, download: bool = False) -> FileResponse:
    try:
        file = state.workspace.file_for_reading(path, max_bytes=MAX_READ_BYTES)
    except (PathRejected, TooLarge, FileNotFoundError) as exc:
        raise _rejected(exc) from exc
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.suffix.lower() in (".md", ".markdown"):
        media_type = "text/markdown"
    inline = not download and media_type in INLINE_TYPES
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    return FileResponse(
        file,
        media_type=media_type,
        filename=file.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
    )


@router.put("/content", status_code=status.HTTP_201_CREATED)
async def write_file(state: StateDep, settings: SettingsDep, request: Request, path: FilePath) -> dict[str, Any]:
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"The upload is larger than {limit} bytes.")
    try:
        size = await state.workspace.write(path, request.stream(), max_bytes=limit)
    except (PathRejected, TooLarge, FileNotFoundError) as exc:
        raise _rejected(exc) from exc
    return {"path": path.strip("/"), "size": size}
