"""Toasts and the Undo bar in one stack above the status line and the message box: none hides another."""

from __future__ import annotations

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import DESKTOP, PHONE, AppPage, Console, screenshot
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


def test_the_same_toast_twice_shows_once(app_page: AppPage, blu: BluServer, api: BluClient, console: Console) -> None:
    """Run now clicked again inside the minimum interval: each refusal says the same, and one toast says it (its
    time starting over), not a stack of copies; a different toast still stacks."""
    console.allow(r"status of 429 \(Too Many Requests\) \[.*/api/schedules/.*/run\]")  # refused on purpose
    made = api.http.post(
        "/api/schedules", json={"name": "Twice", "prompt": "[[say text=hi]]", "repeat": "every day at 8:00"}
    )
    assert made.status_code == 201, made.text
    page = app_page(blu, "/#/new", viewport=DESKTOP)
    page.get_by_role("button", name="Schedules").click()
    item = page.get_by_test_id("schedules").locator("li.schedule", has_text="Twice")
    run_now = item.get_by_role("button", name="Run Twice now")
    run_now.click()
    page.locator(".toast", has_text="Started a run.").wait_for()
    refused = page.locator(".toast--error", has_text="Couldn't start a run")
    for _ in range(3):
        with page.expect_response(lambda r: r.url.endswith("/run")) as answer:
            run_now.click()
        assert answer.value.status == 429
        refused.first.wait_for()
        page.evaluate(SETTLED_JS)
    assert refused.count() == 1, page.locator(".toast").all_inner_texts()
    assert page.locator(".toast", has_text="Started a run.").count() == 1
    assert api.http.delete(f"/api/schedules/{made.json()['id']}").status_code == 204
