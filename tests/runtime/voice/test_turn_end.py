"""The end-of-turn decision: LiveKit's audio model, overruled by a transcript that ends a sentence."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc
from livekit.agents.language import LanguageCode
from livekit.agents.voice.events import UserInputTranscribedEvent
from livekit.agents.voice.turn import TurnDetectionEvent, _StreamingTurnDetector, _StreamingTurnDetectorStream
from livekit.plugins import silero

from runtime.voice import providers
from runtime.voice.turn_end import TranscriptAwareTurnDetector, _TranscriptAwareStream, ends_sentence

EN = LanguageCode("en")


@pytest.mark.parametrize(
    "transcript",
    [
        "What is on my calendar today?",
        "Send the report to Anna.",
        "Stop!",
        'He said "no."',
        "Where are you from?",
        "Wie spät ist es?",
    ],
)
def test_a_finished_sentence_ends_the_turn(transcript: str) -> None:
    assert ends_sentence(transcript)


@pytest.mark.parametrize(
    "transcript",
    ["Tell me about the", "I want to...", "I want to…", "Send it to.", "Check my mail and.", "", "   ", "So, um."],
)
def test_a_sentence_that_trails_off_does_not(transcript: str) -> None:
    assert not ends_sentence(transcript)


class FakeAudioStream:
    """Stands in for LiveKit's model stream: each prediction resolves with a chosen probability."""

    model, provider, is_fallback, prediction_timeout = "turn-detector-v1-mini", "livekit", False, 1.0

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.flushed: list[str | None] = []

    async def unlikely_threshold(self, language: LanguageCode | None) -> float | None:
        return 0.36

    async def backchannel_threshold(self, language: LanguageCode | None) -> float | None:
        return None

    async def supports_language(self, language: LanguageCode | None) -> bool:
        return True

    def predict(self) -> asyncio.Future[TurnDetectionEvent]:
        future: asyncio.Future[TurnDetectionEvent] = asyncio.get_running_loop().create_future()
        future.set_result(TurnDetectionEvent("eot_prediction", self.probability, 0.0))
        return future

    def cancel_inference(self, *, timed_out: bool = False) -> None: ...

    def flush(self, reason: str | None = None) -> None:
        self.flushed.append(reason)

    def push_audio(self, frame: rtc.AudioFrame) -> None: ...

    def end_input(self) -> None: ...

    async def aclose(self) -> None: ...


def heard(text: str) -> UserInputTranscribedEvent:
    return UserInputTranscribedEvent(transcript=text, is_final=True, language=EN)


@pytest.mark.parametrize(
    ("probability", "transcript", "threshold", "by_transcript"),
    [
        (0.2, "What is on my calendar today?", 0.0, True),  # unlikely by ear, finished on paper: ends now
        (0.2, "Tell me about the", 0.36, False),  # unlikely and unfinished: LiveKit waits (max_delay)
        (0.8, "Tell me about the", 0.36, False),  # the audio model's "likely" stands on its own
        (0.8, "What is on my calendar today?", 0.36, False),
    ],
)
async def test_the_transcript_overrules_only_an_unlikely_verdict(
    probability: float, transcript: str, threshold: float, by_transcript: bool
) -> None:
    detector = TranscriptAwareTurnDetector()
    stream = _TranscriptAwareStream(detector, FakeAudioStream(probability))
    assert isinstance(detector, _StreamingTurnDetector) and isinstance(stream, _StreamingTurnDetectorStream)
    prediction = stream.predict()  # 200 ms into the silence, before the transcript exists
    detector.hear(heard("ignored, not final").model_copy(update={"is_final": False}))
    detector.hear(heard(transcript))  # LiveKit emits the final transcript, then decides on it
    assert (await prediction).end_of_turn_probability == probability
    assert await stream.unlikely_threshold(EN) == threshold
    (decision,) = detector.decisions
    assert (decision.probability, decision.transcript, decision.ended_by_transcript) == (
        probability,
        transcript,
        by_transcript,
    )


async def test_a_committed_turn_leaves_no_transcript_for_the_next() -> None:
    detector = TranscriptAwareTurnDetector()
    inner = FakeAudioStream(0.1)
    stream = _TranscriptAwareStream(detector, inner)
    detector.hear(heard("Send the report to Anna."))
    stream.flush("turn committed")
    stream.predict()
    assert await stream.unlikely_threshold(EN) == 0.36  # no transcript yet in the new turn: the model decides
    assert inner.flushed == ["turn committed"]


async def test_the_worker_gets_the_detector_and_a_vad_that_leaves_it_room() -> None:
    detector = providers.make_turn_detector()
    assert isinstance(detector, TranscriptAwareTurnDetector) and detector.model == "turn-detector-v1-mini"
    stream = detector.stream()  # the real local model's stream
    assert isinstance(stream, _StreamingTurnDetectorStream)
    await stream.aclose()
    # LiveKit refuses a VAD that closes speech before its detector has predicted (0.2 s + 50 ms).
    vad = providers.make_vad()
    assert isinstance(vad, silero.VAD)
    assert vad.min_silence_duration == providers.VAD_MIN_SILENCE_SECONDS
    assert 0.25 <= providers.VAD_MIN_SILENCE_SECONDS < 0.55
