"""Login and logout: the only API routes reachable without the cookie (besides /health)."""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from runtime.api.deps import StateDep, client_address
from runtime.auth import COOKIE_NAME, attempt_login, cookie_is_secure

router = APIRouter(prefix="/api", tags=["auth"])


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def login(body: LoginBody, request: Request, state: StateDep) -> Response:
    client = client_address(request, state.settings)
    result = await asyncio.to_thread(
        attempt_login,
        body.password,
        password_hash=state.password_hash,
        client=client,
        throttle=state.throttle,
    )
    if not result.ok:
        wait = math.ceil(result.retry_after)
        headers = {"Retry-After": str(wait)} if wait else {}
        if result.throttled:
            return JSONResponse(
                {"detail": f"Too many wrong passwords. Try again in {wait} s.", "retry_after": wait},
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                headers=headers,
            )
        return JSONResponse(
            {"detail": "Wrong password.", "retry_after": wait},
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers=headers,
        )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.set_cookie(
        COOKIE_NAME,
        state.signer.issue(),
        max_age=state.signer.max_age_seconds,
        httponly=True,
        secure=cookie_is_secure(request.headers.get("host", "")),
        samesite="strict",
        path="/",
    )
    return response


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(request: Request) -> Response:
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request.headers.get("host", "")),
    )
    return response
