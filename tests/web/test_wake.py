"""The wake flow end to end in Chromium: the real launcher Lambda behind a local HTTP API routed like API
Gateway's, an ECS stand-in whose task is the real runtime, DynamoDB from moto's server. Log in on the
launcher's page, watch the overlay follow the task's real stages, land in the chat, and put Blu to sleep."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.server import PASSWORD
from tests.web.conftest import PHONE, Console, ContextFactory, assert_no_horizontal_overflow, screenshot
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
def asleep(stack: WakeStack) -> WakeStack:
    stack.put_to_sleep()
    stack.ecs.calls.clear()
    return stack


@pytest.fixture
def awake(stack: WakeStack) -> WakeStack:
    stack.wake()
    return stack


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
    allow_asleep_errors(console)
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    stages = status_stages(page)
    page.goto(asleep.url + "/")

    overlay = page.locator("#wake-overlay")
    page.wait_for_selector("#wake-overlay[data-phase=login]")
    assert overlay.get_by_role("heading", name="Log in to wake Blu").is_visible()
    assert asleep.ecs.calls == []  # nothing reaches ECS before the login
    assert_no_horizontal_overflow(page, "waking overlay, login")
    screenshot(page, "phone-waking-login")

    page.fill("#wake-login-password", PASSWORD)
    page.press("#wake-login-password", "Enter")
    page.wait_for_function(
        "(names) => names.includes(document.querySelector('[data-testid=wake-stage]')?.textContent)",
        arg=list(STARTING_STAGES),
        timeout=WAIT_MS,
    )
    assert overlay.get_by_role("heading", name="Waking Blu…").is_visible()
    assert re.fullmatch(r"\d+ s", overlay.get_by_test_id("wake-elapsed").inner_text())
    steps = overlay.locator(".wake__steps li")
    assert steps.all_inner_texts() == ["Asleep", "Waking", *STARTING_STAGES, "Ready"]
    assert overlay.locator(".wake__steps li[aria-current=step]").inner_text() in STARTING_STAGES
    assert_no_horizontal_overflow(page, "waking overlay, starting")
    screenshot(page, "phone-waking-progress")

    # Between polls the elapsed time keeps counting from the launcher's figure.
    elapsed = overlay.get_by_test_id("wake-elapsed")
    first = int(elapsed.inner_text().split()[0])
    page.wait_for_function("([e, n]) => parseInt(e.textContent) > n", arg=[elapsed.element_handle(), first])

    # Ready: the overlay goes away and the real chat (the runtime, through the gateway's $default) takes over.
    overlay.wait_for(state="hidden", timeout=WAIT_MS)
    page.wait_for_selector("html[data-ready=app]")
    assert "stand-in" in page.get_by_test_id("model-notice").inner_text().lower()
    send(page, "Hello from a woken Blu")
    wait_last_assistant(page, "complete")
    screenshot(page, "phone-woken-chat")

    assert stages[0] == "Asleep" and set(stages[1:]) <= {"Waking", *STARTING_STAGES, "Ready"}, stages
    task = asleep.ecs.tasks[-1]
    assert task.history == ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"]
    assert task.health == "HEALTHY"
    assert len(asleep.ecs.calls_to("UpdateService")) == 1
    wake = next(e for e in asleep.power.recent() if e.kind == "wake")
    assert wake.reason == "user"


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
