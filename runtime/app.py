"""The app factory: settings in, a FastAPI app out, with a lifespan that owns the session manager."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from core.auth import CookieSigner, LoginThrottle
from core.auth.responses import validation_error
from core.observability.asgi import RequestContextMiddleware
from core.observability.logs import scrubber
from core.store import open_store
from core.store.aio import AsyncStore
from runtime.agent.client import sdk_client
from runtime.agent.events import EventHub
from runtime.agent.manager import SessionManager
from runtime.agent.options import ClaudeEndpoint
from runtime.api import approvals, auth, events, files, sessions, system, voice, web
from runtime.api.deps import AppState
from runtime.api.errors import ERROR_RESPONSES
from runtime.api.guard import GuardMiddleware
from runtime.credentials import MissingSecrets, load_login_secrets
from runtime.isolation import AgentUser, prepare_agent_dirs
from runtime.self_stop import SelfStop
from runtime.settings import Settings
from runtime.transfers import LocalStaging, S3Staging, Staging, Transfers, UploadTokens
from runtime.workspace import Workspace

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 60.0
SHUTDOWN_SECONDS = 90.0  # within the task's stop timeout (a Spot interruption gives ~120 s)


def prepare_dirs(settings: Settings) -> str | None:
    """Make Blu's folders; with BLU_AGENT_USER, hand the agent's to it and return its CLI wrapper."""
    for directory in (
        settings.data_dir,
        settings.workspace_dir,
        settings.claude_config_dir,
        settings.data_dir / "tmp",
    ):
        directory.mkdir(parents=True, exist_ok=True)
    # The SDK's in-process transcript helpers (fork_session) find transcripts through this variable.
    os.environ["CLAUDE_CONFIG_DIR"] = str(settings.claude_config_dir)
    user = AgentUser.from_settings(settings)
    return str(prepare_agent_dirs(settings, user)) if user else None


def staging_for(settings: Settings) -> Staging:
    """The files bucket in AWS; locally a private folder of Blu's (not the agent's tmp, not the workspace)."""
    if settings.files_bucket:
        return S3Staging(settings.files_bucket, region=settings.aws_region)
    return LocalStaging(settings.data_dir / "transfers")


async def heartbeat_once(store: AsyncStore, self_stop: SelfStop | None) -> None:
    """Write the activity heartbeat, then (in AWS) apply the idle rule to this task."""
    try:
        await store.heartbeat(time.time())
    except Exception:
        # Without a fresh heartbeat the rule could call this live task stale: no stop this round.
        log.warning("Could not write the activity heartbeat; trying again in a minute", exc_info=True)
        return
    if self_stop is None:
        return
    try:
        await asyncio.to_thread(self_stop.check, store.sync, time.time())
    except Exception:
        log.exception("The idle check failed; trying again in a minute")


async def _heartbeat(store: AsyncStore, self_stop: SelfStop | None) -> None:
    while True:
        await heartbeat_once(store, self_stop)
        await asyncio.sleep(HEARTBEAT_SECONDS)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    started_at = time.time()
    agent_cli = prepare_dirs(settings)
    store = AsyncStore(
        open_store(table_name=settings.dynamodb_table or None, data_dir=settings.data_dir, region=settings.aws_region)
    )
    try:
        secrets = load_login_secrets(settings)
    except MissingSecrets:
        # In AWS without a password hash the task cannot serve; ECS would restart it forever.
        stopper = SelfStop.from_settings(settings, started_at=started_at)
        if stopper is not None:
            await asyncio.to_thread(stopper.sleep_for_missing_secrets, time.time())
        raise
    scrubber.register(secrets.password_hash, secrets.session_secret)  # generated ones, in local runs
    standin = None
    if settings.use_standin:
        from runtime.standin import StandinServer

        standin = StandinServer()
        standin.start()
        log.warning(
            "No Claude credentials are configured: answering with the offline stand-in model at %s",
            standin.url,
        )
    endpoint = replace(
        ClaudeEndpoint.from_settings(settings, standin_url=standin.url if standin else None), cli_path=agent_cli
    )
    hub = EventHub()
    manager = SessionManager(settings=settings, store=store, hub=hub, endpoint=endpoint, client_factory=sdk_client)
    await manager.start()
    app.state.blu = AppState(
        settings=settings,
        store=store,
        hub=hub,
        manager=manager,
        signer=CookieSigner(secrets.session_secret, max_age_seconds=settings.cookie_max_age_hours * 3600),
        throttle=LoginThrottle(store.sync, clock=time.time),
        password_hash=secrets.password_hash,
        workspace=Workspace(settings.workspace_dir),
        transfers=Transfers(UploadTokens(secrets.session_secret), staging_for(settings)),
    )
    self_stop = SelfStop.from_settings(settings, started_at=started_at)
    heartbeat = asyncio.create_task(_heartbeat(store, self_stop))
    try:
        yield
    finally:
        heartbeat.cancel()
        await manager.shutdown(grace_seconds=SHUTDOWN_SECONDS)
        await asyncio.to_thread(store.sync.close)
        app.state.blu.login_checks.close()
        if standin is not None:
            standin.stop()


API_ROUTERS = (
    system.health_router,
    auth.state_router,
    auth.router,
    system.router,
    sessions.router,
    approvals.router,
    events.router,
    files.router,
    voice.router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # The schema is served behind the login (the guard covers every /api/ path but login and logout).
    app = FastAPI(title="Blu", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.settings = settings
    for router in API_ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    app.add_exception_handler(RequestValidationError, validation_error)
    web.mount_web(app, settings.web_dir_override)
    app.add_middleware(GuardMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app


def begin_shutdown(app: FastAPI) -> None:
    """On SIGTERM, before the server drains connections: refuse new turns and release long-polls."""
    state: AppState | None = getattr(app.state, "blu", None)
    if state is not None:
        state.manager.accepting = False
        state.hub.close()
