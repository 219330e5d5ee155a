"""`python -m runtime.backup`: create, list, export, import into a fresh Blu, restore with a preview first, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.store.local import LocalStore
from runtime.backup.__main__ import main
from tests.core.store.test_portable import fill
from tests.runtime.backup.test_engine import tree


def use(monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    for name in ("BLU_WORKSPACE_DIR", "CLAUDE_CONFIG_DIR", "DYNAMODB_TABLE", "BLU_BACKUPS_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BLU_DATA_DIR", str(data))


def items(data: Path) -> list[dict[str, object]]:
    store = LocalStore(data / "blu.sqlite3")
    try:
        return [i.as_json() for i in store.export_items()]
    finally:
        store.close()


def test_export_from_one_blu_import_into_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    laptop = tmp_path / "laptop"
    store = LocalStore(laptop / "blu.sqlite3")
    fill(store)
    store.close()
    (laptop / "workspace" / "docs").mkdir(parents=True)
    (laptop / "workspace" / "docs" / "a.md").write_text("# A\n")
    use(monkeypatch, laptop)
    archive = tmp_path / "blu.tar.gz"
    assert main(["export", "-o", str(archive)]) == 0
    assert main(["verify", str(archive)]) == 0
    assert main(["export", "-o", str(archive)]) == 1  # never overwrites a file
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["reason"] == "export" and listed["contents"]["store"]["message"] == 4

    fresh = tmp_path / "fresh"
    use(monkeypatch, fresh)
    assert main(["import", str(archive)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["store"]["session"] == {"added": 2, "kept": 0}
    assert items(fresh) == items(laptop)
    assert tree(fresh / "workspace") == tree(laptop / "workspace")


def test_restore_shows_what_it_replaces_until_told_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "blu"
    (data / "workspace").mkdir(parents=True)
    (data / "workspace" / "a.txt").write_text("first")
    use(monkeypatch, data)
    assert main(["create"]) == 0
    snapshot_id = json.loads(capsys.readouterr().out)["id"]
    (data / "workspace" / "a.txt").write_text("second")
    assert main(["restore", snapshot_id, "--file", "a.txt"]) == 2  # the preview only
    assert json.loads(capsys.readouterr().out)["replaces_existing"] is True
    assert (data / "workspace" / "a.txt").read_text() == "second"
    assert main(["restore", snapshot_id, "--file", "a.txt", "--yes"]) == 0
    assert (data / "workspace" / "a.txt").read_text() == "first"
    assert main(["restore", "20200101T000000Z-00000000", "--yes"]) == 1
    assert "Refused" in capsys.readouterr().err
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b junk")
    assert main(["import", str(tmp_path / "junk.tar.gz")]) == 1
    assert "not a Blu backup" in capsys.readouterr().err
