"""Refusals that cost nothing: other sites' writes, no cookie, big bodies; and errors that echo no input."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.support.server import PASSWORD, BluClient, BluServer

SESSION = "0123456789abcdef01234567"


def test_requests_without_the_cookie_are_refused_before_the_body_is_read(blu: BluServer) -> None:
    url = f"{blu.url}/api/sessions/{SESSION}/messages"
    assert httpx.post(url, content=b"{not json", headers={"content-type": "application/json"}).status_code == 401
    # 200 MB announced, 10 bytes sent: the answer comes without waiting for (or reading) the rest.
    assert raw_status(blu, f"/api/sessions/{SESSION}/messages", 200 * 1024 * 1024) == 401


def raw_status(blu: BluServer, path: str, declared: int, cookie: str = "") -> int:
    with socket.create_connection(("127.0.0.1", blu.port), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {declared}\r\n" + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n"
        sock.sendall(head.encode() + b"x" * 10)
        return int(sock.recv(4096).split(b" ", 2)[1])


def test_bodies_over_the_limit_are_refused_declared_or_streamed(api: BluClient, blu: BluServer) -> None:
    session = api.new_session()
    url = f"/api/sessions/{session}/messages"
    cookie = f"blu_session={api.http.cookies['blu_session']}"
    assert raw_status(blu, url, 50 * 1024 * 1024, cookie) == 413

    def chunks():  # type: ignore[no-untyped-def]  # no length: only the running count can stop it
        for _ in range(40):
            yield b" " * (64 * 1024)

    streamed = api.http.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert api.messages(session) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://127.0.0.1.evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site", "origin": "http://127.0.0.1"},
        {"origin": "https://evil.example", "forwarded": "for=1.2.3.4;host=blu.example;proto=https"},
    ],
)
def test_state_changing_requests_from_other_sites_are_refused(api: BluClient, headers: dict[str, str]) -> None:
    before = len(api.http.get("/api/sessions").json()["sessions"])
    response = api.http.post("/api/sessions", json={}, headers=headers)
    assert response.status_code == 403
    assert api.http.post("/api/login", json={"password": PASSWORD}, headers=headers).status_code == 403
    assert len(api.http.get("/api/sessions", headers=headers).json()["sessions"]) == before  # reads pass


def test_the_own_origin_passes(api: BluClient, blu: BluServer) -> None:
    own = {"origin": blu.url, "sec-fetch-site": "same-origin"}
    assert api.http.post("/api/sessions", json={}, headers=own).status_code == 201
    # Behind API Gateway the Host may be the backend's: Sec-Fetch-Site decides, or Forwarded's host.
    proxied = {"origin": "https://blu.example", "host": "blu.internal:8000"}
    fetch = {**proxied, "sec-fetch-site": "same-origin"}
    assert api.http.post("/api/sessions", json={}, headers=fetch).status_code == 201
    forwarded = {**proxied, "forwarded": "by=10.0.0.1;for=1.2.3.4;host=blu.example;proto=https"}
    assert api.http.post("/api/sessions", json={}, headers=forwarded).status_code == 201
    assert api.http.post("/api/sessions", json={}, headers=proxied).status_code == 403


def test_validation_errors_do_not_echo_input(blu: BluServer, api: BluClient) -> None:
    secret = "hunter2-" + "x" * 2000
    response = httpx.post(blu.url + "/api/login", json={"password": secret})
    assert response.status_code == 422 and "hunter2" not in response.text
    session = api.new_session()
    wrong = api.http.post(f"/api/sessions/{session}/messages", json={"text": "private words", "channel": "fax"})
    assert wrong.status_code == 422 and "private words" not in wrong.text and "fax" not in wrong.text


def test_lone_surrogates_are_refused_not_crashed_on(blu: BluServer, api: BluClient) -> None:
    raw = '{"password": "\\ud800"}'
    login = httpx.post(blu.url + "/api/login", content=raw, headers={"content-type": "application/json"})
    assert login.status_code == 422
    session = api.new_session()
    bodies = [
        ("POST", "/api/sessions", '{"name": "a\\udfffb"}'),
        ("PATCH", f"/api/sessions/{session}", '{"name": "\\ud800"}'),
        ("POST", f"/api/sessions/{session}/messages", '{"text": "hi \\ud83d"}'),
    ]
    for method, path, body in bodies:
        response = api.http.request(method, path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, response.status_code)
    assert api.messages(session) == []


def test_events_of_an_unknown_session_are_404_and_leave_nothing(api: BluClient) -> None:
    unknown = "f" * 24
    for _ in range(2):
        response = api.http.get(f"/api/sessions/{unknown}/events", params={"after": 0, "wait": 0})
        assert response.status_code == 404
    assert api.http.get(f"/api/sessions/{unknown}").status_code == 404
    assert json.loads(api.http.get("/api/stats").text)  # the server is fine


def test_the_openapi_schema_is_served_behind_the_login(blu: BluServer, api: BluClient) -> None:
    assert httpx.get(blu.url + "/api/openapi.json").status_code == 401
    schema = api.http.get("/api/openapi.json").json()
    upload = schema["paths"]["/api/files/content"]["put"]["responses"]
    assert {"201", "400", "401", "403", "413", "422"} <= set(upload)


class _Logins:
    """The one AppState method require_login calls: which tokens it was asked to verify."""

    def __init__(self, valid: str) -> None:
        self.valid, self.asked = valid, []  # type: ignore[var-annotated]

    async def cookie_is_valid(self, token: str | None) -> bool:
        self.asked.append(token)
        return token == self.valid


def test_the_route_trusts_only_the_token_the_guard_verified_in_this_request() -> None:
    import asyncio

    from fastapi import HTTPException
    from starlette.requests import Request

    from runtime.api.deps import require_login
    from runtime.api.guard import LOGIN_CHECKED

    def request(cookie: str, checked: str | None) -> Request:
        scope = {"type": "http", "headers": [(b"cookie", f"blu_session={cookie}".encode())]}
        if checked is not None:
            scope[LOGIN_CHECKED] = checked
        return Request(scope)

    logins = _Logins(valid="good")
    asyncio.run(require_login(request("good", checked="good"), logins))  # type: ignore[arg-type]
    assert logins.asked == []  # verified once, by the guard
    for checked in (None, "good"):  # no guard in front, or the guard verified another token: checked again
        with pytest.raises(HTTPException) as refused:
            asyncio.run(require_login(request("forged", checked=checked), logins))  # type: ignore[arg-type]
        assert refused.value.status_code == 401
    assert logins.asked == ["forged", "forged"]
