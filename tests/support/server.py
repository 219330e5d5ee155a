"""Runs the real Blu server (`python -m runtime`) in a subprocess and talks to it like a browser would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.auth import hash_password

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD, rounds=4)
SESSION_SECRET = "test-session-secret-0123456789abcdef"
TERMINAL = ("complete", "interrupted", "error")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BluServer:
    """One Blu process on a data directory; `restart()` keeps the data, as a redeploy or crash would."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    served: bool = field(default=False, init=False)  # answered once: a restart keeps its address

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30, *, tries: int = 3) -> BluServer:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ANTHROPIC_", "CLAUDE_", "BLU_", "AUTH_", "SESSION_"))
        }
        env.update(
            {
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "BLU_DATA_DIR": str(self.data_dir),
                "AUTH_PASSWORD_HASH": PASSWORD_HASH,
                "SESSION_SECRET": SESSION_SECRET,
                "BLU_TITLE_MODE": "words",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        logged = log.tell()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if not self.served and tries > 1 and b"address already in use" in self.log_path.read_bytes()[logged:]:
                    # free_port's port was taken meanwhile (any connection may get it as its own): another one.
                    self.port = free_port()
                    return self.start(timeout, tries=tries - 1)
                raise RuntimeError(f"Blu exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    self.served = True
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"Blu did not start: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def restart(self, sig: int = signal.SIGTERM) -> BluServer:
        self.stop(sig)
        return self.start()

    def client(self, *, login: bool = True) -> BluClient:
        client = BluClient(httpx.Client(base_url=self.url, timeout=40))
        if login:
            client.login()
        return client


class BluClient:
    """The HTTP API as the contract names it, plus helpers to follow a session's event stream."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.cursors: dict[str, int] = {}

    def login(self, password: str = PASSWORD) -> httpx.Response:
        response = self.http.post("/api/login", json={"password": password})
        assert response.status_code == 204, response.text
        return response

    def new_session(self) -> str:
        response = self.http.post("/api/sessions")
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def send(self, session_id: str, text: str, *, channel: str = "text", **headers: str) -> dict[str, Any]:
        response = self.http.post(
            f"/api/sessions/{session_id}/messages", json={"text": text, "channel": channel}, headers=headers
        )
        assert response.status_code == 202, response.text
        return dict(response.json())

    def read(self, session_id: str, *, wait: float = 10) -> dict[str, Any]:
        after = self.cursors.get(session_id, 0)
        response = self.http.get(f"/api/sessions/{session_id}/events", params={"after": after, "wait": wait})
        assert response.status_code == 200, response.text
        body = dict(response.json())
        self.cursors[session_id] = body["next"]
        return body

    def events_until(self, session_id: str, turn_id: str, *, timeout: float = 60) -> list[dict[str, Any]]:
        """Every event up to and including the turn's final status."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.read(session_id)["events"]:
                seen.append(event)
                data = event["data"]
                if event["type"] == "turn.status" and data["turn_id"] == turn_id and data["status"] in TERMINAL:
                    # Events after it in the same page (memory.changed, the next turn's) are left for the next
                    # read: the cursor goes back to just after the final status.
                    self.cursors[session_id] = event["seq"]
                    return seen
        raise AssertionError(f"turn {turn_id} did not finish; saw {[e['type'] for e in seen]}")

    def turn(self, session_id: str, text: str, **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send and follow to the end; returns (final turn.status data, all events)."""
        accepted = self.send(session_id, text, **kwargs)
        events = self.events_until(session_id, accepted["turn_id"])
        return events[-1]["data"], events

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/api/sessions/{session_id}/messages", params={"limit": 200})
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])


def assert_totals_are_sums(api: BluClient, session_id: str) -> None:
    """A session's counters are the sums over its messages (one accounting for every kind of turn)."""
    session = api.http.get(f"/api/sessions/{session_id}").json()
    messages = api.messages(session_id)
    assert session["message_count"] == len(messages)
    for key in ("input_tokens", "output_tokens"):
        assert session[key] == sum(m[key] for m in messages), key
    assert abs(session["cost_usd"] - sum(m["cost_usd"] for m in messages)) < 1e-9


def running_server(data_dir: Path, **env: str) -> Iterator[BluServer]:
    server = BluServer(data_dir, env=env).start()
    try:
        yield server
    finally:
        server.stop()
