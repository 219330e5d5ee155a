"""The HTTP side of logging in, identical in the runtime and the launcher Lambda: body, answers, cookie."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.auth.cookies import COOKIE_NAME, CookieSigner, cookie_is_secure
from core.auth.throttle import LoginResult


def valid_unicode(text: str) -> str:
    """Refuse lone surrogates ("\\ud800" in JSON): no store, file name or password can hold them."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise ValueError("The text is not valid Unicode (it holds a lone surrogate).")
    return text


Text = Annotated[str, AfterValidator(valid_unicode)]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Text = Field(min_length=1, max_length=1024)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field and why, never the value that was sent (a password, a long text)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "Invalid value."))[:200], "type": e.get("type")}
        for e in errors[:20]
    ]
    return JSONResponse({"detail": detail}, status_code=422)


class LoginState(BaseModel):
    """``GET /login``: whether this browser is logged in, answered 200 either way so a page can ask first."""

    logged_in: bool
    launcher: bool  # True when the launcher Lambda answers (Blu may be asleep), False for the runtime itself
    awake: bool | None  # whether Blu answers now; None when the launcher does not say (logged out)


def plain_http_refusal(*, host: str, scheme: str) -> Response | None:
    """400 for a login over plain HTTP to a host other than localhost: the cookie is Secure there, so the
    browser would drop it and the person would land on the login form again without a word. None: go on."""
    if scheme.lower() == "https" or not cookie_is_secure(host):
        return None
    port = _port(host)
    local = port if port >= 1024 else 8000  # a tunnel's local end needs no privileges
    return JSONResponse(
        {
            "detail": (
                "This page was opened over plain HTTP, where browsers drop Blu's secure login cookie. "
                "Open Blu over HTTPS, or through an SSH tunnel: ssh -L "
                f"{local}:localhost:{port} <this machine>, then open http://localhost:{local}."
            ),
            "reason": "insecure_origin",
        },
        status_code=400,
    )


def _port(host: str) -> int:
    """The port a Host header names (80 when none): only digits are taken, nothing else is echoed."""
    tail = host.rsplit("]", 1)[-1]
    _, colon, digits = tail.rpartition(":")
    return int(digits) if colon and digits.isdigit() and 0 < int(digits) < 65536 else 80


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
