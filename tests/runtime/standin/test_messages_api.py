"""The stand-in's HTTP wire protocol, checked with a plain HTTP client (fast, no CLI)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.standin import StandinConfig, StandinServer
from runtime.standin.messages_api import app as module_app
from tests.runtime.standin.conftest import wait_until

HEADERS = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}
ENV = {"role": "system", "content": [{"type": "text", "text": "Primary working directory: /srv/work"}]}


def body(prompt: str, stream: bool = True, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": [{"type": "text", "text": prompt}]}, ENV]
    return {"model": "claude-test", "max_tokens": 100, "stream": stream, "messages": messages, **extra}


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.fixture
def http(standin: StandinServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url, timeout=10) as client:
        yield client


def test_text_streams_as_sse_in_the_order_the_cli_needs(http: httpx.Client, standin: StandinServer) -> None:
    response = http.post("/v1/messages?beta=true", json=body("hello there"), headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    deltas = [data["delta"]["text"] for name, data in events if name == "content_block_delta"]
    assert len(deltas) == 3 and "".join(deltas) == "Echo: hello there"
    start, end = events[0][1], events[-2][1]
    assert start["message"]["usage"]["input_tokens"] > 0 and start["message"]["model"] == "claude-test"
    assert end["delta"]["stop_reason"] == "end_turn" and end["usage"]["output_tokens"] > 0
    (entry,) = standin.requests
    assert (entry.path, entry.query, entry.prompt, entry.kind, entry.outcome) == (
        "/v1/messages",
        "beta=true",
        "hello there",
        "echo",
        "ok",
    )
    assert entry.auth == "x-api-key" and "x-api-key" not in entry.headers and entry.cwd == "/srv/work"


def test_tool_use_streams_input_json_deltas(http: httpx.Client) -> None:
    response = http.post("/v1/messages", json=body('[[write path=a.txt content="x y"]]'), headers=HEADERS)
    events = sse_events(response.text)
    starts = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert [block["type"] for block in starts] == ["text", "tool_use"]
    assert starts[1]["name"] == "Write" and starts[1]["input"] == {} and starts[1]["id"].startswith("toolu_")
    partial = "".join(
        d["delta"]["partial_json"] for n, d in events if d.get("delta", {}).get("type") == "input_json_delta"
    )
    assert json.loads(partial) == {"file_path": "/srv/work/a.txt", "content": "x y"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_non_streaming_answer_is_one_json_message(http: httpx.Client) -> None:
    data = http.post("/v1/messages", json=body("hi", stream=False), headers=HEADERS).json()
    assert data["type"] == "message" and data["role"] == "assistant" and data["stop_reason"] == "end_turn"
    assert data["content"] == [{"type": "text", "text": "Echo: hi"}]
    assert set(data["usage"]) >= {"input_tokens", "output_tokens"}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "x-api-key header is required"),
        ({"x-api-key": "sk-invalid-key"}, "invalid x-api-key"),
        ({"authorization": "Bearer invalid-token"}, "invalid x-api-key"),
    ],
)
def test_auth_failures_are_real_shaped_401s(http: httpx.Client, headers: dict[str, str], message: str) -> None:
    response = http.post("/v1/messages", json=body("hi"), headers=headers)
    assert response.status_code == 401
    data = response.json()
    assert data["type"] == "error" and data["error"] == {"type": "authentication_error", "message": message}
    assert data["request_id"] == response.headers["request-id"]


def test_bearer_token_is_accepted(http: httpx.Client, standin: StandinServer) -> None:
    assert http.post("/v1/messages", json=body("hi"), headers={"authorization": "Bearer tok"}).status_code == 200
    assert standin.requests[0].auth == "bearer"


def test_custom_reject_marker() -> None:
    with StandinServer(StandinConfig(reject_key_marker="revoked")) as server:
        ok = httpx.post(f"{server.url}/v1/messages", json=body("hi"), headers={"x-api-key": "sk-invalid"})
        bad = httpx.post(f"{server.url}/v1/messages", json=body("hi"), headers={"x-api-key": "sk-revoked"})
    assert (ok.status_code, bad.status_code) == (200, 401)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(529, "overloaded_error"), (500, "api_error"), (401, "authentication_error"), (429, "rate_limit_error")],
)
def test_error_directive(http: httpx.Client, status: int, kind: str) -> None:
    response = http.post("/v1/messages", json=body(f"[[error status={status}]]"), headers=HEADERS)
    assert response.status_code == status and response.json()["error"]["type"] == kind


def test_drop_cuts_the_stream_after_a_few_chunks(http: httpx.Client, standin: StandinServer) -> None:
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", "/v1/messages", json=body("one two three four five [[drop]]"), headers=HEADERS) as response,
    ):
        for line in response.iter_lines():
            received.append(line)
    assert "event: content_block_delta" in received and "event: message_stop" not in received
    assert standin.requests[0].outcome == "dropped"
    # The CLI's fallback after a failed stream is a non-streaming request: that one is answered whole.
    again = http.post("/v1/messages", json=body("one two three four five [[drop]]", stream=False), headers=HEADERS)
    assert again.json()["content"][0]["text"].startswith("Echo: one two")


def test_slow_spaces_chunks_and_sleep_notices_a_client_that_leaves(http: httpx.Client, standin: StandinServer) -> None:
    started = time.monotonic()
    http.post("/v1/messages", json=body("a b c d [[slow ms=50]]"), headers=HEADERS)
    assert time.monotonic() - started >= 0.2  # several deltas, 50 ms apart
    with http.stream("POST", "/v1/messages", json=body("[[sleep s=20]]"), headers=HEADERS) as response:
        assert next(response.iter_lines()) == "event: message_start"
    assert wait_until(lambda: standin.requests[-1].outcome == "disconnected")


def test_count_tokens_unknown_paths_and_the_log_endpoints(http: httpx.Client) -> None:
    counted = http.post("/v1/messages/count_tokens", json=body("hi"), headers=HEADERS).json()
    assert counted["input_tokens"] > 0
    missing = http.get("/v1/models", headers=HEADERS)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    log = http.get("/_standin/requests").json()["requests"]
    assert [(r["path"], r["status"]) for r in log] == [("/v1/messages/count_tokens", 200), ("/v1/models", 404)]
    assert "body" not in log[0] and http.get("/_standin/requests?full=1").json()["requests"][0]["body"]
    assert http.post("/_standin/reset").json() == {"ok": True}
    assert http.get("/_standin/requests").json() == {"requests": []}


def test_module_app_is_importable_for_uvicorn() -> None:
    assert module_app.state.standin.requests() == []


def test_runs_as_a_module_on_a_given_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "runtime.standin", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=body("hi", False), headers=HEADERS)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert response.json()["content"][0]["text"] == "Echo: hi"
    finally:
        process.terminate()
        process.wait(timeout=10)
