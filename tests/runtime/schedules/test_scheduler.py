"""The scheduler in process: two schedulers on one store start a due run once; listeners hear every finished run."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from core.store.aio import AsyncStore
from core.store.base import NotFound
from core.store.local import LocalStore
from core.store.models import ScheduleRecord, ScheduleRunRecord
from runtime.agent.events import EventHub
from runtime.schedules.scheduler import Scheduler
from runtime.settings import Settings

T0 = 1_760_000_400.0  # on the hour


class NoSessions:
    """A manager whose sessions are all gone: every run fails at submit, which is enough to follow it."""

    accepting = True
    workers: dict[str, Any] = {}

    def __init__(self) -> None:
        self.hub = EventHub()
        self.submitted = 0

    async def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        raise NotFound("session")


def scheduler(path: Path, manager: NoSessions, now: float) -> Scheduler:
    return Scheduler(
        settings=Settings(BLU_SCHEDULE_MIN_INTERVAL_MINUTES=1),  # type: ignore[call-arg]
        store=AsyncStore(LocalStore(path)),
        manager=manager,  # type: ignore[arg-type]
        clock=lambda: now,
    )


def test_two_schedulers_on_one_store_run_a_due_occurrence_once_and_tell_listeners(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[ScheduleRunRecord], list[Any], int]:
        path = tmp_path / "blu.sqlite3"
        LocalStore(path).create_schedule(
            ScheduleRecord(id="s1", name="n", prompt="p", cron="0 * * * *", next_run_at=T0 - 7200, created_at=T0 - 9000)
        )
        manager = NoSessions()
        heard: list[tuple[str, str, str]] = []

        async def listener(schedule: ScheduleRecord, run: ScheduleRunRecord) -> None:
            heard.append((schedule.id, run.id, run.outcome))

        first, second = scheduler(path, manager, T0 + 5), scheduler(path, manager, T0 + 5)
        first.on_run_finished(listener)
        second.on_run_finished(listener)
        await asyncio.gather(first.tick(), second.tick(), first.tick())
        await asyncio.gather(*first.runs.values(), *second.runs.values())
        page = await first.store.list_schedule_runs("s1")
        return page.items, heard, manager.submitted

    # On a thread of its own: a session's browser tests (Playwright's sync API) keep a loop on this one.
    with ThreadPoolExecutor(1) as pool:
        runs, heard, submitted = pool.submit(asyncio.run, scenario()).result()
    (run,) = runs
    assert (run.due_at, run.late, run.missed, run.outcome) == (T0, False, 2, "error")
    assert run.error is not None and "no longer exists" in run.error
    assert submitted == 1
    assert heard == [("s1", run.id, "error")]


def test_a_run_within_the_minimum_interval_of_the_last_is_skipped_and_the_schedule_moves_on(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[ScheduleRunRecord], ScheduleRecord, list[str], int]:
        path = tmp_path / "blu.sqlite3"
        LocalStore(path).create_schedule(
            ScheduleRecord(id="s1", prompt="p", cron="0 * * * *", next_run_at=T0, last_run_at=T0 - 30)
        )
        manager = NoSessions()
        heard: list[str] = []

        async def listener(schedule: ScheduleRecord, run: ScheduleRunRecord) -> None:
            heard.append(run.outcome)

        runner = scheduler(path, manager, T0 + 1)  # the minimum interval is 1 minute: 31 s is too soon
        runner.on_run_finished(listener)
        await runner.tick()
        await asyncio.gather(*runner.runs.values())
        return (
            (await runner.store.list_schedule_runs("s1")).items,
            await runner.store.get_schedule("s1"),
            heard,
            manager.submitted,
        )

    with ThreadPoolExecutor(1) as pool:
        runs, schedule, heard, submitted = pool.submit(asyncio.run, scenario()).result()
    (run,) = runs
    assert run.outcome == "skipped" and run.error is not None and "BLU_SCHEDULE_MIN_INTERVAL_MINUTES" in run.error
    assert submitted == 0 and heard == ["skipped"]
    assert schedule.next_run_at == T0 + 3600
