"""A local stand-in of OpenAI's speech endpoints and Amazon Polly's SynthesizeSpeech, on their wire protocols.

It cannot recognise speech: each transcription returns the next scripted transcript, and records how
much audio it was sent, so a test can tell that real speech went through the VAD. Speech is a tone
of a length proportional to the text, as raw 24 kHz PCM (the ``pcm`` response format).
"""

from __future__ import annotations

import io
import math
import struct
import threading
import time
import wave
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.standin.serving import BackgroundServer

PCM_RATE = 24_000
SECONDS_PER_CHAR = 0.012
MAX_SPEECH_SECONDS = 4.0


@dataclass(frozen=True)
class Transcription:
    at: float  # time.perf_counter() when the request arrived
    audio_seconds: float
    text: str


@dataclass(frozen=True)
class SpeechRequest:
    at: float
    text: str
    voice: str


@dataclass
class SpeechStandin:
    transcripts: list[str] = field(default_factory=list)
    transcriptions: list[Transcription] = field(default_factory=list)
    speech: list[SpeechRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *texts: str) -> None:
        with self._lock:
            self.transcripts.extend(texts)

    def spoken_text(self) -> str:
        with self._lock:
            return " ".join(request.text for request in self.speech)

    async def transcribe(self, request: Request) -> Response:
        at = time.perf_counter()
        async with request.form() as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return JSONResponse({"error": {"message": "file is required"}}, status_code=400)
            data = await upload.read()
        try:
            with wave.open(io.BytesIO(data)) as wav:
                seconds = wav.getnframes() / wav.getframerate()
        except (wave.Error, EOFError):
            return JSONResponse({"error": {"message": "file is not a WAV file"}}, status_code=400)
        with self._lock:
            text = self.transcripts.pop(0) if self.transcripts else ""
            self.transcriptions.append(Transcription(at, seconds, text))
        return JSONResponse({"text": text})

    async def synthesize(self, request: Request) -> Response:
        at = time.perf_counter()
        body = await request.json()
        text, voice = str(body.get("input", "")), str(body.get("voice", ""))
        if body.get("response_format") != "pcm":
            return JSONResponse({"error": {"message": "the stand-in speaks pcm only"}}, status_code=400)
        with self._lock:
            self.speech.append(SpeechRequest(at, text, voice))
        return Response(tone(min(MAX_SPEECH_SECONDS, 0.2 + SECONDS_PER_CHAR * len(text))), media_type="audio/pcm")

    async def polly(self, request: Request) -> Response:
        """Amazon Polly's SynthesizeSpeech (REST JSON: POST /v1/speech), PCM only."""
        at = time.perf_counter()
        body = await request.json()
        if body.get("OutputFormat") != "pcm" or not body.get("VoiceId"):
            return JSONResponse({"message": "the stand-in speaks pcm only"}, status_code=400)
        text, rate = str(body.get("Text", "")), int(body.get("SampleRate", "16000"))
        with self._lock:
            self.speech.append(SpeechRequest(at, text, str(body["VoiceId"])))
        audio = tone(min(MAX_SPEECH_SECONDS, 0.2 + SECONDS_PER_CHAR * len(text)), rate=rate)
        return Response(audio, media_type="audio/pcm", headers={"x-amzn-RequestCharacters": str(len(text))})


def tone(seconds: float, *, rate: int = PCM_RATE, hz: float = 220.0) -> bytes:
    samples = int(seconds * rate)
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate))) for i in range(samples))


class SpeechStandinServer(BackgroundServer):
    """`with SpeechStandinServer() as speech:` then set OPENAI_BASE_URL to ``speech.base_url``."""

    def __init__(self) -> None:
        self.state = SpeechStandin()
        app = Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self.state.transcribe, methods=["POST"]),
                Route("/v1/audio/speech", self.state.synthesize, methods=["POST"]),
                Route("/v1/speech", self.state.polly, methods=["POST"]),
            ]
        )
        super().__init__(app, name="speech-standin")

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"
