"""Back up, wipe, restore and compare byte for byte; crashes mid-restore; import merges; bad archives change nothing."""

from __future__ import annotations

import io
import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.backup.archive import ArchiveError
from core.store.base import Store
from core.store.local import LocalStore
from core.store.models import MessageRecord, SessionRecord
from runtime.backup import engine
from runtime.backup.engine import MARKER, BackupBusy, Backups, RestoreError, Sources
from runtime.backup.repository import LocalRepository
from tests.core.store.test_portable import LONG_TEXT, fill

REPO = Path(__file__).resolve().parents[3]
# What fill() leaves in a store that a snapshot holds (push subscriptions and the VAPID keys are not).
STORE_CONTENTS = {
    "session": 2,
    "message": 4,
    "artifact": 2,
    "schedule": 2,
    "schedule_run": 3,
    "notification_preferences": 1,
    "tool_policy": 1,
}
CLAUDE_ID = "9b7e0d2c-1111-4222-8333-944455556666"


class Crash(Exception):
    """A simulated power cut."""


def fill_files(sources: Sources) -> None:
    ws = sources.workspace
    (ws / "notes").mkdir(parents=True)
    (ws / "notes" / "plan.md").write_text("# Plan\n" + "step\n" * 200)
    (ws / "data.bin").write_bytes(os.urandom(200_000))
    (ws / "empty-folder").mkdir()
    transcript = sources.state / "projects" / "-workspace" / f"{CLAUDE_ID}.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text('{"type":"user"}\n{"type":"assistant"}\n')
    (sources.state / ".claude.json").write_text('{"theme":"dark"}')


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under root, by relative path."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs:
            found[(Path(folder) / name).relative_to(root).as_posix()] = None
        for name in names:
            found[(Path(folder) / name).relative_to(root).as_posix()] = (Path(folder) / name).read_bytes()
    return found


def everything(b: Backups) -> dict[str, Any]:
    return {
        "workspace": tree(b.sources.workspace),
        "state": tree(b.sources.state),
        "store": [item.as_json() for item in b.store.export_items()],
    }


