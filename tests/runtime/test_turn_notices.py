"""Which ended turns are notified, and with what: a reply or a failure when nobody looks; nothing for a turn the
person stopped, one Blu's shutdown ended, a voice turn, or a session someone is looking at."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from core.store.aio import AsyncStore
from core.store.local import LocalStore
from core.store.models import ScheduleRecord, ScheduleRunRecord, SessionRecord, scheduled_run_id
from runtime.agent.turns import RunningTurn, TurnRequest
from runtime.notify import Presence
from runtime.notify.turns import PREVIEW_CHARS, ApprovalNotices, ScheduleNotices, TurnNotices

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


async def test_a_scheduled_turn_is_left_to_its_schedule_notice(parts: Any) -> None:
    notices, notifier, _ = parts
    scheduled = turn("Morning summary")
    scheduled.request = replace(scheduled.request, user_action=False)
    await notices.turn_finished(SESSION, scheduled)
    assert notifier.sent == []


@pytest.mark.parametrize(
    ("outcome", "kind", "title", "body"),
    [
        ("complete", "schedule_finished", "Morning summary: done (late)", "Cost $0.12."),
        ("limit_usd", "schedule_failed", "Morning summary: stopped (late)", "Stopped: it reached its cost limit."),
        ("error", "schedule_failed", "Morning summary: stopped (late)", "Stopped: Claude's API failed."),
    ],
)
async def test_a_finished_scheduled_run_is_notified_once_with_its_outcome(
    outcome: str, kind: str, title: str, body: str
) -> None:
    notifier = RecordingNotifier()
    schedule = ScheduleRecord(id="sch1", name="Morning summary", prompt="Summarise", cron="0 8 * * *")
    run = ScheduleRunRecord(
        schedule_id="sch1", id=scheduled_run_id(1_800_000_000), due_at=1_800_000_000, outcome=outcome,  # type: ignore[arg-type]
        late=True, session_id=SESSION, cost_usd=0.12, error="Claude's API failed.",
    )  # fmt: skip
    await ScheduleNotices(notifier).run_finished(schedule, run)  # type: ignore[arg-type]
    (sent,) = notifier.sent
    assert (sent["kind"], sent["title"], sent["body"]) == (kind, title, body)
    assert sent["url"] == f"/#/s/{SESSION}" and sent["tag"] == f"session-{SESSION}"


async def test_a_skipped_scheduled_run_is_not_news() -> None:
    notifier = RecordingNotifier()
    schedule = ScheduleRecord(id="sch1", name="Morning summary", prompt="Summarise", cron="0 8 * * *")
    run = ScheduleRunRecord(schedule_id="sch1", id="1-s", due_at=1.0, outcome="skipped")
    await ScheduleNotices(notifier).run_finished(schedule, run)  # type: ignore[arg-type]
    assert notifier.sent == []


async def test_a_waiting_question_or_tool_is_pushed_with_what_it_asks(parts: Any) -> None:
    notices, notifier, _ = parts
    approvals = ApprovalNotices(notices.store, notifier)  # type: ignore[arg-type]
    question = {"kind": "question", "tool_name": "AskUserQuestion", "input": {"questions": [{"question": "Which?"}]}}
    await approvals.approval_waiting(SESSION, question)
    await approvals.approval_waiting(SESSION, {"kind": "tool", "tool_name": "Bash", "input": {"command": "ls"}})
    assert [(s["kind"], s["title"], s["body"]) for s in notifier.sent] == [
        ("approval_waiting", "Trip plans: Claude asks", "Which?"),
        ("approval_waiting", "Trip plans: may Claude use Bash?", "Allow or deny it in Blu."),
    ]
    assert {s["url"] for s in notifier.sent} == {f"/#/s/{SESSION}"}
