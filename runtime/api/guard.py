"""Cheap refusals before any route runs: other sites' writes, no valid cookie, a query that is not UTF-8, big bodies."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser

from core.auth import COOKIE_NAME
from core.auth.origin import FOREIGN_DETAIL, same_origin

# Set by the guard on a request whose cookie it verified: the token it verified. A client cannot set scope keys.
LOGIN_CHECKED = "blu.login_checked"
OPEN_PATHS = frozenset({"/api/login", "/api/logout"})
JSON_BODY_LIMIT = 2 * 1024 * 1024  # a 100,000-character message escaped as \uXXXX pairs fits
UPLOAD_PATH = "/api/files/content"
STAGING_PATH = ("/api/files/uploads/", "/data")  # the local stand-in of the bucket's upload form


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}


class GuardMiddleware:
    """Pure ASGI, so a refusal costs neither reading nor parsing the body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        method = scope["method"]
        if not same_origin(method, headers):
            await _refuse(send, 403, FOREIGN_DETAIL)
            return
        state = getattr(scope["app"].state, "blu", None)
        if scope["path"] not in OPEN_PATHS:
            token = cookie_parser(headers.get("cookie", "")).get(COOKIE_NAME)
            if state is None or not await state.cookie_is_valid(token):
                await _refuse(send, 401, "Log in first.")
                return
            scope[LOGIN_CHECKED] = token  # the route's own check (deps.require_login) need not verify it again
        if not _valid_query(scope.get("query_string", b"")):
            # Starlette would decode it with replacement characters: two different names would become one.
            await _refuse(send, 400, "The query is not valid UTF-8.")
            return
        limit = JSON_BODY_LIMIT
        path = scope["path"]
        staging = path.startswith(STAGING_PATH[0]) and path.endswith(STAGING_PATH[1])
        if (path == UPLOAD_PATH or staging) and state is not None:
            limit = state.settings.max_upload_bytes
        if staging and state is not None:
            limit = max(limit, _declared_size(state, path[len(STAGING_PATH[0]) : -len(STAGING_PATH[1])]))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, f"The body is larger than {limit} bytes.")
            return
        await self.app(scope, _counting(receive, limit), send)


def _declared_size(state: Any, upload_id: str) -> int:
    """The size a valid upload id was issued for (checked against its own limit then: a file's
    BLU_MAX_UPLOAD_BYTES, a backup import's larger one; the staging takes exactly that many bytes);
    0 for an id that is not valid (the route refuses it)."""
    try:
        return int(state.transfers.tokens.read(unquote_to_bytes(upload_id).decode(), now=time.time()).size)
    except (LookupError, ValueError):  # unknown, expired or tampered; not UTF-8
        return 0


def _valid_query(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _counting(receive: Any, limit: int) -> Any:
    received = 0

    async def counted() -> dict[str, Any]:
        nonlocal received
        message: dict[str, Any] = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"The body is larger than {limit} bytes.")
        return message

    return counted


async def _refuse(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