def make(root: Path, store: Store | None = None, repository: Any = None) -> Backups:
    sources = Sources(workspace=root / "workspace", state=root / "state", data_dir=root / "data")
    for folder in (sources.workspace, sources.state, sources.data_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return Backups(
        sources=sources,
        store=store or LocalStore(sources.data_dir / "blu.sqlite3"),
        repository=repository or LocalRepository(root / "backups"),
        scratch=root,
    )


@pytest.fixture
def blu(tmp_path: Path) -> Iterator[Backups]:
    b = make(tmp_path / "blu")
    fill(b.store)
    b.store.update_session("s-one", claude_session_id=CLAUDE_ID)
    fill_files(b.sources)
    yield b
    b.store.close()


def wipe(b: Backups) -> None:
    b.store.clear_items()
    for section in (b.sources.workspace, b.sources.state):
        for entry in section.iterdir():
            engine._remove(entry)


def change(b: Backups) -> None:
    (b.sources.workspace / "notes" / "plan.md").write_text("rewritten")
    (b.sources.workspace / "new.txt").write_text("made after the snapshot")
    b.store.delete_session("s-two")
    b.store.create_session(SessionRecord(id="s-three", name="later"))


def test_the_version_is_pyprojects() -> None:
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"] == engine.BLU_VERSION


def test_snapshot_ids_of_one_second_sort_by_time() -> None:
    """A restore's safety snapshot can come within a second of the snapshot restored: it must list first."""
    from core.backup.layout import SNAPSHOT_ID

    second = 1_796_000_000.0
    ids = [engine.new_snapshot_id(second + ms / 1000) for ms in range(0, 1000, 37)]
    assert all(SNAPSHOT_ID.match(i) for i in ids)
    assert sorted(ids) == ids and len(set(ids)) == len(ids)


def test_back_up_wipe_restore_is_byte_for_byte(blu: Backups) -> None:
    before = everything(blu)
    info = blu.snapshot("manual")
    listed = blu.repository.list()
    assert [s.id for s in listed] == [info.id]
    summary = listed[0].as_json()
    assert summary["contents"]["store"] == STORE_CONTENTS
    assert summary["contents"]["workspace"]["files"] == 2
    assert {s["id"]: s["messages"] for s in summary["sessions"]} == {"s-one": 2, "s-two": 2}
    wipe(blu)
    assert everything(blu) != before
    result = blu.restore_all(info.id)
    assert result["safety_snapshot"] != info.id
    assert everything(blu) == before
    assert blu.store.get_message_text("s-one", "0-0002-b") == LONG_TEXT
    assert not (blu.sources.data_dir / MARKER).exists()
    assert not any(name.startswith(".blu-restore") for name in os.listdir(blu.sources.workspace))


def test_a_restore_keeps_a_snapshot_of_what_it_replaced(blu: Backups) -> None:
    info = blu.snapshot()
    change(blu)
    changed = everything(blu)
    preview = blu.preview(info.id)
    assert preview["sessions_removed"] == [{"id": "s-three", "name": "later"}]
    assert preview["sessions_restored"] == ["s-two"]
    safety = blu.restore_all(info.id)["safety_snapshot"]
    assert blu.repository.get(safety).summary["reason"] == "pre-restore"
    blu.restore_all(safety)
    assert everything(blu) == changed


def crash_points(b: Backups, snapshot_id: str) -> list[str]:
    steps: list[str] = []
    b.crash_at = steps.append
    b.restore_all(snapshot_id)
    b.crash_at = lambda step: None
    return steps


def test_a_crash_anywhere_in_a_restore_ends_in_the_old_or_the_new_state_never_a_mix(tmp_path: Path) -> None:
    probe = make(tmp_path / "probe")
    fill(probe.store)
    fill_files(probe.sources)
    snapshot = probe.snapshot()
    change(probe)
    steps = crash_points(probe, snapshot.id)
    assert any(s.startswith("move-out") for s in steps) and any(s.startswith("store") for s in steps)
    probe.store.close()

    for n, step in enumerate(steps):
        b = make(tmp_path / f"run{n}")
        fill(b.store)
        fill_files(b.sources)
        new_state = everything(b)
        snap = b.snapshot()
        change(b)

        def crash(at: str, step: str = step) -> None:
            if at == step:
                raise Crash(at)

        b.crash_at = crash
        with pytest.raises(Crash):
            b.restore_all(snap.id)
        b.crash_at = lambda step: None
        # The next start: a fresh store object on the same file, then recovery.
        b.store.close()
        b.store = LocalStore(b.sources.data_dir / "blu.sqlite3")
        assert b.recover() == snap.id
        assert everything(b) == new_state, f"mixed state after a crash at {step}"
        b.store.close()


def test_a_crash_before_the_marker_leaves_the_old_state(blu: Backups, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = blu.snapshot()
    change(blu)
    old_state = everything(blu)

    def power_cut(path: Path, data: dict[str, Any]) -> None:
        raise Crash("before the marker")

    monkeypatch.setattr(engine, "_write_json", power_cut)
    with pytest.raises(Crash):
        blu.restore_all(snap.id)
    monkeypatch.undo()
    assert blu.recover() is None
    assert everything(blu) == old_state


def test_restore_one_session_and_its_transcript(blu: Backups) -> None:
    snap = blu.snapshot()
    original = [i.as_json() for i in blu.store.export_items(session_id="s-one")]
    transcript = blu.sources.state / "projects" / "-workspace" / f"{CLAUDE_ID}.jsonl"
    old_transcript = transcript.read_bytes()
    blu.store.put_message(MessageRecord(session_id="s-one", id="9-late", role="user", text="after"))
    blu.store.update_session("s-one", name="renamed")
    transcript.write_text("garbage")
    (blu.sources.workspace / "keep.txt").write_text("untouched")
    blu.store.delete_session("s-two")
    preview = blu.preview(snap.id, session_id="s-one")
    assert preview["replaces"]["name"] == "renamed"
    result = blu.restore_session(snap.id, "s-one")
    assert result["messages"] == 2 and result["transcripts"] == 1
    assert [i.as_json() for i in blu.store.export_items(session_id="s-one")] == original
    assert transcript.read_bytes() == old_transcript
    assert (blu.sources.workspace / "keep.txt").read_text() == "untouched"  # nothing else changed
    assert [s.id for s in blu.store.list_sessions().items] == ["s-one"]
    count = len(blu.repository.list())
    with pytest.raises(RestoreError):
        blu.restore_session(snap.id, "no-such-session")
    assert len(blu.repository.list()) == count


def test_restore_one_file(blu: Backups) -> None:
    snap = blu.snapshot()
    plan = blu.sources.workspace / "notes" / "plan.md"
    original = plan.read_bytes()
    plan.write_text("changed")
    (blu.sources.workspace / "other.txt").write_text("stays")
    assert blu.preview(snap.id, path="notes/plan.md")["replaces_existing"] is True
    assert blu.restore_file(snap.id, "notes/plan.md")["size"] == len(original)
    assert plan.read_bytes() == original
    assert (blu.sources.workspace / "other.txt").read_text() == "stays"
    plan.unlink()
    blu.restore_file(snap.id, "notes/plan.md")
    assert plan.read_bytes() == original
    with pytest.raises(RestoreError):
        blu.restore_file(snap.id, "notes/none.md")
    with pytest.raises(engine.PathRejected):
        blu.restore_file(snap.id, "../outside")


def test_export_then_import_into_a_fresh_blu_is_byte_for_byte(blu: Backups, tmp_path: Path) -> None:
    snap = blu.snapshot("export")
    fresh = make(tmp_path / "fresh")
    with blu.repository.open(snap.id) as stream:
        report = fresh.import_archive(stream)
    assert report.store == {kind: {"added": n, "kept": 0} for kind, n in STORE_CONTENTS.items()}
    assert report.files["added"] == 4 and report.files["conflicts"] == 0
    assert everything(fresh) == everything(blu)
    # Again: nothing is duplicated, everything is reported as already there.
    with blu.repository.open(snap.id) as stream:
        again = fresh.import_archive(stream)
    assert again.store == {kind: {"added": 0, "kept": n} for kind, n in STORE_CONTENTS.items()}
    assert again.files == {"added": 0, "same": 4, "conflicts": 0}
    assert everything(fresh) == everything(blu)
    fresh.store.close()


def test_import_into_a_blu_with_data_merges_and_keeps_both_sides_of_a_conflict(blu: Backups, tmp_path: Path) -> None:
    snap = blu.snapshot("export")
    other = make(tmp_path / "other")
    other.store.create_session(SessionRecord(id="s-mine", name="mine"))
    other.store.create_session(SessionRecord(id="s-one", name="same id, mine"))
    (other.sources.workspace / "notes").mkdir()
    (other.sources.workspace / "notes" / "plan.md").write_text("my own plan")
    with blu.repository.open(snap.id) as stream:
        report = other.import_archive(stream)
    assert report.store["session"] == {"added": 1, "kept": 1}
    assert other.store.get_session("s-one").name == "same id, mine"
    assert {s.id for s in other.store.list_sessions().items} == {"s-mine", "s-one", "s-two"}
    assert (other.sources.workspace / "notes" / "plan.md").read_text() == "my own plan"
    assert report.conflicts == [
        {"path": "workspace/notes/plan.md", "imported_as": f"workspace/notes/plan (imported {snap.id}).md"}
    ]
    imported = other.sources.workspace / "notes" / f"plan (imported {snap.id}).md"
    assert imported.read_bytes() == (blu.sources.workspace / "notes" / "plan.md").read_bytes()
    other.store.close()


def test_a_bad_archive_is_refused_and_changes_nothing(blu: Backups) -> None:
    snap = blu.snapshot()
    data = blu.repository.path(snap.id).read_bytes()  # type: ignore[attr-defined]
    before = everything(blu)
    count = len(blu.repository.list())
    for bad in (data[: len(data) // 2], b"PK\x03\x04 not a tarball", data[:-40]):
        with pytest.raises(ArchiveError):
            blu.import_archive(io.BytesIO(bad))
    assert everything(blu) == before
    assert len(blu.repository.list()) == count  # refused before even the safety snapshot


def test_a_corrupted_stored_snapshot_is_refused_before_anything_is_replaced(blu: Backups) -> None:
    snap = blu.snapshot()
    path = blu.repository.path(snap.id)  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x55
    path.write_bytes(bytes(data))
    change(blu)
    before = everything(blu)
    count = len(blu.repository.list())
    with pytest.raises(ArchiveError):
        blu.restore_all(snap.id)
    assert everything(blu) == before
    assert not any(name.startswith(".blu-restore") for name in os.listdir(blu.sources.workspace))
    assert len(blu.repository.list()) == count  # refused before the pre-restore snapshot


def test_links_in_the_workspace_are_skipped_not_followed(blu: Backups, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the workspace")
    (blu.sources.workspace / "escape").symlink_to(secret)
    info = blu.snapshot()
    with blu.repository.open(info.id) as stream:
        data = stream.read()
    assert b"outside the workspace" not in __import__("gzip").decompress(data)
    assert info.summary["skipped"] == [{"path": "workspace/escape", "reason": "link"}]


def test_one_operation_at_a_time(blu: Backups) -> None:
    with blu._exclusive(), pytest.raises(BackupBusy):
        blu.snapshot()


def test_a_restore_waits_for_running_turns(blu: Backups) -> None:
    snap = blu.snapshot()
    blu.store.set_turn_running("s-one", "turn-1")
    with pytest.raises(BackupBusy, match="turn is running"):
        blu.restore_all(snap.id)
    with pytest.raises(BackupBusy):
        blu.restore_session(snap.id, "s-one")


def test_a_daily_snapshot_is_due_only_after_a_day_and_a_change(blu: Backups) -> None:
    now = [1_800_000_000.0]
    blu.clock = lambda: now[0]
    assert blu.due() == (True, 0.0)  # never backed up
    blu.snapshot("daily")
    assert blu.due()[0] is False
    now[0] += 25 * 3600
    assert blu.due()[0] is False  # a day later, but nothing changed
    (blu.sources.workspace / "new.txt").write_text("a change")
    due, pending = blu.due()
    assert due is True and pending == pytest.approx(1.0)
    blu.snapshot("daily")
    assert blu.due()[0] is False
    assert json.loads((blu.sources.data_dir / "backup-last.json").read_text())["created_at"] == now[0]


def test_transcripts_follow_the_workspace_to_a_blu_where_it_lies_elsewhere(blu: Backups, tmp_path: Path) -> None:
    here = blu.sources.state / "projects" / engine.project_folder(str(blu.sources.workspace.resolve()))
    here.mkdir(parents=True)
    (here / "0a1b-resume-me.jsonl").write_text('{"type":"user"}\n')
    snap = blu.snapshot("export")
    elsewhere = make(tmp_path / "elsewhere")
    with blu.repository.open(snap.id) as stream:
        elsewhere.import_archive(stream)
    projects = elsewhere.sources.state / "projects"
    there = projects / engine.project_folder(str(elsewhere.sources.workspace.resolve()))
    assert there != projects / here.name
    assert (there / "0a1b-resume-me.jsonl").read_text() == '{"type":"user"}\n'
    assert not (projects / here.name).exists()
    assert (projects / "-workspace" / f"{CLAUDE_ID}.jsonl").exists()  # other folders stay as they were
    elsewhere.store.close()


def test_the_project_folder_is_claudes_name_for_the_workspace() -> None:
    assert engine.project_folder("/tmp/a_b/work") == "-tmp-a-b-work"  # docs/sdk-notes.md
    assert engine.project_folder("/workspace") == "-workspace"


def test_claude_codes_own_login_is_never_backed_up(blu: Backups) -> None:
    (blu.sources.state / ".credentials.json").write_text('{"claudeAiOauth": {"accessToken": "sk-ant-oat-secret"}}')
    info = blu.snapshot()
    with blu.repository.open(info.id) as stream:
        data = __import__("gzip").decompress(stream.read())
    assert b"sk-ant-oat-secret" not in data
    assert info.summary["contents"]["state"]["files"] == 2  # .claude.json and the transcript
    blu.restore_all(info.id)  # and a full restore leaves the login where it is
    assert "sk-ant-oat-secret" in (blu.sources.state / ".credentials.json").read_text()


def test_a_crash_in_a_session_restore_is_finished_on_recovery(blu: Backups) -> None:
    snap = blu.snapshot()
    original = [i.as_json() for i in blu.store.export_items(session_id="s-one")]
    blu.store.put_message(MessageRecord(session_id="s-one", id="9-late", role="user", text="after"))
    blu.store.update_session("s-one", name="renamed")

    def crash(step: str) -> None:
        if step == "store:1":  # the session was deleted and only its own item written back
            raise Crash(step)

    blu.crash_at = crash
    with pytest.raises(Crash):
        blu.restore_session(snap.id, "s-one")
    blu.crash_at = lambda step: None
    assert blu.recover() == snap.id
    assert [i.as_json() for i in blu.store.export_items(session_id="s-one")] == original
    assert not (blu.sources.data_dir / MARKER).exists()
