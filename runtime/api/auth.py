"""Login and logout: the only API routes reachable without the cookie (besides /health)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response, status

from runtime.api.deps import StateDep, client_address, original_scheme
from runtime.auth import COOKIE_NAME, attempt_login
from runtime.auth.responses import LoginBody, LoginState, login_response, logout_response, plain_http_refusal
from runtime.observability.metrics import record_login

router = APIRouter(prefix="/api", tags=["auth"])
# Outside /api: the launcher answers the same path in AWS, so the page asks one place in both.
state_router = APIRouter(tags=["auth"])


@state_router.get("/login", response_model=LoginState)
async def login_state(request: Request, state: StateDep, response: Response) -> LoginState:
    """Whether this browser is logged in (200 either way: the page asks before showing anything)."""
    response.headers["Cache-Control"] = "no-store"
    return LoginState(logged_in=state.signer.is_valid(request.cookies.get(COOKIE_NAME)), launcher=False, awake=True)


@router.post("/login", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def login(body: LoginBody, request: Request, state: StateDep) -> Response:
    refusal = plain_http_refusal(host=request.headers.get("host", ""), scheme=original_scheme(request))
    if refusal is not None:
        return refusal
    client = client_address(request, state.settings)
    result = await asyncio.to_thread(
        attempt_login, body.password, password_hash=state.password_hash, client=client, throttle=state.throttle
    )
    record_login(ok=result.ok, throttled=result.throttled)
    return login_response(result, signer=state.signer, host=request.headers.get("host", ""))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(request: Request) -> Response:
    return logout_response(host=request.headers.get("host", ""))
