"""The launcher: plain functions with their clients, and the handler driven by API Gateway v2 events under moto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.auth import COOKIE_NAME, CookieSigner, LoginThrottle
from core.power import PowerLog
from lambdas.launcher import handler
from lambdas.launcher.app import LauncherDeps, service_status, shutdown_service, wake_service
from tests.lambdas.conftest import CLUSTER, PASSWORD, SERVICE, SESSION_SECRET, TABLE, Aws, NoEcs, RecordingEcs
from tests.lambdas.test_service_state import service, task

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeContext:
    function_name: str = "blu-launcher"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:blu-launcher"
    aws_request_id: str = "req-1"


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    cookies: list[str] | None = None,
    source_ip: str = "203.0.113.7",
    route_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the Lambda integration receives it."""
    return {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "cookies": cookies or [],
        "headers": {
            "host": "abc123.execute-api.eu-west-1.amazonaws.com",
            "content-type": "application/json",
            "x-forwarded-for": source_ip,
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": "22/Nov/2026:08:00:00 +0000",
            "timeEpoch": int(NOW * 1000),
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Run the handler as Lambda does: on a thread of its own, whose event loop is Mangum's to run (the
    test's thread may already run one, e.g. Playwright's once a browser test ran in the same session)."""
    with ThreadPoolExecutor(1, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())) as pool:
        response: dict[str, Any] = pool.submit(handler.lambda_handler, event, FakeContext()).result()  # type: ignore[arg-type]
    return response


def session_cookie(response: dict[str, Any]) -> str:
    cookies = [c for c in response.get("cookies", []) if c.startswith(f"{COOKIE_NAME}=")]
    assert len(cookies) == 1, response
    return cookies[0]


def logged_in() -> list[str]:
    token = CookieSigner(SESSION_SECRET, max_age_seconds=3600).issue()
    return [f"{COOKIE_NAME}={token}"]


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        '<!doctype html><title>Blu</title><script type="module" src="/assets/index-abc.js"></script>'
    )
    (root / "assets" / "index-abc.js").write_text("console.log('blu')")
    (root / "icons").mkdir()
    (root / "icons" / "icon-192.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "sw.js").write_text("self.addEventListener('push', () => {});")
    (root / "manifest.webmanifest").write_text('{"name": "Blu"}')
    (tmp_path / "secret.txt").write_text("outside")
    return root


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(aws: Aws, web_dir: Path, clock: Clock) -> Iterator[LauncherDeps]:
    value = LauncherDeps(
        ecs=aws.ecs,
        power=aws.power,
        store=aws.store,
        secrets=aws.secrets(),
        cluster=CLUSTER,
        service=SERVICE,
        clock=clock,
        web_dir=web_dir,
    )
    handler.use_deps(value)
    yield value
    handler.use_deps(None)


# ---- login and throttling -------------------------------------------------------------------------


def test_login_sets_the_runtimes_cookie(deps: LauncherDeps) -> None:
    response = invoke(http_event("POST", "/login", body={"password": PASSWORD}))
    assert response["statusCode"] == 204
    cookie = session_cookie(response)
    token = cookie.split(";")[0].split("=", 1)[1]
    # The runtime checks the cookie with the same signer and the same SESSION_SECRET.
    assert CookieSigner(SESSION_SECRET, max_age_seconds=3600).is_valid(token)
    attributes = cookie.lower()
    assert "httponly" in attributes and "secure" in attributes and "samesite=strict" in attributes


def test_wrong_passwords_are_throttled_in_the_shared_table(deps: LauncherDeps, aws: Aws, clock: Clock) -> None:
    wrong = http_event("POST", "/login", body={"password": "nope"}, source_ip="198.51.100.9")
    answers = [invoke(wrong) for _ in range(3)]
    assert [a["statusCode"] for a in answers] == [401, 401, 401]
    assert json.loads(answers[-1]["body"])["retry_after"] == 2
    # Locked: even the right password is refused, with the wait.
    locked = invoke(http_event("POST", "/login", body={"password": PASSWORD}, source_ip="198.51.100.9"))
    assert locked["statusCode"] == 429
    assert locked["headers"]["retry-after"] == "2"
    # The same throttle record the runtime reads (core/auth over the same table).
    assert LoginThrottle(aws.store, clock=clock).wait_seconds("198.51.100.9") == pytest.approx(2.0)
    # Another address is not affected; after the wait the right password works.
    assert invoke(http_event("POST", "/login", body={"password": PASSWORD}))["statusCode"] == 204
    clock.now += 3
    assert (
        invoke(http_event("POST", "/login", body={"password": PASSWORD}, source_ip="198.51.100.9"))["statusCode"] == 204
    )
    assert aws.store.get_throttle("198.51.100.9") is None


def test_login_without_a_configured_password_explains(deps: LauncherDeps, aws: Aws) -> None:
    aws.secretsmanager.put_secret_value(
        SecretId=aws.secret_arn, SecretString=json.dumps({"SESSION_SECRET": SESSION_SECRET})
    )
    deps.secrets = aws.secrets()
    response = invoke(http_event("POST", "/login", body={"password": PASSWORD}))
    assert response["statusCode"] == 503
    assert "password hash" in json.loads(response["body"])["detail"]


def test_logout_clears_the_cookie(deps: LauncherDeps) -> None:
    response = invoke(http_event("POST", "/logout"))
    assert response["statusCode"] == 204
    assert 'blu_session=""' in session_cookie(response) or "Max-Age=0" in session_cookie(response)


def test_logout_revokes_the_cookie_for_the_launcher_and_the_runtime(deps: LauncherDeps, aws: Aws) -> None:
    cookies = logged_in()
    assert invoke(http_event("GET", "/status", cookies=cookies))["statusCode"] == 200
    assert invoke(http_event("POST", "/logout"))["statusCode"] == 204  # no cookie: revokes nothing
    assert invoke(http_event("GET", "/status", cookies=cookies))["statusCode"] == 200
    assert invoke(http_event("POST", "/logout", cookies=cookies))["statusCode"] == 204
    assert invoke(http_event("GET", "/status", cookies=cookies))["statusCode"] == 401
    logged_out_at = aws.store.get_activity().logged_out_at  # what the runtime reads too
    token = cookies[0].split("=", 1)[1]
    assert not CookieSigner(SESSION_SECRET, max_age_seconds=3600).is_valid(token, not_before=logged_out_at)
    fresh = invoke(http_event("POST", "/login", body={"password": PASSWORD}))
    again = session_cookie(fresh).split(";")[0]
    assert invoke(http_event("GET", "/status", cookies=[again]))["statusCode"] == 200


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example"}, {"sec-fetch-site": "same-site"}])
def test_state_changing_requests_from_other_sites_are_refused(
    deps: LauncherDeps, aws: Aws, headers: dict[str, str]
) -> None:
    for method, path in (("POST", "/wake"), ("POST", "/login"), ("POST", "/logout")):
        event = http_event(method, path, cookies=logged_in(), body={"password": PASSWORD})
        event["headers"].update(headers)
        assert invoke(event)["statusCode"] == 403, path
    assert aws.desired_count() == 0
    event = http_event("GET", "/status", cookies=logged_in())
    event["headers"].update(headers)
    assert invoke(event)["statusCode"] == 200  # reads pass


# ---- wake, shutdown, status need the cookie ---------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("POST", "/wake"), ("POST", "/shutdown"), ("GET", "/status")])
@pytest.mark.parametrize("cookies", [None, [f"{COOKIE_NAME}=forged.token.value"], [f"{COOKIE_NAME}="]])
def test_refused_without_a_valid_cookie_and_ecs_is_never_called(
    deps: LauncherDeps, aws: Aws, method: str, path: str, cookies: list[str] | None
) -> None:
    deps.ecs = NoEcs()
    response = invoke(http_event(method, path, cookies=cookies))
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"detail": "Log in first."}
    assert aws.desired_count() == 0
    assert aws.power.recent() == []


def test_cookie_signed_with_another_secret_is_refused(deps: LauncherDeps, aws: Aws) -> None:
    deps.ecs = NoEcs()
    other = CookieSigner("another-secret-of-enough-length", max_age_seconds=3600).issue()
    assert invoke(http_event("POST", "/wake", cookies=[f"{COOKIE_NAME}={other}"]))["statusCode"] == 401


def test_wake_scales_to_one_and_is_idempotent(deps: LauncherDeps, aws: Aws) -> None:
    first = invoke(http_event("POST", "/wake", cookies=logged_in()))
    assert first["statusCode"] == 202
    assert json.loads(first["body"])["woken"] is True
    assert aws.desired_count() == 1
    second = invoke(http_event("POST", "/wake", cookies=logged_in()))
    assert second["statusCode"] == 200
    assert json.loads(second["body"])["woken"] is False
    assert aws.desired_count() == 1
    wakes = [e for e in aws.power.recent() if e.kind == "wake"]
    assert len(wakes) == 1 and wakes[0].reason == "user" and wakes[0].at == NOW
    # The woken service gets a full idle timeout.
    assert aws.store.get_activity().last_user_action_at == NOW


def test_shutdown_scales_to_zero_and_records_the_sleep(deps: LauncherDeps, aws: Aws, clock: Clock) -> None:
    invoke(http_event("POST", "/wake", cookies=logged_in()))
    clock.now += 600
    response = invoke(http_event("POST", "/shutdown", cookies=logged_in()))
    assert response["statusCode"] == 202
    assert aws.desired_count() == 0
    sleeps = [e for e in aws.power.recent() if e.kind == "sleep"]
    assert len(sleeps) == 1 and sleeps[0].reason == "user" and sleeps[0].duration_seconds == 600
    again = invoke(http_event("POST", "/shutdown", cookies=logged_in()))
    assert again["statusCode"] == 200 and json.loads(again["body"])["stopped"] is False


def test_status_under_moto(deps: LauncherDeps, aws: Aws, clock: Clock) -> None:
    asleep = invoke(http_event("GET", "/status", cookies=logged_in()))
    assert asleep["statusCode"] == 200
    assert asleep["headers"]["cache-control"] == "no-store"
    body = json.loads(asleep["body"])
    assert (body["status"], body["stage"], body["elapsed_seconds"]) == ("stopped", "Asleep", None)
    invoke(http_event("POST", "/wake", cookies=logged_in()))
    clock.now += 4
    body = json.loads(invoke(http_event("GET", "/status", cookies=logged_in()))["body"])
    # moto creates no task for the service: the wake is asked, ECS has not placed a task yet.
    assert (body["status"], body["stage"], body["desired"]) == ("starting", "Waking", 1)
    assert body["started_at"] == NOW and body["elapsed_seconds"] == 4
    assert body["stages"][0] == "Asleep" and body["stages"][-1] == "Ready"


def test_handler_builds_its_clients_from_the_environment(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "BLU_ECS_CLUSTER": CLUSTER,
        "BLU_ECS_SERVICE": SERVICE,
        "DYNAMODB_TABLE": TABLE,
        "BLU_SECRET_ARN": aws.secret_arn,
    }.items():
        monkeypatch.setenv(name, value)
    handler.use_deps(None)
    try:
        assert invoke(http_event("POST", "/wake"))["statusCode"] == 401
        assert aws.desired_count() == 0
        cookie = session_cookie(invoke(http_event("POST", "/login", body={"password": PASSWORD})))
        woken = invoke(http_event("POST", "/wake", cookies=[cookie.split(";")[0]]))
        assert woken["statusCode"] == 202
        assert aws.desired_count() == 1
    finally:
        handler.use_deps(None)


# ---- the page ---------------------------------------------------------------------------------------


def test_serves_the_page_and_its_assets(deps: LauncherDeps) -> None:
    page = invoke(http_event("GET", "/", route_key="GET /"))
    assert page["statusCode"] == 200
    assert "<title>Blu</title>" in page["body"]
    assert "frame-ancestors 'none'" in page["headers"]["content-security-policy"]
    asset = invoke(http_event("GET", "/assets/index-abc.js", route_key="GET /assets/{proxy+}"))
    assert asset["statusCode"] == 200 and "console.log" in asset["body"]
    assert "immutable" in asset["headers"]["cache-control"]
    for path in ("/assets/../secret.txt", "/assets/%2e%2e/secret.txt", "/assets/missing.js"):
        assert invoke(http_event("GET", path, route_key="GET /assets/{proxy+}"))["statusCode"] == 404


def test_serves_the_installable_app_without_a_login(deps: LauncherDeps) -> None:
    worker = invoke(http_event("GET", "/sw.js", route_key="GET /sw.js"))
    assert worker["statusCode"] == 200 and "push" in worker["body"]
    assert worker["headers"]["content-type"].startswith("text/javascript")
    assert worker["headers"]["cache-control"] == "no-cache"
    assert "default-src 'self'" in worker["headers"]["content-security-policy"]
    manifest = invoke(http_event("GET", "/manifest.webmanifest", route_key="GET /manifest.webmanifest"))
    assert manifest["statusCode"] == 200 and manifest["headers"]["content-type"] == "application/manifest+json"
    icon = invoke(http_event("GET", "/icons/icon-192.png", route_key="GET /icons/{proxy+}"))
    assert icon["statusCode"] == 200 and icon["headers"]["content-type"] == "image/png"
    for path in ("/icons/../../secret.txt", "/icons/%2e%2e/%2e%2e/secret.txt", "/icons/missing.png"):
        assert invoke(http_event("GET", path, route_key="GET /icons/{proxy+}"))["statusCode"] == 404


# ---- the plain functions, with recorded ECS answers ----------------------------------------------------


def test_status_reports_real_progress_and_records_the_wake_duration(aws: Aws) -> None:
    power = aws.power
    ecs = RecordingEcs(service(0))
    wake_service(ecs, power, aws.store, cluster=CLUSTER, service=SERVICE, now=NOW)
    ecs.service = service(1, pending=1)
    ecs.tasks = [task("PENDING")]
    body = service_status(ecs, power, cluster=CLUSTER, service=SERVICE, now=NOW + 20)
    assert (body["status"], body["stage"], body["elapsed_seconds"]) == ("starting", "Pending", 20)
    ecs.service = service(1, running=1)
    ecs.tasks = [task("RUNNING", health="HEALTHY")]
    body = service_status(ecs, power, cluster=CLUSTER, service=SERVICE, now=NOW + 48)
    assert (body["status"], body["stage"]) == ("running", "Ready")
    assert body["wake_durations"] == [48]
    assert body["expected_seconds"] == 48
    # Later polls do not move the recorded duration.
    body = service_status(ecs, power, cluster=CLUSTER, service=SERVICE, now=NOW + 300)
    assert body["wake_durations"] == [48]


def test_wake_plain_function_is_idempotent(aws: Aws) -> None:
    ecs = RecordingEcs(service(0))
    assert wake_service(ecs, aws.power, aws.store, cluster=CLUSTER, service=SERVICE, now=NOW)["woken"] is True
    assert wake_service(ecs, aws.power, aws.store, cluster=CLUSTER, service=SERVICE, now=NOW + 1)["woken"] is False
    assert [kw["desiredCount"] for name, kw in ecs.calls if name == "update_service"] == [1]


def test_shutdown_plain_function(aws: Aws) -> None:
    ecs = RecordingEcs(service(1, running=1), [task("RUNNING", health="HEALTHY")])
    assert shutdown_service(ecs, aws.power, cluster=CLUSTER, service=SERVICE, now=NOW)["stopped"] is True
    assert ecs.service["desiredCount"] == 0
    assert isinstance(aws.power, PowerLog)


def test_status_right_after_a_wake_never_says_asleep(aws: Aws) -> None:
    # DescribeServices is eventually consistent: just after UpdateService it may still read desired 0.
    ecs = RecordingEcs(service(0))
    wake_service(ecs, aws.power, aws.store, cluster=CLUSTER, service=SERVICE, now=NOW)
    ecs.service = service(0)
    body = service_status(ecs, aws.power, cluster=CLUSTER, service=SERVICE, now=NOW + 2)
    assert (body["status"], body["stage"], body["elapsed_seconds"]) == ("starting", "Waking", 2)
    # A wake long past that ECS never shows is not believed over ECS.
    body = service_status(ecs, aws.power, cluster=CLUSTER, service=SERVICE, now=NOW + 600)
    assert (body["status"], body["stage"]) == ("stopped", "Asleep")


@pytest.mark.parametrize("cookies", [None, [f"{COOKIE_NAME}=forged.token.value"]])
def test_login_state_logged_out_is_200_and_never_asks_ecs(deps: LauncherDeps, cookies: list[str] | None) -> None:
    deps.ecs = NoEcs()
    response = invoke(http_event("GET", "/login", cookies=cookies))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"logged_in": False, "launcher": True, "awake": None}
    assert response["headers"]["cache-control"] == "no-store"


def test_login_state_logged_in_says_whether_blu_is_awake(deps: LauncherDeps, aws: Aws) -> None:
    asleep = invoke(http_event("GET", "/login", cookies=logged_in()))
    assert json.loads(asleep["body"]) == {"logged_in": True, "launcher": True, "awake": False}
    deps.ecs = RecordingEcs(service(1, running=1), [task("RUNNING", health="HEALTHY")])
    awake = invoke(http_event("GET", "/login", cookies=logged_in()))
    assert json.loads(awake["body"]) == {"logged_in": True, "launcher": True, "awake": True}


def test_login_over_plain_http_off_localhost_says_why(deps: LauncherDeps) -> None:
    event = http_event("POST", "/login", body={"password": PASSWORD})
    event["headers"]["x-forwarded-proto"] = "http"
    response = invoke(event)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["reason"] == "insecure_origin"
    assert not response.get("cookies")
