"""The memory file and its history (runtime/memory.py): conflict-safe saves, Claude's changes, restore."""

from __future__ import annotations

import itertools
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runtime.agent.client import sdk_client
from runtime.agent.events import EventHub
from runtime.agent.manager import SessionManager
from runtime.agent.options import ClaudeEndpoint
from runtime.agent.turns import RunningTurn, TurnRequest
from runtime.memory import MAX_MEMORY_CHARS, Conflict, Memory, UnknownVersion, etag_of
from runtime.settings import Settings


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    ticks = itertools.count(1_000)
    return Memory(tmp_path / "claude" / "CLAUDE.md", tmp_path / "data" / "memory", clock=lambda: float(next(ticks)))


def test_a_memory_never_written_reads_empty_with_the_etag_of_nothing(memory: Memory) -> None:
    snapshot = memory.read()
    assert (snapshot.content, snapshot.etag, snapshot.version) == ("", etag_of(""), None)
    assert memory.versions() == []


def test_a_save_from_the_current_etag_writes_the_file_and_keeps_a_version(memory: Memory) -> None:
    saved = memory.save("# About you\n- likes herons\n", base_etag=memory.read().etag)
    assert memory.path.read_text() == "# About you\n- likes herons\n"
    assert saved.etag == etag_of("# About you\n- likes herons\n")
    assert saved.version is not None and saved.version.author == "you" and saved.version.sha == saved.etag
    assert [v.id for v in memory.versions()] == [saved.version.id]
    assert memory.get(saved.version.id)[1] == "# About you\n- likes herons\n"
    assert stat.S_IMODE(memory.path.stat().st_mode) == 0o660  # the agent's group reads and writes it
    assert not [p for p in memory.path.parent.iterdir() if p.name != "CLAUDE.md"]  # no temporary file left


def test_a_save_from_a_stale_etag_is_refused_with_what_is_there_now(memory: Memory) -> None:
    first = memory.save("one\n", base_etag=etag_of(""))
    memory.path.write_text("one\ntwo (Claude)\n")  # Claude's Edit, meanwhile
    with pytest.raises(Conflict) as refused:
        memory.save("one\nmine\n", base_etag=first.etag)
    current = refused.value.current
    assert current.content == "one\ntwo (Claude)\n" and current.etag == etag_of("one\ntwo (Claude)\n")
    assert memory.path.read_text() == "one\ntwo (Claude)\n"  # nothing overwritten
    # Claude's change became a version of its own when the save looked.
    assert [v.author for v in memory.versions()] == ["you", "Claude"]
    assert current.version is not None and current.version.author == "Claude"


def test_claudes_change_is_observed_once_with_a_unified_diff(memory: Memory) -> None:
    memory.save("- tea\n", base_etag=etag_of(""))
    assert memory.observe(session_id="s1", turn_id="t1") is None  # nothing changed
    memory.path.write_text("- tea\n- herons\n")
    change = memory.observe(session_id="s1", turn_id="t1")
    assert change is not None
    assert change.previous is not None and change.previous.author == "you"
    assert (change.current.author, change.current.session_id, change.current.turn_id) == ("Claude", "s1", "t1")
    assert "+- herons" in change.diff and "--- CLAUDE.md (before)" in change.diff and not change.diff_truncated
    assert memory.observe(session_id="s2", turn_id="t9") == change  # not claimed: still to report
    memory.claim(change)
    assert memory.observe(session_id="s1", turn_id="t2") is None  # reported once
    assert [v.author for v in memory.versions()] == ["you", "Claude"]


def test_what_a_restore_wrote_is_the_restores_not_a_change_of_claudes(memory: Memory) -> None:
    memory.save("- tea\n", base_etag=etag_of(""))
    memory.path.write_text("- coffee\n")  # a backup restore put its own memory back
    adopted = memory.adopt("restore")
    assert adopted is not None and adopted.author == "restore"
    assert memory.observe(session_id="s1", turn_id="t1") is None  # no "Claude updated its memory" card
    assert [v.author for v in memory.versions()] == ["you", "restore"]


