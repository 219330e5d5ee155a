"""A tiny stand-in of the launcher Lambda for the waking overlay's test: it serves the built page (with
the runtime's security headers) and a service that goes asleep → starting → running, as a real HTTP server."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from runtime.api.web import SECURITY_HEADERS

PASSWORD = "launcher password"
COOKIE = "blu_session=launcher-ok"
STAGES = ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"]
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@dataclass
class FakeService:
    woken_at: float | None = None
    polls_since_wake: int = 0
    running: bool = False
    wake_calls: list[int] = field(default_factory=list)  # the status each /wake answered
    statuses: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self) -> dict[str, Any]:
        with self.lock:
            if self.woken_at is None:
                body: dict[str, Any] = {"status": "stopped", "stage": None, "started_at": None, "elapsed_seconds": None}
            else:
                self.polls_since_wake += 1
                elapsed = round(time.time() - self.woken_at, 1)
                stage = {1: "PROVISIONING"}.get(self.polls_since_wake, "RUNNING")
                self.running = stage == "RUNNING"
                body = {
                    "status": "running" if self.running else "starting",
                    "stage": stage,
                    "stages": STAGES,
                    "started_at": self.woken_at,
                    "elapsed_seconds": elapsed,
                }
            self.statuses.append(body["status"])
            return body


def make_handler(dist: Path, service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any, **headers: str) -> None:
            self._send(status, json.dumps(data).encode(), **headers)

        def _logged_in(self) -> bool:
            return COOKIE in (self.headers.get("Cookie") or "")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._send(200, (dist / "index.html").read_bytes(), TYPES[".html"], **SECURITY_HEADERS)
            elif path.startswith("/assets/") and ".." not in path:
                file = dist / path.lstrip("/")
                if not file.is_file():
                    return self._json(404, {"detail": "Not Found"})
                self._send(200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"))
            elif path == "/status":
                self._json(200, service.status())
            elif path == "/health":
                # Routed to the container: unavailable until the task runs.
                if service.running:
                    self._json(200, {"status": "ok"})
                else:
                    self._json(503, {"message": "Service Unavailable"})
            elif path == "/api/config":
                if not service.running:
                    return self._json(503, {"message": "Service Unavailable"})
                self._json(
                    200, {"model": "standin", "model_notice": "Stand-in model (fake launcher test).", "store": "local"}
                )
            elif path == "/api/sessions":
                self._json(200, {"sessions": [], "next": None})
            else:
                self._json(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path == "/login":
                password = json.loads(raw or b"{}").get("password")
                if password != PASSWORD:
                    return self._json(401, {"detail": "Wrong password.", "retry_after": 0})
                self._send(204, b"", Set_Cookie=f"{COOKIE}; HttpOnly; SameSite=Strict; Path=/")
            elif path == "/wake":
                if not self._logged_in():
                    service.wake_calls.append(401)
                    return self._json(401, {"detail": "Log in first."})
                with service.lock:
                    if service.woken_at is None:
                        service.woken_at = time.time()
                service.wake_calls.append(202)
                self._json(202, {"status": "starting"})
            else:
                self._json(404, {"detail": "Not Found"})

    return Handler


class FakeLauncher:
    def __init__(self, dist: Path) -> None:
        self.service = FakeService()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(dist, self.service))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeLauncher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
