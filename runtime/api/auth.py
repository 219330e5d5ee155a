"""Login and logout: the only API routes reachable without the cookie (besides /health)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response, status

from runtime.api.deps import StateDep, client_address
from runtime.auth import attempt_login
from runtime.auth.responses import LoginBody, login_response, logout_response
from runtime.observability.metrics import record_login

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/login", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def login(body: LoginBody, request: Request, state: StateDep) -> Response:
    client = client_address(request, state.settings)
    result = await asyncio.to_thread(
        attempt_login, body.password, password_hash=state.password_hash, client=client, throttle=state.throttle
    )
    record_login(ok=result.ok, throttled=result.throttled)
    return login_response(result, signer=state.signer, host=request.headers.get("host", ""))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(request: Request) -> Response:
    return logout_response(host=request.headers.get("host", ""))
