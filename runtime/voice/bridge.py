"""The voice worker's way into the runtime: its own HTTP API on localhost, logged in like the browser.

Going through the API (rather than a second session manager) keeps one owner per Claude session: the
voice turn queues behind text turns, is stored with channel ``voice``, and every tab sees it stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from core.auth import COOKIE_NAME, CookieSigner

log = logging.getLogger(__name__)

ReplyKind = Literal["text", "tool", "tool_done", "error", "end"]
POLL_WAIT_SECONDS = 20
END_STATUSES = {"complete", "interrupted", "error"}


UNREACHABLE = "I can't reach Blu right now. Please try again in a moment."
MAX_TRACKED_TURNS = 16


class BridgeError(RuntimeError):
    """The runtime refused or could not take the voice turn; the message is fit to be spoken."""


@dataclass(frozen=True)
class ReplyEvent:
    kind: ReplyKind
    text: str = ""
    status: str = ""


class RuntimeBridge:
    """Submits voice turns to one session and follows the session's event stream for their replies.

    The stream is followed for the whole call, from before the first turn, so handing a turn over
    is one POST: its events are already being collected when the runtime answers with the turn id.
    """

    def __init__(
        self, base_url: str, *, session_id: str, session_secret: str, timeout: float = POLL_WAIT_SECONDS + 10
    ) -> None:
        cookie = CookieSigner(session_secret, max_age_seconds=3600).issue()
        self._client = httpx.AsyncClient(base_url=base_url, cookies={COOKIE_NAME: cookie}, timeout=timeout)
        self.session_id = session_id
        self._turns: OrderedDict[str, asyncio.Queue[ReplyEvent]] = OrderedDict()
        self._follower: asyncio.Task[None] | None = None
        self._following = asyncio.Event()
        self._failure: BaseException | None = None

    async def start(self) -> None:
        """Check the session exists and start following its events (before any turn is sent)."""
        response = await self._client.get(f"/api/sessions/{self.session_id}")
        _raise_for(response)
        session = response.json()
        self._follower = asyncio.create_task(
            self._follow(int(session["events_head"]), str(session["epoch"])), name="voice-session-follower"
        )

    async def aclose(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        await self._client.aclose()

    async def submit(self, text: str, *, idempotency_key: str) -> str:
        """Queue a voice turn and return its id; a retried call with the same key never runs a second turn."""
        response = await self._client.post(
            f"/api/sessions/{self.session_id}/messages",
            json={"text": text, "channel": "voice"},
            headers={"Idempotency-Key": idempotency_key},
        )
        _raise_for(response)
        turn_id = str(response.json()["turn_id"])
        self._queue(turn_id)
        return turn_id

    async def interrupt(self) -> bool:
        response = await self._client.post(f"/api/sessions/{self.session_id}/interrupt")
        return response.status_code == 200 and bool(response.json().get("interrupted"))

    async def reply(self, turn_id: str) -> AsyncIterator[ReplyEvent]:
        """The turn's reply as it streams: text deltas, tool activity, errors, then one ``end``."""
        queue = self._queue(turn_id)
        try:
            while True:
                if self._failure is not None and queue.empty():
                    raise self._failure
                event = await queue.get()
                yield event
                if event.kind == "end":
                    return
        finally:
            self._turns.pop(turn_id, None)

    def _queue(self, turn_id: str) -> asyncio.Queue[ReplyEvent]:
        queue = self._turns.get(turn_id)
        if queue is None:
            queue = self._turns[turn_id] = asyncio.Queue()
            # Turns typed in other tabs are collected too; keep only the latest few.
            while len(self._turns) > MAX_TRACKED_TURNS:
                self._turns.popitem(last=False)
        return queue

    async def _follow(self, after: int, epoch: str) -> None:
        try:
            while True:
                response = await self._client.get(
                    f"/api/sessions/{self.session_id}/events",
                    params={"after": after, "wait": POLL_WAIT_SECONDS, "epoch": epoch},
                )
                _raise_for(response)
                page = response.json()
                if page.get("reset"):
                    # The runtime restarted: every turn it was running was saved as interrupted.
                    for queue in self._turns.values():
                        queue.put_nowait(ReplyEvent("end", status="interrupted"))
                after, epoch = int(page["next"]), str(page["epoch"])
                for event in page["events"]:
                    self._dispatch(event)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._failure = error
            for queue in self._turns.values():
                queue.put_nowait(ReplyEvent("error", text=UNREACHABLE))
                queue.put_nowait(ReplyEvent("end", status="error"))

    def _dispatch(self, event: dict[str, Any]) -> None:
        data: dict[str, Any] = event.get("data") or {}
        turn_id = data.get("turn_id")
        if not isinstance(turn_id, str):
            return
        kind = event.get("type")
        if kind == "message.delta":
            reply = ReplyEvent("text", text=str(data.get("text", "")))
        elif kind == "tool.call":
            reply = ReplyEvent("tool", text=str(data.get("name", "")))
        elif kind == "tool.result":
            reply = ReplyEvent("tool_done", text=str(data.get("name", "")))
        elif kind == "error":
            reply = ReplyEvent("error", text=str(data.get("message", "")))
        elif kind == "turn.status" and data.get("status") in END_STATUSES:
            reply = ReplyEvent("end", status=str(data["status"]))
        else:
            return
        self._queue(turn_id).put_nowait(reply)


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        detail = str(response.json().get("detail", ""))
    except ValueError:
        detail = ""
    log.warning("runtime answered %s to the voice worker: %s", response.status_code, detail)
    if response.status_code == 429:
        raise BridgeError("I'm still busy with earlier requests in this chat. Try again in a moment.")
    if response.status_code == 503:
        raise BridgeError("Blu is stopping right now, so I can't take that.")
    if response.status_code == 404:
        raise BridgeError("I can't find this chat any more.")
    raise BridgeError("Sorry, I couldn't pass that on to Blu.")
