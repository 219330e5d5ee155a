"""Backups: list snapshots, take one, preview and restore, download an export, import an archive (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from core.backup.archive import ArchiveError
from runtime.api.deps import LoginRequired, StateDep, record_user_action
from runtime.api.errors import error_responses
from runtime.api.models import (
    CurrentOperation,
    DownloadLink,
    ImportRequest,
    ImportTarget,
    OperationStarted,
    RestorePreview,
    RestoreScope,
    Snapshot,
    SnapshotList,
)
from runtime.backup.engine import BackupBusy, RestoreError
from runtime.backup.repository import SnapshotNotFound, check_id
from runtime.backup.service import BackupService, Operation
from runtime.transfers import ExpiredUpload, NothingStaged, UnknownUpload
from runtime.workspace import PathRejected

# Every route needs the login; all but the operation's progress (polled while one runs) are a person's
# actions that keep Blu awake (runtime/api/deps.py).
router = APIRouter(prefix="/api/backups", tags=["backups"], dependencies=LoginRequired, responses=error_responses(404))
ACTION = [Depends(record_user_action)]

# The path an import's upload id is bound to: a control character, so the files API's completion
# (which writes upload.path into the workspace) refuses it, and a backups id never becomes a file.
IMPORT_UPLOAD_PATH = "\x00blu-import"


def get_backups(request: Request) -> BackupService:
    service: BackupService | None = getattr(request.app.state, "backups", None)
    if service is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Backups are not ready yet.")
    return service


BackupsDep = Annotated[BackupService, Depends(get_backups)]


def _refusal(exc: Exception) -> HTTPException:
    if isinstance(exc, SnapshotNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, BackupBusy):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    if isinstance(exc, UnknownUpload):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, ExpiredUpload):
        return HTTPException(status.HTTP_410_GONE, str(exc))
    if isinstance(exc, NothingStaged):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))


def _snapshot_id(snapshot_id: str) -> str:
    try:
        return check_id(snapshot_id)
    except SnapshotNotFound as exc:
        raise _refusal(exc) from exc


def _operation(operation: Operation) -> OperationStarted:
    return OperationStarted.model_validate({"operation": operation.as_json()})


@router.get("", dependencies=ACTION)
async def list_snapshots(backups: BackupsDep, limit: int = 50) -> SnapshotList:
    """Snapshots newest first, each with time, size and contents (counts per store kind, files and
    bytes per folder, sessions); the running or latest operation; where snapshots are kept."""
    snapshots = await asyncio.to_thread(backups.backups.repository.list, limit=max(1, min(limit, 1000)))
    last = await asyncio.to_thread(backups.backups.last)
    return SnapshotList.model_validate(
        {
            "snapshots": [s.as_json() for s in snapshots],
            "storage": backups.backups.repository.kind,
            "daily": backups.daily,
            "last_scheduled": last,
            "operation": backups.operation.as_json() if backups.operation else None,
        }
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409), dependencies=ACTION)
async def take_snapshot(backups: BackupsDep) -> OperationStarted:
    """Take a snapshot now, in the background; follow it with GET /api/backups/operation."""
    try:
        return _operation(backups.launch("snapshot", lambda: backups.take("manual")))
    except BackupBusy as exc:
        raise _refusal(exc) from exc


@router.get("/operation")
async def current_operation(backups: BackupsDep) -> CurrentOperation:
    """The running or latest snapshot, restore or import started here: state, result or error."""
    return CurrentOperation.model_validate({"operation": backups.operation.as_json() if backups.operation else None})


@router.get("/{snapshot_id}", dependencies=ACTION)
async def get_snapshot(backups: BackupsDep, snapshot_id: str) -> Snapshot:
    try:
        info = await asyncio.to_thread(backups.backups.repository.get, _snapshot_id(snapshot_id))
    except SnapshotNotFound as exc:
        raise _refusal(exc) from exc
    return Snapshot.model_validate(info.as_json())


@router.post("/{snapshot_id}/preview", responses=error_responses(400), dependencies=ACTION)
async def preview_restore(backups: BackupsDep, snapshot_id: str, scope: RestoreScope) -> RestorePreview:
    """What restoring would replace, changing nothing: for everything, the sessions that would go, come
    back or be rewound and how many files and bytes are there now; for a session, its current name and
    message count; for a file, whether one is there now."""
    try:
        preview = await asyncio.to_thread(
            backups.backups.preview, _snapshot_id(snapshot_id), session_id=scope.session_id, path=scope.path
        )
    except (SnapshotNotFound, RestoreError, PathRejected) as exc:
        raise _refusal(exc) from exc
    return RestorePreview.model_validate(preview)


@router.post(
    "/{snapshot_id}/restore",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(400, 404, 409),
    dependencies=ACTION,
)
async def restore(state: StateDep, backups: BackupsDep, snapshot_id: str, scope: RestoreScope) -> OperationStarted:
    """Restore everything, one session or one file, in the background. Refused at once, with nothing
    changed: an unknown snapshot (404), a session the snapshot does not hold or a malformed path (400, as
    the preview says), and (409) while a turn runs (of that session, for a session). A snapshot of what
    is replaced is taken first; its id is in the operation's result (`safety_snapshot`). New turns are
    refused until a full restore ends."""
    snapshot_id = _snapshot_id(snapshot_id)
    if scope.session_id and scope.path:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Restore one session or one file, not both.")
    try:  # refused now, before anything changes: an unknown snapshot (404), session or path (400)
        await asyncio.to_thread(
            backups.backups.check_restore, snapshot_id, session_id=scope.session_id, path=scope.path
        )
    except (SnapshotNotFound, RestoreError, PathRejected) as exc:
        raise _refusal(exc) from exc
    manager = state.manager
    if scope.path is None and (manager.busy() if scope.session_id is None else not _idle(manager, scope.session_id)):
        raise _refusal(BackupBusy("A turn is running; restore when it has finished (or stop it first)."))

    async def work() -> Any:
        whole = scope.session_id is None and scope.path is None
        accepting = manager.accepting
        if whole:
            manager.accepting = False
        try:
            return await backups.restore(snapshot_id, session_id=scope.session_id, path=scope.path)
        finally:
            if whole:
                manager.accepting = accepting

    try:
        return _operation(backups.launch("restore", work))
    except BackupBusy as exc:
        raise _refusal(exc) from exc


def _idle(manager: Any, session_id: str) -> bool:
    worker = manager.workers.get(session_id)
    return worker is None or worker.is_idle


@router.post("/{snapshot_id}/download", dependencies=ACTION)
async def download_link(backups: BackupsDep, snapshot_id: str) -> DownloadLink:
    """Where to download the snapshot's archive (the export format, importable into any Blu): a short-lived
    link straight to the backups bucket in AWS (`direct`), else this runtime's archive URL."""
    snapshot_id = _snapshot_id(snapshot_id)
    repository = backups.backups.repository
    try:
        info = await asyncio.to_thread(repository.get, snapshot_id)
        url = await asyncio.to_thread(repository.download_url, snapshot_id, filename=f"blu-{snapshot_id}.tar.gz")
    except SnapshotNotFound as exc:
        raise _refusal(exc) from exc
    if url is None:
        return DownloadLink(url=f"/api/backups/{snapshot_id}/archive", size=info.size, direct=False)
    return DownloadLink(url=url, size=info.size, direct=True)


