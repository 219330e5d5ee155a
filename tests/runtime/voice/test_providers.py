"""Speech providers chosen by settings; Amazon Polly through boto3 against a stand-in of its API."""

from __future__ import annotations

import boto3
from livekit.plugins import openai

from runtime.settings import Settings
from runtime.voice import providers
from tests.support.speech_standin import SpeechStandinServer


def test_openai_is_the_default_and_polly_needs_no_key() -> None:
    assert isinstance(providers.make_tts(Settings(OPENAI_API_KEY="sk-x")), openai.TTS)
    polly = providers.make_tts(Settings(BLU_VOICE_TTS_PROVIDER="polly", AWS_REGION="eu-west-1"))
    assert isinstance(polly, providers.PollyTTS) and polly.voice == "Joanna"


async def test_polly_speaks_pcm_through_boto3(speech: SpeechStandinServer) -> None:
    client = boto3.client(
        "polly",
        region_name="us-east-1",
        endpoint_url=speech.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    tts = providers.PollyTTS(voice="Matthew", region="us-east-1", client=client)
    before = len(speech.state.speech)
    frames = [event.frame async for event in tts.synthesize("Hello from Polly.")]
    (request,) = speech.state.speech[before:]
    assert (request.text, request.voice) == ("Hello from Polly.", "Matthew")
    seconds = sum(frame.duration for frame in frames)
    assert frames and all(frame.sample_rate == providers.POLLY_PCM_RATE for frame in frames)
    assert 0.3 < seconds < 1.0
