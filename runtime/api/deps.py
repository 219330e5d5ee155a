"""Dependencies shared by the routers: settings, store, manager, and the login check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status

from core.auth import COOKIE_NAME, CookieSigner, LoginThrottle
from core.auth.cookies import issued_after
from core.store.aio import AsyncStore
from runtime.agent.events import EventHub
from runtime.agent.manager import SessionManager
from runtime.api.guard import LOGIN_CHECKED
from runtime.notify import Notifier, Presence
from runtime.schedules.scheduler import Scheduler
from runtime.settings import Settings
from runtime.transfers import Transfers
from runtime.workspace import Workspace

T = TypeVar("T")
LOGOUT_REFRESH_SECONDS = 5.0  # how soon a logout made through the launcher reaches this server
USER_ACTION_WRITE_INTERVAL = 30.0  # seconds between heartbeat writes for user actions


class LoginBusy(RuntimeError):
    """More password checks are waiting than the login pool takes."""


class LoginChecks:
    """Password checks (bcrypt, ~0.25 s of CPU each) on their own small pool with a bounded queue, so a
    flood of logins neither starves the default thread pool that every store call uses nor piles up."""

    def __init__(self, workers: int = 2, max_waiting: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="login")
        self._slots = asyncio.Semaphore(workers + max_waiting)

    async def run(self, func: Callable[[], T]) -> T:
        if self._slots.locked():
            raise LoginBusy("Too many logins at once.")
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, func)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


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
    transfers: Transfers
    notifier: Notifier
    scheduler: Scheduler  # scheduled runs; notifications subscribe with scheduler.on_run_finished
    presence: Presence = field(default_factory=Presence)
    last_user_action_write: float = 0.0
    login_checks: LoginChecks = field(default_factory=lambda: LoginChecks())

    logged_out_at: float | None = None
    logged_out_read_at: float = float("-inf")

    async def cookie_is_valid(self, token: str | None) -> bool:
        claims = self.signer.claims(token)  # one signature check per call (and one call per request)
        if claims is None:
            return False
        now = time.monotonic()
        if now - self.logged_out_read_at >= LOGOUT_REFRESH_SECONDS:  # a logout through the launcher
            self.logged_out_read_at = now
            self.logged_out_at = (await self.store.get_activity()).logged_out_at
        return issued_after(claims, self.logged_out_at)

    async def log_out(self, token: str | None) -> None:
        """Revoke every cookie issued until now, when the request carries a valid one."""
        if await self.cookie_is_valid(token):
            self.logged_out_at = time.time()
            await self.store.record_logout(self.logged_out_at)


# The getters are `async def` though they never wait: FastAPI runs a plain `def` dependency in a worker
# thread, a round trip to a thread for each on every request (four before a message is even read).
async def get_state(request: Request) -> AppState:
    return request.app.state.blu  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


async def get_store(state: StateDep) -> AsyncStore:
    return state.store


async def get_manager(state: StateDep) -> SessionManager:
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


def original_scheme(request: Request) -> str:
    """The scheme the browser used, as far as the headers tell: the last `proto=` of `Forwarded` (API
    Gateway's VPC link) or X-Forwarded-Proto (a TLS proxy in front of a laptop), else the connection's.
    Only for explaining a dropped cookie, never for a security decision, so the headers need no trust."""
    proto = _last_forwarded(request.headers.get("forwarded", ""), "proto")
    if proto:
        return proto
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-proto", "").split(",") if hop.strip()]
    return hops[-1] if hops else request.url.scheme


def _last_forwarded_for(value: str) -> str | None:
    return _last_forwarded(value, "for")


def _last_forwarded(value: str, parameter: str) -> str | None:
    """The last non-empty value of `parameter` in an RFC 7239 `Forwarded` header."""
    last = None
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, node = pair.strip().partition("=")
            if name.lower() == parameter and node.strip().strip('"'):
                last = node.strip().strip('"')
    return last


async def require_login(request: Request, state: StateDep) -> None:
    """Refuse a request without a valid login cookie (401). It records nothing: see `record_user_action`.
    A cookie the guard (runtime/api/guard.py) verified for this very request is not verified twice; without
    the guard in front (an app built otherwise), the route checks on its own."""
    token = request.cookies.get(COOKIE_NAME)
    if token is not None and request.scope.get(LOGIN_CHECKED) == token:
        return
    if not await state.cookie_is_valid(token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Log in first.")


async def record_user_action(state: StateDep) -> None:
    """Note that a person did something, which keeps Blu awake (the idle rule, core/idle.py). Only
    routes a person's action calls declare it; polling (the event stream, stats, config) must not,
    or an open tab would keep Blu awake for ever. Written at most every USER_ACTION_WRITE_INTERVAL."""
    now = time.time()
    if now - state.last_user_action_write >= USER_ACTION_WRITE_INTERVAL:
        state.last_user_action_write = now
        await state.store.record_user_action(now)


# Every API route: a login. A person's actions add the activity record after it (FastAPI runs
# dependencies in order, so an unauthenticated request never counts as activity).
LoginRequired = [Depends(require_login)]
UserAction = [Depends(require_login), Depends(record_user_action)]
