"""A snapshot brings back the tool policy changed at run time; an older archive without it, a malformed one refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.backup.archive import ArchiveError
from core.store.portable import ExportedItem
from runtime.backup.engine import MARKER, Backups
from tests.core.store.test_portable import fill
from tests.runtime.backup.test_engine import everything, make

FILLED = {"Bash": "ask", "mcp__github": "deny"}  # what fill() sets


@pytest.fixture
def blu(tmp_path: Path) -> Iterator[Backups]:
    b = make(tmp_path / "blu")
    fill(b.store)
    yield b
    b.store.close()


def snapshot_of(b: Backups, items: list[ExportedItem], monkeypatch: pytest.MonkeyPatch) -> str:
    """A snapshot whose store part is `items` (an archive made by hand)."""
    with monkeypatch.context() as patch:
        patch.setattr(b.store, "export_items", lambda **_: iter(items))
        return b.snapshot("export").id


def test_a_full_restore_brings_back_the_snapshots_policy(blu: Backups) -> None:
    snap = blu.snapshot().id
    blu.store.set_tool_mode("Bash", "allow")
    blu.store.set_tool_mode("Write", "deny")
    blu.restore_all(snap)
    assert blu.store.get_tool_policy() == FILLED  # Write's entry, made after the snapshot, is gone


def test_an_import_adds_the_policy_to_a_blu_without_one_and_keeps_one_that_is_there(
    blu: Backups, tmp_path: Path
) -> None:
    snap = blu.snapshot("export")
    fresh, other = make(tmp_path / "fresh"), make(tmp_path / "other")
    other.store.set_tool_mode("Read", "deny")
    for target in (fresh, other):
        with blu.repository.open(snap.id) as stream:
            report = target.import_archive(stream)
        assert report.store["tool_policy"] == ({"added": 1, "kept": 0} if target is fresh else {"added": 0, "kept": 1})
    assert fresh.store.get_tool_policy() == FILLED
    assert other.store.get_tool_policy() == {"Read": "deny"}  # merged as one item: this Blu's is kept whole
    fresh.store.close()
    other.store.close()


def test_a_snapshot_from_an_older_blu_without_the_policy_restores_the_settings_policy(
    blu: Backups, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    older = [i for i in blu.store.export_items() if i.kind != "tool_policy"]
    snap = snapshot_of(blu, older, monkeypatch)
    assert "tool_policy" not in blu.repository.get(snap).as_json()["contents"]["store"]
    blu.restore_all(snap)
    assert blu.store.get_tool_policy() == {}  # the settings' (BLU_*_TOOLS), as the preferences' defaults
    assert [s.id for s in blu.store.list_sessions().items] == ["s-two", "s-one"]  # the rest came back
    other = make(tmp_path / "other")
    other.store.set_tool_mode("Bash", "deny")
    with blu.repository.open(snap) as stream:
        report = other.import_archive(stream)
    assert "tool_policy" not in report.store and other.store.get_tool_policy() == {"Bash": "deny"}
    other.store.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"modes": {"Bash": "sometimes"}},
        {"modes": {"": "allow"}},
        {"modes": {"x" * 201: "deny"}},
        {"modes": ["Bash", "allow"]},
    ],
)
def test_an_archive_with_a_malformed_policy_is_refused_before_anything_changes(
    blu: Backups, monkeypatch: pytest.MonkeyPatch, bad: dict[str, object]
) -> None:
    items = [ExportedItem("tool_policy", bad) if i.kind == "tool_policy" else i for i in blu.store.export_items()]
    snap = snapshot_of(blu, items, monkeypatch)
    blu.store.set_tool_mode("Bash", "allow")
    blu.store.delete_session("s-two")
    (blu.sources.workspace / "after.txt").write_text("made after the snapshot")
    before = everything(blu)
    count = len(blu.repository.list())
    with pytest.raises(ArchiveError, match=r"line \d+ of store/items.jsonl \(kind tool_policy\) is not valid"):
        blu.restore_all(snap)
    with blu.repository.open(snap) as stream, pytest.raises(ArchiveError, match="kind tool_policy"):
        blu.import_archive(stream)
    assert everything(blu) == before and blu.store.get_tool_policy() == {"Bash": "allow", "mcp__github": "deny"}
    assert not (blu.sources.data_dir / MARKER).exists()
    assert len(blu.repository.list()) == count  # refused before even the safety snapshot
