"""An offline stand-in for the Anthropic Messages API that the real Claude Code CLI can talk to."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from runtime.standin.directives import Conversation, find_cwd, offered_tools
from runtime.standin.replies import Reply, plan_reply
from runtime.standin.serving import BackgroundServer

log = logging.getLogger(__name__)

SECRET_HEADERS = frozenset({"x-api-key", "authorization", "cookie", "proxy-authorization"})
ERROR_TYPES = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


@dataclass(frozen=True)
class StandinConfig:
    """How the stand-in behaves beyond what prompts script."""

    reject_key_marker: str = "invalid"  # an API key or token containing this gets a 401
    require_auth: bool = True  # no x-api-key / Bearer at all gets a 401, like the real API
    default_cwd: str | None = None  # for relative paths when a request names no working directory
    chunk_delay_s: float = 0.0  # pause between streamed chunks unless `[[slow]]` says otherwise
    max_log: int = 2000  # oldest requests are forgotten beyond this


@dataclass
class LoggedRequest:
    """One request as tests see it: no secrets, just what they assert on."""

    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    auth: str | None  # "x-api-key", "bearer" or None
    model: str | None = None
    stream: bool | None = None
    prompt: str | None = None
    tool_result: bool = False
    cwd: str | None = None
    tools: list[str] = field(default_factory=list)  # the tools offered, deferred ones included (by name)
    kind: str | None = None  # what the stand-in answered: echo, tool, tool_done, title, recall, error, ...
    status: int = 200
    outcome: str = "pending"  # ok, error, dropped, disconnected
    started: float = field(default_factory=time.time)
    usage: dict[str, int] | None = None  # the usage the answer reported
    body: dict[str, Any] | None = None

    def to_json(self, full: bool = False) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not full:
            data.pop("body")
        return data


class StandinState:
    """The request log and counters, shared by the app's event loop and the tests' thread."""

    def __init__(self, config: StandinConfig | None = None) -> None:
        self.config = config or StandinConfig()
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._seq = 0
        self._counts: Counter[str] = Counter()

    def record(self, request: Request) -> LoggedRequest:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SECRET_HEADERS}
        auth = "x-api-key" if request.headers.get("x-api-key") else None
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            auth = auth or "bearer"
        with self._lock:
            self._seq += 1
            entry = LoggedRequest(self._seq, request.method, request.url.path, request.url.query, headers, auth)
            self._log.append(entry)
            del self._log[: -self.config.max_log]
        return entry

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return [dataclasses.replace(entry) for entry in self._log]

    def seen(self, key: str) -> int:
        """How many times `key` was counted before (then counts this time)."""
        with self._lock:
            self._counts[key] += 1
            return self._counts[key] - 1

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._counts.clear()


def error_response(status: int, message: str | None = None) -> JSONResponse:
    """An error shaped like the real API's: `{"type": "error", "error": {"type", "message"}, ...}`."""
    kind, default = ERROR_TYPES.get(status, ("api_error", "Internal server error"))
    request_id = f"req_{uuid.uuid4().hex[:24]}"
    body = {"type": "error", "error": {"type": kind, "message": message or default}, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers={"request-id": request_id})


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _chunks(text: str, size: int) -> list[str]:
    """Text cut after whitespace, `size` words per chunk, so a stream has several deltas that join exactly."""
    words = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _content(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    if reply.tool:
        tool_id = f"toolu_{uuid.uuid4().hex[:24]}"
        blocks.append({"type": "tool_use", "id": tool_id, "name": reply.tool.name, "input": reply.tool.input})
    return blocks


def _usage(body: dict[str, Any], blocks: list[dict[str, Any]], reply: Reply | None = None) -> dict[str, int]:
    """Token counts derived from lengths (about four characters a token), so totals are nonzero and stable;
    cached input only as `[[usage]]` asks."""
    request_chars = len(json.dumps(body.get("messages", []))) + len(json.dumps(body.get("system", "")))
    return {
        "input_tokens": max(1, request_chars // 4),
        "cache_creation_input_tokens": reply.cache_write if reply else 0,
        "cache_read_input_tokens": reply.cache_read if reply else 0,
        "output_tokens": max(1, len(json.dumps(blocks)) // 4),
    }


class StreamDropped(Exception):
    """Raised mid-stream to cut the connection (`[[drop]]`): the socket closes without a final chunk."""


async def _stream(reply: Reply, body: dict[str, Any], entry: LoggedRequest, delay: float) -> AsyncIterator[bytes]:
    """The SSE events the CLI expects; `content_block_stop` matters (without it the result is empty)."""
    blocks = _content(reply)
    usage = _usage(body, blocks, reply)
    entry.usage = usage
    message = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "stand-in"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    sent = 0
    drop_after = 2
    try:
        yield _sse("message_start", {"type": "message_start", "message": message})
        yield _sse("ping", {"type": "ping"})
        await asyncio.sleep(reply.sleep_s)
        for index, block in enumerate(blocks):
            start: dict[str, Any]
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                deltas = [
                    {"type": "text_delta", "text": piece}
                    for piece in _chunks(block["text"], 1 if len(block["text"]) < 2000 else 20)
                ]
            else:
                start = {**block, "input": {}}
                raw = json.dumps(block["input"])
                cut = [0, len(raw) // 3, 2 * len(raw) // 3, len(raw)]
                deltas = [{"type": "input_json_delta", "partial_json": raw[a:b]} for a, b in itertools.pairwise(cut)]
            yield _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
            for delta in deltas:
                if reply.drop and sent >= drop_after:
                    entry.outcome = "dropped"
                    raise StreamDropped(f"request {entry.seq}: dropped after {sent} deltas")
                if delay:
                    await asyncio.sleep(delay)
                yield _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                sent += 1
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
        end = {"stop_reason": reply.stop_reason, "stop_sequence": None}
        yield _sse("message_delta", {"type": "message_delta", "delta": end, "usage": usage})
        yield _sse("message_stop", {"type": "message_stop"})
        entry.outcome = "ok"
    except (asyncio.CancelledError, GeneratorExit):
        entry.outcome = "disconnected"
        raise


def _authenticate(request: Request, config: StandinConfig) -> JSONResponse | None:
    key = request.headers.get("x-api-key") or ""
    bearer = request.headers.get("authorization", "")
    token = key or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
    if not token and config.require_auth:
        return error_response(401, "x-api-key header is required")
    if config.reject_key_marker and config.reject_key_marker in token:
        return error_response(401, "invalid x-api-key")
    return None


def _state(request: Request) -> StandinState:
    state: StandinState = request.app.state.standin
    return state


async def messages(request: Request) -> Response:
    """POST /v1/messages (the CLI adds `?beta=true`): streaming SSE, or JSON when `stream` is false."""
    state = _state(request)
    entry = state.record(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        entry.status, entry.outcome = 400, "error"
        return error_response(400, "Request body must be a JSON object")
    conversation = Conversation(body.get("messages", []))
    entry.body, entry.model, entry.stream = body, body.get("model"), bool(body.get("stream"))
    entry.prompt = conversation.prompt
    entry.tool_result = conversation.carries_tool_result
    entry.cwd = find_cwd(body)
    entry.tools = offered_tools(body)
    if (denied := _authenticate(request, state.config)) is not None:
        entry.status, entry.outcome, entry.kind = 401, "error", "auth"
        return denied
    reply = plan_reply(body, state.seen, state.config.default_cwd)
    entry.kind = reply.kind
    delay = reply.chunk_delay_s or state.config.chunk_delay_s
    if reply.error_status:
        await asyncio.sleep(reply.sleep_s)
        entry.status, entry.outcome = reply.error_status, "error"
        return error_response(reply.error_status)
    if entry.stream:
        headers = {"cache-control": "no-cache", "request-id": f"req_{uuid.uuid4().hex[:24]}"}
        return StreamingResponse(_stream(reply, body, entry, delay), media_type="text/event-stream", headers=headers)
    await asyncio.sleep(reply.sleep_s)  # a non-streaming answer comes whole; `[[drop]]` only affects streams
    blocks = _content(reply)
    entry.outcome, entry.usage = "ok", _usage(body, blocks, reply)
    return JSONResponse(
        {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "stand-in"),
            "content": blocks,
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": entry.usage,
        }
    )


async def count_tokens(request: Request) -> Response:
    """POST /v1/messages/count_tokens: the same length-based estimate the answers report."""
    state = _state(request)
    entry = state.record(request)
    if (denied := _authenticate(request, state.config)) is not None:
        entry.status, entry.outcome = 401, "error"
        return denied
    body = await request.json()
    entry.body, entry.model, entry.outcome = body, body.get("model"), "ok"
    return JSONResponse({"input_tokens": _usage(body, [])["input_tokens"]})


async def list_requests(request: Request) -> Response:
    """GET /_standin/requests[?full=1]: the request log, for clients in other processes."""
    full = request.query_params.get("full") in ("1", "true")
    return JSONResponse({"requests": [entry.to_json(full) for entry in _state(request).requests()]})


async def reset(request: Request) -> Response:
    _state(request).reset()
    return JSONResponse({"ok": True})


async def unknown(request: Request) -> Response:
    """Anything else is logged (to learn what the CLI calls) and answered 404 like the real API."""
    entry = _state(request).record(request)
    entry.status, entry.outcome = 404, "error"
    log.warning("stand-in: unknown path %s %s", request.method, request.url.path)
    return error_response(404, f"Not found: {request.method} {request.url.path}")


def create_app(config: StandinConfig | None = None, state: StandinState | None = None) -> Starlette:
    """The ASGI app; pass `state` to share the request log with the code that started the server."""
    app = Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/_standin/requests", list_requests, methods=["GET"]),
            Route("/_standin/reset", reset, methods=["POST"]),
            Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
        ]
    )
    app.state.standin = state or StandinState(config)
    return app


class _QuietDrops(logging.Filter):
    """Hides uvicorn's traceback for a deliberate `[[drop]]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], StreamDropped))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class StandinServer(BackgroundServer):
    """The stand-in served by uvicorn in a background thread on an ephemeral port (for tests).

    `with StandinServer() as model: ...` then point the CLI at `model.url`; `model.requests` is the log.
    """

    def __init__(self, config: StandinConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = StandinState(config)
        super().__init__(create_app(state=self.state), name="standin", host=host, port=port)

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.state.requests()

    def messages_requests(self) -> list[LoggedRequest]:
        """Only the POST /v1/messages calls (what the model answered)."""
        return [r for r in self.requests if r.path == "/v1/messages"]

    def reset(self) -> None:
        self.state.reset()


app = create_app()
"""The importable app (`uvicorn runtime.standin.messages_api:app`), with the default config."""
