"""Voice latency: from the end of speech to the first TTS request and to the first audio frame, split by stage.

A spoken WAV (espeak-ng) goes through the real pipeline (Silero VAD, the local end-of-turn model, the
OpenAI STT/TTS plugins against the instant speech stand-in, the runtime and Claude CLI against the
instant Messages API stand-in). The first turn of a call starts the Claude CLI (cold); the others are hot.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.runtime_turns import median_ms
from runtime.standin import StandinServer
from tests.runtime.voice.conftest import audio_call
from tests.support.server import BluServer
from tests.support.speech_standin import SpeechStandinServer
from tests.support.spoken import speak_to_wav, voiced, wav_frames


async def _measure(
    blu: BluServer, speech: SpeechStandinServer, wav: Path, turns: int, decisions: list[str]
) -> list[dict[str, float]]:
    from runtime.voice import providers

    api = blu.client()
    sid = api.new_session()
    rows: list[dict[str, float]] = []
    # The same POST a browser makes for a typed turn, timed side by side with the voice hand-off.
    text_sid = api.new_session()
    text_post = httpx.AsyncClient(base_url=blu.url, cookies=dict(api.http.cookies), timeout=30)
    # End of speech is the last voiced frame: espeak-ng's WAV ends with ~350 ms of silence.
    question = voiced(wav_frames(wav))
    async with audio_call(blu, sid, speech, providers.make_vad(), wav) as call:
        assert call.microphone and call.speaker and call.turn_detector
        for n in range(turns):
            # What speech-to-text returns for a finished question: punctuated, as OpenAI's models write it.
            speech.state.script(f"[[words n=12]] Question number {n}, what is on my calendar today?")
            heard, spoken = len(speech.state.transcriptions), len(speech.state.speech)
            frames = len(call.speaker.first_frame_at)
            call.microphone.say(question)
            deadline = time.monotonic() + 60
            while not (
                len(call.speaker.first_frame_at) > frames and len(call.llm.timings) > n and call.llm.timings[n].ended
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the voice turn did not come back")
                await asyncio.sleep(0.02)
            end_of_speech = call.microphone.speech_ended_at[-1]
            user_turn = [i for i in call.session.history.items if i.type == "message" and i.role == "user"][-1]
            started = time.perf_counter()
            accepted = await text_post.post(
                f"/api/sessions/{text_sid}/messages", json={"text": f"typed {n} [[words n=3]]"}
            )
            text_post_seconds = time.perf_counter() - started
            assert accepted.status_code == 202, accepted.text
            timing = call.llm.timings[n]
            assert timing.submitted is not None and timing.first_text is not None
            rows.append(
                {
                    "stt_request": speech.state.transcriptions[heard].at - end_of_speech,
                    "transcript": user_turn.metrics.get("transcription_delay", float("nan")),
                    "end_of_turn_decision": user_turn.metrics.get("end_of_turn_delay", float("nan")),
                    "text_post": text_post_seconds,
                    "end_of_turn": timing.started - end_of_speech,
                    "handoff": timing.submitted - timing.started,
                    "claude_first_text": timing.first_text - timing.submitted,
                    "first_tts_request": speech.state.speech[spoken].at - end_of_speech,
                    "first_sentence": speech.state.speech[spoken].at - timing.started,
                    "first_audio": call.speaker.first_frame_at[frames] - end_of_speech,
                }
            )
            await asyncio.sleep(1.0)  # let the reply play out before the next question
        decisions.extend(
            "transcript"
            if d.ended_by_transcript
            else "audio model"
            if d.threshold is None or (d.probability or 0) >= d.threshold
            else "waited"
            for d in call.turn_detector.decisions
        )
    await text_post.aclose()
    api.http.close()
    return rows


def run(*, turns: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="blu-bench-voice-"))
    wav = speak_to_wav("What is on my calendar today", root / "question.wav")
    with StandinServer() as model, SpeechStandinServer() as speech:
        env = {"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "bench", "CLAUDE_CODE_MAX_RETRIES": "0"}
        blu = BluServer(root / "data", env=env).start()
        try:
            decisions: list[str] = []
            rows = asyncio.run(_measure(blu, speech, wav, turns + 1, decisions))
        finally:
            blu.stop()
    cold, hot = rows[0], rows[1:]
    print(f"\nVoice: end of speech → first TTS request / first audio frame ({len(hot)} hot turns + 1 cold, medians)")
    print(f"{'stage':<60}{'hot':>10}{'cold':>10}")
    labels: list[tuple[str, str]] = [
        ("stt_request", "end of speech → STT request (VAD silence)"),
        ("transcript", "its VAD's end of speech → transcript (LiveKit's measure)"),
        ("end_of_turn_decision", "end of speech → end-of-turn decision"),
        ("end_of_turn", "end of speech → turn handed to the LLM (STT + end of turn)"),
        ("handoff", "hand-off: LLM start → runtime accepted the turn"),
        ("text_post", "for scale: a typed turn's POST, same run"),
        ("claude_first_text", "runtime accepted → first reply text"),
        ("first_sentence", "LLM start → first TTS request (first sentence)"),
        ("first_tts_request", "end of speech → first TTS request"),
        ("first_audio", "end of speech → first audio frame out"),
    ]
    for key, label in labels:
        print(f"{label:<60}{median_ms([r[key] for r in hot]):>10}{cold[key] * 1000:>8.1f} ms")
    spread: dict[str, Any] = {k: statistics.quantiles([r[k] * 1000 for r in hot], n=4) for k in ("handoff",)}
    print(f"hand-off quartiles (ms): {[round(q, 1) for q in spread['handoff']]}")
    counts = {kind: decisions.count(kind) for kind in ("audio model", "transcript", "waited")}
    print("end-of-turn decisions: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return {
        "hot_first_audio": statistics.median(r["first_audio"] for r in hot),
        "cold_first_audio": cold["first_audio"],
        "hot_end_of_turn": statistics.median(r["end_of_turn"] for r in hot),
        "decisions": counts,
    }
