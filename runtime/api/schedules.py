"""Schedules: create, list, read, edit, pause and resume, delete, their runs, and a run started at once."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from core.auth.responses import Text
from core.store.base import InvalidCursor, NotFound
from core.store.models import ScheduleRecord, ScheduleRunRecord, new_id, to_plain
from runtime.api.deps import LoginRequired, SettingsDep, StoreDep, record_user_action
from runtime.api.errors import error_responses
from runtime.api.sessions import SESSION_ID
from runtime.schedules.recurrence import (
    REPEAT_FORMS,
    RecurrenceError,
    check_cron,
    next_after,
    parse_local_time,
    repeat_to_cron,
    shortest_gap_minutes,
    zone,
)
from runtime.schedules.scheduler import Scheduler, TooSoon
from runtime.settings import Settings

# Every route needs the login; the changes a person makes also count as their action (deps.UserAction),
# the reads do not: the open Schedules dialog polls them and must not keep Blu awake.
router = APIRouter(prefix="/api/schedules", tags=["schedules"], dependencies=LoginRequired)
Acted = [Depends(record_user_action)]
ScheduleId = Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]
RECENT_RUNS = 10
# What an empty timing field asks for, in the dialog's words.
_SAY_WHEN = {
    "repeat": "Say when it repeats, e.g. 'every weekday at 08:00'.",
    "cron": "Write the cron expression: minute hour day month weekday, e.g. '0 8 * * 1-5'.",
    "run_at": "Choose the date and time it runs.",
}
MAX_PROMPT_CHARS = 20_000


def get_scheduler(request: Request) -> Scheduler:
    return request.app.state.blu.scheduler  # type: ignore[no-any-return]


SchedulerDep = Annotated[Scheduler, Depends(get_scheduler)]


class Timing(BaseModel):
    """When: exactly one of `cron`, `repeat` or `run_at`, read in `timezone`."""

    cron: str | None = Field(None, max_length=120, description="5-field cron, e.g. '0 8 * * 1-5'")
    repeat: str | None = Field(None, max_length=120, description="e.g. 'every weekday at 08:00'")
    run_at: str | None = Field(None, max_length=64, description="one shot, ISO 8601: '2026-12-01T08:00'")
    timezone: str | None = Field(None, max_length=64, description="IANA name; default UTC")


class NewSchedule(Timing):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field("", max_length=120)
    prompt: Text = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    target: Literal["new", "session"] = "new"
    session_id: str | None = Field(None, pattern=SESSION_ID)
    max_minutes: float | None = Field(None, gt=0, le=24 * 60)
    max_usd: float | None = Field(None, gt=0, le=10_000)
    paused: bool = False


class ScheduleChanges(Timing):
    """Only the fields sent change; `null` clears a limit. Sending any timing field replaces the timing."""

    model_config = ConfigDict(extra="forbid")
    name: Text | None = Field(None, max_length=120)
    prompt: Text | None = Field(None, min_length=1, max_length=MAX_PROMPT_CHARS)
    target: Literal["new", "session"] | None = None
    session_id: str | None = Field(None, pattern=SESSION_ID)
    max_minutes: float | None = Field(None, gt=0, le=24 * 60)
    max_usd: float | None = Field(None, gt=0, le=10_000)
    paused: bool | None = None


class Run(BaseModel):
    schedule_id: str
    id: str
    trigger: Literal["schedule", "manual"]
    due_at: float
    started_at: float | None
    finished_at: float | None
    outcome: Literal["running", "complete", "error", "interrupted", "limit_minutes", "limit_usd", "skipped"]
    late: bool
    missed: int
    session_id: str | None
    turn_id: str | None
    cost_usd: float
    error: str | None


class Schedule(BaseModel):
    id: str
    name: str
    prompt: str
    cron: str
    repeat: str
    run_at: float | None
    timezone: str
    target: Literal["new", "session"]
    session_id: str | None
    max_minutes: float | None
    max_usd: float | None
    paused: bool
    created_at: float
    updated_at: float
    next_run_at: float | None
    last_run_at: float | None
    runs: list[Run] = Field(default_factory=list, description="the latest runs, newest first")


class ScheduleList(BaseModel):
    schedules: list[Schedule]
    min_interval_minutes: int
    repeat_forms: list[str]


class RunPage(BaseModel):
    runs: list[Run]
    next: str | None


def _bad(message: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, message)


def _refused(field: str, message: str) -> HTTPException:
    """A 422 like the framework's own: `loc` names the field for API clients, `msg` says what is wrong in the
    words of the Schedules dialog (the dialog shows it under its own label for that field)."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_ENTITY, [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    )


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "Schedule not found.")


