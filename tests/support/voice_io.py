"""Audio in and out of an AgentSession without a room: a scripted microphone and a recording speaker."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from livekit import rtc
from livekit.agents.voice import io

from tests.support.spoken import FRAME_MS, silence


class ScriptedMicrophone(io.AudioInput):
    """Plays queued utterances in real time and silence in between, as a person's microphone would."""

    def __init__(self, rate: int) -> None:
        super().__init__(label="scripted-microphone")
        self.rate = rate
        self._queue: deque[rtc.AudioFrame] = deque()
        self._next_at: float | None = None
        self.speech_ended_at: list[float] = []  # perf_counter() when each utterance's last frame went out

    def say(self, frames: list[rtc.AudioFrame]) -> None:
        self._queue.extend(frames)
        self._queue.append(_END_MARK)

    async def __anext__(self) -> rtc.AudioFrame:
        now = time.perf_counter()
        self._next_at = now if self._next_at is None else max(self._next_at, now - 0.2)
        await asyncio.sleep(max(0.0, self._next_at - now))
        self._next_at += FRAME_MS / 1000
        while self._queue and self._queue[0] is _END_MARK:
            self._queue.popleft()
            self.speech_ended_at.append(time.perf_counter())
        return self._queue.popleft() if self._queue else silence(self.rate)


_END_MARK = rtc.AudioFrame(b"\0\0", 8000, 1, 1)


class RecordingSpeaker(io.AudioOutput):
    """Keeps every frame the agent speaks and plays it out at `speed` times real time."""

    def __init__(self, *, speed: float = 4.0) -> None:
        super().__init__(label="recording-speaker", capabilities=io.AudioOutputCapabilities(pause=False))
        self.speed = speed
        self.frames: list[rtc.AudioFrame] = []
        self.first_frame_at: list[float] = []  # perf_counter() of the first frame of each segment
        self.interrupted_segments = 0
        self._pushed = 0.0
        self._playout: asyncio.Task[None] | None = None
        self._cleared = asyncio.Event()

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._pushed == 0.0:
            self.first_frame_at.append(time.perf_counter())
            self.on_playback_started(created_at=time.time())
        self.frames.append(frame)
        self._pushed += frame.duration

    def flush(self) -> None:
        super().flush()
        if self._pushed:
            self._cleared.clear()
            self._playout = asyncio.create_task(self._play(self._pushed))
            self._pushed = 0.0

    def clear_buffer(self) -> None:
        self._cleared.set()

    async def _play(self, seconds: float) -> None:
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._cleared.wait(), seconds / self.speed)
        except TimeoutError:
            self.on_playback_finished(playback_position=seconds, interrupted=False)
            return
        self.interrupted_segments += 1
        played = min(seconds, (time.monotonic() - started) * self.speed)
        self.on_playback_finished(playback_position=played, interrupted=True)

    @property
    def seconds(self) -> float:
        return sum(frame.duration for frame in self.frames)
