"""The running Blu's backup service: due snapshots with their metrics, failures counted, heartbeats kept."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.backup.engine import Backups
from runtime.backup.service import BackupService, keeping_heartbeat
from tests.core.store.test_portable import fill
from tests.runtime.backup.test_engine import make
from tests.support.emf import parse_emf


@pytest.fixture
def blu(tmp_path: Path) -> Iterator[Backups]:
    b = make(tmp_path / "blu")
    fill(b.store)
    (b.sources.workspace / "a.txt").write_text("a")
    yield b
    b.store.close()


def test_a_due_snapshot_is_taken_and_measured(blu: Backups, capsys: pytest.CaptureFixture[str]) -> None:
    service = BackupService(blu, daily=True)
    info = service.take_if_due_sync("daily")
    assert info is not None and info.summary["reason"] == "daily"
    records = parse_emf(capsys.readouterr().out)
    values = {name: v for r in records for name, v in r.values.items()}
    assert values["BackupPendingHours"] == [0.0] and values["Backups"] == [1.0]
    assert values["BackupBytes"] == [float(info.size)]
    assert next(r for r in records if "Backups" in r.values).dimensions == {"Outcome": "ok"}
    assert service.take_if_due_sync("daily") is None  # not due again the same day


def test_a_due_snapshot_waits_for_quiet_and_reports_how_long_it_waited(
    blu: Backups, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.backup import service as module

    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    busy = [True]
    service = BackupService(blu, daily=True, turns_running=lambda: busy[0])
    assert service.take_if_due_sync("daily") is None  # due (never backed up), but a turn runs
    clock[0] += 3 * 3600
    assert service.take_if_due_sync("daily") is None
    assert blu.repository.list() == []
    busy[0] = False
    assert service.take_if_due_sync("daily") is not None
    pending = [
        r.values["BackupPendingHours"][0]
        for r in parse_emf(capsys.readouterr().out)
        if "BackupPendingHours" in r.values
    ]
    assert pending == [0.0, 3.0, 0.0]


def test_a_failed_snapshot_is_counted_and_never_raised_by_the_scheduler(
    blu: Backups, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blu.repository, "put", broken)
    service = BackupService(blu, daily=True)
    assert service.take_if_due_sync("daily") is None
    assert service.last_error is not None and "No space left" in service.last_error
    (failed,) = [r for r in parse_emf(capsys.readouterr().out) if "Backups" in r.values]
    assert failed.dimensions == {"Outcome": "failed"}


def test_one_operation_at_a_time_through_the_api(blu: Backups) -> None:
    async def scenario() -> tuple[str, str]:
        service = BackupService(blu, daily=False)
        release = asyncio.Event()

        async def slow() -> dict[str, str]:
            await release.wait()
            return {"done": "yes"}

        first = service.launch("snapshot", slow)
        with pytest.raises(Exception, match="already running"):
            service.launch("restore", slow)
        release.set()
        await asyncio.gather(*service._tasks)
        return first.state, str(first.result)

    assert asyncio.run(scenario()) == ("done", "{'done': 'yes'}")


class CountingStore:
    def __init__(self) -> None:
        self.beats = 0
        self.twice = threading.Event()

    def heartbeat(self, at: float) -> None:
        self.beats += 1
        if self.beats >= 2:
            self.twice.set()


def test_a_long_snapshot_before_sleep_keeps_the_heartbeat_going() -> None:
    store = CountingStore()
    assert keeping_heartbeat(store, lambda: store.twice.wait(30), every_seconds=0.01) is True  # type: ignore[arg-type]
    beats = store.beats
    assert beats >= 2
    assert not [t for t in threading.enumerate() if t.name == "backup-heartbeat"]
    assert store.beats == beats  # the beating thread has ended with the work (joined)


def test_schedules_are_looked_at_again_after_a_full_restore_or_an_import(blu: Backups) -> None:
    async def scenario() -> list[str]:
        calls: list[str] = []

        async def schedules_replaced() -> None:
            calls.append(blu.store.list_schedules()[0].id)  # after the store holds the restored schedules

        service = BackupService(blu, daily=False, schedules_replaced=schedules_replaced)
        snap = await service.take()
        blu.store.clear_items()
        await service.restore(snap.id, path="a.txt")
        await service.restore(snap.id, session_id="s-one")
        assert calls == []  # a file or one session brings back no schedule
        await service.restore(snap.id)
        with blu.repository.open(snap.id) as stream:
            await service.import_archive(stream)
        return calls

    assert asyncio.run(scenario()) == ["sch-b", "sch-b"]


def test_a_restore_or_import_made_by_another_process_is_followed_once(blu: Backups) -> None:
    """What `python -m runtime.backup` restores or imports beside a running server, the server follows as it
    follows its own operations (idle clients dropped, readers reloaded, policy and schedules read again), once."""

    async def scenario() -> tuple[list[str | None], int]:
        quiesced: list[str | None] = []
        replaced: list[None] = []

        async def schedules_replaced() -> None:
            replaced.append(None)

        async def quiesce(session_id: str | None) -> None:
            quiesced.append(session_id)

        service = BackupService(blu, daily=False, quiesce=quiesce, schedules_replaced=schedules_replaced)
        await asyncio.to_thread(service.adopt_changes)
        snap = await service.take()
        assert not await service.follow_changes()  # nothing was restored
        await service.restore(snap.id)  # its own: followed as it ends, not once more
        assert (quiesced, len(replaced)) == ([None], 1)
        assert not await service.follow_changes()
        command = Backups(sources=blu.sources, store=blu.store, repository=blu.repository)
        await asyncio.to_thread(command.restore_session, snap.id, "s-one")
        assert await service.follow_changes()
        assert not await service.follow_changes()
        await asyncio.to_thread(command.restore_file, snap.id, "a.txt")  # a file: nothing in memory to follow
        await asyncio.to_thread(command.restore_all, snap.id)
        assert await service.follow_changes()
        with blu.repository.open(snap.id) as stream:
            await asyncio.to_thread(command.import_archive, stream)
        assert await service.follow_changes()
        return quiesced, len(replaced)

    assert asyncio.run(scenario()) == ([None, "s-one", None], 3)
