"""The app factory: settings in, a FastAPI app out, with a lifespan that owns the session manager."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from core.auth import CookieSigner, LoginThrottle
from core.auth.responses import validation_error
from core.observability.asgi import RequestContextMiddleware
from core.observability.logs import scrubber
from core.store import open_store
from core.store.aio import AsyncStore
from core.store.base import NotFound
from runtime.agent.client import sdk_client
from runtime.agent.events import EventHub
from runtime.agent.manager import SessionManager
from runtime.agent.options import ClaudeEndpoint
from runtime.api import (
    approvals,
    auth,
    backups,
    events,
    files,
    mcp,
    memory,
    notifications,
    schedules,
    search,
    sessions,
    system,
    voice,
    web,
)
from runtime.api.deps import AppState
from runtime.api.errors import ERROR_RESPONSES
from runtime.api.guard import GuardMiddleware
from runtime.backup.engine import BackupBusy
from runtime.backup.service import BackupService, backups_for, keeping_heartbeat
from runtime.credentials import MissingSecrets, load_login_secrets
from runtime.isolation import AgentUser, prepare_agent_dirs
from runtime.notify import Notifier, Presence
from runtime.notify.turns import ApprovalNotices, ScheduleNotices, TurnNotices
from runtime.schedules.scheduler import Scheduler
from runtime.schedules.wake import WakeSchedules
from runtime.self_stop import SelfStop
from runtime.settings import Settings
from runtime.transfers import LocalStaging, S3Staging, Staging, Transfers, UploadTokens
from runtime.workspace import Workspace

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 60.0
SHUTDOWN_SECONDS = 90.0  # within the task's stop timeout (a Spot interruption gives ~120 s)
BACKUP_ON_STOP_SECONDS = 25.0  # what is left of it for a due snapshot on SIGTERM


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


def warm_imports(settings: Settings) -> threading.Thread:
    """Import what the first turn (and a call) will need, in the background once the server listens.

    /health answers before the Claude Agent SDK (~0.5 s of imports) and LiveKit's API package are loaded:
    a wake waits for neither. A turn that comes first imports them itself (Python's import lock makes it
    wait for this thread's import rather than import twice).
    """
    modules = ["runtime.agent.worker", "runtime.agent.title"]
    if settings.voice_configured:
        modules.append("livekit.api")

    def load() -> None:
        started = time.perf_counter()
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # the request that needs it reports the error
                log.exception("Could not import %s ahead of use", module)
        log.debug("Imported %s in %.2f s", ", ".join(modules), time.perf_counter() - started)

    thread = threading.Thread(target=load, name="blu-warm-imports", daemon=True)
    thread.start()
    return thread


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
    backup_service = BackupService(
        backups_for(settings, store.sync),
        daily=settings.backups_daily,
        turns_running=manager.busy,
        quiesce=lambda session_id: _sessions_restored(manager, session_id),
        schedules_replaced=lambda: _after_restore(scheduler, manager),
    )
    try:
        await asyncio.to_thread(backup_service.backups.recover)  # finish a restore a crash interrupted
    except BackupBusy:  # `python -m runtime.backup` is at work on this data: it finishes what it started
        log.warning("A backup command holds the backup lock; not checking for an interrupted restore")
    await asyncio.to_thread(backup_service.adopt_changes)  # what is restored now, this process starts from
    app.state.backups = backup_service
    await manager.start()
    notifier, presence = Notifier(store), Presence()
    notifier.start()
    manager.on_turn_finished.append(TurnNotices(store, notifier, presence).turn_finished)
    manager.approvals.on_waiting.append(ApprovalNotices(store, notifier).approval_waiting)
    scheduler = Scheduler(settings=settings, store=store, manager=manager, wake=WakeSchedules.from_settings(settings))
    scheduler.on_run_finished(ScheduleNotices(notifier).run_finished)
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
        notifier=notifier,
        presence=presence,
        scheduler=scheduler,
    )
    await scheduler.start()
    self_stop = SelfStop.from_settings(settings, started_at=started_at)
    if self_stop is not None and settings.backups_daily:
        self_stop = replace(self_stop, before_sleep=lambda: keeping_heartbeat(store.sync, backup_service.before_sleep))
    heartbeat = asyncio.create_task(_heartbeat(store, self_stop))
    daily = asyncio.create_task(backup_service.run_daily()) if settings.backups_daily else None
    following = asyncio.create_task(backup_service.run_following())  # restores `python -m runtime.backup` made
    try:
        yield
    finally:
        heartbeat.cancel()
        following.cancel()
        if daily is not None:
            daily.cancel()
        await manager.shutdown(grace_seconds=SHUTDOWN_SECONDS)
        if settings.backups_daily:
            # SIGTERM (a Spot interruption, a deploy): a due snapshot in the time left; one cut short
            # is never listed (its summary is written last).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(backup_service.before_sleep), BACKUP_ON_STOP_SECONDS)
        await scheduler.stop(grace_seconds=10)
        await notifier.close()
        await asyncio.to_thread(store.sync.close)
        app.state.blu.login_checks.close()
        if standin is not None:
            standin.stop()


async def _after_restore(scheduler: Scheduler, manager: SessionManager) -> None:
    """After a full restore or an import (this process's, or one `python -m runtime.backup` made while it runs):
    the memory on disk is the restore's (not a change of Claude's), the tool policy is the restored one from
    the next tool call on, due schedules run now (a missed one once, late), and each schedule's EventBridge
    wake matches the store again (AWS)."""
    await manager.approvals.load()  # first: a client started from here on gets the restored disallowed tools
    await asyncio.to_thread(manager.memory.adopt, "restore")
    scheduler.changed()
    await scheduler.sync_wakes()


async def _sessions_restored(manager: SessionManager, session_id: str | None) -> None:
    """After a restore: stop idle Claude clients (of one session, or all) so the next turn resumes from
    the restored transcript, not from a process's memory of the replaced one; and tell every tab that
    follows one of these sessions to reload its messages (a fresh event log: its next read is `reset`), or,
    when the restored snapshot has no such session, that it is gone (`session.deleted`, as a deletion does)."""
    for sid, worker in list(manager.workers.items()):
        if (session_id is None or sid == session_id) and worker.is_idle:
            worker.stop()
            manager.workers.pop(sid, None)
    followed = manager.hub.followed_sessions() if session_id is None else [session_id]
    for sid in followed:
        if not manager.hub.has_log(sid):
            continue
        try:
            await manager.store.get_session(sid)
        except NotFound:
            manager.hub.end(sid, "session.deleted", {"session_id": sid, "reason": "restore"})
        else:
            manager.hub.reopen(sid)


# FastAPI tries the routers in this order on every request: the long-poll and the session routes, which a turn
# calls, come first (no two routers share a path, so the order changes nothing else).
API_ROUTERS = (
    events.router,
    sessions.router,
    system.health_router,
    auth.state_router,
    auth.router,
    system.router,
    schedules.router,
    search.router,
    approvals.router,
    files.router,
    voice.router,
    notifications.router,
    memory.router,
    mcp.router,
    backups.router,
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
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        # typing caches Literal types and compares them as sets, so a Literal["allow", "ask", "deny"] of ours
        # can come out in the order of an equal one the Claude Agent SDK made first (when it was imported
        # first): the document sorts every string enum, so it is the same whatever was imported when.
        if app.openapi_schema is None:
            app.openapi_schema = _sorted_enums(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _sorted_enums(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: sorted(value) if key == "enum" and all(isinstance(v, str) for v in value) else _sorted_enums(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_sorted_enums(item) for item in node]
    return node


def begin_shutdown(app: FastAPI) -> None:
    """On SIGTERM, before the server drains connections: refuse new turns and release long-polls."""
    state: AppState | None = getattr(app.state, "blu", None)
    if state is not None:
        state.manager.accepting = False
        state.hub.close()
