"""Voice calls: a short-lived LiveKit token for the session's room, which also dispatches the voice agent."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import jwt
from fastapi import APIRouter, HTTPException, status
from starlette.responses import JSONResponse

from core.store.base import NotFound
from runtime.api.deps import SettingsDep, StoreDep, UserAction
from runtime.api.errors import error_responses
from runtime.api.models import TokenRequest, VoiceNotConfigured, VoiceToken
from runtime.settings import Settings

router = APIRouter(prefix="/api/voice", tags=["voice"], dependencies=UserAction)

NOT_CONFIGURED = "Voice is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET in Blu's secret."


def room_name(session_id: str) -> str:
    """The session's room; the voice worker finds the session by this name and by the dispatch metadata."""
    return f"blu-{session_id}"


def issue_token(settings: Settings, session_id: str) -> VoiceToken:
    # LiveKit's API package brings aiohttp (~0.3 s of imports): only a call needs it (runtime/app.py warms it).
    from livekit.api import AccessToken, VideoGrants
    from livekit.protocol.agent_dispatch import RoomAgentDispatch
    from livekit.protocol.room import RoomConfiguration

    assert settings.livekit_url and settings.livekit_api_key and settings.livekit_api_secret
    room = room_name(session_id)
    identity = f"user-{secrets.token_hex(6)}"
    dispatch = RoomAgentDispatch(agent_name=settings.voice_agent_name, metadata=json.dumps({"session_id": session_id}))
    token = (
        AccessToken(settings.livekit_api_key.get_secret_value(), settings.livekit_api_secret.get_secret_value())
        .with_identity(identity)
        .with_name("You")
        .with_grants(
            VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True, can_publish_data=True)
        )
        .with_ttl(timedelta(seconds=settings.voice_token_ttl_seconds))
        .with_room_config(RoomConfiguration(agents=[dispatch]))
        .to_jwt()
    )
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    return VoiceToken(
        url=settings.livekit_url,
        token=token,
        room=room,
        identity=identity,
        expires_at=expires_at,
        agent_name=settings.voice_agent_name,
    )


@router.post(
    "/token",
    response_model=VoiceToken,
    responses={
        **error_responses(404),
        503: {"model": VoiceNotConfigured, "description": "Voice is not configured (LiveKit's URL and keys)"},
    },
)
async def voice_token(body: TokenRequest, settings: SettingsDep, store: StoreDep) -> VoiceToken | JSONResponse:
    """A token to join the session's room as the person; archived sessions can be talked to as well."""
    if not settings.voice_configured:
        return JSONResponse(
            {"detail": NOT_CONFIGURED, "code": "voice_not_configured"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    try:
        await store.get_session(body.session_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Session not found.") from exc
    return issue_token(settings, body.session_id)
