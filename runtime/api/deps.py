"""Dependencies shared by the routers: settings, store, manager, and the login check."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from runtime.agent.events import EventHub
from runtime.agent.manager import SessionManager
from runtime.auth import COOKIE_NAME, CookieSigner, LoginThrottle
from runtime.settings import Settings
from runtime.store.aio import AsyncStore
from runtime.workspace import Workspace

USER_ACTION_WRITE_INTERVAL = 30.0  # seconds between heartbeat writes for user actions
PASSIVE_PATH_SUFFIXES = ("/events",)  # reading the stream is not a person doing something
PASSIVE_PATHS = {"/api/stats", "/api/config"}


@dataclass
class AppState:
    """Everything the lifespan builds; one per app."""

    settings: Settings
    store: AsyncStore
    hub: EventHub
    manager: SessionManager
    signer: CookieSigner
    throttle: LoginThrottle
    password_hash: str
    workspace: Workspace
    last_user_action_write: float = 0.0


def get_state(request: Request) -> AppState:
    return request.app.state.blu  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


def get_store(state: StateDep) -> AsyncStore:
    return state.store


def get_manager(state: StateDep) -> SessionManager:
    return state.manager


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[AsyncStore, Depends(get_store)]
ManagerDep = Annotated[SessionManager, Depends(get_manager)]


def client_address(request: Request, settings: Settings) -> str:
    """Who is logging in, for throttling. API Gateway's HTTP API names the client in the last `for=` of
    the RFC 7239 `Forwarded` header (and the launcher's `requestContext.http.sourceIp` is the same
    address); other proxies append it to X-Forwarded-For. A client can prepend anything to either, so
    only the last entry is trusted, and only with BLU_TRUST_FORWARDED_FOR."""
    if settings.trust_forwarded_for:
        forwarded = _last_forwarded_for(request.headers.get("forwarded", ""))
        if forwarded:
            return forwarded[:64]
        hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"


def _last_forwarded_for(value: str) -> str | None:
    last = None
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, node = pair.strip().partition("=")
            if name.lower() == "for" and node.strip().strip('"'):
                last = node.strip().strip('"')
    return last


async def require_login(request: Request, state: StateDep) -> None:
    if not state.signer.is_valid(request.cookies.get(COOKIE_NAME)):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Log in first.")
    path = request.url.path
    if path in PASSIVE_PATHS or path.endswith(PASSIVE_PATH_SUFFIXES):
        return
    now = time.time()
    if now - state.last_user_action_write >= USER_ACTION_WRITE_INTERVAL:
        state.last_user_action_write = now
        await state.store.record_user_action(now)


LoginRequired = [Depends(require_login)]
