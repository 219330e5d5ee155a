"""Sessions, their messages, turns, forks and artifacts."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status

from core.store.aio import AsyncStore
from core.store.base import InvalidCursor, NotFound
from core.store.models import AcceptedRequest, SessionRecord, new_id, new_message_id, to_plain
from runtime.agent.attachments import AttachmentRefused, kinds
from runtime.agent.manager import (
    NOT_ANSWERED,
    CannotRegenerate,
    KeyClaimed,
    QueueFull,
    SessionManager,
    ShuttingDown,
    TurnRunning,
)
from runtime.api.deps import ManagerDep, StateDep, StoreDep, UserAction
from runtime.api.errors import error_responses
from runtime.api.models import (
    MESSAGE_ID,
    SESSION_ID,
    Accepted,
    ArtifactList,
    Cancelled,
    CreatedSession,
    ForkRequest,
    Interrupted,
    MessagePage,
    MessageText,
    NewMessage,
    NewSession,
    Regenerating,
    SessionChanges,
    SessionDetail,
    SessionListed,
    SessionPage,
)
from runtime.workspace import Workspace

router = APIRouter(prefix="/api/sessions", tags=["sessions"], dependencies=UserAction)
NOT_FOUND = error_responses(404)

IDEMPOTENCY_TTL_SECONDS = 24 * 3600  # a retried POST within a day never runs a second turn
KEY_REUSED = (
    "This Idempotency-Key was used for a different message in this session (its text, channel or attachments "
    "differ). Send a new message with a new key; a retry must send the same message with the same key."
)
SessionId = Annotated[str, Path(pattern=SESSION_ID)]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=2048)]


def _not_found(kind: str = "Session") -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{kind} not found.")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_session(store: StoreDep, body: NewSession | None = None) -> CreatedSession:
    session = SessionRecord(id=new_id(), name=(body.name.strip() if body else ""))
    await store.create_session(session)
    return CreatedSession(id=session.id, session=session)


@router.get("", responses=error_responses(400))
async def list_sessions(
    store: StoreDep, limit: Limit = 50, cursor: Cursor = None, archived: bool = True
) -> SessionPage:
    try:
        page = await store.list_sessions(limit=limit, cursor=cursor, include_archived=archived)
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid cursor.") from exc
    waiting = await _pending_approvals(store)
    sessions = [SessionListed(**to_plain(s), pending_approvals=waiting.get(s.id, 0)) for s in page.items]
    return SessionPage(sessions=sessions, next=page.next)


async def _pending_approvals(store: AsyncStore) -> dict[str, int]:
    """Session id -> how many of its approvals and questions wait for a person (the list's badge)."""
    counts: dict[str, int] = {}
    for approval in await store.pending_approvals():
        counts[approval.session_id] = counts.get(approval.session_id, 0) + 1
    return counts


@router.get("/{session_id}", responses=NOT_FOUND)
async def get_session(session_id: SessionId, store: StoreDep, manager: ManagerDep) -> SessionDetail:
    try:
        session = await store.get_session(session_id)
    except NotFound as exc:
        raise _not_found() from exc
    worker = manager.workers.get(session_id)
    log = manager.hub.log(session_id)
    return SessionDetail(
        **to_plain(session),
        queue_length=worker.queue_length if worker else 0,
        pending_approvals=len(await store.list_approvals(session_id, pending_only=True)),
        running=bool(worker and worker.current),
        events_head=log.head,
        epoch=log.epoch,
    )


@router.patch("/{session_id}", responses=NOT_FOUND)
async def update_session(
    session_id: SessionId, body: SessionChanges, store: StoreDep, manager: ManagerDep
) -> SessionRecord:
    changes = body.model_dump(exclude_none=True)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "The name cannot be blank.")
    if not changes:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "Nothing to change: give name or status.")
    try:
        session = await store.update_session(session_id, **changes)
    except NotFound as exc:
        raise _not_found() from exc
    manager.hub.publish(session_id, "session.updated", {"session": to_plain(session)})
    return session


@router.delete(
    "/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def delete_session(session_id: SessionId, manager: ManagerDep) -> Response:
    """Delete the session, its messages, artifact records and Claude's transcript. A running turn is stopped
    first and queued ones dropped (the answer waits for that, a few seconds at most); every page following
    the session's events gets `session.deleted`. 409 only when the running turn did not stop in time."""
    try:
        await manager.delete(session_id)
    except NotFound as exc:
        raise _not_found() from exc
    except TurnRunning as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, "The running turn did not stop in time; try again.") from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{session_id}/messages", responses=error_responses(400, 404))
