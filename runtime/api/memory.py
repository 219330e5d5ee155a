"""Claude's memory (the user-level CLAUDE.md): read, save conflict-safely, list, read and restore versions."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Response, status
from fastapi.responses import JSONResponse
from pydantic import Field

from runtime.api.deps import LoginRequired, ManagerDep, record_user_action
from runtime.api.errors import error_responses
from runtime.api.models import Answer, Body
from runtime.memory import MAX_MEMORY_CHARS, Conflict, Memory, Snapshot, UnknownVersion, Version

# Every route needs the login; the changes (save, restore) also count as the person's action, the reads do not:
# an open Memory dialog asks every few seconds whether the memory changed (If-None-Match), and must not keep
# Blu awake by itself (runtime/api/deps.py).
router = APIRouter(
    prefix="/api/memory", tags=["memory"], dependencies=LoginRequired, responses=error_responses(404, 428)
)
ACTION = [Depends(record_user_action)]

IfMatch = Annotated[str | None, Header(alias="If-Match", description='The ETag the edit started from ("sha")')]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match", description='The ETag shown ("sha"): 304 without a body while it is still the memory'
    ),
]
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "The memory is still the version If-None-Match names (no body; its ETag header)"}
}


class MemoryVersion(Answer):
    """A kept version: `at` in seconds since the epoch; `author` you / Claude / restore; `size` in bytes."""

    id: str
    etag: str
    at: float
    author: Literal["you", "Claude", "restore"]
    size: int
    session_id: str | None
    turn_id: str | None
    restored_from: str | None


class MemoryState(Answer):
    """The memory now. `etag` goes back as If-Match (or `base_etag`) when saving; `version` is null for a
    memory never written."""

    content: str
    etag: str
    version: MemoryVersion | None
    path: str  # where Claude Code reads it, for the page's explanation
    max_chars: int


class MemoryConflictDetail(Answer):
    message: str
    current: MemoryState


class MemoryConflict(Answer):
    """409: the memory is no longer the version the change started from; `current` is what it is now."""

    detail: MemoryConflictDetail


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": MemoryConflict, "description": "The memory changed since that version (Claude, or a tab)"}
}


class MemorySave(Body):
    content: str = Field(max_length=MAX_MEMORY_CHARS)
    base_etag: str | None = Field(None, description="The ETag edited; If-Match wins when both are given")


class MemoryRestore(Body):
    base_etag: str | None = None


class MemoryVersions(Answer):
    versions: list[MemoryVersion]  # newest first


class MemoryVersionContent(Answer):
    version: MemoryVersion
    content: str


def version_out(version: Version) -> MemoryVersion:
    return MemoryVersion(
        id=version.id,
        etag=version.sha,
        at=version.at,
        author=version.author,
        size=version.size,
        session_id=version.session_id,
        turn_id=version.turn_id,
        restored_from=version.restored_from,
    )


def _out(memory: Memory, snapshot: Snapshot) -> MemoryState:
    return MemoryState(
        content=snapshot.content,
        etag=snapshot.etag,
        version=version_out(snapshot.version) if snapshot.version else None,
        path=str(memory.path),
        max_chars=MAX_MEMORY_CHARS,
    )


def _answer(memory: Memory, snapshot: Snapshot) -> JSONResponse:
    body = _out(memory, snapshot)
    return JSONResponse(body.model_dump(), headers={"ETag": f'"{snapshot.etag}"', "Cache-Control": "no-store"})


def _etag_value(header: str | None) -> str:
    """An ETag as a client sends it (`"sha"`, `W/"sha"` or bare) as the sha alone; "" for none."""
    value = (header or "").strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def _base(if_match: str | None, base_etag: str | None) -> str:
    """The ETag the edit started from; 428 when the request names none (a blind save could undo Claude's)."""
    value = _etag_value(if_match or base_etag)
    if not value:
        raise HTTPException(
            status.HTTP_428_PRECONDITION_REQUIRED,
            "Name the version you edited: send its ETag as If-Match (or base_etag).",
        )
    return value


def _conflict(memory: Memory, error: Conflict) -> HTTPException:
    current = _out(memory, error.current).model_dump()
    return HTTPException(
        status.HTTP_409_CONFLICT,
        {"message": "The memory changed since you loaded it (Claude or another tab saved it).", "current": current},
    )


@router.get("", response_model=MemoryState, responses=NOT_MODIFIED)
async def read_memory(manager: ManagerDep, if_none_match: IfNoneMatch = None) -> Response:
    """The memory now. With If-None-Match naming its ETag, `304` and no body: how an open dialog asks every few
    seconds whether it changed elsewhere (another device, Claude in another session) without fetching it."""
    memory = manager.memory
    shown = _etag_value(if_none_match)
    if shown and shown == await asyncio.to_thread(memory.etag):
        return Response(
            status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": f'"{shown}"', "Cache-Control": "no-store"}
        )
    return _answer(memory, await asyncio.to_thread(memory.read))


@router.put("", response_model=MemoryState, responses=CONFLICT, dependencies=ACTION)
async def save_memory(body: MemorySave, manager: ManagerDep, if_match: IfMatch = None) -> Response:
    """Replace the memory if it is still the version edited; 409 with the current text otherwise."""
    memory = manager.memory
    base = _base(if_match, body.base_etag)
    try:
        snapshot = await asyncio.to_thread(memory.save, body.content, base_etag=base)
    except Conflict as error:
        raise _conflict(memory, error) from None
    return _answer(memory, snapshot)


@router.get("/versions", response_model=MemoryVersions)
async def list_versions(manager: ManagerDep, limit: int = 200) -> dict[str, Any]:
    versions = await asyncio.to_thread(manager.memory.versions)
    newest = list(reversed(versions))[: max(1, min(limit, 1000))]
    return {"versions": [version_out(v) for v in newest]}


@router.get("/versions/{version_id}", response_model=MemoryVersionContent)
async def read_version(version_id: str, manager: ManagerDep) -> dict[str, Any]:
    try:
        version, content = await asyncio.to_thread(manager.memory.get, version_id)
    except UnknownVersion:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such version of the memory.") from None
    return {"version": version_out(version), "content": content}


@router.post("/versions/{version_id}/restore", response_model=MemoryState, responses=CONFLICT, dependencies=ACTION)
async def restore_version(
    version_id: str, manager: ManagerDep, body: MemoryRestore | None = None, if_match: IfMatch = None
) -> Response:
    """Make a kept version the memory again (recorded as a new version by "restore"); 409 as for a save."""
    memory = manager.memory
    base = _base(if_match, body.base_etag if body else None)
    try:
        snapshot = await asyncio.to_thread(memory.restore, version_id, base_etag=base)
    except UnknownVersion:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such version of the memory.") from None
    except Conflict as error:
        raise _conflict(memory, error) from None
    return _answer(memory, snapshot)
