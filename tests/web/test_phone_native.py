"""A phone that feels native: every target at least 44 px (measured), tables and code scroll sideways
instead of squeezing, the composer stays above the keyboard, and pulling the session list refreshes it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import PHONE, AppPage, ContextFactory, assert_no_horizontal_overflow, login_context, screenshot
from tests.web.helpers import open_app, wait_last_assistant

pytestmark = pytest.mark.browser
PHONE_OPTIONS = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}

# Every visible control, except links inside running text (WCAG 2.5.8's inline exception), smaller than
# 44 × 44 CSS pixels.
SMALL_TARGETS_JS = """() => {
    const small = [];
    const controls = 'button, a[href], input:not([type=hidden]), select, textarea, summary, '
        + '[role=menuitem], [role=tab]';
    for (const el of document.querySelectorAll(controls)) {
        if (!el.getClientRects().length || el.closest('[inert], [hidden]')) continue;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || style.display === 'none') continue;
        if (el.matches('a') && el.closest('p, li, td, th, .msg__text')) continue;  // inline in text
        // A checkbox's target is its label.
        const target = el.matches('input[type=checkbox]') && el.closest('label') ? el.closest('label') : el;
        const r = target.getBoundingClientRect();
        if (r.width < 44 - 0.5 || r.height < 44 - 0.5) {
            const name = (el.innerText || el.getAttribute('aria-label') || '').slice(0, 30);
            small.push(`${el.tagName.toLowerCase()}.${el.className} "${name}" ${r.width | 0}x${r.height | 0}`);
        }
    }
    return small;
}"""


def assert_targets_big_enough(page: Any, what: str) -> None:
    small = page.evaluate(SMALL_TARGETS_JS)
    assert not small, f"{what}: targets under 44 px: {small}"


def test_every_target_is_44px_and_wide_content_scrolls(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "[[write path=phone-notes.md content=hi]] [[bash cmd='echo ok']]")
    table = "| Name | Description | Amount | Status | Notes |\\n|---|---|---|---|---|\\n" + (
        "| Alexandria | A considerably longer description | 1,234.56 | Outstanding | Follow up tomorrow |\\n" * 3
    )
    code = "```python\\nprint('" + "a very long line of code " * 8 + "')\\n```"
    api.turn(sid, f'[[say text="{table}\\n\\n{code}\\n\\nSee [the docs](https://example.com)."]] wide things')

    page = app_page(blu, f"/#/s/{sid}", **PHONE_OPTIONS)
    wait_last_assistant(page, "complete")
    reply = page.locator("li.msg--assistant").last

    # Tables and code keep their words whole and scroll sideways inside their own box.
    cell = reply.locator("td").nth(1)
    assert cell.evaluate("e => e.getBoundingClientRect().height") < 60  # not squeezed letter by letter
    for box in (reply.locator(".table-scroll"), reply.locator("pre")):
        assert box.evaluate("e => e.scrollWidth > e.clientWidth"), "wide content scrolls"
        box.evaluate("e => { e.scrollLeft = 10000; }")
        assert box.evaluate("e => e.scrollLeft") > 0
    # The code's Copy button does not cover the code, and stays put when the code scrolls.
    copy = reply.locator("button.copy-code")
    code_box = reply.locator("pre").bounding_box()
    copy_box = copy.bounding_box()
    assert code_box and copy_box and copy_box["y"] + copy_box["height"] <= code_box["y"] + 1
    assert_no_horizontal_overflow(page, "chat with a wide table and code")
    screenshot(page, "phone-wide-table-and-code")

    # Every target in the chat, an open message menu, the sessions drawer and the files panel.
    page.locator("details.tool").first.locator("summary").tap()
    assert_targets_big_enough(page, "chat")
    reply.locator("button.msg__more").tap()
    assert_targets_big_enough(page, "message menu")
    screenshot(page, "phone-message-menu-targets")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Sessions").tap()
    page.locator(f".session-link[data-session-id='{sid}']").wait_for()
    page.locator("#session-search").fill("phone")
    page.get_by_test_id("search-results").locator("button").first.wait_for()
    assert_targets_big_enough(page, "sessions drawer with search hits")
    page.locator("#session-search").fill("")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Artifacts and files").tap()
    page.locator("#panel .file-row").first.wait_for()
    assert_targets_big_enough(page, "files panel")


def test_the_composer_stays_above_the_keyboard(new_context: ContextFactory, blu: BluServer) -> None:
    context = new_context(**PHONE_OPTIONS)
    login_context(context, blu.url)
    page = context.new_page()
    # Headless Chromium has no on-screen keyboard: a stand-in visualViewport shrinks as one would.
    page.add_init_script(
        """(() => {
            const fake = new EventTarget();
            fake.height = innerHeight; fake.width = innerWidth; fake.offsetTop = 0; fake.offsetLeft = 0; fake.scale = 1;
            Object.defineProperty(window, 'visualViewport', { value: fake, configurable: true });
            window.__keyboard = (px) => { fake.height = innerHeight - px; fake.dispatchEvent(new Event('resize')); };
        })()"""
    )
    open_app(page, blu.url, "/#/new")
    composer = page.locator(".composer")
    page.locator("#composer-input").tap()
    page.evaluate("window.__keyboard(320)")
    page.wait_for_function(
        "() => document.querySelector('.composer').getBoundingClientRect().bottom <= innerHeight - 320 + 1"
    )
    assert page.locator("#composer-input").is_visible()
    screenshot(page, "phone-keyboard-open")
    page.evaluate("window.__keyboard(0)")
    page.wait_for_function(
        "() => document.querySelector('.composer').getBoundingClientRect().bottom >= innerHeight - 40"
    )
    assert composer.is_visible()


def test_pull_to_refresh_the_session_list(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    page = app_page(blu, "/#/new", **PHONE_OPTIONS)
    page.get_by_role("button", name="Sessions").tap()
    sidebar_list = page.locator(".sidebar__list")
    sidebar_list.wait_for()
    # A session started elsewhere (another device) after the list loaded.
    sid = api.new_session()
    api.http.patch(f"/api/sessions/{sid}", json={"name": "Started on the laptop"})
    assert page.locator(f".session-link[data-session-id='{sid}']").count() == 0
    page.evaluate(
        """async () => {
            const list = document.querySelector('.sidebar__list');
            const r = list.getBoundingClientRect();
            const touch = (y) => new Touch({ identifier: 1, target: list, clientX: r.left + 40, clientY: r.top + y });
            const fire = (type, y, touches) => list.dispatchEvent(new TouchEvent(type, {
                touches: touches ? [touch(y)] : [], changedTouches: [touch(y)], bubbles: true, cancelable: true,
            }));
            fire('touchstart', 10, true);
            for (let y = 10; y <= 150; y += 20) {
                fire('touchmove', y, true);
                await new Promise((done) => requestAnimationFrame(done));
            }
            fire('touchend', 150, false);
        }"""
    )
    page.locator(f".session-link[data-session-id='{sid}']").wait_for()
    screenshot(page, "phone-pulled-to-refresh")
