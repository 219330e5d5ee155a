"""The wake flow end to end in Chromium: the real launcher Lambda behind a local HTTP API routed like API
Gateway's, an ECS stand-in whose task is the real runtime, DynamoDB from moto's server. Log in on the
launcher's page, watch the overlay follow the task's real stages, land in the chat, and put Blu to sleep.

The tests drive the stand-in's stages (hold a task before a stage, release it once the page showed the
previous one), so what they assert never depends on how fast the runtime starts compared with a poll."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.server import PASSWORD
from tests.web.conftest import (
    PHONE,
    Console,
    ContextFactory,
    Diagnostics,
    assert_no_horizontal_overflow,
    login_context,
    screenshot,
)
from tests.web.helpers import send, wait_last_assistant
from tests.web.wake_stack import WakeStack, wake_stack

pytestmark = pytest.mark.browser
STARTING_STAGES = ("Provisioning", "Pending", "Activating", "Running")
WAIT_MS = 90_000  # generous: a runtime's start on a busy machine


@pytest.fixture(scope="module")
def stack(browser: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WakeStack]:
    with wake_stack(tmp_path_factory.mktemp("wake")) as running:
        yield running


@pytest.fixture
def asleep(stack: WakeStack, diagnostics: Diagnostics) -> Iterator[WakeStack]:
    stack.watch(diagnostics)
    stack.put_to_sleep()
    stack.ecs.calls.clear()
    yield stack
    stack.ecs.release_all()


@pytest.fixture
def awake(stack: WakeStack, diagnostics: Diagnostics) -> Iterator[WakeStack]:
    stack.watch(diagnostics)
    stack.wake()
    yield stack
    stack.ecs.release_all()


def wait_stage(page: Any, stage: str) -> None:
    page.wait_for_function(
        "(stage) => document.querySelector('[data-testid=wake-stage]')?.textContent === stage",
        arg=stage,
        timeout=WAIT_MS,
    )


def allow_asleep_errors(console: Console) -> None:
    # While asleep the task's routes answer 503 through the gateway, and the launcher 401 until login.
    console.allow(r"status of 503 .*/(api/\S*|health)")
    console.allow(r"status of 401 .*/(status|wake)")


def status_stages(page: Any) -> list[str]:
    """Every stage the launcher's /status reported to this page, in order."""
    seen: list[str] = []

    def on_response(response: Any) -> None:
        if response.url.endswith("/status") and response.status == 200:
            stage = response.json().get("stage")
            if not seen or seen[-1] != stage:
                seen.append(stage)

    page.on("response", on_response)
    return seen


def test_unauthenticated_wake_never_reaches_ecs(asleep: WakeStack, new_context: ContextFactory) -> None:
    request = new_context().request
    for headers in ({}, {"Cookie": "blu_session=forged.value"}):
        for method, path in (("post", "/wake"), ("get", "/status"), ("post", "/shutdown")):
            response = getattr(request, method)(asleep.url + path, headers=headers)
            assert response.status == 401, (path, response.text())
            assert response.json() == {"detail": "Log in first."}
    assert asleep.ecs.calls == []  # not even a DescribeServices


