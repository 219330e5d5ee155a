"""A restore cut off by a crash is finished by the next start of the server, before it serves anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store.local import LocalStore
from core.store.models import SessionRecord
from runtime.backup.engine import MARKER, Backups, Sources
from runtime.backup.repository import LocalRepository
from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.server import BluServer


class Crash(Exception):
    """A simulated power cut."""


def test_the_server_finishes_an_interrupted_restore_on_start(model: StandinServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    sources = Sources(workspace=data / "workspace", state=data / "claude", data_dir=data)
    for folder in (sources.workspace, sources.state):
        folder.mkdir(parents=True)
    store = LocalStore(data / "blu.sqlite3")  # where the server keeps its store
    backups = Backups(sources=sources, store=store, repository=LocalRepository(data / "backups"))
    store.create_session(SessionRecord(id="a" * 24, name="kept in the snapshot", updated_at=1_800_000_000.0))
    (sources.workspace / "a.txt").write_text("snapshot")
    (sources.workspace / "b.txt").write_text("snapshot too")
    snapshot = backups.snapshot()
    (sources.workspace / "a.txt").write_text("later")
    (sources.workspace / "c.txt").write_text("made later")
    store.create_session(SessionRecord(id="b" * 24, name="made later", updated_at=1_800_000_100.0))

    def crash(step: str) -> None:
        if step == "move-in:workspace/b.txt":  # a.txt is back, b.txt not yet, the store untouched
            raise Crash(step)

    backups.crash_at = crash
    with pytest.raises(Crash):
        backups.restore_all(snapshot.id)
    store.close()
    assert (data / MARKER).exists()

    server = BluServer(data, env=model_env(model)).start()
    try:
        api = server.client()
        assert not (data / MARKER).exists()
        read = {name: api.http.get("/api/files/content", params={"path": name}) for name in ("a.txt", "b.txt", "c.txt")}
        assert (read["a.txt"].text, read["b.txt"].text, read["c.txt"].status_code) == ("snapshot", "snapshot too", 404)
        names = [s["name"] for s in api.http.get("/api/sessions").json()["sessions"]]
        assert names == ["kept in the snapshot"]
    finally:
        server.stop()
