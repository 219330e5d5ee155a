"""The waking overlay against a launcher whose service goes asleep → starting → ready, on a phone-sized
screen: it asks for a login before waking, shows the real stages and elapsed time, and goes away."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.web.conftest import DIST, PHONE, Console, ContextFactory, assert_no_horizontal_overflow, screenshot
from tests.web.launcher_fake import PASSWORD, FakeLauncher

pytestmark = pytest.mark.browser


@pytest.fixture
def launcher(browser: object) -> Iterator[FakeLauncher]:
    with FakeLauncher(DIST) as fake:
        yield fake


def test_waking_overlay_goes_from_asleep_to_ready(
    new_context: ContextFactory, launcher: FakeLauncher, console: Console
) -> None:
    # While asleep the container's routes fail (503) and /wake refuses without a login (401).
    console.allow(r"status of 503 .*/(api/config|health)")
    console.allow(r"status of 401 .*/wake")
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.goto(launcher.url + "/")

    overlay = page.locator("#wake-overlay")
    overlay.wait_for()
    page.wait_for_selector("#wake-overlay[data-phase=login]")
    assert overlay.get_by_role("heading", name="Log in to wake Blu").is_visible()
    assert launcher.service.wake_calls == [401]
    assert_no_horizontal_overflow(page, "waking overlay, login")
    screenshot(page, "phone-waking-login")

    page.fill("#wake-login-password", PASSWORD)
    page.press("#wake-login-password", "Enter")
    page.wait_for_function("() => document.querySelector('[data-testid=wake-stage]')?.textContent === 'Provisioning'")
    assert overlay.get_by_role("heading", name="Waking Blu…").is_visible()
    assert re.fullmatch(r"\d+ s", overlay.get_by_test_id("wake-elapsed").inner_text())
    steps = overlay.locator(".wake__steps li")
    assert steps.all_inner_texts() == ["Provisioning", "Pending", "Activating", "Running"]
    assert steps.first.get_attribute("aria-current") == "step"
    assert_no_horizontal_overflow(page, "waking overlay, starting")
    screenshot(page, "phone-waking-progress")

    # Between polls the elapsed time keeps counting from the launcher's figure.
    elapsed = overlay.get_by_test_id("wake-elapsed")
    first = int(elapsed.inner_text().split()[0])
    page.wait_for_function("([e, n]) => parseInt(e.textContent) > n", arg=[elapsed.element_handle(), first])

    # Ready: the overlay goes away and Blu's page takes over.
    overlay.wait_for(state="hidden", timeout=10_000)
    page.wait_for_selector("html[data-ready=app]")
    assert "fake launcher test" in page.get_by_test_id("model-notice").inner_text()
    assert launcher.service.wake_calls == [401, 202]  # woken once, and only once logged in
    assert launcher.service.statuses[0] == "stopped"
    assert "starting" in launcher.service.statuses and launcher.service.statuses[-1] == "running"
