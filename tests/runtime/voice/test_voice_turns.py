"""Voice turns through the real runtime and Claude CLI: same history, spoken form, acknowledgements, barge-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livekit.agents import RunResult, vad

from runtime.voice.llm import ACKNOWLEDGEMENTS
from runtime.voice.speech import CODE_MENTION, TABLE_MENTION
from tests.runtime.voice.conftest import audio_call, text_call
from tests.support.server import BluClient, BluServer
from tests.support.speech_standin import SpeechStandinServer
from tests.support.spoken import wav_frames


async def until(condition: Callable[[], Any], *, what: str, patience: float = 90) -> Any:
    """Poll a condition (a liveness guard for a hung pipeline, not a performance bound)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if value := condition():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def spoken_replies(result: Any) -> list[str]:
    return [
        " ".join(event.item.text_content.split())
        for event in result.events
        if event.type == "message" and event.item.role == "assistant" and event.item.text_content
    ]


async def test_a_voice_turn_lands_in_the_same_history_as_text_turns(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "typed first [[words n=4]]")
    async with text_call(blu, sid) as call:
        result: RunResult[None] = await call.session.run(user_input="and now spoken [[words n=6]]")
    assert spoken_replies(result) == ["alpha bravo charlie delta echo foxtrot."]
    messages = api.messages(sid)
    assert [(m["role"], m["channel"]) for m in messages] == [
        ("user", "text"),
        ("assistant", "text"),
        ("user", "voice"),
        ("assistant", "voice"),
    ]
    assert messages[2]["text"] == "and now spoken [[words n=6]]"
    assert messages[3]["state"] == "complete"
    assert messages[3]["text"] == "alpha bravo charlie delta echo foxtrot."
    # One Claude context: the voice turn's request to the model carries the typed turn before it.
    assert call.llm.timings[0].turn_id == messages[3]["turn_id"]


async def test_code_and_tables_are_mentioned_not_read_aloud(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    reply = (
        r"Here is the fix:\n\n```python\nprint('secret sauce')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThat is all."
    )
    async with text_call(blu, sid) as call:
        result: RunResult[None] = await call.session.run(user_input=f'show me [[say text="{reply}"]]')
    (spoken,) = spoken_replies(result)
    assert "print" not in spoken and "secret sauce" not in spoken and "|" not in spoken
    assert CODE_MENTION in spoken and TABLE_MENTION in spoken
    assert spoken.startswith("Here is the fix:") and spoken.endswith("That is all.")
    # The chat keeps the full text.
    assert "print('secret sauce')" in api.messages(sid)[-1]["text"]
    assert call.llm.timings[0].acknowledgements == []


async def test_a_slow_tool_gets_a_spoken_acknowledgement(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    async with text_call(blu, sid, ack_delay=0.3) as call:
        result: RunResult[None] = await call.session.run(user_input='check the disk [[bash cmd="sleep 1.5"]]')
    timing = call.llm.timings[0]
    assert timing.acknowledgements == [ACKNOWLEDGEMENTS[0]]
    assert any(ACKNOWLEDGEMENTS[0] in text for text in spoken_replies(result))
    last = api.messages(sid)[-1]
    assert last["state"] == "complete" and [c["name"] for c in last["tool_calls"]] == ["Bash"]


async def test_interrupting_the_speech_interrupts_the_claude_turn(blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    async with text_call(blu, sid) as call:
        run: asyncio.Future[RunResult[None]] = asyncio.ensure_future(
            call.session.run(user_input="tell me everything [[slow ms=100]] [[words n=300]]")
        )
        await until(lambda: call.llm.timings and call.llm.timings[0].first_text, what="the reply to start")
        call.session.interrupt()
        await until(lambda: api.messages(sid)[-1]["state"] != "running", what="the turn to end")
        run.cancel()
    timing = call.llm.timings[0]
    assert timing.interrupted
    last = api.messages(sid)[-1]
    assert (last["role"], last["channel"], last["state"]) == ("assistant", "voice", "interrupted")
    assert len(last["text"].split()) < 300


async def test_a_spoken_question_comes_back_as_audio_and_lands_in_the_history(
    blu: BluServer, api: BluClient, speech: SpeechStandinServer, vad_model: vad.VAD, spoken_wav: Path
) -> None:
    sid = api.new_session()
    speech.state.script("[[words n=15]] What is on my calendar today?")
    heard_before = len(speech.state.transcriptions)
    async with audio_call(blu, sid, speech, vad_model, spoken_wav) as call:
        assert call.microphone and call.speaker
        call.microphone.say(wav_frames(spoken_wav))
        await until(lambda: len(api.messages(sid)) == 2 and api.messages(sid)[1]["state"] == "complete", what="reply")
        await until(lambda: call.speaker and call.speaker.seconds > 0.5, what="audio out")
    (heard,) = speech.state.transcriptions[heard_before:]
    wav_seconds = sum(frame.duration for frame in wav_frames(spoken_wav))
    # The VAD cut the utterance out of the microphone stream: about the spoken length, not silence.
    assert 0.5 * wav_seconds < heard.audio_seconds < wav_seconds + 1.0
    user, assistant = api.messages(sid)
    assert (user["channel"], user["text"]) == ("voice", "[[words n=15]] What is on my calendar today?")
    assert assistant["channel"] == "voice"
    assert assistant["text"].split()[:3] == ["alpha", "bravo", "charlie"]
    assert "alpha bravo charlie" in speech.state.spoken_text()
    # The turn ended without waiting out LiveKit's max_delay: the audio model or the finished sentence said so.
    assert call.turn_detector
    (decision,) = call.turn_detector.decisions
    assert decision.transcript == "[[words n=15]] What is on my calendar today?"
    assert decision.threshold is not None and decision.probability is not None
    assert decision.ended_by_transcript or decision.probability >= decision.threshold


async def test_speaking_over_the_reply_interrupts_the_claude_turn(
    blu: BluServer, api: BluClient, speech: SpeechStandinServer, vad_model: vad.VAD, spoken_wav: Path
) -> None:
    sid = api.new_session()
    story = " ".join(f"This is sentence number {n} of a long story." for n in range(60))
    speech.state.script(f'Tell me a long story. [[slow ms=300]] [[say text="{story}"]]', "Stop.")
    async with audio_call(blu, sid, speech, vad_model, spoken_wav) as call:
        assert call.microphone and call.speaker
        call.microphone.say(wav_frames(spoken_wav))
        await until(lambda: call.speaker and call.speaker.frames, what="the reply to be heard")
        # Blu ignores the first seconds of its own speech (echo-cancellation warm-up): talk over it after.
        await asyncio.sleep(call.session.options.aec_warmup_duration or 0)
        call.microphone.say(wav_frames(spoken_wav))  # the person talks over Blu
        await until(lambda: call.llm.timings and call.llm.timings[0].interrupted, what="the barge-in")
        await until(lambda: len(api.messages(sid)) >= 2 and api.messages(sid)[1]["state"] != "running", what="end")
    first_reply = api.messages(sid)[1]
    assert (first_reply["channel"], first_reply["state"]) == ("voice", "interrupted")
    assert call.speaker.interrupted_segments >= 1
