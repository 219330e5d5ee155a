"""Voice fixtures: the speech stand-in, the real runtime (and CLI) behind a call, and a call without a room."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from livekit.agents import AgentSession, vad

from runtime.settings import Settings
from runtime.voice import providers
from runtime.voice.agent import BluVoiceAgent, build_session, turn_handling
from runtime.voice.bridge import RuntimeBridge
from runtime.voice.llm import RuntimeLLM
from runtime.voice.turn_end import TranscriptAwareTurnDetector
from tests.support.server import SESSION_SECRET, BluServer
from tests.support.speech_standin import SpeechStandinServer
from tests.support.spoken import speak_to_wav, wav_frames
from tests.support.voice_io import RecordingSpeaker, ScriptedMicrophone


@pytest.fixture(scope="session")
def speech() -> Iterator[SpeechStandinServer]:
    with SpeechStandinServer() as server:
        yield server


@pytest.fixture(scope="session")
def vad_model() -> vad.VAD:
    return providers.make_vad()


@pytest.fixture(scope="session")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak_to_wav("What is on my calendar today", tmp_path_factory.mktemp("voice") / "question.wav")


@dataclass
class Call:
    session: AgentSession[None]
    llm: RuntimeLLM
    bridge: RuntimeBridge
    microphone: ScriptedMicrophone | None = None
    speaker: RecordingSpeaker | None = None
    turn_detector: TranscriptAwareTurnDetector | None = None


@asynccontextmanager
async def text_call(blu: BluServer, session_id: str, *, ack_delay: float = 1.5) -> AsyncIterator[Call]:
    """A call with no audio: `call.session.run(user_input=...)` goes through the runtime LLM only."""
    bridge = RuntimeBridge(blu.url, session_id=session_id, session_secret=SESSION_SECRET)
    await bridge.start()
    runtime_llm = RuntimeLLM(bridge, ack_delay=ack_delay)
    try:
        async with AgentSession(llm=runtime_llm, turn_handling=turn_handling("vad")) as session:
            await session.start(BluVoiceAgent(runtime_llm))
            yield Call(session, runtime_llm, bridge)
    finally:
        await bridge.aclose()


@asynccontextmanager
async def audio_call(
    blu: BluServer, session_id: str, speech: SpeechStandinServer, vad_model: vad.VAD, wav: Path
) -> AsyncIterator[Call]:
    """The whole loop: scripted microphone → VAD → STT stand-in → runtime → TTS stand-in → recording speaker."""
    settings = Settings(OPENAI_API_KEY="sk-test-voice", OPENAI_BASE_URL=speech.base_url)
    bridge = RuntimeBridge(blu.url, session_id=session_id, session_secret=SESSION_SECRET)
    await bridge.start()
    runtime_llm = RuntimeLLM(bridge)
    microphone = ScriptedMicrophone(wav_frames(wav)[0].sample_rate)
    speaker = RecordingSpeaker()
    turn_detector = providers.make_turn_detector()
    session = build_session(
        runtime_llm=runtime_llm,
        vad_model=vad_model,
        stt_model=providers.make_stt(settings),
        tts_model=providers.make_tts(settings),
        turn_detection=turn_detector,
    )
    session.input.audio = microphone
    session.output.audio = speaker
    try:
        await session.start(BluVoiceAgent(runtime_llm))
        yield Call(session, runtime_llm, bridge, microphone, speaker, turn_detector)
    finally:
        await session.aclose()
        await bridge.aclose()
