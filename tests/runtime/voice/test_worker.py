"""The voice worker: which session a call belongs to, loud failure on bad config, calls as threads, the mark."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from livekit.agents import JobExecutorType, JobProcess
from livekit.protocol import agent

from core.store import open_store
from core.store.aio import AsyncStore
from core.store.local import LocalStore
from runtime.settings import Settings
from runtime.voice.__main__ import EXIT_BAD_CONFIG
from runtime.voice.worker import CallMark, CallSetupError, build_server, prewarm, session_id_for
from tests.support.livekit_standin import API_KEY, API_SECRET, LiveKitStandin
from tests.support.server import PASSWORD_HASH, REPO, SESSION_SECRET, BluClient, BluServer

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


def test_calls_run_in_the_worker_and_one_that_fails_leaves_it_ready_for_the_next(
    blu: BluServer, api: BluClient, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "OPENAI_", "BLU_"))}
    log = tmp_path / "worker.log"
    session_id = api.new_session()
    with LiveKitStandin() as livekit, log.open("w") as out:
        env = {
            **clean,
            "LIVEKIT_URL": livekit.url,
            "LIVEKIT_API_KEY": API_KEY,
            "LIVEKIT_API_SECRET": API_SECRET,
            "OPENAI_API_KEY": "sk-test",
            "BLU_DATA_DIR": str(blu.data_dir),
            "SESSION_SECRET": SESSION_SECRET,
            "AUTH_PASSWORD_HASH": PASSWORD_HASH,
            "PORT": str(blu.port),
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "runtime.voice", "start"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            assert livekit.registered.wait(120), log.read_text()
            # No forkserver, no job process: the warm job runner is a thread of the worker.
            assert psutil.Process(worker.pid).children(recursive=True) == []
            # Three calls that fail, each in its own way: a room that is no Blu session's, a session the
            # runtime does not know, and a real session whose room cannot be joined (the stand-in is no
            # media server) after the call was set up.
            for room in ("lobby", f"blu-{SID}", f"blu-{session_id}"):
                job = livekit.dispatch(room)
                livekit.wait_for_status(job, {agent.JobStatus.JS_SUCCESS, agent.JobStatus.JS_FAILED}, worker=worker)
            assert psutil.Process(worker.pid).children(recursive=True) == []
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
    text = log.read_text()
    assert "no Blu session in room 'lobby'" in text
    assert "I can't find this chat any more." in text
    assert "voice call started" in text and "voice call ended" in text  # the third call's end still ran
    assert open_store(table_name=None, data_dir=blu.data_dir).get_activity().voice_rooms == {}


def test_a_busy_container_does_not_turn_the_call_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_URL", "wss://example.livekit.cloud")
    monkeypatch.setenv("LIVEKIT_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)
    server = build_server(Settings())
    # What LiveKit's worker decides on an availability request (production mode), the CPU fully used.
    server._devmode, server._simulation, server._draining = False, False, False
    server._worker_load, server._reserved_slots = 1.0, 0
    server._proc_pool = SimpleNamespace(processes=[])  # type: ignore[assignment]  # no call running
    assert server._is_available()


def test_every_job_runner_gets_the_vad_the_first_one_loaded() -> None:
    first, second = (
        JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None, http_proxy=None) for _ in range(2)
    )
    prewarm(first)
    prewarm(second)
    assert first.userdata["vad"] is second.userdata["vad"]


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
