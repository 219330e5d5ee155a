"""Deleting a session people use: while its turn runs (stopped, then deleted: it never comes back, the page never
jumps back to it), and with the session open in a second tab (told, and back to a new chat); desktop and phone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import DESKTOP, PHONE, AppPage, Console, screenshot
from tests.web.helpers import open_app, send, session_id

pytestmark = pytest.mark.browser
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])

# Notes every time the page goes back to the session (its route) or its link shows in the list again.
WATCH_JS = """(sid) => {
    window.__back = [];
    window.addEventListener('hashchange', () => {
        if (location.hash.endsWith(sid)) window.__back.push('route ' + location.hash);
    });
    new MutationObserver(() => {
        if (document.querySelector(`.session-link[data-session-id="${sid}"]`)) window.__back.push('link');
    }).observe(document.body, { subtree: true, childList: true });
}"""


def wait_gone(api: BluClient, sid: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while api.http.get(f"/api/sessions/{sid}").status_code != 404:
        assert time.monotonic() < deadline, f"session {sid} was not deleted"
        time.sleep(0.25)


def start_long_turn(page: Any) -> str:
    send(page, "[[slow ms=150]] [[words n=300]]")  # about 45 s: it runs past the time to undo
    page.wait_for_selector("li.msg--assistant[data-state=running] .msg__text")
    return session_id(page)


@VIEWPORTS
def test_delete_while_its_turn_runs_stops_it_and_never_brings_it_back(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
    sid = start_long_turn(page)
    link = page.locator(f".session-link[data-session-id='{sid}']")
    link.wait_for(state="attached")

    page.get_by_role("button", name="Delete this session").click()
    undo = page.get_by_test_id("undo-delete")
    undo.wait_for()
    link.wait_for(state="detached")
    page.evaluate(WATCH_JS, sid)
    screenshot(page, f"{which}-delete-running")
    # The time to undo runs out: the turn is stopped and the session deleted (no "stop it first").
    wait_gone(api, sid)
    undo.wait_for(state="detached")
    page.wait_for_timeout(1500)  # what a refused delete did: bring it back, and the page with it
    assert page.evaluate("window.__back") == []
    assert not page.url.endswith(sid)
    assert page.locator(".toast--error").count() == 0
    assert api.http.get("/api/stats").json()["running_turns"] == 0


@VIEWPORTS
def test_a_second_tab_showing_the_session_is_told_and_leaves_it(
    logged_in: Callable[..., Any], blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    context = logged_in(viewport=viewport)
    first, second = context.new_page(), context.new_page()
    open_app(first, blu.url, "/#/new")
    sid = start_long_turn(first)
    open_app(second, blu.url, f"/#/s/{sid}")
    second.wait_for_selector("li.msg--assistant[data-state=running] .msg__text")
    second.locator(f".session-link[data-session-id='{sid}']").wait_for(state="attached")

    first.bring_to_front()
    first.get_by_role("button", name="Delete this session").click()
    first.get_by_test_id("undo-delete").wait_for()

    # Once deleted for real (the time to undo is up), the other tab says so and goes to a new chat.
    notice = second.locator(".toast", has_text="This session was deleted")
    notice.wait_for(timeout=20_000)
    second.wait_for_url("**/#/new")
    screenshot(second, f"{which}-deleted-elsewhere")
    assert second.locator(f".session-link[data-session-id='{sid}']").count() == 0
    assert second.locator("li.msg").count() == 0
    assert second.locator("#composer-input").is_enabled()
    assert api.http.get(f"/api/sessions/{sid}").status_code == 404


@VIEWPORTS
def test_a_delete_that_fails_puts_it_back_without_moving_the_page(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    console.allow(r"status of 500 .*/api/sessions/[0-9a-f]{24}\]")  # the failure made below
    page = app_page(blu, "/#/new", viewport=viewport)
    send(page, "keep me [[say text=kept]]")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    sid = session_id(page)
    refused = {"detail": "Something broke."}
    page.route(f"**/api/sessions/{sid}", lambda route: route.fulfill(status=500, json=refused)
               if route.request.method == "DELETE" else route.continue_())  # fmt: skip
    page.get_by_role("button", name="Delete this session").click()
    page.get_by_test_id("undo-delete").wait_for()
    page.wait_for_url("**/#/new")
    page.evaluate(WATCH_JS, sid)

    toast = page.locator(".toast--error", has_text="Couldn't delete it (Something broke.)")
    toast.wait_for(timeout=15_000)
    page.locator(f".session-link[data-session-id='{sid}']").wait_for(state="attached")
    assert set(page.evaluate("window.__back")) == {"link"}  # back in the list; the page stays where it is
    assert page.url.endswith("#/new")
    assert api.http.get(f"/api/sessions/{sid}").status_code == 200


# Whether the undo bar overlaps the message box (or its buttons, the paperclip): "" when it does not.
OVERLAP_JS = """() => {
    const bar = document.querySelector('[data-testid=undo-delete]').getBoundingClientRect();
    const box = document.querySelector('form.composer').getBoundingClientRect();
    const apart = bar.bottom <= box.top || bar.top >= box.bottom || bar.right <= box.left || bar.left >= box.right;
    return apart ? '' : `bar ${JSON.stringify(bar)} over composer ${JSON.stringify(box)}`;
}"""


@VIEWPORTS
def test_the_undo_bar_never_covers_the_message_box(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
    send(page, "undo bar [[say text=ok]]")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    sid = session_id(page)
    page.get_by_role("button", name="Delete this session").click()
    bar = page.get_by_test_id("undo-delete")
    bar.wait_for()
    page.wait_for_url("**/#/new")
    page.locator("#composer-input").wait_for()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    screenshot(page, f"{which}-undo-bar")
    assert page.evaluate(OVERLAP_JS) == ""
    # A tap on the message box reaches it while the bar shows.
    page.locator("#composer-input").click(timeout=2000)
    page.keyboard.type("still typing")
    assert page.locator("#composer-input").input_value() == "still typing"
    # The box grows with a longer text: the bar moves up with it.
    for _ in range(5):
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("another line")
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.evaluate(OVERLAP_JS) == ""
    bar.get_by_role("button", name="Undo").click()
    page.wait_for_url(f"**/#/s/{sid}")


@VIEWPORTS
def test_drafts_are_kept_per_session_and_carried_out_of_a_deleted_one(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    page = app_page(blu, "/#/new", viewport=viewport)
    send(page, "first [[say text=one]]")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    sid = session_id(page)
    box = page.locator("#composer-input")
    box.fill("half a thought")

    # To a new chat and back: each box has its own draft.
    page.goto(f"{blu.url}/#/new")
    page.wait_for_url("**/#/new")
    assert box.input_value() == ""
    box.fill("for a new chat")
    page.goto(f"{blu.url}/#/s/{sid}")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    assert box.input_value() == "half a thought"
    page.reload()
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    assert box.input_value() == "half a thought"  # a reload keeps it too (the tab's sessionStorage)

    # Deleted elsewhere: the notice, a new chat, and the unsent draft in its box (after the one it had).
    assert api.http.delete(f"/api/sessions/{sid}").status_code == 204
    page.locator(".toast", has_text="This session was deleted").wait_for(timeout=20_000)
    page.wait_for_url("**/#/new")
    assert box.is_enabled()
    assert box.input_value() == "for a new chat\n\nhalf a thought"

    # Sent: the draft is gone (a new chat after it starts empty).
    box.fill("sent now [[say text=two]]")
    box.press("Enter")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    assert box.input_value() == ""
    page.goto(f"{blu.url}/#/new")
    page.wait_for_url("**/#/new")
    assert box.input_value() == ""


@VIEWPORTS
def test_sending_in_a_session_gone_elsewhere_moves_the_text_to_a_new_chat(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    console.allow(r"status of 404 .*/api/sessions/[0-9a-f]{24}/messages\]")  # the refusal made below
    page = app_page(blu, "/#/new", viewport=viewport)
    send(page, "first [[say text=one]]")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    sid = session_id(page)
    # What a backup restored elsewhere looks like to this page: the session is not found when sending.
    gone = {"detail": "Session not found."}
    page.route(f"**/api/sessions/{sid}/messages", lambda route: route.fulfill(status=404, json=gone)
               if route.request.method == "POST" else route.continue_())  # fmt: skip
    box = page.locator("#composer-input")
    box.fill("words worth keeping")
    box.press("Enter")
    page.locator(".toast", has_text="This session was deleted").wait_for()
    page.wait_for_url("**/#/new")
    assert page.get_by_text("Not sent").count() == 0
    assert page.get_by_role("button", name="Send again").count() == 0
    assert box.is_enabled()
    assert box.input_value() == "words worth keeping"
