"""Which ended turns are notified, and with what: a reply or a failure when nobody looks; nothing for a turn the
person stopped, one Blu's shutdown ended, a voice turn, or a session someone is looking at."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.store.aio import AsyncStore
from core.store.local import LocalStore
from core.store.models import SessionRecord
from runtime.agent.turns import RunningTurn, TurnRequest
from runtime.notify import Presence
from runtime.notify.turns import PREVIEW_CHARS, TurnNotices

SESSION = "a" * 24


@dataclass
class RecordingNotifier:
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def notify(self, kind: str, title: str, body: str, url: str = "/", *, tag: str | None = None) -> bool:
        self.sent.append({"kind": kind, "title": title, "body": body, "url": url, "tag": tag})
        return True


@pytest.fixture
async def parts(tmp_path: Path) -> tuple[TurnNotices, RecordingNotifier, Presence]:
    store = AsyncStore(LocalStore(tmp_path / "blu.sqlite3"))
    await store.create_session(SessionRecord(id=SESSION, name="Trip plans"))
    notifier, presence = RecordingNotifier(), Presence()
    return TurnNotices(store, notifier, presence), notifier, presence  # type: ignore[arg-type]


def turn(text: str = "", channel: str = "text", **state: Any) -> RunningTurn:
    running = RunningTurn(TurnRequest(SESSION, "t1", "m1", "prompt", channel), assistant_message_id="m2")  # type: ignore[arg-type]
    running.streamed_text = text
    for name, value in state.items():
        setattr(running, name, value)
    return running


async def test_a_reply_nobody_watched_is_notified_with_its_start(parts: Any) -> None:
    notices, notifier, _ = parts
    await notices.turn_finished(SESSION, turn("Here is the plan:\n\n" + "word " * 100))
    (sent,) = notifier.sent
    assert sent["kind"] == "turn_finished"
    assert sent["title"] == "Trip plans: reply ready"
    assert sent["body"].startswith("Here is the plan: word word") and sent["body"].endswith("…")
    assert len(sent["body"]) <= PREVIEW_CHARS
    assert sent["url"] == f"/#/s/{SESSION}" and sent["tag"] == f"session-{SESSION}"


async def test_a_failed_turn_says_so(parts: Any) -> None:
    notices, notifier, _ = parts
    await notices.turn_finished(SESSION, turn(error="Claude's API failed (HTTP 500). Try again shortly."))
    (sent,) = notifier.sent
    assert sent["title"] == "Trip plans: the turn stopped"
    assert sent["body"] == "Claude's API failed (HTTP 500). Try again shortly."


@pytest.mark.parametrize(
    "ended",
    [
        turn("partial", stop_reason="interrupted"),
        turn("partial", stop_reason="shutdown"),
        turn("spoken reply", channel="voice"),
    ],
    ids=["stopped by the person", "Blu shut down", "voice"],
)
async def test_turns_the_person_knows_about_are_not_notified(parts: Any, ended: RunningTurn) -> None:
    notices, notifier, _ = parts
    await notices.turn_finished(SESSION, ended)
    assert notifier.sent == []


async def test_a_session_someone_looks_at_is_not_notified(parts: Any) -> None:
    notices, notifier, presence = parts
    with presence.reading(SESSION):
        await notices.turn_finished(SESSION, turn("done"))
    assert notifier.sent == []
    presence.report("0" * 16, SESSION, visible=False)  # the tab went to the background, still reading
    await notices.turn_finished(SESSION, turn("done"))
    assert [s["body"] for s in notifier.sent] == ["done"]
