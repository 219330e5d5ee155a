"""The in-process scheduler: finds due schedules, claims each occurrence once, runs it as a turn within its limits.

A run due while Blu is awake starts at once (the loop sleeps until the next run, and is woken by any
change). A run that came due while Blu slept, or several of them, runs once when Blu is next awake,
marked late: the store's claim (one transaction: the occurrence's run id plus the schedule's
`next_run_at`) lets exactly one claimer start it, across restarts and processes. A run cut off by a
restart or a Spot interruption is marked interrupted on the next start, never run again.

`on_run_finished(listener)` is the hook for notifications: `await listener(schedule, run)` is called
once per finished run (any outcome, skipped and interrupted included) with the final run record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from core.store.aio import AsyncStore
from core.store.base import NotFound
from core.store.models import (
    RunOutcome,
    ScheduleRecord,
    ScheduleRunRecord,
    SessionRecord,
    manual_run_id,
    new_id,
    scheduled_run_id,
    to_plain,
)
from runtime.agent.manager import QueueFull, SessionManager, ShuttingDown
from runtime.agent.title import fallback_title
from runtime.schedules.recurrence import latest_due, zone
from runtime.schedules.wake import WakeSchedules
from runtime.settings import Settings

log = logging.getLogger(__name__)

RunListener = Callable[[ScheduleRecord, ScheduleRunRecord], Awaitable[None]]
MAX_SLEEP_SECONDS = 60.0  # the loop looks again at least this often (a change elsewhere, a clock jump)
WATCH_SECONDS = 1.0  # how often a running run's limits are checked
# While a turn runs only its tokens are known (Claude reports the cost at its end): the USD limit is checked
# against them priced at these list prices per token (Claude Sonnet's: input $3, output $15 per million).
# Cached input is cheaper, so the estimate errs high: a run is stopped early rather than late.
USD_PER_INPUT_TOKEN = 3e-6
USD_PER_OUTPUT_TOKEN = 15e-6
RESTARTED = "Blu stopped during this run (a restart or a Spot interruption); it is not run again."
FINISHED: dict[str, RunOutcome] = {"complete": "complete", "error": "error", "interrupted": "interrupted"}


class TooSoon(Exception):
    """The cost guard: the schedule ran less than the minimum interval ago."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"wait {wait_seconds:.0f} s")
        self.wait_seconds = wait_seconds


def estimated_cost(input_tokens: int, output_tokens: int) -> float:
    return input_tokens * USD_PER_INPUT_TOKEN + output_tokens * USD_PER_OUTPUT_TOKEN


def run_title(schedule: ScheduleRecord, at: float) -> str:
    """A new session's name for one run: the schedule's name and the run's local date and time."""
    local = datetime.fromtimestamp(at, tz=UTC).astimezone(zone(schedule.timezone))
    return f"{schedule.name or fallback_title(schedule.prompt)} · {local:%Y-%m-%d %H:%M}"[:120]


