"""Toasts and the Undo bar in one stack above the status line and the message box: none hides another."""

from __future__ import annotations

import pytest

from tests.support.server import BluServer
from tests.web.conftest import DESKTOP, PHONE, AppPage, screenshot
from tests.web.helpers import send

pytestmark = pytest.mark.browser
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])

# Every pair of toasts, Undo bars, the status line and the message box drawn over each other.
OVERLAPS_JS = """() => {
    const boxes = [];
    for (const el of document.querySelectorAll('.toast, .undo-bar, .chat__status, form.composer')) {
        const r = el.getBoundingClientRect();
        if (r.width && r.height) boxes.push([el.className + ' ' + JSON.stringify(el.innerText.slice(0, 40)), r]);
    }
    const hits = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const [a, p] = boxes[i], [b, q] = boxes[j];
        if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) hits.push(`${a} / ${b}`);
    }
    return hits;
}"""
SETTLED_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


@VIEWPORTS
def test_the_undo_bar_stacks_with_the_toasts_before_it(
    app_page: AppPage, blu: BluServer, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
    send(page, "toasts and undo [[say text=ok]]")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    page.get_by_role("button", name="Archive this session").click()
    page.locator(".toast", has_text="Archived").wait_for()
    page.get_by_role("button", name="Unarchive this session").click()
    page.locator(".toast", has_text="Moved back").wait_for()
    page.get_by_role("button", name="Delete this session").click()
    page.get_by_test_id("undo-delete").wait_for()
    page.evaluate(SETTLED_JS)
    assert page.locator(".toast").count() >= 1  # still showing with the bar
    screenshot(page, f"{which}-toasts-and-undo")
    assert page.evaluate(OVERLAPS_JS) == []


@VIEWPORTS
def test_a_toast_never_covers_the_status_line(app_page: AppPage, blu: BluServer, viewport: dict[str, int]) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
    send(page, "[[slow ms=150]] [[words n=300]]")
    page.wait_for_selector("li.msg--assistant[data-state=running] .msg__text")
    send(page, "queued one [[say text='never']]")
    send(page, "queued two [[say text='never']]")
    page.get_by_role("button", name="Cancel this queued message").last.wait_for()
    page.get_by_role("button", name="Cancel this queued message").last.click()
    page.locator(".toast", has_text="Cancelled").wait_for()
    page.evaluate(SETTLED_JS)
    assert page.get_by_test_id("chat-status").inner_text().startswith("Blu is answering")
    screenshot(page, f"{which}-toast-over-status")
    assert page.evaluate(OVERLAPS_JS) == []
    page.get_by_role("button", name="Stop the running turn").click()  # leave the shared server idle