def _timing(body: Timing, timezone: str, settings: Settings, now: float) -> dict[str, object]:
    """The record's timing fields and its first run, from exactly one of cron, repeat or run_at."""
    given = [name for name in ("cron", "repeat", "run_at") if (getattr(body, name) or "").strip()]
    if len(given) > 1:
        raise _refused(given[0], "Say when in one way only: a repeat, a cron expression or a date and time.")
    if not given:
        sent = [name for name in ("repeat", "cron", "run_at") if name in body.model_fields_set]
        empty = sent[0] if sent else "repeat"
        raise _refused(empty, _SAY_WHEN[empty])
    field = given[0]
    try:
        zone(timezone)
    except RecurrenceError as exc:
        raise _refused("timezone", str(exc)) from exc
    try:
        if field == "run_at":
            run_at = parse_local_time(body.run_at or "", timezone)
            if run_at <= now:
                raise _refused(field, "That time has passed: choose a time in the future.")
            return {"cron": "", "repeat": "", "run_at": run_at, "timezone": timezone, "next_run_at": run_at}
        repeat = " ".join((body.repeat or "").split()) if field == "repeat" else ""
        cron = repeat_to_cron(repeat) if repeat else check_cron(body.cron or "")
        gap = shortest_gap_minutes(cron, timezone, after=now)
    except RecurrenceError as exc:
        raise _refused(field, str(exc)) from exc
    if gap < settings.schedule_min_interval_minutes:
        raise _refused(
            field,
            f"This runs every {gap:g} minutes; schedules may run at most every "
            f"{settings.schedule_min_interval_minutes} minutes (BLU_SCHEDULE_MIN_INTERVAL_MINUTES).",
        )
    return {
        "cron": cron,
        "repeat": repeat,
        "run_at": None,
        "timezone": timezone,
        "next_run_at": next_after(cron, timezone, now),
    }


async def _check_target(store: StoreDep, target: str, session_id: str | None) -> None:
    if target != "session":
        return
    if not session_id:
        raise _refused("session_id", "Choose the session the runs write to, or let each run write to a new session.")
    try:
        await store.get_session(session_id)
    except NotFound as exc:
        raise _refused("session_id", "The chosen session does not exist.") from exc


async def _with_runs(store: StoreDep, schedule: ScheduleRecord, count: int = RECENT_RUNS) -> Schedule:
    page = await store.list_schedule_runs(schedule.id, limit=count)
    return Schedule(**to_plain(schedule), runs=[_run(r) for r in page.items])


def _run(run: ScheduleRunRecord) -> Run:
    return Run(**to_plain(run))


async def _get(store: StoreDep, schedule_id: str) -> ScheduleRecord:
    try:
        return await store.get_schedule(schedule_id)
    except NotFound as exc:
        raise _not_found() from exc


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(422), dependencies=Acted)
async def create_schedule(
    body: NewSchedule, store: StoreDep, settings: SettingsDep, scheduler: SchedulerDep
) -> Schedule:
    now = time.time()
    timing = _timing(body, body.timezone or "UTC", settings, now)
    await _check_target(store, body.target, body.session_id)
    if not body.prompt.strip():
        raise _refused("prompt", "The prompt is empty: say what Blu should do each time.")
    schedule = ScheduleRecord(
        id=new_id(),
        name=body.name.strip(),
        prompt=body.prompt,
        target=body.target,
        session_id=body.session_id if body.target == "session" else None,
        max_minutes=body.max_minutes,
        max_usd=body.max_usd,
        paused=body.paused,
        created_at=now,
        updated_at=now,
        **timing,  # type: ignore[arg-type]
    )
    await store.create_schedule(schedule)
    await scheduler.put_wake(schedule)
    scheduler.changed()
    return Schedule(**to_plain(schedule))


@router.get("")
async def list_schedules(store: StoreDep, settings: SettingsDep) -> ScheduleList:
    """Every schedule with its latest runs."""
    schedules = [await _with_runs(store, s, 3) for s in await store.list_schedules()]
    return ScheduleList(
        schedules=schedules,
        min_interval_minutes=settings.schedule_min_interval_minutes,
        repeat_forms=list(REPEAT_FORMS),
    )


@router.get("/{schedule_id}", responses=error_responses(404))
async def get_schedule(schedule_id: ScheduleId, store: StoreDep) -> Schedule:
    return await _with_runs(store, await _get(store, schedule_id))


