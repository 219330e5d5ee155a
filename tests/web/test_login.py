"""Logging in and out: the login page when logged out, clear messages for a wrong password and for
throttling (with the wait time), and no password anywhere but a POST body."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import PASSWORD, BluServer
from tests.web.conftest import AppPage, Console, ContextFactory, screenshot
from tests.web.helpers import open_app, send, session_id, wait_last_assistant

pytestmark = pytest.mark.browser


def test_login_logout_and_back(new_context: ContextFactory, blu: BluServer, console: Console) -> None:
    # A normal visit logs no console error: the page asks GET /login (200 either way) before anything else.
    # Its own client address, so the throttling test's failures don't touch it.
    context = new_context(extra_http_headers={"X-Forwarded-For": "10.0.0.1"})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url} {r.post_data or ''}"))
    page.goto(blu.url + "/")
    page.wait_for_selector("html[data-ready=login]")
    assert page.get_by_role("heading", name="Log in to Blu").is_visible()
    assert page.locator("#login-password").evaluate("e => document.activeElement === e")
    screenshot(page, "desktop-login")
    # Even if a script failed, the browser would post the form, never put the password in a URL.
    assert page.locator("form.login-form").get_attribute("method") == "post"

    page.fill("#login-password", PASSWORD)
    page.press("#login-password", "Enter")
    page.wait_for_selector("html[data-ready=app]")
    assert page.get_by_role("navigation", name="Sessions").is_visible()
    assert "stand-in" in page.get_by_test_id("model-notice").inner_text()
    # The password travelled only in the login POST's body: never in a URL.
    assert not [r for r in requests if PASSWORD in r.split(" ")[1]]
    assert [r for r in requests if r.startswith("POST") and "/api/login" in r]

    # A reload keeps the login (cookie); logging out shows the form again and a reload keeps it there.
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("[data-testid=login]")
    page.reload()
    page.wait_for_selector("html[data-ready=login]")


def test_wrong_password_then_throttled_with_wait_time(
    new_context: ContextFactory, blu: BluServer, console: Console
) -> None:
    console.allow(r"status of 401 .*/api/login")
    console.allow(r"status of 429 .*/api/login")
    context = new_context(extra_http_headers={"X-Forwarded-For": "10.0.0.2"})
    page = context.new_page()
    # A second tab of the same person, ready to try while the first one is made to wait.
    other = context.new_page()
    for p in (page, other):
        p.goto(blu.url + "/")
        p.wait_for_selector("html[data-ready=login]")
    page.bring_to_front()
    message = page.locator("#login-message")
    submit = page.locator("[data-testid=login] button[type=submit]")

    for _ in range(2):
        page.fill("#login-password", "not the password")
        submit.click()
        page.wait_for_function("(e) => e.textContent === 'Wrong password.'", arg=message.element_handle())
        page.evaluate("(e) => { e.textContent = '' }", message.element_handle())
    # The third failure starts the backoff: the answer says how long to wait, and the form waits.
    page.fill("#login-password", "still wrong")
    submit.click()
    page.wait_for_function(
        "(e) => /Wrong password\\. Try again in \\d+ s\\./.test(e.textContent)", arg=message.element_handle()
    )
    assert submit.is_disabled()

    # The other tab tries meanwhile: the server refuses without checking (429) and says how long.
    other.bring_to_front()
    other.fill("#login-password", PASSWORD)
    other.press("#login-password", "Enter")
    throttled = other.locator("#login-message")
    other.wait_for_function(
        "(e) => /Too many wrong passwords\\. Try again in \\d+ s\\./.test(e.textContent)",
        arg=throttled.element_handle(),
    )
    text = other.locator("#login-message").inner_text()
    wait = int(re.search(r"in (\d+) s", text).group(1))  # type: ignore[union-attr]
    assert 1 <= wait <= 5
    screenshot(other, "desktop-login-throttled")

    # When the wait is over the button comes back and the right password works.
    other.wait_for_function(
        "() => !document.querySelector('[data-testid=login] button[type=submit]').disabled", timeout=10_000
    )
    other.press("#login-password", "Enter")
    other.wait_for_selector("html[data-ready=app]")


def test_plain_http_from_another_machine_says_why_before_and_after_the_password(
    new_context: ContextFactory, blu: BluServer, console: Console
) -> None:
    # The browser asks http://blu.lan:<port>, an insecure origin; every request reaches the real server
    # with that Host, as it would on a LAN.
    console.allow(r"status of 400 .*/api/login")
    port = blu.url.rsplit(":", 1)[1]
    lan = f"http://blu.lan:{port}"
    context = new_context(extra_http_headers={"X-Forwarded-For": "10.0.0.9"})

    def relay(route: Any) -> None:
        url = route.request.url.replace(lan, blu.url, 1)
        route.fulfill(response=route.fetch(url=url, headers={**route.request.headers, "host": f"blu.lan:{port}"}))

    context.route(f"{lan}/**", relay)
    page = context.new_page()
    page.goto(lan + "/")
    page.wait_for_selector("html[data-ready=login]")
    assert page.evaluate("window.isSecureContext") is False
    assert "plain HTTP" in page.get_by_test_id("insecure-origin").inner_text()
    page.fill("#login-password", PASSWORD)
    page.press("#login-password", "Enter")
    message = page.locator("#login-message")
    message.filter(has_text="SSH tunnel").wait_for()
    assert f"ssh -L {port}:localhost:{port}" in message.inner_text()
    assert not context.cookies()
    screenshot(page, "desktop-login-plain-http")


def test_a_message_sent_after_the_login_ended_is_back_in_the_box_after_logging_in(
    own_blu: BluServer, app_page: AppPage, console: Console, tmp_path: Path
) -> None:
    # Tab B logs out (the login ends everywhere); tab A's next message gets 401 and the page shows the login
    # form. What the person typed is not lost: after logging in again it is the session's draft, in the box,
    # with the file attached to it (uploaded already: its chip comes back ready to send).
    console.allow(r"status of 401")
    tab_a = app_page(own_blu)
    context = tab_a.context
    send(tab_a, "Hello before logging out")
    wait_last_assistant(tab_a, "complete")
    opened = session_id(tab_a)
    notes = tmp_path / "minutes.txt"
    notes.write_text("what was decided")
    tab_a.get_by_test_id("attach-input").set_input_files(str(notes))
    tab_a.locator("[data-testid=attachment-tray] [data-state=ready]").wait_for()
    tab_b = context.new_page()
    open_app(tab_b, own_blu.url, f"/#/s/{opened}")
    tab_b.get_by_role("button", name="Log out").click()
    tab_b.wait_for_selector("[data-testid=login]")

    important = "An important long message that took a while to write"
    send(tab_a, important)
    tab_a.wait_for_selector("[data-testid=login]")
    tab_a.fill("#login-password", PASSWORD)
    tab_a.press("#login-password", "Enter")
    tab_a.wait_for_selector("html[data-ready=app]")
    assert session_id(tab_a) == opened
    tab_a.wait_for_function("t => document.querySelector('#composer-input')?.value === t", arg=important)
    chip = tab_a.locator("[data-testid=attachment-tray] [data-testid=attachment]")
    assert chip.count() == 1 and chip.get_attribute("data-state") == "ready"
    assert "minutes.txt" in chip.inner_text()
    # Nothing was stored for it: it waits to be sent, and goes with its file.
    assert important not in tab_a.locator("li.msg--user").all_inner_texts()
    tab_a.press("#composer-input", "Enter")
    wait_last_assistant(tab_a, "complete")
    sent = tab_a.locator("li.msg--user").last
    assert important in sent.inner_text()
    assert "minutes.txt" in sent.locator(".msg__attachments").inner_text()
    assert tab_a.get_by_test_id("attachment-tray").is_hidden()
    # A reload brings back neither: sending cleared the draft, its attachments with it.
    tab_a.reload()
    tab_a.wait_for_selector("html[data-ready=app]")
    assert tab_a.locator("#composer-input").input_value() == ""
    assert tab_a.locator("[data-testid=attachment-tray] [data-testid=attachment]").count() == 0
