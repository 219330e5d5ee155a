"""The voice worker's set-up: which session a call belongs to, loud failure on bad config, the call's mark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.store.aio import AsyncStore
from core.store.local import LocalStore
from runtime.settings import Settings
from runtime.voice.__main__ import EXIT_BAD_CONFIG
from runtime.voice.worker import CallMark, CallSetupError, build_server, session_id_for
from tests.support.server import REPO

SID = "0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("room", "metadata"),
    [
        (f"blu-{SID}", json.dumps({"session_id": SID})),
        (f"blu-{SID}", ""),
        ("other-room", json.dumps({"session_id": SID})),
    ],
)
def test_the_session_comes_from_the_dispatch_or_the_room(room: str, metadata: str) -> None:
    assert session_id_for(room, metadata) == SID


@pytest.mark.parametrize(
    ("room", "metadata"),
    [
        (f"blu-{SID}", json.dumps({"session_id": "f" * 24})),  # the two disagree
        ("blu-../../etc", ""),
        ("lobby", "{}"),
        ("lobby", "not json"),
        (f"blu-{SID}x", ""),
    ],
)
def test_a_dispatch_without_a_valid_session_is_refused(room: str, metadata: str) -> None:
    with pytest.raises(CallSetupError):
        session_id_for(room, metadata)


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({}, "LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, OPENAI_API_KEY"),
        (
            {"LIVEKIT_URL": "wss://x", "LIVEKIT_API_KEY": "key-value-1", "LIVEKIT_API_SECRET": "secret-value-2"},
            "OPENAI_API_KEY",
        ),
        (
            {
                "LIVEKIT_URL": "ftp://x",
                "LIVEKIT_API_KEY": "key-value-1",
                "LIVEKIT_API_SECRET": "secret-value-2",
                "OPENAI_API_KEY": "secret-value-3",
            },
            "must start with wss://",
        ),
        ({"BLU_VOICE_TTS_PROVIDER": "shouting"}, "BLU_VOICE_TTS_PROVIDER"),
    ],
)
def test_the_worker_exits_non_zero_naming_what_is_missing(env: dict[str, str], complaint: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "OPENAI_", "BLU_"))}
    done = subprocess.run(
        [sys.executable, "-m", "runtime.voice", "start"],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_BAD_CONFIG
    assert complaint in done.stderr
    assert "value-" not in done.stderr  # names, never values


def test_a_busy_container_does_not_turn_the_call_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_URL", "wss://example.livekit.cloud")
    monkeypatch.setenv("LIVEKIT_API_KEY", "key-value-1")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "secret-value-2")
    server = build_server(Settings())
    # What LiveKit's worker decides on an availability request (production mode), the CPU fully used.
    server._devmode, server._simulation, server._draining = False, False, False
    server._worker_load, server._reserved_slots = 1.0, 0
    server._proc_pool = SimpleNamespace(processes=[])  # type: ignore[assignment]  # no call running
    assert server._is_available()


async def test_a_call_is_marked_in_the_activity_heartbeat_while_open(tmp_path: Path) -> None:
    store = AsyncStore(LocalStore(tmp_path / "blu.db"))
    mark = CallMark(store, f"blu-{SID}")
    await mark.open()
    assert f"blu-{SID}" in (await store.get_activity()).voice_rooms
    minutes = await mark.close()
    assert (await store.get_activity()).voice_rooms == {}
    assert 0 <= minutes < 1


def test_a_spoken_reply_emits_its_end_of_speech_to_first_audio(capsys: pytest.CaptureFixture[str]) -> None:
    from livekit.agents import ChatMessage
    from livekit.agents.voice.events import ConversationItemAddedEvent

    from core.observability.metrics import VOICE_FIRST_AUDIO_MS
    from runtime.voice.worker import report_reply_latency
    from tests.support.emf import parse_emf, with_metric

    person = ChatMessage(role="user", content=["hello"], metrics={"end_of_turn_delay": 0.4})
    reply = ChatMessage(role="assistant", content=["hi"], metrics={"e2e_latency": 0.8125})
    for item in (person, reply):
        report_reply_latency(ConversationItemAddedEvent(item=item))
    (record,) = with_metric(parse_emf(capsys.readouterr().out), VOICE_FIRST_AUDIO_MS)
    assert record.value(VOICE_FIRST_AUDIO_MS) == 812.5
