"""The delta coalescer: the first text of a reply at once, a fast stream bounded to one event per interval."""

from __future__ import annotations

import asyncio
import time

from runtime.agent.events import DeltaCoalescer, EventLog

INTERVAL = 0.03


def deltas(log: EventLog) -> list[str]:
    return [e.data["text"] for e in log._after(0) if e.type == "message.delta"]


async def test_the_first_delta_is_sent_at_once_and_later_ones_within_the_interval_are_joined() -> None:
    log = EventLog(epoch="e")
    coalescer = DeltaCoalescer(log, interval=INTERVAL)
    coalescer.add(turn_id="t", message_id="m", text="Hel")
    assert deltas(log) == ["Hel"]  # no waiting for the first text
    coalescer.add(turn_id="t", message_id="m", text="lo")
    coalescer.add(turn_id="t", message_id="m", text=" you")
    assert deltas(log) == ["Hel"]
    await log.read(after=1, wait=10)  # sent when the interval ends (a busy machine runs the timer late)
    assert deltas(log) == ["Hel", "lo you"]
    # After a quiet interval the next chunk goes at once again (a slow stream waits for nothing). The
    # sleep starts after that send, so the interval since it has passed however late the timer ran.
    await asyncio.sleep(INTERVAL * 1.5)
    coalescer.add(turn_id="t", message_id="m", text="!")
    assert deltas(log) == ["Hel", "lo you", "!"]


async def test_another_message_or_event_flushes_first() -> None:
    log = EventLog(epoch="e")
    coalescer = DeltaCoalescer(log, interval=INTERVAL)
    coalescer.add(turn_id="t", message_id="m1", text="a")
    coalescer.add(turn_id="t", message_id="m1", text="b")
    coalescer.add(turn_id="t", message_id="m2", text="c")  # a new message flushes the old one's text
    assert deltas(log) == ["a", "b"]
    coalescer.flush()
    assert deltas(log) == ["a", "b", "c"]


async def test_a_fast_stream_makes_at_most_one_event_per_interval() -> None:
    log = EventLog(epoch="e")
    coalescer = DeltaCoalescer(log, interval=INTERVAL)
    started = time.monotonic()
    for index in range(200):
        coalescer.add(turn_id="t", message_id="m", text=f"{index} ")
        await asyncio.sleep(0.001)
    coalescer.flush()
    elapsed = time.monotonic() - started
    sent = deltas(log)
    assert "".join(sent) == "".join(f"{index} " for index in range(200))  # nothing lost or reordered
    assert len(sent) <= elapsed / INTERVAL + 2, (len(sent), elapsed)


async def test_events_appended_while_held_wake_a_waiting_reader_once_at_the_end() -> None:
    """`holding()`: each event is logged at once and in order (a new read sees it), but a reader that waits
    is woken at the end, with everything appended meanwhile in one answer."""
    log = EventLog(epoch="e")
    log.append("message.delta", {"turn_id": "t", "message_id": "m", "text": "before"})
    waiting = asyncio.create_task(log.read(after=1, wait=10))
    await asyncio.sleep(0)
    with log.holding():
        log.append("message.delta", {"turn_id": "t", "message_id": "m", "text": "last"})
        with log.holding():  # nested: the outer end wakes
            log.append("turn.status", {"turn_id": "t", "status": "running"})
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
        assert [e.seq for e in (await log.read(after=1, wait=0)).events] == [2, 3]  # logged, in order
        log.append("turn.status", {"turn_id": "t", "status": "complete"})
    read = await asyncio.wait_for(waiting, timeout=5)
    assert [e.seq for e in read.events] == [2, 3, 4]
