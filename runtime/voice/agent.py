"""Blu's voice agent and its AgentSession: Silero VAD, an offline end-of-turn model, STT, TTS, the runtime LLM."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from livekit.agents import Agent, AgentSession, FlushSentinel, ModelSettings, llm, stt, tts, vad
from livekit.agents.voice.turn import TurnHandlingOptions

from runtime.voice.llm import FLUSH_CHUNK_ID, RuntimeLLM
from runtime.voice.turn_end import TranscriptAwareTurnDetector

# Blu's instructions live in the Claude session (its system prompt); the voice agent only relays.
RELAY_INSTRUCTIONS = "Relay the person's words to Blu's Claude session and speak its answer."


class BluVoiceAgent(Agent):
    """Relays each finished utterance to the runtime and speaks the answer as its sentences arrive."""

    def __init__(self, runtime_llm: RuntimeLLM) -> None:
        super().__init__(instructions=RELAY_INSTRUCTIONS, llm=runtime_llm)

    async def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings
    ) -> AsyncIterator[llm.ChatChunk | str | FlushSentinel]:
        stream = Agent.default.llm_node(self, chat_ctx, tools, model_settings)
        assert isinstance(stream, AsyncIterable)
        async for chunk in stream:
            # The runtime LLM marks where a spoken segment must end (an acknowledgement, an error).
            if isinstance(chunk, llm.ChatChunk) and chunk.id == FLUSH_CHUNK_ID:
                yield FlushSentinel()
            else:
                yield chunk


def turn_handling(turn_detection: Any) -> TurnHandlingOptions:
    """Voice turns have side effects, so nothing runs before the person has finished speaking."""
    return {
        "turn_detection": turn_detection,
        # Preemptive generation would send a Claude turn while the person may still be talking.
        "preemptive_generation": {"enabled": False},
        # Barge-in by voice activity: works offline, unlike the adaptive (cloud) model.
        "interruption": {"enabled": True, "mode": "vad", "min_duration": 0.5},
    }


def build_session(
    *, runtime_llm: RuntimeLLM, vad_model: vad.VAD, stt_model: stt.STT, tts_model: tts.TTS, turn_detection: Any
) -> AgentSession[None]:
    session: AgentSession[None] = AgentSession(
        llm=runtime_llm,
        vad=vad_model,
        stt=stt_model,
        tts=tts_model,
        turn_handling=turn_handling(turn_detection),
        # A person may think for a while in a voice call: never end it for silence.
        user_away_timeout=None,
    )
    if isinstance(turn_detection, TranscriptAwareTurnDetector):
        # Emitted before LiveKit decides on the transcript: the detector reads it for that decision.
        session.on("user_input_transcribed", turn_detection.hear)
    return session
