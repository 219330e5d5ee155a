"""A snapshot brings back schedules and their runs; a restored schedule runs its missed occurrences once, late."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.store.aio import AsyncStore
from core.store.base import NotFound
from core.store.models import ScheduleRecord, ScheduleRunRecord, scheduled_run_id
from runtime.backup.engine import Backups
from runtime.schedules.scheduler import Scheduler
from runtime.settings import Settings
from tests.core.store.test_portable import T0, fill
from tests.runtime.backup.test_engine import make
from tests.runtime.schedules.test_scheduler import NoSessions

WEEK = 7 * 86_400.0


@pytest.fixture
def blu(tmp_path: Path) -> Iterator[Backups]:
    b = make(tmp_path / "blu")
    fill(b.store)  # schedules sch-a (paused one-shot) and sch-b (weekdays 08:00 Berlin), with runs
    yield b
    b.store.close()


def runs_of(b: Backups, schedule_id: str) -> list[ScheduleRunRecord]:
    return b.store.list_schedule_runs(schedule_id).items


def test_a_full_restore_brings_back_schedules_and_their_runs(blu: Backups) -> None:
    before = (blu.store.list_schedules(), runs_of(blu, "sch-b"), runs_of(blu, "sch-a"))
    snap = blu.snapshot()
    assert blu.repository.get(snap.id).as_json()["contents"]["store"]["schedule"] == 2
    blu.store.delete_schedule("sch-b")
    blu.store.update_schedule("sch-a", paused=False, prompt="changed")
    blu.store.create_schedule(ScheduleRecord(id="sch-new", prompt="made after the snapshot", run_at=T0))
    blu.restore_all(snap.id)
    assert (blu.store.list_schedules(), runs_of(blu, "sch-b"), runs_of(blu, "sch-a")) == before
    with pytest.raises(NotFound):
        blu.store.get_schedule("sch-new")


def test_a_restored_schedule_runs_its_missed_occurrences_once_late(blu: Backups, tmp_path: Path) -> None:
    snap = blu.snapshot()
    blu.store.clear_items()
    blu.restore_all(snap.id)
    restored = blu.store.get_schedule("sch-b")
    assert restored.next_run_at is not None
    later = restored.next_run_at + 2 * WEEK  # restored long after: about ten weekday occurrences passed

    async def scenario() -> list[ScheduleRunRecord]:
        runner = Scheduler(
            settings=Settings(BLU_SCHEDULE_MIN_INTERVAL_MINUTES=1),  # type: ignore[call-arg]
            store=AsyncStore(blu.store),
            manager=NoSessions(),  # type: ignore[arg-type]
            clock=lambda: later,
        )
        for _ in range(3):  # the loop looks again and again: still one run
            await runner.tick()
            await asyncio.gather(*runner.runs.values())
        return (await runner.store.list_schedule_runs("sch-b")).items

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, as in tests/runtime/schedules
        runs = pool.submit(asyncio.run, scenario()).result()
    new = [r for r in runs if r.id not in {"1760000500000-mabcd", scheduled_run_id(T0)}]
    assert len(new) == 1, new
    (run,) = new
    assert run.late and run.missed >= 9 and run.due_at <= later
    moved = blu.store.get_schedule("sch-b").next_run_at
    assert moved is not None and moved > later  # moved past now: nothing more is due
    assert len(runs_of(blu, "sch-a")) == 1  # the paused one does not run


def test_an_import_skips_runs_whose_schedule_is_missing_and_says_so(
    blu: Backups, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [i for i in blu.store.export_items() if i.kind != "schedule"]  # an archive made by hand
    monkeypatch.setattr(blu.store, "export_items", lambda **_: iter(items))
    snap = blu.snapshot("export")
    fresh = make(tmp_path / "fresh")
    with blu.repository.open(snap.id) as stream:
        report = fresh.import_archive(stream)
    assert report.store["schedule_run"] == {"added": 0, "kept": 0, "skipped": 3}
    assert report.store["session"] == {"added": 2, "kept": 0}  # the rest goes in
    assert fresh.store.list_schedules() == [] and fresh.store.running_schedule_runs() == []
    fresh.store.close()
