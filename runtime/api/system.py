"""Health (open), configuration and statistics (login required)."""

from __future__ import annotations

from fastapi import APIRouter

from runtime.api.deps import LoginRequired, ManagerDep, SettingsDep
from runtime.api.models import Config, Health, Stats

health_router = APIRouter(tags=["system"])
router = APIRouter(prefix="/api", tags=["system"], dependencies=LoginRequired)


@health_router.get("/health")
async def health(manager: ManagerDep) -> Health:
    return Health(status="ok" if manager.accepting else "stopping")


@router.get("/config")
async def config(settings: SettingsDep, manager: ManagerDep) -> Config:
    """What the UI shows about this Blu: above all whether it talks to Claude or the stand-in model."""
    standin = manager.endpoint.standin
    return Config(
        model="standin" if standin else "claude",
        model_notice=(
            "No Claude credentials are configured: Blu answers with the offline stand-in model." if standin else None
        ),
        store="local" if settings.is_local else "dynamodb",
        max_message_chars=settings.max_message_chars,
        max_upload_bytes=settings.max_upload_bytes,
        direct_transfer_bytes=settings.direct_transfer_bytes,
        file_transfers="s3" if settings.files_bucket else "local",
        idle_timeout_minutes=settings.idle_timeout_minutes,
        voice=settings.voice_configured,
        # Tool cards show paths relative to it.
        workspace_dir=str(settings.workspace_dir),
    )


@router.get("/stats")
async def stats(manager: ManagerDep) -> Stats:
    return Stats.model_validate(manager.stats())
