"""The HTTP side of logging in, identical in the runtime and the launcher Lambda: body, answers, cookie."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from runtime.auth.cookies import COOKIE_NAME, CookieSigner, cookie_is_secure
from runtime.auth.throttle import LoginResult


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=1024)


def login_response(result: LoginResult, *, signer: CookieSigner, host: str) -> Response:
    """204 with the cookie; 401 for a wrong password; 429 with Retry-After while throttled."""
    if not result.ok:
        wait = math.ceil(result.retry_after)
        headers = {"Retry-After": str(wait)} if wait else {}
        if result.throttled:
            return JSONResponse(
                {"detail": f"Too many wrong passwords. Try again in {wait} s.", "retry_after": wait},
                status_code=429,
                headers=headers,
            )
        return JSONResponse({"detail": "Wrong password.", "retry_after": wait}, status_code=401, headers=headers)
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE_NAME,
        signer.issue(),
        max_age=signer.max_age_seconds,
        httponly=True,
        secure=cookie_is_secure(host),
        samesite="strict",
        path="/",
    )
    return response


def logout_response(*, host: str) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=cookie_is_secure(host))
    return response