@router.patch("/{schedule_id}", responses=error_responses(404, 422), dependencies=Acted)
async def edit_schedule(
    schedule_id: ScheduleId, body: ScheduleChanges, store: StoreDep, settings: SettingsDep, scheduler: SchedulerDep
) -> Schedule:
    current = await _get(store, schedule_id)
    sent = body.model_fields_set
    now = time.time()
    changes: dict[str, object] = {}
    if sent & {"cron", "repeat", "run_at"}:
        changes.update(_timing(body, body.timezone or current.timezone, settings, now))
    elif "timezone" in sent and body.timezone and body.timezone != current.timezone:
        # The same times, read in another zone: the next run moves.
        again = Timing(cron=current.cron or None, timezone=body.timezone) if current.cron else None
        if again is None:
            raise _refused("timezone", "A one-time schedule's time zone changes with its date and time: give both.")
        changes.update(_timing(again, body.timezone, settings, now))
        changes["repeat"] = current.repeat
    for name in ("name", "prompt", "max_minutes", "max_usd"):
        if name in sent:
            value = getattr(body, name)
            if name in ("name", "prompt") and value is None:
                raise _refused(name, f"The {name} cannot be null.")
            changes[name] = value.strip() if name == "name" else value
    if "prompt" in changes and not str(changes["prompt"]).strip():
        raise _refused("prompt", "The prompt is empty: say what Blu should do each time.")
    target = body.target if "target" in sent and body.target else current.target
    session_id = body.session_id if "session_id" in sent else current.session_id
    if {"target", "session_id"} & sent:
        await _check_target(store, target, session_id)
        changes["target"], changes["session_id"] = target, session_id if target == "session" else None
    if "paused" in sent and body.paused is not None:
        changes.update(_pause_changes(current, body.paused, now))
    changes["updated_at"] = now
    try:
        schedule = await store.update_schedule(schedule_id, **changes)
    except NotFound as exc:
        raise _not_found() from exc
    await scheduler.put_wake(schedule)
    scheduler.changed()
    return await _with_runs(store, schedule)


def _pause_changes(current: ScheduleRecord, paused: bool, now: float) -> dict[str, object]:
    """Pausing keeps the timing; resuming starts from now (what fell due while paused is not run)."""
    if paused or not current.paused:
        return {"paused": paused}
    if current.cron:
        following: float | None = next_after(current.cron, current.timezone, now)
    else:
        following = current.run_at if current.run_at is not None and current.run_at > now else None
    return {"paused": False, "next_run_at": following}


async def _set_paused(schedule_id: str, paused: bool, store: StoreDep, scheduler: Scheduler) -> Schedule:
    current = await _get(store, schedule_id)
    try:
        schedule = await store.update_schedule(
            schedule_id, **_pause_changes(current, paused, time.time()), updated_at=time.time()
        )
    except NotFound as exc:
        raise _not_found() from exc
    await scheduler.put_wake(schedule)
    scheduler.changed()
    return await _with_runs(store, schedule)


@router.post("/{schedule_id}/pause", responses=error_responses(404), dependencies=Acted)
async def pause(schedule_id: ScheduleId, store: StoreDep, scheduler: SchedulerDep) -> Schedule:
    return await _set_paused(schedule_id, True, store, scheduler)


@router.post("/{schedule_id}/resume", responses=error_responses(404), dependencies=Acted)
async def resume(schedule_id: ScheduleId, store: StoreDep, scheduler: SchedulerDep) -> Schedule:
    return await _set_paused(schedule_id, False, store, scheduler)


@router.delete(
    "/{schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
    dependencies=Acted,
)
async def delete_schedule(schedule_id: ScheduleId, store: StoreDep, scheduler: SchedulerDep) -> Response:
    """The schedule and its run records go; sessions its runs wrote stay, and a run in progress finishes."""
    try:
        await store.delete_schedule(schedule_id)
    except NotFound as exc:
        raise _not_found() from exc
    await scheduler.delete_wake(schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{schedule_id}/runs", responses=error_responses(400, 404))
async def list_runs(
    schedule_id: ScheduleId,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> RunPage:
    await _get(store, schedule_id)
    try:
        page = await store.list_schedule_runs(schedule_id, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise _bad("Invalid cursor.") from exc
    return RunPage(runs=[_run(r) for r in page.items], next=page.next)


@router.post(
    "/{schedule_id}/run",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 429, 503),
    dependencies=Acted,
)
async def run_now(schedule_id: ScheduleId, store: StoreDep, scheduler: SchedulerDep) -> Run:
    """Start a run now (paused or not); the minimum interval between runs still applies (429)."""
    schedule = await _get(store, schedule_id)
    if not scheduler.manager.accepting:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Blu is stopping; try again shortly.")
    try:
        run = await scheduler.run_now(schedule)
    except TooSoon as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"This schedule ran less than the minimum interval ago; try again in {exc.wait_seconds / 60:.0f} min.",
            headers={"Retry-After": str(int(exc.wait_seconds) + 1)},
        ) from exc
    return _run(run)
