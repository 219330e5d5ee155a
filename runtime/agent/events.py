"""Per-session event logs with sequence numbers, read by long-poll; the only way output reaches readers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from runtime.agent.event_types import EVENT_TYPES

MAX_WAIT_SECONDS = 25.0


@dataclass(frozen=True)
class Event:
    seq: int
    type: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "data": self.data, "at": self.at}


@dataclass(frozen=True)
class ReadResult:
    events: list[Event]
    next: int  # the seq to pass as `after` on the next read
    epoch: str
    reset: bool = False  # the reader's position is unknown here (other process, or too old): reload history


class EventLog:
    """An ordered, bounded log for one session. Appends wake every waiting reader.

    Sequence numbers start at 1 in each process; `epoch` names the process so a reader that
    comes back after a restart is told to reload instead of silently missing events.
    """

    def __init__(self, *, epoch: str, capacity: int = 5000) -> None:
        self.epoch = epoch
        self._events: deque[Event] = deque(maxlen=capacity)
        self._head = 0
        self._changed = asyncio.Event()
        self._closed = False
        self.ended_at: int | None = None  # the seq of `session.deleted`: the session was deleted
        self._holds = 0  # open `holding()` blocks: appends wait for the last to end before waking readers
        self._held = False  # something was appended while held

    @property
    def head(self) -> int:
        return self._head

    def append(self, type_: str, data: dict[str, Any]) -> Event:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
        self._head += 1
        event = Event(self._head, type_, data)
        self._events.append(event)
        if self._holds:
            self._held = True
        else:
            self._wake()
        return event

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Events appended inside are logged at once, in order, but a reader that waits is woken only at the
        end: what a turn publishes just before a store write and what it publishes right after reach the
        reader in one answer (one round trip instead of two, and no answer to send while the write runs)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds and self._held:
                self._held = False
                self._wake()

    def close(self) -> None:
        """Release every waiting reader (on shutdown)."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _after(self, after: int) -> list[Event]:
        if after >= self._head:
            return []
        start = len(self._events) - (self._head - after)
        return list(itertools.islice(self._events, max(0, start), None))

    def _position_unknown(self, after: int, epoch: str | None) -> bool:
        if epoch is not None and epoch != self.epoch:
            return True
        if after > self._head or after < 0:
            return True
        oldest = self._events[0].seq if self._events else self._head + 1
        return after < oldest - 1

    async def read(self, *, after: int, wait: float, epoch: str | None = None, limit: int = 500) -> ReadResult:
        """Events with seq > `after`: at once when there are any, else after up to `wait` seconds."""
        if self._position_unknown(after, epoch):
            return ReadResult([], self._head, self.epoch, reset=True)
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
        while True:
            events = self._after(after)[:limit]
            if events:
                return ReadResult(events, events[-1].seq, self.epoch)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                return ReadResult([], after, self.epoch)
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=remaining)


class DeltaCoalescer:
    """Gathers text deltas of one message into `message.delta` events: a delta that comes after a quiet
    `interval` is sent at once (the first text of a reply, and every chunk of a slow stream, reach readers
    without waiting), later ones within the interval are joined and sent when it ends, so a fast stream
    makes at most one event per `interval` s. Any other event flushes it first."""

    def __init__(self, log: EventLog, *, interval: float = 0.03) -> None:
        self._log = log
        self._interval = interval
        self._pending: dict[str, Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_sent = float("-inf")  # time.monotonic() of the last delta event

    def add(self, *, turn_id: str, message_id: str, text: str) -> None:
        if not text:
            return
        if self._pending and self._pending["message_id"] == message_id:
            self._pending["text"] += text
        else:
            self.flush()
            # received_at: when the first of these tokens reached the server (for latency figures).
            self._pending = {"turn_id": turn_id, "message_id": message_id, "text": text, "received_at": time.time()}
        if self._timer is not None:
            return  # already due at the end of this interval
        wait = self._last_sent + self._interval - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            pending, self._pending = self._pending, None
            self._log.append("message.delta", pending)
            self._last_sent = time.monotonic()


class EventHub:
    """The logs of all sessions in this process."""

    def __init__(self) -> None:
        self.epoch = os.urandom(6).hex()
        self._logs: dict[str, EventLog] = {}

    def log(self, session_id: str) -> EventLog:
        log = self._logs.get(session_id)
        if log is None:
            log = self._logs[session_id] = EventLog(epoch=self.epoch)
        return log

    def has_log(self, session_id: str) -> bool:
        return session_id in self._logs

    def publish(self, session_id: str, type_: str, data: dict[str, Any]) -> Event:
        return self.log(session_id).append(type_, data)

    def end(self, session_id: str, type_: str, data: dict[str, Any]) -> Event:
        """The session's last event (it was deleted): readers behind it still get it, and the events route
        answers 404 to a reader already past it."""
        log = self.log(session_id)
        event = log.append(type_, data)
        log.ended_at = event.seq
        return event

    def reopen(self, session_id: str) -> EventLog:
        """A fresh log, under an epoch of its own, for a session whose stored history was replaced (a restore or
        an import brought a deleted one back, or restored it over what it was): a reader of the old log is
        answered at once, and its next read, naming the old epoch, is told `reset` (reload the messages)."""
        old = self._logs.pop(session_id, None)
        if old is not None:
            old.close()
        log = self._logs[session_id] = EventLog(epoch=os.urandom(6).hex())
        return log

    def followed_sessions(self) -> list[str]:
        """The sessions with an event log in this process (read or written since it started)."""
        return list(self._logs)

    def close(self) -> None:
        for log in self._logs.values():
            log.close()
