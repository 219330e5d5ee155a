"""The ⋯ menu of a message opens fully visible wherever the message is: near the top of the chat (under the
stand-in's notice bar) it opens below its button, lower down above it; on desktop and phone."""

from __future__ import annotations

import pytest

from tests.support.server import BluServer
from tests.web.conftest import DESKTOP, PHONE, AppPage, screenshot
from tests.web.helpers import send, wait_idle, wait_last_assistant

pytestmark = pytest.mark.browser
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])

# Every item of the open menu: inside the chat's visible area, and the element found at its centre (nothing
# lies over it: not the notice bar, not the header, not the composer).
COVERED_JS = """(menu) => {
    const view = document.querySelector('[data-testid=chat-scroll]').getBoundingClientRect();
    return [...menu.querySelectorAll('[role=menuitem]')].flatMap((item) => {
        const r = item.getBoundingClientRect();
        const inside = r.top >= view.top - 0.5 && r.bottom <= view.bottom + 0.5;
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        const seen = hit === item || item.contains(hit);
        return inside && seen ? [] : [`${item.textContent}: ${Math.round(r.top)}..${Math.round(r.bottom)} in `
            + `${Math.round(view.top)}..${Math.round(view.bottom)}, at its centre ${hit?.className}`];
    });
}"""


@VIEWPORTS
def test_the_menu_of_a_message_at_the_top_opens_fully_visible(
    app_page: AppPage, blu: BluServer, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
    page.get_by_test_id("model-notice").wait_for()  # the stand-in's bar sits right above the chat
    send(page, "first [[say text='One']]")
    wait_last_assistant(page, "complete")
    send(page, "[[words n=200]]")
    page.wait_for_function("() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 2")
    wait_idle(page)

    # The first message, scrolled to the top of the chat: its menu would open upwards, under the bar.
    first = page.locator("li.msg--user").first
    page.get_by_test_id("chat-scroll").evaluate("(el) => { el.scrollTop = 0; }")
    first.locator("button.msg__more").click()
    menu = first.get_by_role("menu")
    menu.wait_for()
    assert menu.evaluate(COVERED_JS) == []
    screenshot(page, f"{which}-menu-at-top")
    page.keyboard.press("Escape")
    menu.wait_for(state="hidden")

    # The newest message, at the bottom: it still opens above its button, fully visible.
    last = page.locator("li.msg--assistant").last
    page.get_by_test_id("chat-scroll").evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    last.locator("button.msg__more").click()
    menu = last.get_by_role("menu")
    menu.wait_for()
    assert menu.evaluate(COVERED_JS) == []
    button, box = last.locator("button.msg__more").bounding_box(), menu.bounding_box()
    assert button and box and box["y"] + box["height"] <= button["y"]  # above
    # Still a working menu: an item does what it says.
    menu.get_by_role("menuitem", name="Copy as Markdown").click()
    page.locator(".toast", has_text="Copied").wait_for()
