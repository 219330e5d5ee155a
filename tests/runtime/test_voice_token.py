"""POST /api/voice/token: login required, 503 until LiveKit is configured, and a token for the session's room."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from livekit.api import TokenVerifier

from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.server import BluClient, BluServer

LIVEKIT = {
    "LIVEKIT_URL": "wss://blu-test.livekit.invalid",
    "LIVEKIT_API_KEY": "APItestkey",
    "LIVEKIT_API_SECRET": "test-secret-that-is-long-enough-0123456789",
    "BLU_VOICE_AGENT_NAME": "blu-test-agent",
    "BLU_VOICE_TOKEN_TTL_SECONDS": "300",
}


@pytest.fixture(scope="module")
def voice_blu(model: StandinServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    server = BluServer(tmp_path_factory.mktemp("blu-voice") / "data", env={**model_env(model), **LIVEKIT}).start()
    yield server
    server.stop()


@pytest.fixture
def voice_api(voice_blu: BluServer) -> Iterator[BluClient]:
    client = voice_blu.client()
    yield client
    client.http.close()


def token_for(client: BluClient, session_id: str) -> httpx.Response:
    return client.http.post("/api/voice/token", json={"session_id": session_id})


def test_without_login_there_is_no_token(voice_blu: BluServer, voice_api: BluClient) -> None:
    session_id = voice_api.new_session()
    response = httpx.post(voice_blu.url + "/api/voice/token", json={"session_id": session_id})
    assert response.status_code == 401
    assert response.json() == {"detail": "Log in first."}
    assert "token" not in response.text


def test_unconfigured_voice_answers_503_and_config_says_so(api: BluClient) -> None:
    session_id = api.new_session()
    response = token_for(api, session_id)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Voice is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET in Blu's secret.",
        "code": "voice_not_configured",
    }
    assert api.http.get("/api/config").json()["voice"] is False


def test_config_reports_voice_when_livekit_is_set(voice_api: BluClient) -> None:
    assert voice_api.http.get("/api/config").json()["voice"] is True


@pytest.mark.parametrize(
    "body",
    [{}, {"session_id": "nope"}, {"session_id": "0123456789ABCDEF01234567"}, {"session_id": "0" * 24, "x": 1}, []],
)
def test_malformed_bodies_are_refused(voice_api: BluClient, body: object) -> None:
    response = voice_api.http.post("/api/voice/token", json=body)
    assert response.status_code == 422


def test_an_unknown_session_is_404(voice_api: BluClient) -> None:
    response = token_for(voice_api, "0123456789abcdef01234567")
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found."}


def test_the_token_joins_only_the_sessions_room_and_dispatches_the_agent(voice_api: BluClient) -> None:
    session_id = voice_api.new_session()
    response = token_for(voice_api, session_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["url"] == LIVEKIT["LIVEKIT_URL"]
    assert body["room"] == f"blu-{session_id}"
    assert body["agent_name"] == "blu-test-agent"
    assert body["identity"].startswith("user-") and len(body["identity"]) > len("user-")

    claims = TokenVerifier(LIVEKIT["LIVEKIT_API_KEY"], LIVEKIT["LIVEKIT_API_SECRET"]).verify(body["token"])
    assert claims.identity == body["identity"] and claims.name == "You"
    video = claims.video
    assert video is not None
    assert video.room_join and video.room == f"blu-{session_id}"
    assert video.can_publish and video.can_subscribe and video.can_publish_data
    assert not video.room_create and not video.room_admin and not video.room_list
    assert claims.room_config is not None
    [agent] = claims.room_config.agents
    assert agent.agent_name == "blu-test-agent"
    assert json.loads(agent.metadata) == {"session_id": session_id}

    raw = jwt_claims(body["token"])
    assert raw["exp"] - raw["nbf"] == 300
    assert raw["exp"] == body["expires_at"]
    assert raw["iss"] == LIVEKIT["LIVEKIT_API_KEY"]
    assert raw["roomConfig"]["agents"][0]["agentName"] == "blu-test-agent"


def test_a_forged_signature_does_not_verify(voice_api: BluClient) -> None:
    token = token_for(voice_api, voice_api.new_session()).json()["token"]
    with pytest.raises(Exception, match="Signature"):
        TokenVerifier(LIVEKIT["LIVEKIT_API_KEY"], "another-secret-of-the-same-length-012345").verify(token)


def test_archived_sessions_get_tokens_and_each_call_a_new_identity(voice_api: BluClient) -> None:
    session_id = voice_api.new_session()
    archived = voice_api.http.patch(f"/api/sessions/{session_id}", json={"status": "archived"})
    assert archived.status_code == 200
    first, second = token_for(voice_api, session_id).json(), token_for(voice_api, session_id).json()
    assert first["room"] == second["room"] == f"blu-{session_id}"
    assert first["identity"] != second["identity"]


def jwt_claims(token: str) -> dict[str, Any]:
    return dict(
        jwt.decode(token, LIVEKIT["LIVEKIT_API_SECRET"], algorithms=["HS256"], issuer=LIVEKIT["LIVEKIT_API_KEY"])
    )
