"""The agent's workspace: list, read, download and upload, jailed to the workspace folder."""

from __future__ import annotations

import contextlib
import mimetypes
import time
from dataclasses import asdict
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from runtime.api.deps import SettingsDep, StateDep, UserAction
from runtime.api.errors import error_responses
from runtime.api.models import (
    DownloadLink,
    DownloadRequest,
    FileEntry,
    FolderListing,
    UploadRequest,
    UploadTarget,
    Written,
)
from runtime.transfers import (
    AlreadyArriving,
    ExpiredUpload,
    LocalStaging,
    NothingStaged,
    SizeMismatch,
    UnknownUpload,
    Upload,
)
from runtime.workspace import NotAFile, PathRejected, TooLarge, writable_parts

router = APIRouter(prefix="/api/files", tags=["files"], dependencies=UserAction, responses=error_responses(400, 404))

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
    if isinstance(exc, PathRejected | NotAFile):
        return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))
    if isinstance(exc, TooLarge | SizeMismatch):
        return HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(exc))
    if isinstance(exc, UnknownUpload):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, ExpiredUpload):
        return HTTPException(status.HTTP_410_GONE, str(exc))
    if isinstance(exc, NothingStaged | AlreadyArriving):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
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
        entries=[FileEntry.model_validate(asdict(e)) for e in listing.entries],
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
    if state.transfers.staging.kind == "s3" and file.size > state.settings.direct_transfer_bytes:
        file.close()  # API Gateway would cut this response: say why instead
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"The file is larger than the {state.settings.direct_transfer_bytes} bytes that pass through "
            "the API; download it with the Download button (POST /api/files/downloads).",
        )
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


def _media_type(name: str) -> str:
    if name.lower().endswith((".md", ".markdown")):
        return "text/markdown"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _normalized(path: str) -> str:
    try:
        return "/".join(writable_parts(path))
    except (PathRejected, NotAFile) as exc:
        raise _rejected(exc) from exc


@router.post("/uploads", status_code=status.HTTP_201_CREATED, responses=error_responses(413))
async def start_upload(state: StateDep, body: UploadRequest) -> UploadTarget:
    """Where to send a file's bytes directly (the files bucket in AWS, this runtime locally), for files too
    large for API Gateway. The id is bound to this path and size; nothing is written until completion."""
    limit = state.settings.max_upload_bytes
    if body.size > limit:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"The file is larger than {limit} bytes.")
    path = _normalized(body.path)
    try:
        state.workspace.check_writable(path)
    except (PathRejected, NotAFile) as exc:
        raise _rejected(exc) from exc
    token, upload = state.transfers.tokens.issue(path, body.size, now=time.time())
    target = state.transfers.staging.upload_target(upload, token)
    return UploadTarget(
        id=token,
        path=path,
        size=body.size,
        expires_at=upload.expires_at,
        method=target.method,
        url=target.url,
        fields=target.fields,
        headers=target.headers,
    )


def _upload(state: StateDep, upload_id: str) -> Upload:
    try:
        return state.transfers.tokens.read(upload_id, now=time.time())
    except (UnknownUpload, ExpiredUpload) as exc:
        raise _rejected(exc) from exc


@router.put(
    "/uploads/{upload_id}/data",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(409, 410, 413),
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def receive_upload(state: StateDep, request: Request, upload_id: str) -> None:
    """The local stand-in of the bucket's upload form: exactly the declared number of bytes, once."""
    staging = state.transfers.staging
    if not isinstance(staging, LocalStaging):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Uploads go to the files bucket here.")
    upload = _upload(state, upload_id)
    if await state.transfers.is_finished(upload):
        raise HTTPException(status.HTTP_409_CONFLICT, "This upload is already complete.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) != upload.size:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"The body is {declared} bytes, not the {upload.size} declared."
        )
    try:
        await staging.receive(upload, request.stream())
    except (SizeMismatch, AlreadyArriving) as exc:
        raise _rejected(exc) from exc


@router.post(
    "/uploads/{upload_id}/complete", status_code=status.HTTP_201_CREATED, responses=error_responses(409, 410, 413)
)
async def complete_upload(state: StateDep, upload_id: str) -> Written:
    """Move the staged bytes into the workspace (atomically, through the jail) and delete them from staging."""
    upload = _upload(state, upload_id)
    transfers = state.transfers
    if await transfers.is_finished(upload):
        # A replay (also after a restart): whatever was sent again under this id is never moved, so it goes now.
        with contextlib.suppress(NothingStaged):
            await transfers.staging.open_and_delete(upload.id)
        raise HTTPException(status.HTTP_409_CONFLICT, "This upload is already complete.")
    if not transfers.claim(upload, now=time.time()):
        raise HTTPException(status.HTTP_409_CONFLICT, "This upload is already complete (or completing).")
    finished = False
    try:
        try:
            staged = await transfers.staging.open(upload.id)
        except NothingStaged as exc:
            raise _rejected(exc) from exc  # not finished: the bytes may still arrive
        finished = True
        try:
            if staged.size != upload.size:
                raise SizeMismatch(f"The upload has {staged.size} bytes, not the {upload.size} declared.")
            size = await state.workspace.write(upload.path, staged.chunks, max_bytes=upload.size)
        except (PathRejected, NotAFile, TooLarge, SizeMismatch, FileNotFoundError) as exc:
            raise _rejected(exc) from exc
        finally:
            staged.close()
            await transfers.staging.delete(upload.id)
    finally:
        await transfers.release(upload, finished=finished)
    return Written(path=upload.path, size=size)


@router.post("/downloads", responses=error_responses(413))
async def download_link(state: StateDep, body: DownloadRequest) -> DownloadLink:
    """A link to download a file: for files larger than API Gateway passes (in AWS), a short-lived
    presigned link to a copy in the files bucket; otherwise the content URL."""
    try:
        file = state.workspace.open_for_reading(body.path, max_bytes=MAX_READ_BYTES)
    except (PathRejected, NotAFile, TooLarge, FileNotFoundError) as exc:
        raise _rejected(exc) from exc
    try:
        url = None
        if file.size > state.settings.direct_transfer_bytes:
            url = await state.transfers.staging.download_url(
                file.fd,
                file.size,
                name=file.name,
                media_type=_media_type(file.name),
                disposition=content_disposition("attachment", file.name),
            )
    finally:
        file.close()
    if url is None:
        normalized = "/".join(p for p in body.path.split("/") if p not in ("", "."))
        content = f"/api/files/content?path={quote(normalized, safe='')}&download=1"
        return DownloadLink(url=content, size=file.size, direct=False)
    return DownloadLink(url=url, size=file.size, direct=True)