@router.get(
    "/{snapshot_id}/archive",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {}}, "description": "The archive"}},
    dependencies=ACTION,
)
async def archive(backups: BackupsDep, snapshot_id: str) -> StreamingResponse:
    """The archive's bytes (locally; in AWS use the direct link: API Gateway cuts responses at 10 MB)."""
    snapshot_id = _snapshot_id(snapshot_id)
    repository = backups.backups.repository
    try:
        info = await asyncio.to_thread(repository.get, snapshot_id)
        stream = await asyncio.to_thread(repository.open, snapshot_id)
    except SnapshotNotFound as exc:
        raise _refusal(exc) from exc

    def chunks() -> Iterator[bytes]:
        with contextlib.closing(stream):
            while data := stream.read(1024 * 1024):
                yield data

    return StreamingResponse(
        chunks(),
        media_type="application/gzip",
        headers={
            "Content-Length": str(info.size),
            "Content-Disposition": f'attachment; filename="blu-{snapshot_id}.tar.gz"',
        },
    )


@router.post("/imports", status_code=status.HTTP_201_CREATED, responses=error_responses(413), dependencies=ACTION)
async def start_import(state: StateDep, body: ImportRequest) -> ImportTarget:
    """Where to send an archive's bytes (the same direct path as large file uploads: the files bucket
    in AWS, PUT /api/files/uploads/{id}/data locally); then complete the import with the id."""
    token, upload = state.transfers.tokens.issue(IMPORT_UPLOAD_PATH, body.size, now=time.time())
    target = state.transfers.staging.upload_target(upload, token)
    return ImportTarget(
        id=token,
        size=body.size,
        expires_at=upload.expires_at,
        method=target.method,
        url=target.url,
        fields=target.fields,
        headers=target.headers,
    )


@router.post(
    "/imports/{upload_id}/complete",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(400, 409, 410),
    dependencies=ACTION,
)
async def complete_import(state: StateDep, backups: BackupsDep, upload_id: str) -> OperationStarted:
    """Verify the uploaded archive and merge it into this Blu in the background: store items by id (what
    exists is kept), files by path (a differing one is kept and the imported copy written beside it).
    The operation's result says what was added, kept and in conflict; a bad archive changes nothing."""
    try:
        upload = state.transfers.tokens.read(upload_id, now=time.time())
    except (UnknownUpload, ExpiredUpload) as exc:
        raise _refusal(exc) from exc
    if upload.path != IMPORT_UPLOAD_PATH:
        raise _refusal(UnknownUpload("This upload is not an import."))
    staging = state.transfers.staging
    try:
        staged = await staging.open(upload.id)
    except NothingStaged as exc:
        raise _refusal(exc) from exc

    async def work() -> Any:
        folder = Path(tempfile.mkdtemp(prefix="blu-import-"))
        path = folder / "import.tar.gz"
        try:
            try:
                with path.open("wb") as out:
                    async for chunk in staged.chunks:
                        await asyncio.to_thread(out.write, chunk)
            finally:
                staged.close()
                await staging.delete(upload.id)
            return await backups.import_archive(path)
        finally:
            path.unlink(missing_ok=True)
            folder.rmdir()

    try:
        return _operation(backups.launch("import", work))
    except BackupBusy as exc:
        staged.close()
        raise _refusal(exc) from exc


__all__ = ["ArchiveError", "router"]