def test_login_wakes_blu_and_lands_in_the_chat(
    asleep: WakeStack, new_context: ContextFactory, console: Console
) -> None:
    # A normal visit to a sleeping Blu logs no console error: nothing asks the sleeping runtime or a
    # route that needs the login before the page knows (GET /login, then /status until running).
    asleep.ecs.hold("PENDING", "ACTIVATING", "RUNNING", "HEALTHY")
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    stages = status_stages(page)
    page.goto(asleep.url + "/")

    overlay = page.locator("#wake-overlay")
    page.wait_for_selector("html[data-ready=login]")
    assert page.get_by_role("heading", name="Log in to Blu").is_visible()
    assert asleep.ecs.calls == []  # nothing reaches ECS before the login
    assert_no_horizontal_overflow(page, "login at the launcher")
    screenshot(page, "phone-waking-login")

    page.fill("#login-password", PASSWORD)
    page.press("#login-password", "Enter")
    # The task is held before each next stage until the page has shown the current one.
    for shown, next_stage in zip(STARTING_STAGES, ("PENDING", "ACTIVATING", "RUNNING", "HEALTHY"), strict=True):
        wait_stage(page, shown)
        assert overlay.get_by_role("heading", name="Waking Blu…").is_visible()
        assert overlay.locator(".wake__steps li[aria-current=step]").inner_text() == shown
        if shown == "Provisioning":
            assert re.fullmatch(r"\d+ s", overlay.get_by_test_id("wake-elapsed").inner_text())
            steps = overlay.locator(".wake__steps li")
            assert steps.all_inner_texts() == ["Asleep", "Waking", *STARTING_STAGES, "Ready"]
            assert_no_horizontal_overflow(page, "waking overlay, starting")
            screenshot(page, "phone-waking-progress")
            # Between polls the elapsed time keeps counting from the launcher's figure.
            elapsed = overlay.get_by_test_id("wake-elapsed")
            first = int(elapsed.inner_text().split()[0])
            page.wait_for_function(
                "([e, n]) => parseInt(e.textContent) > n", arg=[elapsed.element_handle(), first], timeout=WAIT_MS
            )
        asleep.ecs.release(next_stage)

    # Ready: the overlay goes away and the real chat (the runtime, through the gateway's $default) takes over.
    overlay.wait_for(state="hidden", timeout=WAIT_MS)
    page.wait_for_selector("html[data-ready=app]")
    assert "stand-in" in page.get_by_test_id("model-notice").inner_text().lower()
    send(page, "Hello from a woken Blu")
    wait_last_assistant(page, "complete")
    screenshot(page, "phone-woken-chat")

    # What /status said, in order: asleep before the wake, then every stage, never "Asleep" once woken.
    assert stages[: 1 + len(STARTING_STAGES)] == ["Asleep", *STARTING_STAGES], stages
    assert stages[1 + len(STARTING_STAGES) :] in ([], ["Ready"]), stages
    task = asleep.ecs.tasks[-1]
    assert task.history == ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"]
    assert task.health == "HEALTHY"
    assert len(asleep.ecs.calls_to("UpdateService")) == 1
    wake = next(e for e in asleep.power.recent() if e.kind == "wake")
    assert wake.reason == "user"


def test_a_start_faster_than_a_poll_still_lands_in_the_chat(
    asleep: WakeStack, new_context: ContextFactory, console: Console
) -> None:
    allow_asleep_errors(console)
    # A runtime already up and no time spent in any stage: healthy well within the page's first poll.
    asleep.ecs.provide_container(asleep.start_runtime())
    stage_seconds = asleep.ecs.stage_seconds
    asleep.ecs.stage_seconds = 0
    try:
        page = new_context().new_page()
        page.goto(asleep.url + "/")
        page.wait_for_selector("html[data-ready=login]")
        page.fill("#login-password", PASSWORD)
        page.press("#login-password", "Enter")
        page.locator("#wake-overlay").wait_for(state="hidden", timeout=WAIT_MS)
        page.wait_for_selector("html[data-ready=app]")
        send(page, "Hello after a quick start")
        wait_last_assistant(page, "complete")
    finally:
        asleep.ecs.stage_seconds = stage_seconds
    assert asleep.ecs.tasks[-1].health == "HEALTHY"
    assert len(asleep.ecs.calls_to("UpdateService")) == 1


