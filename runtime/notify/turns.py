"""The "turn finished" notification: sent when a turn ends and nobody is looking at its session."""

from __future__ import annotations

import logging

from core.store.aio import AsyncStore
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
        # turn is heard as it happens.
        if turn.stop_reason in ("interrupted", "shutdown") or turn.request.channel == "voice":
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
