"""ASGI middleware: a request id in every log line of a request, and failed requests counted as errors."""

from __future__ import annotations

from typing import Any

from core.observability.logs import new_request_id, request_id_var
from core.observability.metrics import record_error


class RequestContextMiddleware:
    """Pure ASGI (no response buffering): long-polls and file downloads stream through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = request_id_var.set(new_request_id(scope.get("headers") or ()))
        try:
            await self.app(scope, receive, send)
        except Exception:
            record_error(kind="http")  # uvicorn logs the traceback (scrubbed) and answers 500
            raise
        finally:
            request_id_var.reset(token)
