"""The event stream of a session, read by long-poll."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from core.store.base import NotFound
from runtime.agent.events import MAX_WAIT_SECONDS
from runtime.api.deps import LoginRequired, StateDep
from runtime.api.errors import error_responses
from runtime.api.models import EventsPage
from runtime.api.sessions import SessionId

router = APIRouter(prefix="/api/sessions", tags=["events"], dependencies=LoginRequired, responses=error_responses(404))


@router.get("/{session_id}/events", response_model=EventsPage)
async def read_events(
    session_id: SessionId,
    state: StateDep,
    after: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = MAX_WAIT_SECONDS,
    epoch: Annotated[str | None, Query(max_length=32)] = None,
) -> JSONResponse:
    """Events after `after`; returns at once when there are some, else waits up to `wait` seconds.
    `reset: true` means this server cannot continue from `after` (it restarted): reload the messages
    and continue from `next`.

    The answer is `EventsPage`, every event a member of the `BluEvent` union, but it is sent as the log holds
    it, not validated again on each read: the log is the stream every tab follows, and one event a publisher
    got wrong must not turn every read into a 500. The tests hold the publishers to the union instead
    (tests/runtime/test_event_types.py checks every event real turns produce; the fuzz checks answers)."""
    manager, store = state.manager, state.store  # one dependency: every read of every open tab resolves them
    if not manager.hub.has_log(session_id):  # an unknown id must not leave an event log behind
        try:
            await store.get_session(session_id)
        except NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Session not found.") from exc
    log = manager.hub.log(session_id)
    if log.ended_at is not None:  # deleted here: a reader behind `session.deleted` still gets it
        try:
            await store.get_session(session_id)
        except NotFound as exc:
            if after >= log.ended_at or (epoch is not None and epoch != log.epoch):
                raise HTTPException(status.HTTP_404_NOT_FOUND, "Session not found.") from exc
        else:
            log = manager.hub.reopen(session_id)  # back (a restore, an import): a log of its own again
    with state.presence.reading(session_id):  # someone is looking at this session (runtime/notify/presence.py)
        result = await log.read(after=after, wait=wait, epoch=epoch)
    return JSONResponse(
        {
            "events": [event.to_json() for event in result.events],
            "next": result.next,
            "epoch": result.epoch,
            "reset": result.reset,
        }
    )