def test_a_change_a_read_found_first_is_still_reported_after_the_turn(memory: Memory) -> None:
    memory.save("- tea\n", base_etag=etag_of(""))
    memory.path.write_text("- tea\n- owls\n")  # Claude, during a turn
    assert memory.read().version is not None  # the Memory page opened meanwhile: recorded as Claude's
    change = memory.observe(session_id="s1", turn_id="t1")
    assert change is not None and change.current.author == "Claude" and "+- owls" in change.diff
    assert change.current.session_id is None  # found by the read, not after a turn


def test_history_from_before_a_restart_is_not_reported_again(memory: Memory, tmp_path: Path) -> None:
    memory.save("- tea\n", base_etag=etag_of(""))
    memory.path.write_text("- tea\n- owls\n")
    assert memory.observe() is not None
    again = Memory(memory.path, memory.history_dir)  # a new process, same folders
    assert again.observe() is None


def test_restore_makes_an_old_version_current_again_as_a_new_version(memory: Memory) -> None:
    first = memory.save("first\n", base_etag=etag_of(""))
    second = memory.save("second\n", base_etag=first.etag)
    assert first.version is not None and second.version is not None
    restored = memory.restore(first.version.id, base_etag=second.etag)
    assert memory.path.read_text() == "first\n" and restored.etag == first.etag
    assert restored.version is not None
    assert (restored.version.author, restored.version.restored_from) == ("restore", first.version.id)
    assert [v.author for v in memory.versions()] == ["you", "you", "restore"]
    # Content-addressed: the restored text is stored once.
    assert len(list((memory.history_dir / "objects").iterdir())) == 2
    with pytest.raises(Conflict):
        memory.restore(second.version.id, base_etag=second.etag)  # stale: the memory moved on
    with pytest.raises(UnknownVersion):
        memory.restore("nope", base_etag=restored.etag)


def test_saving_the_same_text_records_nothing_and_oversized_text_is_refused(memory: Memory) -> None:
    first = memory.save("same\n", base_etag=etag_of(""))
    again = memory.save("same\n", base_etag=first.etag)
    assert again.version == first.version and len(memory.versions()) == 1
    with pytest.raises(ValueError, match="at most"):
        memory.save("x" * (MAX_MEMORY_CHARS + 1), base_etag=first.etag)


def test_a_torn_history_line_is_skipped(memory: Memory) -> None:
    memory.save("kept\n", base_etag=etag_of(""))
    with (memory.history_dir / "versions.jsonl").open("a") as index:
        index.write('{"id": "cut-off')  # a crash mid-append
    assert [v.author for v in memory.versions()] == ["you"]
    memory.save("next\n", base_etag=etag_of("kept\n"))
    assert [v.author for v in memory.versions()] == ["you", "you"]  # the next line is whole


def _turn(session_id: str, **tool_inputs: dict[str, Any]) -> RunningTurn:
    turn = RunningTurn(
        request=TurnRequest(session_id, f"turn-{session_id}", "m1", "hi", "text"), assistant_message_id="a1"
    )
    turn.tool_inputs.update(tool_inputs)
    return turn


async def test_the_card_goes_to_the_session_whose_turn_changed_the_memory(tmp_path: Path) -> None:
    hub = EventHub()
    settings = Settings(data_dir=tmp_path / "data")
    manager = SessionManager(
        settings=settings,
        store=None,  # type: ignore[arg-type]
        hub=hub,
        endpoint=ClaudeEndpoint(None, "k", None),
        client_factory=sdk_client,
    )
    path = manager.memory.path
    path.parent.mkdir(parents=True)
    path.write_text("- owls\n")  # written by session B's turn, still running
    workers: dict[str, Any] = {
        "a": SimpleNamespace(session_id="a", current=None),
        "b": SimpleNamespace(session_id="b", current=object()),
    }
    manager.workers = workers
    await manager._note_memory_change("a", _turn("a", t1={"command": "ls"}))
    assert not hub.has_log("a")  # A's turn did not name the file while B's ran: not A's card
    workers["b"].current = None
    await manager._note_memory_change("b", _turn("b", t1={"file_path": str(path), "content": "- owls\n"}))
    (event,) = hub.log("b")._after(0)
    assert event.type == "memory.changed" and event.data["turn_id"] == "turn-b"
    assert event.data["previous"] is None and "+- owls" in event.data["diff"]
    await manager._note_memory_change("a", _turn("a"))
    assert not hub.has_log("a")  # reported once