async def list_messages(
    session_id: SessionId,
    store: StoreDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    order: Literal["asc", "desc"] = "asc",
) -> MessagePage:
    try:
        await store.get_session(session_id)
        page = await store.list_messages(session_id, limit=limit, cursor=cursor, newest_first=order == "desc")
    except NotFound as exc:
        raise _not_found() from exc
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid cursor.") from exc
    return MessagePage(messages=page.items, next=page.next)


@router.get("/{session_id}/messages/{message_id}/text", responses=NOT_FOUND)
async def message_text(
    session_id: SessionId, message_id: Annotated[str, Path(pattern=MESSAGE_ID)], store: StoreDep
) -> MessageText:
    """The whole text of a message whose record holds it cut (`truncated`)."""
    try:
        return MessageText(id=message_id, text=await store.get_message_text(session_id, message_id))
    except NotFound as exc:
        raise _not_found("Message") from exc


@router.post(
    "/{session_id}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(
        400,
        404,
        429,
        503,
        meanings={
            422: "The request's fields are not valid, the message is empty, or its Idempotency-Key was used for a "
            "different message (text, channel or attachments) in this session"
        },
    ),
    response_model_exclude_defaults=True,  # `replayed` only on a replay
)
async def post_message(
    session_id: SessionId,
    body: NewMessage,
    state: StateDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Accepted:
    """Store the person's message and queue its turn. With an `Idempotency-Key` (kept a day), a retry of the same
    message answers with the turn it started (`replayed`) and runs nothing; the key reused for a different message
    (text, channel or attachments) is refused with 422 and nothing is written, as the IETF draft "The
    Idempotency-Key HTTP Header Field" (draft-ietf-httpapi-idempotency-key-header, Error Scenarios) says of a key
    reused with a different request payload."""
    manager, settings, store = state.manager, state.settings, state.store  # one dependency on the hot path
    if len(body.text) > settings.max_message_chars:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"The message is longer than {settings.max_message_chars} characters.",
        )
    if not body.text.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "The message is empty.")
    attachments: dict[str, str] = {}
    try:
        if body.attachments:  # files to look at (no trip to a thread for a message without any)
            attachments = await asyncio.to_thread(kinds, Workspace(settings.workspace_dir), body.attachments)
    except AttachmentRefused as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    if not idempotency_key:
        return await _submit(manager, store, session_id, body, None, attachments)
    # One process serves the store (one task at a time), so a claim is in flight only in this one: a
    # concurrent POST with the same key waits for the first to be accepted or refused, then looks again.
    slot = (session_id, idempotency_key)
    while (first := manager.pending_keys.get(slot)) is not None:
        await asyncio.shield(first)
    done = manager.pending_keys[slot] = asyncio.get_running_loop().create_future()
    try:
        claim = AcceptedRequest(
            session_id,
            idempotency_key,
            turn_id=new_id(),
            message_id=new_message_id(),
            expires_at=time.time() + IDEMPOTENCY_TTL_SECONDS,
            fingerprint=body.fingerprint(),
        )
        try:  # the usual case, a new key: claimed in the same trip to the store as the message
            return await _submit(manager, store, session_id, body, claim, attachments, claim_with_message=True)
        except KeyClaimed as held:
            if not held.earlier.same_request(claim.fingerprint):  # before anything is written or taken over
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, KEY_REUSED) from None
            earlier = await _earlier_request(store, claim, held.earlier)
        if earlier is not None:
            return Accepted(
                turn_id=earlier.turn_id,
                position=manager.position(session_id, earlier.turn_id),
                message_id=earlier.message_id,
                replayed=True,
            )
        return await _submit(manager, store, session_id, body, claim, attachments)  # the key is this request's now
    finally:
        del manager.pending_keys[slot]
        done.set_result(None)


