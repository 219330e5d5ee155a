"""Speech-to-text, text-to-speech, VAD and end-of-turn detection, chosen by the runtime's settings."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from livekit.agents import APIConnectOptions, stt, tts, vad
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from livekit.agents.utils import shortuuid
from livekit.plugins import openai, silero

from runtime.settings import Settings
from runtime.voice.turn_end import TranscriptAwareTurnDetector

log = logging.getLogger(__name__)

OPENAI_PCM_RATE = 24_000  # OpenAI's "pcm" response format: 24 kHz, 16-bit, mono
POLLY_PCM_RATE = 16_000


class VoiceConfigError(RuntimeError):
    """The voice worker cannot run with these settings (it exits non-zero so the supervisor sees it)."""


def check_voice_settings(settings: Settings) -> None:
    """Fail before joining any room when a call could not work, naming what to set."""
    missing = [
        name
        for name, value in (
            ("LIVEKIT_URL", settings.livekit_url),
            ("LIVEKIT_API_KEY", settings.livekit_api_key),
            ("LIVEKIT_API_SECRET", settings.livekit_api_secret),
        )
        if not value
    ]
    needs_openai = settings.voice_stt_provider == "openai" or settings.voice_tts_provider == "openai"
    if needs_openai and not settings.openai_api_key:
        missing.append("OPENAI_API_KEY")
    if missing:
        raise VoiceConfigError(f"voice needs {', '.join(missing)} in Blu's secret")
    if settings.livekit_url and not settings.livekit_url.startswith(("ws://", "wss://", "http://", "https://")):
        raise VoiceConfigError(f"LIVEKIT_URL must start with wss:// (got {settings.livekit_url[:12]!r}…)")


def _openai_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings.openai_api_key:
        kwargs["api_key"] = settings.openai_api_key.get_secret_value()
    if settings.openai_base_url:
        kwargs["base_url"] = settings.openai_base_url
    return kwargs


def make_stt(settings: Settings) -> stt.STT:
    # Non-streaming transcription: the VAD cuts the speech, one request per utterance.
    return openai.STT(model=settings.voice_stt_model, use_realtime=False, **_openai_kwargs(settings))


def make_tts(settings: Settings) -> tts.TTS:
    if settings.voice_tts_provider == "polly":
        return PollyTTS(voice=settings.tts_voice, region=settings.aws_region)
    return openai.TTS(
        model=settings.voice_tts_model, voice=settings.tts_voice, response_format="pcm", **_openai_kwargs(settings)
    )


# The silence after which the VAD closes a stretch of speech and speech-to-text transcribes it. Silero's
# default (0.55 s) is all of a reply's budget; the end-of-turn decision that follows (turn_end.py) is what
# keeps a pause mid-sentence from ending the turn, so the VAD need not wait that long. LiveKit's turn
# detector needs at least 0.25 s (it predicts 0.2 s into the silence).
VAD_MIN_SILENCE_SECONDS = 0.3


def make_vad() -> vad.VAD:
    """Silero's model ships inside the plugin: nothing is downloaded."""
    return silero.VAD.load(min_silence_duration=VAD_MIN_SILENCE_SECONDS)


_vad_lock = threading.Lock()
_shared_vad: vad.VAD | None = None


def shared_vad() -> vad.VAD:
    """The worker's one Silero VAD, loaded by the first caller and reused by every later call.

    Calls run as threads of the worker (worker.py), so one loaded model serves them all: each call's
    stream has its own state over the shared ONNX session, and a session unhooks its listeners at its end.
    """
    global _shared_vad
    with _vad_lock:
        if _shared_vad is None:
            _shared_vad = make_vad()
        return _shared_vad


_turn_model_lock = threading.Lock()
_turn_model_loading: threading.Thread | None = None
_turn_model_loading_lock = threading.Lock()


def load_turn_detector_model() -> None:
    """Load the local end-of-turn model into this process (~240 MB RSS); returns at once if it already is.

    LiveKit loads them itself on a call's first use, ~0.4 s on the call's event loop. The lock keeps that
    first use and `load_turn_detector_model_in_background` from loading the model twice at the same time.
    """
    from livekit import local_inference

    with _turn_model_lock:
        local_inference.init_eot()


def load_turn_detector_model_in_background() -> None:
    """Start loading the end-of-turn model in a daemon thread (once per process), so the first call has it."""
    global _turn_model_loading

    def load() -> None:
        try:
            load_turn_detector_model()
        except Exception:  # the call that needs the model loads it itself and reports a failure there
            log.warning("could not load the end-of-turn model ahead of the first call", exc_info=True)

    with _turn_model_loading_lock:
        if _turn_model_loading is not None:
            return
        _turn_model_loading = threading.Thread(target=load, name="blu-turn-model-load", daemon=True)
    _turn_model_loading.start()


def make_turn_detector() -> TranscriptAwareTurnDetector:
    """LiveKit's small end-of-turn model, run locally, with the transcript as a second opinion."""
    load_turn_detector_model()
    return TranscriptAwareTurnDetector()


class PollyTTS(tts.TTS):
    """Amazon Polly through boto3 with the task's own role: speech with no extra key to manage."""

    def __init__(self, *, voice: str, region: str | None, engine: str = "neural", client: Any = None) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=POLLY_PCM_RATE, num_channels=1)
        self.voice, self.engine = voice, engine
        if client is None:
            import boto3

            client = boto3.client("polly", region_name=region)
        self.client = client

    @property
    def model(self) -> str:
        return f"polly-{self.engine}"

    @property
    def provider(self) -> str:
        return "aws-polly"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _PollyStream(tts=self, input_text=text, conn_options=conn_options)


class _PollyStream(tts.ChunkedStream):
    def __init__(self, *, tts: PollyTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._polly = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        polly = self._polly

        def synthesize() -> bytes:
            response = polly.client.synthesize_speech(
                Text=self.input_text,
                VoiceId=polly.voice,
                Engine=polly.engine,
                OutputFormat="pcm",
                SampleRate=str(POLLY_PCM_RATE),
            )
            return bytes(response["AudioStream"].read())

        audio = await asyncio.to_thread(synthesize)
        output_emitter.initialize(
            request_id=shortuuid(), sample_rate=POLLY_PCM_RATE, num_channels=1, mime_type="audio/pcm"
        )
        output_emitter.push(audio)
        output_emitter.flush()
