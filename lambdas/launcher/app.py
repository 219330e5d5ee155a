"""The launcher's FastAPI app: the page and its assets, login, status, wake and shutdown."""

# No `from __future__ import annotations`: FastAPI resolves the routes' annotations at runtime and
# `Deps` is local to create_app.

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from core.auth import COOKIE_NAME, CookieSigner, LoginThrottle, attempt_login
from core.auth.origin import FOREIGN_DETAIL, same_origin
from core.auth.responses import (
    LoginBody,
    LoginState,
    login_response,
    logout_response,
    plain_http_refusal,
    validation_error,
)
from core.observability.metrics import record_login, record_ready, record_sleep, record_wake
from core.power import PowerLog, put_to_sleep
from core.store.base import Store
from core.web import APP_FILE_HEADERS, APP_FILES, ICONS_CACHE_CONTROL, SECURITY_HEADERS
from lambdas.common.secret import SecretReader
from lambdas.common.service_state import (
    DEFAULT_EXPECTED_SECONDS,
    STAGES,
    ServiceState,
    read_state,
    set_desired_count,
)
from lambdas.common.telemetry import logger, tracer

# The built web UI: copied beside the code into the Lambda asset (web/dist), or the repository's own.
WEB_DIRS = (Path(__file__).resolve().parents[2] / "web" / "dist",)
NO_STORE = {"Cache-Control": "no-store"}
MISSING_BUILD = (
    '<!doctype html><meta charset="utf-8"><title>Blu</title><p>The web UI was not built into the launcher.</p>'
)


@dataclass(kw_only=True)
class LauncherDeps:
    """Everything the routes use; the handler builds it from the environment, tests build it by hand."""

    ecs: Any
    power: PowerLog
    store: Store
    secrets: SecretReader
    cluster: str
    service: str
    cookie_max_age_seconds: int = 14 * 24 * 3600
    clock: Callable[[], float] = time.time
    web_dir: Path | None = None
    _signer: tuple[str, CookieSigner] | None = field(default=None, repr=False)

    def signer(self) -> CookieSigner:
        secret = self.secrets.get("SESSION_SECRET")
        if self._signer is None or self._signer[0] != secret:
            self._signer = (secret, CookieSigner(secret, max_age_seconds=self.cookie_max_age_seconds))
        return self._signer[1]

    def throttle(self) -> LoginThrottle:
        return LoginThrottle(self.store, clock=self.clock)


# ---- plain functions: the launcher's logic, given its clients ------------------------------------


@tracer.capture_method
def service_status(ecs: Any, power: PowerLog, *, cluster: str, service: str, now: float) -> dict[str, Any]:
    """``GET /status``: the service's state, the stage, timestamps and recent wake durations."""
    state = read_state(ecs, cluster=cluster, service=service)
    current = power.current()
    state = waking_if_just_woken(state, current, now=now)
    if state.status == "running" and current.get("state") == "waking":
        duration = power.mark_ready(ready_at=now)
        if duration is not None:
            record_ready(wake_duration_seconds=duration)
            logger.info("Blu is ready", extra={"wake_duration_seconds": duration})
    events = power.recent()
    durations = [e.duration_seconds for e in events if e.kind == "wake" and e.duration_seconds is not None]
    return status_body(state, current=current, wake_durations=durations, now=now) | {
        "recent": [e.as_json() for e in events[:10]],
    }


# How long after a recorded wake a service that still reads desired 0 counts as waking (ECS's describe calls
# are eventually consistent after UpdateService); later, the log is stale and ECS is believed.
WAKE_SETTLE_SECONDS = 60.0


def waking_if_just_woken(state: ServiceState, current: dict[str, Any], *, now: float) -> ServiceState:
    """A wake was just asked for but ECS does not show it yet: report "starting"/"Waking", never "Asleep"."""
    wake_at = current.get("wake_at")
    if (
        state.status == "stopped"
        and current.get("state") == "waking"
        and wake_at is not None
        and 0 <= now - float(wake_at) < WAKE_SETTLE_SECONDS
    ):
        return replace(state, status="starting", stage="Waking", started_at=float(wake_at))
    return state


