"""A 390×844 phone: every main screen fits the width (no horizontal overflow), the controls are big
enough to touch, and screenshots of each screen are saved under test-output/screenshots/."""

from __future__ import annotations

import secrets

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import (
    PHONE,
    AppPage,
    Console,
    ContextFactory,
    assert_no_horizontal_overflow,
    login_context,
    screenshot,
)
from tests.web.helpers import wait_last_assistant

pytestmark = pytest.mark.browser
PHONE_OPTIONS = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def test_phone_layout_has_no_horizontal_overflow(
    new_context: ContextFactory, blu: BluServer, api: BluClient, console: Console
) -> None:
    # A session with the wide things a phone must cope with: a long code line, a long word, a tool card.
    sid = api.new_session()
    name = f"wide-{secrets.token_hex(2)}.md"
    api.turn(sid, f'[[write path={name} content="# Wide\\n\\n{"x" * 300}"]]')
    code = "```python\\nprint('" + "a very long line of code " * 12 + "')\\n```\\n\\n" + "Averyveryverylongword" * 8
    api.turn(sid, f'[[say text="{code}"]] and a long one')

    context = new_context(**PHONE_OPTIONS, extra_http_headers={"X-Forwarded-For": "10.0.0.3"})
    page = context.new_page()
    page.goto(blu.url + "/")
    page.wait_for_selector("html[data-ready=login]")
    assert_no_horizontal_overflow(page, "login")
    screenshot(page, "phone-login")

    login_context(context, blu.url)
    page.goto(blu.url + f"/#/s/{sid}")
    page.reload()  # a hash change alone is not a reload
    page.wait_for_selector("html[data-ready=app]")
    wait_last_assistant(page, "complete")
    page.locator("details.tool").first.locator("summary").tap()
    assert_no_horizontal_overflow(page, "chat")
    screenshot(page, "phone-chat")
    for control in ("#composer-input", ".composer__send", ".topbar__menu"):
        box = page.locator(control).bounding_box()
        assert box and box["height"] >= 40 and box["width"] >= 40, (control, box)
    # The sidebar is a drawer here: hidden (and not focusable) until the menu opens it.
    sidebar = page.get_by_role("navigation", name="Sessions")
    assert not sidebar.is_visible()
    page.get_by_role("button", name="Sessions").tap()
    sidebar.locator(f".session-link[data-session-id='{sid}']").wait_for()
    page.wait_for_function("(e) => getComputedStyle(e).transform === 'none'", arg=sidebar.element_handle())
    assert_no_horizontal_overflow(page, "sessions drawer")
    screenshot(page, "phone-sessions")
    page.keyboard.press("Escape")
    sidebar.wait_for(state="hidden")

    page.get_by_role("button", name="Artifacts and files").tap()
    panel = page.locator("#panel")
    panel.locator(f".file-row[data-path='{name}']").first.wait_for()
    assert_no_horizontal_overflow(page, "artifacts panel")
    screenshot(page, "phone-artifacts")
    panel.get_by_role("button", name=f"Preview {name}").first.tap()
    page.get_by_test_id("file-preview").get_by_role("heading", name="Wide", exact=True).wait_for()
    assert_no_horizontal_overflow(page, "preview")
    screenshot(page, "phone-preview")
    page.get_by_role("button", name="Close the preview").tap()

    # A new chat on the phone.
    page.goto(blu.url + "/#/new")
    page.wait_for_selector("html[data-ready=app]")
    assert_no_horizontal_overflow(page, "new chat")
    screenshot(page, "phone-new-chat")


def test_desktop_screens(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    """Screenshots of the desktop chat with the panel, in the light and the dark theme."""
    sid = api.new_session()
    api.turn(sid, "[[say text='## Plan\\n\\n1. **Pack**\\n2. Go\\n\\n```bash\\necho ready\\n```']] plan my trip")
    api.turn(sid, "[[say text='Sure, done.']] and book the train", channel="voice")
    for scheme in ("light", "dark"):
        page = app_page(blu, f"/#/s/{sid}", color_scheme=scheme)
        wait_last_assistant(page, "complete")
        spoken = page.locator("li.msg--user[data-channel=voice]")
        assert spoken.locator(".msg__channel").inner_text() == "Voice"
        assert page.locator("li.msg--user[data-channel=text] .msg__channel").inner_text() == "Text"
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(247, 248, 250)" if scheme == "light" else "rgb(20, 22, 26)")
        screenshot(page, f"desktop-chat-{scheme}")
