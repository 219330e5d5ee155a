"""The voice worker: joins the rooms Blu's agent is dispatched to, one AgentSession per call."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
from typing import Any

from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess
from livekit.agents.voice.events import ConversationItemAddedEvent

from core.observability.metrics import record_voice_call, record_voice_latency
from core.store import open_store
from core.store.aio import AsyncStore
from runtime.credentials import load_login_secrets
from runtime.settings import Settings
from runtime.voice import providers
from runtime.voice.agent import BluVoiceAgent, build_session
from runtime.voice.bridge import RuntimeBridge
from runtime.voice.llm import RuntimeLLM

log = logging.getLogger(__name__)

ROOM_PREFIX = "blu-"
# The call's mark in the activity heartbeat is refreshed this often; the idle rule ignores a mark
# that stopped being refreshed (a worker that died mid-call must not keep Blu awake).
CALL_REFRESH_SECONDS = 60
_SESSION_ID = re.compile(r"^[0-9a-f]{24}$")


class CallSetupError(ValueError):
    """The dispatch does not name a Blu session this worker can join."""


def session_id_for(room_name: str, metadata: str | None) -> str:
    """The Blu session a call belongs to: from the dispatch metadata, checked against the room's name."""
    from_room = room_name[len(ROOM_PREFIX) :] if room_name.startswith(ROOM_PREFIX) else ""
    from_metadata = ""
    if metadata:
        try:
            parsed = json.loads(metadata)
        except json.JSONDecodeError as error:
            raise CallSetupError("the dispatch metadata is not JSON") from error
        if isinstance(parsed, dict):
            from_metadata = str(parsed.get("session_id") or "")
    if from_metadata and from_room and from_metadata != from_room:
        raise CallSetupError("the dispatch names a different session than the room")
    session_id = from_metadata or from_room
    if not _SESSION_ID.match(session_id):
        raise CallSetupError(f"no Blu session in room {room_name!r}")
    return session_id


def runtime_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.port}"


class CallMark:
    """The call's entry in the activity heartbeat, so Blu does not go to sleep mid-call."""

    def __init__(self, store: AsyncStore, room: str) -> None:
        self.store, self.room = store, room
        self.opened_at = time.time()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self.store.set_voice_room(self.room, time.time())
        self._task = asyncio.create_task(self._refresh(), name="voice-call-mark")

    async def close(self) -> float:
        """Clear the mark; returns the call's length in minutes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.store.set_voice_room(self.room, None)
        return (time.time() - self.opened_at) / 60

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(CALL_REFRESH_SECONDS)
            try:
                await self.store.set_voice_room(self.room, time.time())
            except Exception:
                log.exception("could not refresh the call's activity mark")


def prewarm(proc: JobProcess) -> None:
    """Have the VAD ready before a call needs it (loaded by the first job runner, shared by the next)."""
    proc.userdata["vad"] = providers.shared_vad()


async def entrypoint(ctx: JobContext) -> None:
    """One call: relay the person's speech to the session's Claude client and speak its replies."""
    settings = Settings()
    session_id = session_id_for(ctx.room.name, ctx.job.metadata)
    secrets = load_login_secrets(settings, announce=False)
    bridge = RuntimeBridge(runtime_url(settings), session_id=session_id, session_secret=secrets.session_secret)
    await bridge.start()
    store = AsyncStore(
        open_store(table_name=settings.dynamodb_table, data_dir=settings.data_dir, region=settings.aws_region)
    )
    mark = CallMark(store, ctx.room.name)
    await mark.open()
    log.info("voice call started", extra={"session_id": session_id, "room": ctx.room.name})

    async def end_call(reason: str = "") -> None:
        minutes = await mark.close()
        record_voice_call(minutes=minutes)
        await bridge.aclose()
        log.info("voice call ended after %.1f min", minutes, extra={"session_id": session_id, "reason": reason})

    ctx.add_shutdown_callback(end_call)
    runtime_llm = RuntimeLLM(bridge)
    vad_model = ctx.proc.userdata.get("vad") or providers.shared_vad()
    session = build_session(
        runtime_llm=runtime_llm,
        vad_model=vad_model,
        stt_model=providers.make_stt(settings),
        tts_model=providers.make_tts(settings),
        turn_detection=providers.make_turn_detector(),
    )
    session.on("conversation_item_added", report_reply_latency)
    await session.start(agent=BluVoiceAgent(runtime_llm), room=ctx.room)


def report_reply_latency(event: ConversationItemAddedEvent) -> None:
    """Emit end-of-speech → first audio for each spoken reply (LiveKit measures it as e2e_latency)."""
    item: Any = event.item
    metrics = getattr(item, "metrics", None) or {}
    if getattr(item, "role", None) == "assistant" and "e2e_latency" in metrics:
        latency_ms = float(metrics["e2e_latency"]) * 1000
        record_voice_latency(end_of_speech_to_first_audio_ms=latency_ms)
        log.info("voice reply began %.0f ms after the person stopped speaking", latency_ms)


def build_server(settings: Settings) -> AgentServer:
    """A worker registered under Blu's agent name: it joins only rooms that dispatch it explicitly.

    Each call runs in a thread of this process (LiveKit's `JobExecutorType.THREAD`), not in a job
    process of its own. LiveKit's default (a forkserver that imports the plugins again, then a warm job
    process per idle slot, started one after the other) took ~2 s of CPU more before the worker could
    register. Blu has one person and one call at a time, and the worker is already a process apart from
    the web server (container/entrypoint.py restarts it if it dies), so: a call that raises ends that
    call only (LiveKit logs it, ends the job and warms the next runner); a thread cannot be killed, so a
    call stuck in native code, or a native crash, takes the worker with it and the supervisor starts it
    again (~2 s to register).
    """
    assert settings.livekit_api_key and settings.livekit_api_secret
    server = AgentServer(
        ws_url=settings.livekit_url,
        api_key=settings.livekit_api_key.get_secret_value(),
        api_secret=settings.livekit_api_secret.get_secret_value(),
        job_executor_type=JobExecutorType.THREAD,
        # One person, one call at a time: one warm job runner (a thread that has run `prewarm`).
        num_idle_processes=1,
        # LiveKit's default turns calls away while the container's CPU is above 70% (a Claude turn
        # running a build, the wake itself). This is the only worker with Blu's agent name: a call it
        # turned away would have no agent at all.
        load_threshold=math.inf,
        setup_fnc=prewarm,
    )
    server.rtc_session(entrypoint, agent_name=settings.voice_agent_name)
    # The end-of-turn model is needed only once a call starts: load it after registering, not before.
    server.on("worker_registered", lambda *_: providers.load_turn_detector_model_in_background())
    return server
