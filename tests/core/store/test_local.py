"""What only the SQLite store has to prove: its file outlives a killed process and stays consistent."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import pytest

from core.store import open_store
from core.store.base import NotFound
from core.store.local import LocalStore
from core.store.models import MessageRecord, SessionRecord, to_plain

ROOT = Path(__file__).resolve().parents[3]

# Writes messages as fast as it can and reports each one after it returns (i.e. after COMMIT).
WRITER = """
import sys
from pathlib import Path
from core.store.local import LocalStore
from core.store.models import MessageRecord, SessionRecord, to_plain

store = LocalStore(Path(sys.argv[1]))
store.create_session(SessionRecord(id="s1", name="kept"))
i = 0
while True:
    store.put_message(MessageRecord(session_id="s1", id=f"m{i:06d}", role="user", text="x" * 5000))
    store.add_session_usage("s1", messages=1)
    i += 1
    print(i, flush=True)
"""


def test_data_survives_a_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "blu.sqlite3"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        reported = 0
        while reported < 30:
            line = writer.stdout.readline()
            assert line, "the writer died before writing"
            reported = int(line)
        writer.send_signal(signal.SIGKILL)  # mid-write, most likely
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = LocalStore(path)
    try:
        session = store.get_session("s1")
        assert session.name == "kept"
        messages = store.list_messages("s1", limit=1000).items
        assert len(messages) >= reported, "every write reported as done survived"
        assert all(m.text == "x" * 5000 for m in messages), "no half-written message"
        assert session.message_count in (len(messages), len(messages) - 1)  # killed between the two writes
    finally:
        store.close()


def test_two_stores_on_one_file_stay_atomic(tmp_path: Path) -> None:
    """Two connections (as the web server and the voice worker processes would have) never lose an update."""
    path = tmp_path / "blu.sqlite3"
    stores = [LocalStore(path), LocalStore(path)]
    stores[0].create_session(SessionRecord(id="s1"))

    def work(store: LocalStore, worker: int) -> None:
        for _ in range(50):
            store.add_session_usage("s1", messages=1, output_tokens=2)
            # One key per worker: a thread id can be reused once an earlier thread ended.
            store.set_turn_running(f"s-{worker}", "t")

    threads = [threading.Thread(target=work, args=(stores[i % 2], i)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session = stores[1].get_session("s1")
    assert (session.message_count, session.output_tokens) == (200, 400)
    assert len(stores[0].get_activity().running_turns) == 4
    for store in stores:
        store.close()


def test_file_is_in_wal_mode_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "blu.sqlite3"
    store = LocalStore(path)
    store.create_session(SessionRecord(id="s1", name="persisted"))
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reopened = LocalStore(path)
    assert reopened.get_session("s1").name == "persisted"
    reopened.close()


def test_open_store_without_a_table_is_local(tmp_path: Path) -> None:
    for table_name in (None, ""):
        data_dir = tmp_path / f"data-{table_name}" / "nested"
        store = open_store(table_name=table_name, data_dir=data_dir)
        assert isinstance(store, LocalStore)
        assert store.path == data_dir / "blu.sqlite3" and store.path.exists()
        store.close()


def test_a_finished_message_has_the_log_synced_without_waiting_for_it(tmp_path: Path) -> None:
    """Every commit is in the log when it returns (a killed process loses nothing, see above); one that
    finishes a message also has the log synced to disk, by the syncer's thread, covering all before it."""
    store = LocalStore(tmp_path / "blu.sqlite3")
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    store._db.set_trace_callback(lambda statement: synced.append(statement) if "synchronous" in statement else None)
    with mock.patch("core.store.local.os.fsync", fsync):
        store.create_session(SessionRecord(id="s1", name="kept"))
        store.put_message(MessageRecord(session_id="s1", id="m2", role="assistant", text="", state="running"))
        store.update_message("s1", "m2", text="partial")  # a checkpoint
        store.add_session_usage("s1", messages=1)
        store.set_turn_running("s1", "t1")
        assert store.syncer.requested == 0
        store.put_message(MessageRecord(session_id="s1", id="m1", role="user", text="hello"))  # complete
        store.update_message("s1", "m2", text="partial reply", state="interrupted")
        assert store.syncer.requested == 2
        assert store.syncer.wait()
    assert synced and set(synced) == {str(tmp_path / "blu.sqlite3-wal")}  # the log, nothing else, no FULL
    assert store._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    store.close()


def test_a_message_stored_before_earlier_versions_existed_loads_as_a_current_one(tmp_path: Path) -> None:
    """A body written by an older Blu has no `superseded_by` or `sent_by`: it reads as a current reply (None)
    and, for a prompt, as the person's."""
    store = LocalStore(tmp_path / "blu.sqlite3")
    try:
        record = MessageRecord(session_id="s1", id="1760000000000-0000abcd", role="assistant", text="old")
        body = to_plain(record)
        del body["superseded_by"], body["sent_by"]
        with store._write() as db:
            db.execute("INSERT INTO messages VALUES (?, ?, ?)", ("s1", record.id, json.dumps(body)))
        assert store.get_message("s1", record.id) == record
        assert store.list_messages("s1").items == [record]
    finally:
        store.close()


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    """Writes inside `batch()` commit together (a turn's reply with the session's counters), or not at all;
    one of them that finishes a message has the log synced once, after the commit."""
    store = LocalStore(tmp_path / "blu.sqlite3")
    store.create_session(SessionRecord(id="s1"))
    store.put_message(MessageRecord(session_id="s1", id="m1", role="assistant", text="", state="running"))
    with store.batch():
        store.update_message("s1", "m1", text="the reply", state="complete")
        with store.batch():  # a batch inside a batch is part of it
            store.add_session_usage("s1", messages=1, output_tokens=3)
        assert store.syncer.requested == 0  # not before the commit
        store.set_turn_running("s1", None)
    assert store.syncer.requested == 1
    assert store.get_message("s1", "m1").state == "complete"
    assert store.get_session("s1").output_tokens == 3

    store.put_message(MessageRecord(session_id="s1", id="m2", role="assistant", text="", state="running"))
    with pytest.raises(NotFound), store.batch():
        store.update_message("s1", "m2", text="lost with the rest", state="complete")
        store.add_session_usage("s1", messages=1, output_tokens=5)
        store.update_session("nobody", running_turn_id=None)
    assert store.get_message("s1", "m2").state == "running"  # found as running, and recovered, on start
    assert store.get_session("s1").output_tokens == 3
    assert store.syncer.requested == 1
    store.put_message(MessageRecord(session_id="s1", id="m3", role="user", text="after a failed batch"))
    assert store.get_message("s1", "m3").text == "after a failed batch"
    store.close()
