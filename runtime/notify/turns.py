"""The "turn finished" notification: sent when a turn ends and nobody is looking at its session."""

from __future__ import annotations

import logging
from typing import Any

from core.store.aio import AsyncStore
from core.store.models import ScheduleRecord, ScheduleRunRecord
from runtime.agent.turns import RunningTurn
from runtime.notify.notifier import Notifier
from runtime.notify.presence import Presence

log = logging.getLogger(__name__)

PREVIEW_CHARS = 180


def session_url(session_id: str) -> str:
    """The page's route of a session (web/src/app.ts): what a click on the notification opens."""
    return f"/#/s/{session_id}"


def session_tag(session_id: str) -> str:
    """One notification per session on a device: a newer one about the same session replaces the older."""
    return f"session-{session_id}"


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1].rstrip() + "…"


class TurnNotices:
    """Registered with the session manager (`on_turn_finished`); runs after the turn was saved and published,
    in a task of its own, so nothing here delays or fails the turn."""

    def __init__(self, store: AsyncStore, notifier: Notifier, presence: Presence) -> None:
        self.store = store
        self.notifier = notifier
        self.presence = presence

    async def turn_finished(self, session_id: str, turn: RunningTurn) -> None:
        # Stopped on request or by Blu's own shutdown: the person did it, or is told another way. A voice
        # turn is heard as it happens. A scheduled run is announced once, by ScheduleNotices.
        if turn.stop_reason in ("interrupted", "shutdown") or turn.request.channel == "voice":
            return
        if not turn.request.user_action:
            return
        if self.presence.watching(session_id):
            return
        try:
            session = await self.store.get_session(session_id)
        except Exception:
            log.warning("no turn notification: the session could not be read", exc_info=True)
            return
        name = session.name or "Blu"
        if turn.state == "complete":
            title, body = f"{name}: reply ready", _preview(turn.text) or "Claude finished."
        else:
            title, body = f"{name}: the turn stopped", _preview(turn.error or "") or "Open Blu to see what happened."
        await self.notifier.notify("turn_finished", title, body, session_url(session_id), tag=session_tag(session_id))


class ScheduleNotices:
    """Registered with the scheduler (`on_run_finished`): "scheduled run finished" or "… failed", with the
    run's session to open. A run skipped by the cost guard is not news."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def run_finished(self, schedule: ScheduleRecord, run: ScheduleRunRecord) -> None:
        if run.outcome in ("running", "skipped"):
            return
        name = schedule.name or "Scheduled run"
        url = session_url(run.session_id) if run.session_id else "/"
        tag = session_tag(run.session_id) if run.session_id else f"schedule-{schedule.id}"
        late = " (late)" if run.late else ""
        if run.outcome == "complete":
            await self.notifier.notify(
                "schedule_finished", f"{name}: done{late}", f"Cost ${run.cost_usd:.2f}.", url, tag=tag
            )
            return
        reason = {
            "limit_minutes": "it ran past its time limit",
            "limit_usd": "it reached its cost limit",
            "interrupted": "it was interrupted",
        }.get(run.outcome, _preview(run.error or "") or "it failed")
        body = f"Stopped: {reason.rstrip('.')}."
        await self.notifier.notify("schedule_failed", f"{name}: stopped{late}", body, url, tag=tag)


class ApprovalNotices:
    """Registered with the approvals (`on_waiting`): "approval or question waiting", pushed at once (high
    urgency) whether or not someone looks, since the turn is stuck until a person answers."""

    def __init__(self, store: AsyncStore, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier

    async def approval_waiting(self, session_id: str, approval: dict[str, Any]) -> None:
        try:
            name = (await self.store.get_session(session_id)).name or "Blu"
        except Exception:
            name = "Blu"
        if approval.get("kind") == "question":
            questions = approval.get("input", {}).get("questions") or [{}]
            title, body = f"{name}: Claude asks", _preview(str(questions[0].get("question", ""))) or "A question."
        else:
            title, body = f"{name}: may Claude use {approval.get('tool_name', 'a tool')}?", "Allow or deny it in Blu."
        await self.notifier.notify(
            "approval_waiting", title, body, session_url(session_id), tag=session_tag(session_id)
        )