def test_an_open_tab_never_wakes_blu_after_an_idle_sleep(
    awake: WakeStack, new_context: ContextFactory, console: Console
) -> None:
    allow_asleep_errors(console)
    context = new_context()
    login_context(context, awake.url)  # through the runtime's /api/login, via the gateway
    page = context.new_page()
    page.goto(awake.url + "/")
    page.wait_for_selector("html[data-ready=app]", timeout=WAIT_MS)
    send(page, "Hello before the idle rule")
    wait_last_assistant(page, "complete")

    # The idle rule scales Blu to zero; the untouched tab's long-poll loses it.
    slept_at = time.time()
    awake.put_to_sleep(reason="idle")
    awake.ecs.calls.clear()
    overlay = page.locator("#wake-overlay")
    overlay.get_by_role("heading", name="Blu is asleep").wait_for(timeout=WAIT_MS)
    assert page.locator("#wake-overlay[data-phase=asleep]").count() == 1
    # A whole further round of polling, with the page seeing focus and visibility events, and still no wake.
    with page.expect_response(lambda r: r.url.endswith("/status"), timeout=WAIT_MS):
        page.evaluate(
            "() => { document.dispatchEvent(new Event('visibilitychange')); window.dispatchEvent(new Event('focus')); }"
        )
    assert [c for c in awake.ecs.calls_to("UpdateService") if c.get("desiredCount") == 1] == []
    assert [e.kind for e in awake.power.recent() if e.at >= slept_at - 1] == ["sleep"]
    assert [a for a in awake.gateway.answers if a[1:3] == ("POST", "/wake") and a[0] >= slept_at] == []
    screenshot(page, "desktop-asleep-after-idle")

    # The person's click wakes it, recorded as theirs, and the same tab carries on.
    page.get_by_test_id("wake-button").click()
    overlay.wait_for(state="hidden", timeout=WAIT_MS)
    page.wait_for_selector("html[data-ready=app]")
    wakes = [e for e in awake.power.recent() if e.kind == "wake" and e.at >= slept_at - 1]
    assert [e.reason for e in wakes] == ["user"]
    assert [c["desiredCount"] for c in awake.ecs.calls_to("UpdateService")][-1] == 1
    send(page, "Hello after waking")
    wait_last_assistant(page, "complete")


def test_two_tabs_wake_one_task(asleep: WakeStack, new_context: ContextFactory, console: Console) -> None:
    allow_asleep_errors(console)
    context = new_context()
    assert context.request.post(asleep.url + "/login", data={"password": PASSWORD}).status == 204
    tasks_before = len(asleep.ecs.tasks)
    started = time.time() - 1  # the power log keeps milliseconds
    pages = [context.new_page(), context.new_page()]
    for page in pages:
        page.goto(asleep.url + "/")
    for page in pages:
        page.wait_for_selector("html[data-ready=app]", timeout=WAIT_MS)
        page.locator("#wake-overlay").wait_for(state="hidden")
    # A third ask while it runs changes nothing.
    again = context.request.post(asleep.url + "/wake")
    assert again.status == 200 and again.json()["woken"] is False
    assert len(asleep.ecs.tasks) == tasks_before + 1
    assert asleep.ecs.desired == 1
    assert [e.kind for e in asleep.power.recent() if e.at >= started].count("wake") == 1


def test_launcher_and_runtime_throttle_the_same_client(
    awake: WakeStack, new_context: ContextFactory, console: Console
) -> None:
    console.allow(r"status of 401")
    # One wrong password on the launcher's form (Lambda: requestContext.http.sourceIp) and one on the
    # runtime's (through the VPC link: the Forwarded header) from the same browser land on one key.
    before = awake.throttle_keys()
    page = new_context().new_page()
    page.goto(awake.url + "/")
    page.wait_for_selector("html[data-ready]")
    answers = page.evaluate(
        """async () => {
            const post = (url) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: JSON.stringify({password: 'not the password'})});
            return [(await post('/login')).status, (await post('/api/login')).status];
        }"""
    )
    assert answers == [401, 401]
    after = awake.throttle_keys()
    changed = {key: n - before.get(key, 0) for key, n in after.items() if n != before.get(key, 0)}
    assert changed == {"127.0.0.1": 2}, after
    # The runtime saw the request from the VPC link's address, not the browser's.
    assert "127.0.0.2" not in after


def test_shutdown_puts_blu_back_to_sleep(awake: WakeStack, new_context: ContextFactory, console: Console) -> None:
    allow_asleep_errors(console)
    context = new_context()
    assert context.request.post(awake.url + "/login", data={"password": PASSWORD}).status == 204
    task = awake.ecs.tasks[-1]
    container = task.container
    response = context.request.post(awake.url + "/shutdown")
    assert response.status == 202 and response.json() == {"stopped": True, "status": "stopping"}
    awake.ecs.wait_for(lambda: task.last_status == "STOPPED", timeout=90)
    assert task.history[-4:] == ["DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]
    assert container is not None and getattr(container, "process", None) is None  # exited on SIGTERM
    assert context.request.get(awake.url + "/status").json()["status"] == "stopped"
    assert context.request.get(awake.url + "/health").status == 503  # nothing registered for $default
    sleep = awake.power.recent()[0]
    assert (sleep.kind, sleep.reason) == ("sleep", "user")
