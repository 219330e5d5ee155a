"""Spoken test audio made with espeak-ng (a real voice signal for the VAD, not a tone)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from livekit import rtc

FRAME_MS = 20


def speak_to_wav(text: str, path: Path) -> Path:
    """Write `text` spoken by espeak-ng to a WAV file (skips the test when espeak-ng is missing)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make test installs it)")
    if not path.exists():
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), text], check=True)
    return path


def wav_frames(path: Path) -> list[rtc.AudioFrame]:
    """The WAV's 16-bit mono samples as 20 ms frames."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        rate = wav.getframerate()
        data = wav.readframes(wav.getnframes())
    per_frame = rate * FRAME_MS // 1000
    frames = []
    for start in range(0, len(data) // 2, per_frame):
        chunk = data[start * 2 : (start + per_frame) * 2]
        chunk += b"\0" * (per_frame * 2 - len(chunk))
        frames.append(rtc.AudioFrame(chunk, rate, 1, per_frame))
    return frames


def voiced(frames: list[rtc.AudioFrame], *, floor: int = 300) -> list[rtc.AudioFrame]:
    """The frames up to the last one with a sample above `floor`: the speech without its trailing silence."""
    last = max((i for i, frame in enumerate(frames) if max(map(abs, frame.data), default=0) > floor), default=-1)
    return frames[: last + 1]


def silence(rate: int, ms: int = FRAME_MS) -> rtc.AudioFrame:
    samples = rate * ms // 1000
    return rtc.AudioFrame(b"\0" * samples * 2, rate, 1, samples)