def status_body(
    state: ServiceState, *, current: dict[str, Any], wake_durations: list[float], now: float
) -> dict[str, Any]:
    started_at: float | None = None
    if state.status in ("starting", "running"):
        # The person's clock starts at the wake, not when ECS created the task.
        wake_at = current.get("wake_at") if current.get("state") in ("waking", "awake") else None
        started_at = wake_at if wake_at is not None else state.started_at
    elif state.status == "stopping":
        started_at = state.started_at or current.get("sleep_at")
    return {
        "status": state.status,
        "stage": state.stage,
        "stages": list(STAGES),
        "started_at": started_at,
        "elapsed_seconds": None if started_at is None else max(0.0, round(now - started_at, 1)),
        "expected_seconds": statistics.median(wake_durations) if wake_durations else DEFAULT_EXPECTED_SECONDS,
        "desired": state.desired,
        "running": state.running,
        "pending": state.pending,
        "task_status": state.task_status,
        "health": state.health,
        "ready_at": state.ready_at,
        "timestamps": state.timestamps,
        "message": state.message,
        "wake_durations": wake_durations[:10],
    }


@tracer.capture_method
def wake_service(
    ecs: Any,
    power: PowerLog,
    store: Store,
    *,
    cluster: str,
    service: str,
    now: float,
    reason: str = "user",
    user_action: bool = True,
) -> dict[str, Any]:
    """``POST /wake``: desired count 1. Idempotent: a service already asked to run is left alone.
    A wake for a scheduled run (`user_action` False, lambdas/schedule_wake) is not a person's action."""
    if user_action:
        # The woken service gets a full idle timeout before the idle checker may stop it again.
        store.record_user_action(now)
    state = read_state(ecs, cluster=cluster, service=service)
    if state.desired >= 1:
        return {"woken": False, "status": state.status, "stage": state.stage}
    set_desired_count(ecs, cluster=cluster, service=service, count=1)
    if power.record_wake(at=now, reason=reason):
        record_wake()
    logger.info("Waking Blu", extra={"reason": reason})
    return {"woken": True, "status": "starting", "stage": "Waking"}


@tracer.capture_method
def shutdown_service(
    ecs: Any, power: PowerLog, *, cluster: str, service: str, now: float, reason: str = "user"
) -> dict[str, Any]:
    """``POST /shutdown``: desired count 0 (the task gets SIGTERM and saves running turns)."""
    state = read_state(ecs, cluster=cluster, service=service)
    if state.desired == 0:
        return {"stopped": False, "status": state.status}
    if put_to_sleep(ecs, power, cluster=cluster, service=service, at=now, reason=reason):
        record_sleep(reason=reason)
    logger.info("Putting Blu to sleep", extra={"reason": reason})
    return {"stopped": True, "status": "stopping"}


# ---- the HTTP app ---------------------------------------------------------------------------------


