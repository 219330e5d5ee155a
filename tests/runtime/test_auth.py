"""Login, the cookie, throttling, and every route refusing a request without the cookie."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from runtime.app import API_ROUTERS
from tests.support.server import PASSWORD, BluClient, BluServer

OPEN_ROUTES = {("GET", "/health"), ("GET", "/login"), ("POST", "/api/login"), ("POST", "/api/logout"), ("GET", "/")}


def app_routes() -> list[tuple[str, str]]:
    found = [("GET", "/")]
    for route in (route for router in API_ROUTERS for route in router.routes):
        for method in sorted(getattr(route, "methods", None) or []):
            if method in ("HEAD", "OPTIONS"):
                continue
            path = re.sub(r"\{session_id\}", "0123456789abcdef01234567", route.path)  # type: ignore[attr-defined]
            found.append((method, path))
    return found


def test_the_route_list_is_complete() -> None:
    paths = {path for _method, path in app_routes()}
    assert "/api/sessions/0123456789abcdef01234567/events" in paths
    assert "/api/files/content" in paths and "/api/stats" in paths


@pytest.mark.parametrize(("method", "path"), [r for r in app_routes() if r not in OPEN_ROUTES])
def test_every_route_refuses_without_the_cookie(blu: BluServer, method: str, path: str) -> None:
    response = httpx.request(method, blu.url + path, params={"path": "x", "after": 0, "wait": 0}, json={})
    assert response.status_code == 401, (method, path, response.status_code)


def test_a_forged_cookie_is_refused(blu: BluServer) -> None:
    client = blu.client()
    token = client.http.cookies["blu_session"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = httpx.get(blu.url + "/api/sessions", cookies={"blu_session": forged})
    assert response.status_code == 401


def test_login_sets_a_strict_httponly_cookie(blu: BluServer) -> None:
    response = httpx.post(blu.url + "/api/login", json={"password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert response.status_code == 204
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain-HTTP localhost only
    remote = httpx.post(
        blu.url + "/api/login",
        json={"password": PASSWORD},
        headers={"host": "blu.example.com", "x-forwarded-proto": "https"},
    )
    assert "secure" in remote.headers["set-cookie"].lower()
    logout = httpx.post(blu.url + "/api/logout", cookies=response.cookies)
    assert logout.status_code == 204 and "blu_session=" in logout.headers["set-cookie"]


def test_wrong_passwords_are_throttled_with_backoff(fresh_server: BluServer) -> None:
    fresh_server.start()
    url = fresh_server.url + "/api/login"
    codes = [httpx.post(url, json={"password": "nope"}).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    throttled = httpx.post(url, json={"password": PASSWORD})
    assert throttled.status_code == 429  # even the right password waits out the lock
    assert int(throttled.headers["retry-after"]) >= 1 and "Try again in" in throttled.json()["detail"]
    fresh_server.restart()
    time.sleep(2.1)  # the first lock (2 s) has passed; the count of failures has not
    again = httpx.post(url, json={"password": "still wrong"})
    assert again.status_code == 401 and again.json()["retry_after"] == 4  # kept in the store: backoff doubled
    assert httpx.post(url, json={}).status_code == 422


def test_a_local_run_without_a_hash_generates_a_password_once(fresh_server: BluServer) -> None:
    fresh_server.env.update({"AUTH_PASSWORD_HASH": "", "SESSION_SECRET": ""})
    fresh_server.start()
    printed = re.search(r"local password \(shown once, only its hash is kept\): (\S+)", fresh_server.log())
    assert printed
    password = printed.group(1)
    stored = (fresh_server.data_dir / "login.json").read_text()
    assert password not in stored and "$2b$" in stored
    fresh_server.restart()
    assert fresh_server.log().count("local password") == 1  # not again on the next start
    client = BluClient(httpx.Client(base_url=fresh_server.url))
    client.login(password)


@pytest.mark.parametrize(
    "headers",
    [
        {"host": "blu.lan:8000"},
        {"host": "192.168.1.20:8000"},
        {"host": "blu.lan", "forwarded": "for=1.2.3.4;proto=http"},
    ],
)
def test_a_login_over_plain_http_from_another_machine_says_why(blu: BluServer, headers: dict[str, str]) -> None:
    # The cookie is Secure off localhost, so the browser would drop it and loop back to the form silently.
    response = httpx.post(blu.url + "/api/login", json={"password": PASSWORD}, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert body["reason"] == "insecure_origin"
    assert "HTTPS" in body["detail"] and "localhost" in body["detail"]
    port = headers["host"].rpartition(":")[2] if ":" in headers["host"] else "80"
    local = port if int(port) >= 1024 else "8000"
    assert f"ssh -L {local}:localhost:{port} " in body["detail"], body["detail"]  # the port the page used
    assert "set-cookie" not in response.headers


def test_login_state_answers_200_logged_in_or_not(blu: BluServer) -> None:
    anonymous = httpx.get(blu.url + "/login")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"logged_in": False, "launcher": False, "awake": True}
    assert anonymous.headers["cache-control"] == "no-store"
    client = blu.client()
    assert client.http.get("/login").json() == {"logged_in": True, "launcher": False, "awake": True}


def test_logout_revokes_the_cookie_on_the_server(fresh_server: BluServer) -> None:
    fresh_server.start()
    first, second = fresh_server.client(), fresh_server.client()
    kept = first.http.cookies["blu_session"]
    assert httpx.post(fresh_server.url + "/api/logout").status_code == 204  # without a cookie: revokes nothing
    assert first.http.get("/api/sessions").status_code == 200
    assert first.http.post("/api/logout").status_code == 204
    for token in (kept, second.http.cookies["blu_session"]):  # every device's cookie from before
        assert httpx.get(fresh_server.url + "/api/sessions", cookies={"blu_session": token}).status_code == 401
    fresh_server.restart()  # kept in the store
    assert httpx.get(fresh_server.url + "/api/sessions", cookies={"blu_session": kept}).status_code == 401
    assert fresh_server.client().http.get("/api/sessions").status_code == 200  # a new login works