class Scheduler:
    """Owns the loop task and one task per run in progress."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        manager: SessionManager,
        wake: WakeSchedules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.manager = manager
        self.wake = wake
        self.clock = clock
        self._listeners: list[RunListener] = []
        self._changed = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self.runs: dict[tuple[str, str], asyncio.Task[ScheduleRunRecord]] = {}

    # -- the hook -------------------------------------------------------------------------
    def on_run_finished(self, listener: RunListener) -> None:
        """Call `listener(schedule, run)` after every run ends (notifications subscribe here)."""
        self._listeners.append(listener)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Mark runs a previous process left running as interrupted, put every wake in place, start the loop."""
        for run in await self.store.running_schedule_runs():
            finished = await self.store.update_schedule_run(
                run.schedule_id, run.id, outcome="interrupted", finished_at=self.clock(), error=RESTARTED
            )
            with contextlib.suppress(NotFound):
                await self._finished(await self.store.get_schedule(run.schedule_id), finished)
        await self.sync_wakes()
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self, *, grace_seconds: float = 30.0) -> None:
        """Stop looking for due runs; give runs in progress (whose turns the manager ends) time to record."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self.runs:
            _done, pending = await asyncio.wait(list(self.runs.values()), timeout=grace_seconds)
            for task in pending:
                task.cancel()

    def changed(self) -> None:
        """A schedule was created or changed: look again now."""
        self._changed.set()

    async def sync_wakes(self) -> None:
        if self.wake is None:
            return
        try:
            await asyncio.to_thread(self.wake.sync, await self.store.list_schedules())
        except Exception:
            log.exception("Could not bring the EventBridge wake schedules in line with Blu's schedules")

    async def put_wake(self, schedule: ScheduleRecord) -> None:
        if self.wake is None:
            return
        try:
            await asyncio.to_thread(self.wake.put, schedule)
        except Exception:
            log.exception("Could not set the wake for a schedule", extra={"schedule_id": schedule.id})

    async def delete_wake(self, schedule_id: str) -> None:
        if self.wake is None:
            return
        try:
            await asyncio.to_thread(self.wake.delete, schedule_id)
        except Exception:
            log.exception("Could not delete the wake of a schedule", extra={"schedule_id": schedule_id})

    # -- finding due runs -----------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            try:
                wait = await self.tick()
            except Exception:
                log.exception("The scheduler's check failed; trying again shortly")
                wait = MAX_SLEEP_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
            self._changed.clear()

    async def tick(self) -> float:
        """Start every due run; returns the seconds until the next one (at most MAX_SLEEP_SECONDS)."""
        now = self.clock()
        soonest = MAX_SLEEP_SECONDS
        if not self.manager.accepting:  # stopping: what is due now is claimed by the next start, late
            return soonest
        for schedule in await self.store.list_schedules():
            if schedule.paused or schedule.next_run_at is None:
                continue
            if schedule.next_run_at <= now:
                await self.fire(schedule, now)
            else:
                soonest = min(soonest, schedule.next_run_at - now)
        return max(0.05, soonest)

    async def fire(self, schedule: ScheduleRecord, now: float) -> ScheduleRunRecord | None:
        """Claim the latest due occurrence of `schedule` and start it; None when another claimer won."""
        assert schedule.next_run_at is not None
        if schedule.cron:
            due, missed, following = latest_due(schedule.cron, schedule.timezone, first=schedule.next_run_at, now=now)
        else:
            due, missed, following = schedule.next_run_at, 0, None
        run = ScheduleRunRecord(
            schedule_id=schedule.id,
            id=scheduled_run_id(due),
            due_at=due,
            started_at=now,
            late=now - due > self.settings.schedule_late_seconds,
            missed=missed,
        )
        if not await self.store.claim_schedule_run(
            run, expected_next_run_at=schedule.next_run_at, next_run_at=following
        ):
            return None
        if run.late:
            log.warning(
                "A scheduled run starts late", extra={"schedule_id": schedule.id, "due_at": due, "missed": missed}
            )
        moved = await self.store.get_schedule(schedule.id)
        await self.put_wake(moved)
        wait = self._too_soon(schedule.last_run_at, now)
        if wait is not None:
            skipped = await self.store.update_schedule_run(
                schedule.id,
                run.id,
                outcome="skipped",
                finished_at=now,
                error=f"Not run: this schedule ran less than {self.settings.schedule_min_interval_minutes} "
                "minutes ago (BLU_SCHEDULE_MIN_INTERVAL_MINUTES).",
            )
            await self._finished(moved, skipped)
            return skipped
        self._start(moved, run)
        return run

    def _too_soon(self, last_run_at: float | None, now: float) -> float | None:
        """Seconds still to wait under the cost guard, or None when a run may start."""
        if last_run_at is None:
            return None
        wait = last_run_at + self.settings.schedule_min_interval_minutes * 60 - now
        return wait if wait > 0 else None

    async def run_now(self, schedule: ScheduleRecord) -> ScheduleRunRecord:
        """Start a manual run at once (the cost guard still applies: TooSoon)."""
        now = self.clock()
        wait = self._too_soon(schedule.last_run_at, now)
        if wait is not None:
            raise TooSoon(wait)
        run = ScheduleRunRecord(
            schedule_id=schedule.id, id=manual_run_id(now), due_at=now, trigger="manual", started_at=now
        )
        await self.store.put_schedule_run(run)
        schedule = await self.store.update_schedule(schedule.id, last_run_at=now)
        self._start(schedule, run)
        return run

    # -- running --------------------------------------------------------------------------
    def _start(self, schedule: ScheduleRecord, run: ScheduleRunRecord) -> None:
        key = (run.schedule_id, run.id)
        task = asyncio.create_task(self._execute(schedule, run), name=f"schedule-run-{run.schedule_id}")
        self.runs[key] = task
        task.add_done_callback(lambda _: self.runs.pop(key, None))

    async def _execute(self, schedule: ScheduleRecord, run: ScheduleRunRecord) -> ScheduleRunRecord:
        started = time.monotonic()
        outcome: RunOutcome = "error"
        cost, error = 0.0, None
        session_id: str | None = None
        try:
            session_id = await self._session_for(schedule, run)
            await self.store.update_schedule_run(schedule.id, run.id, session_id=session_id)
            request, _position, _message = await self.manager.submit(
                session_id, schedule.prompt, "text", user_action=False, sent_by="schedule"
            )
            await self.store.update_schedule_run(schedule.id, run.id, turn_id=request.turn_id)
            outcome, cost, error = await self._watch(schedule, session_id, request.turn_id, started)
        except NotFound:
            error = "The session this schedule writes to no longer exists: choose another or a new session per run."
        except ShuttingDown:
            outcome, error = "interrupted", "Blu was stopping when this run was due."
        except QueueFull:
            error = "Too many messages were waiting in the session; the run was not queued."
        except asyncio.CancelledError:
            outcome, error = "interrupted", "Blu stopped during this run."
            await asyncio.shield(self._record(schedule, run, outcome, cost, error, started))
            raise
        except Exception:
            log.exception("A scheduled run failed", extra={"schedule_id": schedule.id, "run_id": run.id})
            error = "Blu could not start this run; see Blu's log."
        return await asyncio.shield(self._record(schedule, run, outcome, cost, error, started))

    async def _record(
        self,
        schedule: ScheduleRecord,
        run: ScheduleRunRecord,
        outcome: RunOutcome,
        cost: float,
        error: str | None,
        started: float,
    ) -> ScheduleRunRecord:
        try:
            finished = await self.store.update_schedule_run(
                schedule.id, run.id, outcome=outcome, finished_at=self.clock(), cost_usd=cost, error=error
            )
        except NotFound:  # the schedule was deleted while it ran: its records went with it
            finished = replace(run, outcome=outcome, finished_at=self.clock(), cost_usd=cost, error=error)
        # The run's turn is counted like any turn (Turns, TurnCostUSD), its wake in Wakes and the time Blu
        # stays up in RunningMinutes (the cost guard); this line tells scheduled runs apart in Logs Insights.
        log.info(
            "scheduled run finished",
            extra={
                "schedule_id": schedule.id,
                "run_id": run.id,
                "trigger": run.trigger,
                "outcome": outcome,
                "late": run.late,
                "missed": run.missed,
                "minutes": round((time.monotonic() - started) / 60.0, 3),
                "cost_usd": cost,
            },
        )
        await self._finished(schedule, finished)
        return finished

    async def _session_for(self, schedule: ScheduleRecord, run: ScheduleRunRecord) -> str:
        if schedule.target == "session" and schedule.session_id:
            await self.store.get_session(schedule.session_id)  # NotFound when it was deleted
            return schedule.session_id
        session = SessionRecord(id=new_id(), name=run_title(schedule, run.due_at))
        await self.store.create_session(session)
        self.manager.hub.publish(session.id, "session.updated", {"session": to_plain(session)})
        return session.id

    async def _watch(
        self, schedule: ScheduleRecord, session_id: str, turn_id: str, started: float
    ) -> tuple[RunOutcome, float, str | None]:
        """Wait for the run's turn to end, stopping it at the schedule's limits; (outcome, USD, error)."""
        limit: RunOutcome | None = None
        note: str | None = None
        while True:
            worker = self.manager.workers.get(session_id)
            current = worker.current if worker else None
            ours = current is not None and current.request.turn_id == turn_id
            if not ours and not (worker is not None and turn_id in worker.queued_turn_ids):
                break
            if ours and limit is None and worker is not None and current is not None:
                minutes = (time.monotonic() - started) / 60.0
                if schedule.max_minutes is not None and minutes >= schedule.max_minutes:
                    limit, note = "limit_minutes", f"The run reached its limit of {schedule.max_minutes:g} minutes."
                elif schedule.max_usd is not None and (
                    estimated_cost(current.input_tokens, current.output_tokens) >= schedule.max_usd
                ):
                    limit, note = "limit_usd", f"The run reached its limit of {schedule.max_usd:g} USD."
                if limit is not None:
                    log.warning("A scheduled run hit a limit", extra={"schedule_id": schedule.id, "limit": limit})
                    await worker.interrupt("limit", note or "")
            await asyncio.sleep(WATCH_SECONDS)
        reply = await self._reply(session_id, turn_id)
        cost = reply.cost_usd if reply else 0.0
        if limit is not None:
            return limit, cost, note
        if schedule.max_usd is not None and cost > schedule.max_usd:
            return "limit_usd", cost, f"The run cost {cost:.4f} USD, over its limit of {schedule.max_usd:g} USD."
        if reply is None:
            return "error", cost, "The run's reply was not found."
        return FINISHED.get(reply.state, "error"), cost, reply.error

    async def _reply(self, session_id: str, turn_id: str) -> Any:
        page = await self.store.list_messages(session_id, limit=50, newest_first=True)
        return next((m for m in page.items if m.turn_id == turn_id and m.role == "assistant"), None)

    async def _finished(self, schedule: ScheduleRecord, run: ScheduleRunRecord) -> None:
        for listener in list(self._listeners):
            try:
                await listener(schedule, run)
            except Exception:
                log.exception("A scheduled-run listener failed", extra={"schedule_id": schedule.id})