def create_app(deps_factory: Callable[[], LauncherDeps]) -> FastAPI:
    """The launcher app; ``deps_factory`` is called per request (the handler caches its result)."""
    app = FastAPI(title="Blu launcher", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(RequestValidationError, validation_error)  # 422s echo no password

    @app.middleware("http")
    async def refuse_other_sites(request: Request, call_next: Any) -> Response:
        # The same rule as the runtime's guard: login, logout, wake and shutdown only from Blu's pages.
        if not same_origin(request.method, {k.lower(): v for k, v in request.headers.items()}):
            return JSONResponse({"detail": FOREIGN_DETAIL}, status_code=status.HTTP_403_FORBIDDEN, headers=NO_STORE)
        response: Response = await call_next(request)
        return response

    def get_deps() -> LauncherDeps:
        return deps_factory()

    Deps = Annotated[LauncherDeps, Depends(get_deps)]

    def is_logged_in(request: Request, deps: LauncherDeps) -> bool:
        logged_out_at = deps.store.get_activity().logged_out_at  # a logout anywhere refuses older cookies
        return deps.signer().is_valid(request.cookies.get(COOKIE_NAME), not_before=logged_out_at)

    def require_login(request: Request, deps: Deps) -> None:
        # Checked before any route body runs: without a valid cookie nothing reaches ECS.
        if not is_logged_in(request, deps):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Log in first.", headers=NO_STORE)

    LoggedIn = Depends(require_login)

    def web_root(deps: LauncherDeps) -> Path:
        for candidate in (deps.web_dir, *WEB_DIRS):
            if candidate is not None and (candidate / "index.html").is_file():
                return candidate
        return deps.web_dir or WEB_DIRS[0]

    @app.get("/", response_model=None, include_in_schema=False)
    def index(deps: Deps) -> FileResponse | HTMLResponse:
        page = web_root(deps) / "index.html"
        if not page.is_file():
            return HTMLResponse(MISSING_BUILD, status_code=503, headers=SECURITY_HEADERS)
        return FileResponse(page, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

    @app.get("/assets/{path:path}", include_in_schema=False)
    def asset(path: str, deps: Deps) -> FileResponse:
        root = (web_root(deps) / "assets").resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")
        # Vite names assets by content hash: safe to cache for a year.
        return FileResponse(target, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    def app_file(name: str, media_type: str) -> None:
        # The service worker and the manifest, also while Blu sleeps: a phone can install Blu from the
        # launcher's page, and a worker's update check does not fail.
        @app.get(f"/{name}", include_in_schema=False, name=name)
        def serve(deps: Deps) -> FileResponse:
            path = web_root(deps) / name
            if not path.is_file():
                raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")
            return FileResponse(path, media_type=media_type, headers=APP_FILE_HEADERS)

    for name, media_type in APP_FILES.items():
        app_file(name, media_type)

    @app.get("/icons/{path:path}", include_in_schema=False)
    def icon(path: str, deps: Deps) -> FileResponse:
        root = (web_root(deps) / "icons").resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")
        return FileResponse(target, headers={"Cache-Control": ICONS_CACHE_CONTROL})

    @app.get("/login", response_model=LoginState)
    def login_state(request: Request, response: Response, deps: Deps) -> LoginState:
        """Whether this browser is logged in and, only then, whether Blu is awake (no ECS call otherwise)."""
        response.headers.update(NO_STORE)
        if not is_logged_in(request, deps):
            return LoginState(logged_in=False, launcher=True, awake=None)
        state = read_state(deps.ecs, cluster=deps.cluster, service=deps.service)
        return LoginState(logged_in=True, launcher=True, awake=state.status == "running")

    @app.post("/login", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
    def login(body: LoginBody, request: Request, deps: Deps) -> Response:
        scheme = request.headers.get("x-forwarded-proto", request.url.scheme)
        refusal = plain_http_refusal(host=request.headers.get("host", ""), scheme=scheme)
        if refusal is not None:
            return refusal
        password_hash = deps.secrets.get("AUTH_PASSWORD_HASH")
        if not password_hash:
            return JSONResponse(
                {"detail": "No password is set yet: put a password hash into Blu's secret (see docs/deploy.md)."},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        client = request.client.host if request.client else "unknown"
        result = attempt_login(body.password, password_hash=password_hash, client=client[:64], throttle=deps.throttle())
        record_login(ok=result.ok, throttled=result.throttled)
        return login_response(result, signer=deps.signer(), host=request.headers.get("host", ""))

    @app.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
    def logout(request: Request, deps: Deps) -> Response:
        # Revokes every cookie issued before now, for the container too (it reads the same record).
        if deps.signer().is_valid(request.cookies.get(COOKIE_NAME)):
            deps.store.record_logout(time.time())  # the cookie's own clock (CookieSigner.issue)
        return logout_response(host=request.headers.get("host", ""))

    @app.get("/status", dependencies=[LoggedIn])
    def get_status(deps: Deps) -> JSONResponse:
        body = service_status(deps.ecs, deps.power, cluster=deps.cluster, service=deps.service, now=deps.clock())
        return JSONResponse(body, headers=NO_STORE)

    @app.post("/wake", dependencies=[LoggedIn])
    def wake(deps: Deps) -> JSONResponse:
        body = wake_service(
            deps.ecs, deps.power, deps.store, cluster=deps.cluster, service=deps.service, now=deps.clock()
        )
        return JSONResponse(
            body, status_code=status.HTTP_202_ACCEPTED if body["woken"] else status.HTTP_200_OK, headers=NO_STORE
        )

    @app.post("/shutdown", dependencies=[LoggedIn])
    def shutdown(deps: Deps) -> JSONResponse:
        body = shutdown_service(deps.ecs, deps.power, cluster=deps.cluster, service=deps.service, now=deps.clock())
        return JSONResponse(
            body, status_code=status.HTTP_202_ACCEPTED if body["stopped"] else status.HTTP_200_OK, headers=NO_STORE
        )

    return app
