"""Login and logout: the only API routes reachable without the cookie (besides /health)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from runtime.api.deps import LoginBusy, StateDep, client_address
from runtime.api.errors import error_responses
from runtime.auth import COOKIE_NAME, attempt_login
from runtime.auth.responses import LoginBody, login_response, logout_response
from runtime.observability.metrics import record_login

router = APIRouter(prefix="/api", tags=["auth"])


@router.post(
    "/login",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 429, 503),
)
async def login(body: LoginBody, request: Request, state: StateDep) -> Response:
    client = client_address(request, state.settings)
    try:
        result = await state.login_checks.run(
            partial(
                attempt_login, body.password, password_hash=state.password_hash, client=client, throttle=state.throttle
            )
        )
    except LoginBusy:
        return JSONResponse(
            {"detail": "Too many logins at once. Try again in a few seconds.", "retry_after": 5},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": "5"},
        )
    record_login(ok=result.ok, throttled=result.throttled)
    return login_response(result, signer=state.signer, host=request.headers.get("host", ""))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(request: Request, state: StateDep) -> Response:
    """Ends the login everywhere: every cookie issued before now is refused from here on."""
    await state.log_out(request.cookies.get(COOKIE_NAME))
    return logout_response(host=request.headers.get("host", ""))
