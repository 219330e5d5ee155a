"""Schedules and their runs, on both back-ends: one occurrence is claimed once, whoever races for it."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from core.store import Conflict, InvalidCursor, NotFound, Store
from core.store.models import ScheduleRecord, ScheduleRunRecord, manual_run_id, scheduled_run_id
from tests.core.store.test_conformance import all_pages, run_threads

T0 = 1_760_000_000.0


def schedule(schedule_id: str = "s1", **fields: object) -> ScheduleRecord:
    defaults: dict[str, object] = {
        "name": "Morning news",
        "prompt": "Summarize the news",
        "cron": "0 8 * * 1-5",
        "repeat": "every weekday at 08:00",
        "timezone": "Europe/Berlin",
        "created_at": T0,
        "updated_at": T0,
        "next_run_at": T0 + 3600,
    }
    return ScheduleRecord(id=schedule_id, **(defaults | fields))  # type: ignore[arg-type]


def run_for(due: float, schedule_id: str = "s1", **fields: object) -> ScheduleRunRecord:
    return ScheduleRunRecord(schedule_id=schedule_id, id=scheduled_run_id(due), due_at=due, started_at=due, **fields)  # type: ignore[arg-type]


def test_a_schedule_round_trips_and_changes(store: Store) -> None:
    record = schedule(max_minutes=5.0, max_usd=0.5, target="session", session_id="abc")
    store.create_schedule(record)
    assert store.get_schedule("s1") == record
    with pytest.raises(Conflict):
        store.create_schedule(record)
    changed = store.update_schedule("s1", paused=True, next_run_at=None, max_usd=None)
    assert (changed.paused, changed.next_run_at, changed.max_usd) == (True, None, None)
    assert store.get_schedule("s1") == changed
    with pytest.raises(NotFound):
        store.update_schedule("nope", paused=True)
    with pytest.raises(ValueError):
        store.update_schedule("s1", id="other")
    with pytest.raises(ValueError):
        store.update_schedule("s1", target="elsewhere")
    with pytest.raises(TypeError):
        store.update_schedule("s1", paused="yes")


def test_schedules_list_oldest_first_and_delete_with_their_runs(store: Store) -> None:
    store.create_schedule(schedule("b", created_at=T0 + 10))
    store.create_schedule(schedule("a", created_at=T0 + 20))
    store.create_schedule(schedule("c", created_at=T0))
    assert [s.id for s in store.list_schedules()] == ["c", "b", "a"]
    assert store.put_schedule_run(run_for(T0, schedule_id="b"))
    store.delete_schedule("b")
    assert [s.id for s in store.list_schedules()] == ["c", "a"]
    with pytest.raises(NotFound):
        store.get_schedule_run("b", scheduled_run_id(T0))
    with pytest.raises(NotFound):
        store.delete_schedule("b")
    with pytest.raises(NotFound):
        store.put_schedule_run(run_for(T0, schedule_id="b"))


def test_an_occurrence_is_claimed_once_and_moves_the_schedule_on(store: Store) -> None:
    due = T0 + 3600
    store.create_schedule(schedule())
    assert store.claim_schedule_run(run_for(due), expected_next_run_at=due, next_run_at=due + 86400)
    after = store.get_schedule("s1")
    assert (after.next_run_at, after.last_run_at) == (due + 86400, due)
    # A second claimer who read the old next_run_at (another process, or this one after a restart) loses.
    assert not store.claim_schedule_run(run_for(due), expected_next_run_at=due, next_run_at=due + 86400)
    # So does one whose run exists although the schedule's time matches (nothing is written then).
    store.update_schedule("s1", next_run_at=due)
    assert not store.claim_schedule_run(run_for(due), expected_next_run_at=due, next_run_at=due + 99)
    assert store.get_schedule("s1").next_run_at == due
    assert [r.id for r in store.list_schedule_runs("s1").items] == [scheduled_run_id(due)]
    # A deleted schedule has nothing to claim.
    store.delete_schedule("s1")
    assert not store.claim_schedule_run(run_for(due), expected_next_run_at=due, next_run_at=None)


def test_parallel_claimers_of_one_occurrence_start_one_run(store: Store) -> None:
    due = T0 + 3600
    store.create_schedule(schedule())
    wins: list[int] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        run = replace(run_for(due), started_at=due + i)
        if store.claim_schedule_run(run, expected_next_run_at=due, next_run_at=None):
            with lock:
                wins.append(i)

    run_threads(8, claim)
    assert len(wins) == 1
    runs = store.list_schedule_runs("s1").items
    assert len(runs) == 1 and runs[0].started_at == due + wins[0]
    assert store.get_schedule("s1").next_run_at is None


def test_runs_list_newest_first_in_pages_and_change(store: Store) -> None:
    store.create_schedule(schedule())
    store.create_schedule(schedule("other"))
    for i in range(7):
        assert store.put_schedule_run(run_for(T0 + i * 60))
    manual = ScheduleRunRecord(schedule_id="s1", id=manual_run_id(T0 + 1000), due_at=T0 + 1000, trigger="manual")
    assert store.put_schedule_run(manual)
    assert not store.put_schedule_run(manual)
    runs, sizes = all_pages(lambda cursor: store.list_schedule_runs("s1", limit=3, cursor=cursor))
    assert [r.id for r in runs] == [manual.id] + [scheduled_run_id(T0 + i * 60) for i in reversed(range(7))]
    assert sizes == [3, 3, 2]
    first = store.list_schedule_runs("s1", limit=3)
    with pytest.raises(InvalidCursor):
        store.list_schedule_runs("other", cursor=first.next)
    assert store.list_schedule_runs("other").items == []

    done = store.update_schedule_run(
        "s1", manual.id, outcome="limit_usd", finished_at=T0 + 1100, cost_usd=0.75, error="x" * 50_000
    )
    assert done.outcome == "limit_usd" and done.cost_usd == 0.75 and len(done.error or "") < 20_000
    assert store.get_schedule_run("s1", manual.id) == done
    with pytest.raises(NotFound):
        store.update_schedule_run("s1", "0000000000000-s", outcome="complete")
    with pytest.raises(ValueError):
        store.update_schedule_run("s1", manual.id, outcome="great")
    with pytest.raises(ValueError):
        store.update_schedule_run("s1", manual.id, due_at=T0)


def test_running_runs_are_found_for_recovery(store: Store) -> None:
    store.create_schedule(schedule())
    store.create_schedule(schedule("other"))
    store.put_schedule_run(run_for(T0))
    store.put_schedule_run(run_for(T0 + 60, outcome="complete"))
    store.put_schedule_run(run_for(T0, schedule_id="other", late=True, missed=3))
    running = store.running_schedule_runs()
    assert sorted((r.schedule_id, r.id) for r in running) == [
        ("other", scheduled_run_id(T0)),
        ("s1", scheduled_run_id(T0)),
    ]
    assert next(r for r in running if r.schedule_id == "other").missed == 3