async def _submit(
    manager: SessionManager,
    store: AsyncStore,
    session_id: str,
    body: NewMessage,
    claim: AcceptedRequest | None,
    attachments: dict[str, str],
    *,
    claim_with_message: bool = False,
) -> Accepted:
    try:
        request, position, message = await manager.submit(
            session_id,
            body.text,
            body.channel,
            turn_id=claim.turn_id if claim else None,
            message_id=claim.message_id if claim else None,
            attachments=attachments,
            claim=claim if claim_with_message else None,
        )
    except (NotFound, ShuttingDown, QueueFull) as exc:
        # Nothing was accepted: the same key may be tried again. A claim taken with the message was rolled back
        # or is taken over by the next try (`_earlier_request`); the key may be an earlier request's, so it stays.
        if claim is not None and not claim_with_message:
            await store.forget_request(session_id, claim.key)
        if isinstance(exc, NotFound):
            raise _not_found() from exc
        if isinstance(exc, ShuttingDown):
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Blu is stopping; send it again shortly.") from exc
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "Too many messages are waiting in this session."
        ) from exc
    return Accepted(turn_id=request.turn_id, position=position, message_id=message.id)


async def _earlier_request(
    store: AsyncStore, claim: AcceptedRequest, earlier: AcceptedRequest
) -> AcceptedRequest | None:
    """The turn an earlier POST with the same key (`earlier`, holding it) started, or None when this one has
    now claimed the key. The caller holds the key's in-flight slot, so an earlier claim whose message was
    never stored is no longer being accepted (Blu stopped or failed in between) and is taken over; so is one
    whose turn Blu stopped before it ran (its reply says so): this POST runs the message after all."""
    try:
        await store.get_message(claim.session_id, earlier.message_id)
        taken_over = await _never_run(store, earlier)
    except NotFound:
        taken_over = True
    if taken_over:
        await store.forget_request(claim.session_id, claim.key)
        return await store.claim_request(claim, at=time.time())  # type: ignore[no-any-return]
    return earlier


async def _never_run(store: AsyncStore, accepted: AcceptedRequest) -> bool:
    page = await store.list_messages(accepted.session_id, limit=200, newest_first=True)
    return any(
        m.turn_id == accepted.turn_id and m.role == "assistant" and not m.superseded_by and m.error in NOT_ANSWERED
        for m in page.items
    )


@router.post(
    "/{session_id}/messages/{message_id}/regenerate",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 503),
)
async def regenerate(
    session_id: SessionId, message_id: Annotated[str, Path(pattern=MESSAGE_ID)], manager: ManagerDep
) -> Regenerating:
    """Answer the newest reply's prompt again in this session: Claude's context is rewound to just before the
    prompt, the reply is kept as an earlier version (`superseded_by`), and the prompt runs as a new turn
    without being stored twice. `409` unless the message is the newest reply and nothing runs or waits."""
    try:
        done = await manager.regenerate(session_id, message_id)
    except NotFound as exc:
        raise _not_found("Session or message") from exc
    except TurnRunning as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "A reply is being written in this session; wait for it (or stop it) first."
        ) from exc
    except CannotRegenerate as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ShuttingDown as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Blu is stopping; try again shortly.") from exc
    assert done.request.reply_id is not None
    return Regenerating(
        turn_id=done.request.turn_id,
        position=done.position,
        user_message_id=done.request.user_message_id,
        message_id=done.request.reply_id,
        earlier=done.earlier,
    )


@router.post("/{session_id}/interrupt", responses=NOT_FOUND)
async def interrupt(session_id: SessionId, manager: ManagerDep, store: StoreDep) -> Interrupted:
    try:
        await store.get_session(session_id)
    except NotFound as exc:
        raise _not_found() from exc
    return Interrupted(interrupted=await manager.interrupt(session_id))


@router.delete("/{session_id}/turns/{turn_id}", responses=NOT_FOUND)
async def cancel_turn(
    session_id: SessionId, turn_id: Annotated[str, Path(max_length=64)], manager: ManagerDep, store: StoreDep
) -> Cancelled:
    """Cancel a queued turn before it runs; `cancelled: false` when it already runs or ended."""
    try:
        await store.get_session(session_id)
    except NotFound as exc:
        raise _not_found() from exc
    return Cancelled(cancelled=await manager.cancel(session_id, turn_id))


@router.post("/{session_id}/fork", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
async def fork(session_id: SessionId, body: ForkRequest, manager: ManagerDep) -> CreatedSession:
    try:
        session = await manager.fork(session_id, body.message_id)
    except NotFound as exc:
        raise _not_found("Session or message") from exc
    return CreatedSession(id=session.id, session=session)


@router.get("/{session_id}/artifacts", responses=NOT_FOUND)
async def artifacts(session_id: SessionId, store: StoreDep) -> ArtifactList:
    try:
        await store.get_session(session_id)
    except NotFound as exc:
        raise _not_found() from exc
    return ArtifactList(artifacts=await store.list_artifacts(session_id))
