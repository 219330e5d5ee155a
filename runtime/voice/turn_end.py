"""When the person has finished speaking: LiveKit's local end-of-turn model, with the transcript as a second opinion.

LiveKit's `v1-mini` detector is an audio model: it hears the last 1.2 s of the call (intonation, the
trailing silence) and gives the probability that the turn has ended, once, 200 ms into a silence. Below
the language's `unlikely` threshold (0.36 for English) LiveKit waits for `max_delay` (2.5 s) before it
commits the turn; at or above it, `min_delay` (0.3 s).

Blu's speech-to-text is not streaming: it transcribes each stretch of speech once the VAD has heard
its silence, so the decision is always taken when the final transcript of the stretch is already known
(LiveKit runs it on that transcript's arrival). The transcript is a strong hint the audio model does not
have: "What is on my calendar today?" ends a sentence, "Tell me about the" does not. So when the audio
model finds the end unlikely but the transcript ends a sentence, the turn ends at `min_delay`; when the
transcript trails off, the audio model's verdict stands and LiveKit waits, as before.

Measured (`bench/voice_latency.py`, espeak-ng voices): the audio model gives 0.15-0.35 on synthetic
speech whether the sentence is finished or not (median 0.21 finished, 0.18 unfinished, 200 ms into the
silence), so without the transcript every turn waited the full 2.5 s.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents.inference import TurnDetector
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from livekit.agents.voice.events import UserInputTranscribedEvent
from livekit.agents.voice.turn import TurnDetectionEvent, _StreamingTurnDetectorStream

log = logging.getLogger(__name__)

# A sentence ends with one of these (closing quotes and brackets after it allowed); "..." trails off.
_SENTENCE_END = re.compile(r"(?<![.…])[.?!。？！]['\"’”)\]]*$")
# Words a finished English sentence does not end on: a transcript "… to the." is a cut, not an end.
_CONTINUATIONS = frozenset(
    {
        *("a", "an", "the", "and", "or", "but", "so", "because", "if", "that", "than", "then", "to", "of"),
        *("for", "with", "at", "by", "from", "in", "into", "on", "my", "your", "our", "their", "his", "her"),
        *("its", "um", "uh", "er", "like"),
    }
)


def ends_sentence(transcript: str) -> bool:
    """Whether a final transcript reads as a finished sentence (speech-to-text punctuates what it hears)."""
    text = transcript.strip()
    if not _SENTENCE_END.search(text):
        return False
    if text.rstrip("'\"’”)]").endswith("?"):
        return True  # "Where are you from?": a question may end on any word
    words = re.findall(r"[\w']+", text.lower())
    return bool(words) and words[-1] not in _CONTINUATIONS


@dataclass(frozen=True)
class TurnEndDecision:
    """One end-of-turn decision: the audio model's probability, its threshold and what the transcript said."""

    probability: float | None
    threshold: float | None
    transcript: str
    ended_by_transcript: bool


class TranscriptAwareTurnDetector:
    """LiveKit's local `v1-mini` model whose "unlikely" verdict a finished sentence in the transcript overrules.

    `hear` must see the session's final transcripts (`build_session` connects it to
    `user_input_transcribed`, which LiveKit emits before it runs the decision on that transcript).
    """

    def __init__(self) -> None:
        self.audio_model = TurnDetector(version="v1-mini")
        self.transcript = ""  # the latest final transcript of the person's current turn
        self.decisions: deque[TurnEndDecision] = deque(maxlen=100)

    @property
    def model(self) -> str:
        return self.audio_model.model

    @property
    def provider(self) -> str:
        return self.audio_model.provider

    def describe_options(self) -> dict[str, Any]:
        return {**self.audio_model.describe_options(), "transcript_second_opinion": True}

    def hear(self, event: UserInputTranscribedEvent) -> None:
        if event.is_final and event.transcript.strip():
            self.transcript = event.transcript

    def stream(self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS) -> _StreamingTurnDetectorStream:
        return _TranscriptAwareStream(self, self.audio_model.stream(conn_options=conn_options))


class _TranscriptAwareStream:
    """The audio model's stream, unchanged but for the threshold used when the transcript ends a sentence."""

    def __init__(self, detector: TranscriptAwareTurnDetector, inner: _StreamingTurnDetectorStream) -> None:
        self._detector, self._inner = detector, inner
        self._prediction: asyncio.Future[TurnDetectionEvent] | None = None

    @property
    def model(self) -> str:
        return self._inner.model

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def is_fallback(self) -> bool:
        return self._inner.is_fallback

    @property
    def prediction_timeout(self) -> float:
        return self._inner.prediction_timeout

    async def unlikely_threshold(self, language: LanguageCode | None) -> float | None:
        """Asked right after the prediction, when LiveKit decides on the final transcript it just received."""
        threshold = await self._inner.unlikely_threshold(language)
        prediction = self._prediction
        probability = (
            prediction.result().end_of_turn_probability
            if prediction is not None and prediction.done() and not prediction.cancelled()
            else None
        )
        transcript = self._detector.transcript
        overrule = (
            threshold is not None and probability is not None and probability < threshold and ends_sentence(transcript)
        )
        self._detector.decisions.append(TurnEndDecision(probability, threshold, transcript, overrule))
        if overrule:
            log.debug(
                "the transcript ends a sentence: the turn ends now (audio model %.2f < %.2f)", probability, threshold
            )
            return 0.0  # no probability is below it: LiveKit commits after min_delay
        return threshold

    async def backchannel_threshold(self, language: LanguageCode | None) -> float | None:
        return await self._inner.backchannel_threshold(language)

    async def supports_language(self, language: LanguageCode | None) -> bool:
        return await self._inner.supports_language(language)

    def predict(self) -> asyncio.Future[TurnDetectionEvent]:
        self._prediction = self._inner.predict()
        return self._prediction

    def cancel_inference(self, *, timed_out: bool = False) -> None:
        self._inner.cancel_inference(timed_out=timed_out)

    def flush(self, reason: str | None = None) -> None:
        # The turn was committed or cleared: its transcript no longer speaks for the next one.
        self._detector.transcript = ""
        self._inner.flush(reason)

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        self._inner.push_audio(frame)

    def end_input(self) -> None:
        self._inner.end_input()

    async def aclose(self) -> None:
        await self._inner.aclose()
