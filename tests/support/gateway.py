"""A local HTTP API in front of Blu, routed as stacks/api.py routes API Gateway: the launcher routes invoke
the launcher Lambda's handler with a payload 2.0 event, and `$default` goes to the task (when one is
registered) with the headers an HTTP API adds (`Forwarded`, `Via`), from its own "VPC link" address."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from stacks.routes import LAUNCHER_ROUTES

# The address the task sees requests come from (the VPC link's network interface in AWS).
VPC_LINK_ADDRESS = "127.0.0.2"
INTEGRATION_TIMEOUT_SECONDS = 29
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
}
TEXT_TYPES = re.compile(r"^(text/|application/(json|javascript|xml|x-www-form-urlencoded))")
LAMBDA_ENVIRONMENTS = 4


def route_key(method: str, path: str) -> str | None:
    """The launcher route a request matches (as API Gateway matches them), or None for `$default`."""
    for pattern, route_method in LAUNCHER_ROUTES:
        if route_method != method:
            continue
        if pattern.endswith("/{proxy+}"):
            prefix = pattern.removesuffix("{proxy+}")
            if path.startswith(prefix) and len(path) > len(prefix):
                return f"{method} {pattern}"
        elif path == pattern:
            return f"{method} {pattern}"
    return None


@dataclass
class LambdaContext:
    aws_request_id: str
    function_name: str = "blu-launcher"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:blu-launcher"
    log_group_name: str = "/aws/lambda/blu-launcher"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


@dataclass
class LocalGateway:
    lambda_handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    upstream: Callable[[], str | None]  # the task's address, None while no task is registered
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, route key or $default)
    # The latest answers, for a failed test's report: (time, method, path, route, status, body's start).
    answers: deque[tuple[float, str, str, str, int, str]] = field(default_factory=lambda: deque(maxlen=300))

    def __post_init__(self) -> None:
        # Each Lambda execution environment handles one event at a time with its own event loop (Mangum
        # runs the app on the thread's loop).
        self._lambda = ThreadPoolExecutor(
            LAMBDA_ENVIRONMENTS, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
        )
        self._vpc_link = httpx.Client(
            transport=httpx.HTTPTransport(local_address=VPC_LINK_ADDRESS),
            timeout=INTEGRATION_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LocalGateway:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._lambda.shutdown(wait=False, cancel_futures=True)
        self._vpc_link.close()

    def report(self) -> str:
        """The latest answers, oldest first, and the latest launcher `/status` body in full."""
        lines = [
            f"{at:.3f} {method} {path} [{route}] → {status} {body}"
            for at, method, path, route, status, body in self.answers
        ]
        statuses = [body for _, _, path, _, status, body in self.answers if path == "/status" and status == 200]
        return "\n".join(["# latest answers", *lines, "# last /status", statuses[-1] if statuses else "(none)"])

    def invoke_launcher(
        self, route: str, method: str, target: str, headers: list[tuple[str, str]], body: bytes, client: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path, _, query = target.partition("?")
        lowered: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in headers:
            if name.lower() == "cookie":
                cookies.extend(part.strip() for part in value.split(";") if part.strip())
            else:
                lowered[name.lower()] = f"{lowered[name.lower()]},{value}" if name.lower() in lowered else value
        is_text = not body or bool(TEXT_TYPES.match(lowered.get("content-type", "")))
        now = time.time()
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route,
            "rawPath": path,
            "rawQueryString": query,
            # As for Lambda integrations: the client's X-Forwarded-For with the source address appended.
            "headers": {
                **lowered,
                "x-forwarded-for": ", ".join(filter(None, (lowered.get("x-forwarded-for"), client))),
                "x-forwarded-proto": "http",
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": lowered.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": client,
                    "userAgent": lowered.get("user-agent", ""),
                },
                "requestId": uuid.uuid4().hex,
                "routeKey": route,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": body.decode() if is_text else base64.b64encode(body).decode(),
            "isBase64Encoded": not is_text,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = {k: v for k, _, v in (p.partition("=") for p in query.split("&"))}
        result = self._lambda.submit(self.lambda_handler, event, LambdaContext(aws_request_id=uuid.uuid4().hex))
        response = result.result(timeout=30)
        raw = response.get("body") or ""
        data = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        out = [(k, v) for k, v in (response.get("headers") or {}).items()]
        out += [("Set-Cookie", cookie) for cookie in response.get("cookies") or []]
        return int(response["statusCode"]), out, data

    def to_task(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, client: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = self.upstream()
        unavailable = (503, [("Content-Type", "application/json")], b'{"message":"Service Unavailable"}')
        if upstream is None:
            return unavailable
        host = next((v for k, v in headers if k.lower() == "host"), "")
        forwarded = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        forwarded += [
            ("Forwarded", f"by={VPC_LINK_ADDRESS};for={client};host={host};proto=http"),
            ("Via", "HTTP/1.1 AmazonAPIGateway"),
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"),
        ]
        try:
            response = self._vpc_link.request(method, upstream + target, headers=forwarded, content=body)
        except httpx.TimeoutException:
            return 504, [("Content-Type", "application/json")], b'{"message":"Service Unavailable"}'
        except httpx.HTTPError:
            return unavailable
        out = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        return response.status_code, out, response.content


def _handler(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = list(self.headers.items())
            path = self.path.split("?", 1)[0]
            route = route_key(self.command, path)
            gateway.requests.append((self.command, path, route or "$default"))
            client = self.client_address[0]
            if route is not None:
                status, out, data = gateway.invoke_launcher(route, self.command, self.path, headers, body, client)
            else:
                status, out, data = gateway.to_task(self.command, self.path, headers, body, client)
            shown = (
                data[:2000].decode(errors="replace")
                if path in ("/status", "/wake", "/login")
                else data[:120].decode(errors="replace")
            )
            gateway.answers.append((time.time(), self.command, path, route or "$default", status, shown))
            self.send_response(status)
            for name, value in out:
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Apigw-Requestid", uuid.uuid4().hex[:16])
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    return Handler
