"""Login and logout: the only API routes reachable without the cookie (besides /health)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from core.auth import COOKIE_NAME, attempt_login
from core.auth.responses import LoginBody, LoginState, login_response, logout_response, plain_http_refusal
from core.observability.metrics import record_login
from runtime.api.deps import LoginBusy, StateDep, client_address, original_scheme
from runtime.api.errors import ErrorBody, error_responses
from runtime.api.models import InsecureOrigin, LoginRefusal

router = APIRouter(prefix="/api", tags=["auth"])
# Outside /api: the launcher answers the same path in AWS, so the page asks one place in both.
state_router = APIRouter(tags=["auth"])


@state_router.get("/login", response_model=LoginState)
async def login_state(request: Request, state: StateDep, response: Response) -> LoginState:
    """Whether this browser is logged in (200 either way: the page asks before showing anything)."""
    response.headers["Cache-Control"] = "no-store"
    logged_in = await state.cookie_is_valid(request.cookies.get(COOKIE_NAME))
    return LoginState(logged_in=logged_in, launcher=False, awake=True)


@router.post(
    "/login",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        **error_responses(503),
        400: {
            "model": InsecureOrigin | ErrorBody,
            "description": "Plain HTTP to a host other than localhost (the browser would drop the cookie), or a body"
            " that is not JSON",
        },
        401: {"model": LoginRefusal, "description": "Wrong password"},
        429: {"model": LoginRefusal, "description": "Throttled (too many wrong passwords), or too many logins at once"},
    },
)
async def login(body: LoginBody, request: Request, state: StateDep) -> Response:
    refusal = plain_http_refusal(host=request.headers.get("host", ""), scheme=original_scheme(request))
    if refusal is not None:
        return refusal
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
