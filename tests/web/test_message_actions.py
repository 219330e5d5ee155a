"""What a person does to messages all day: copy one as Markdown, edit and resend (↑), regenerate, stop with
Esc, continue a cut reply, cancel a queued message, and delete a session with undo; on desktop and phone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import DESKTOP, PHONE, Console, screenshot
from tests.web.helpers import assistant_messages, body_of, open_app, send, session_id, wait_idle, wait_last_assistant

pytestmark = pytest.mark.browser
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def menu_action(message: Any, name: str) -> None:
    message.locator("button.msg__more").click()
    message.get_by_role("menuitem", name=name).click()


@VIEWPORTS
def test_copy_edit_resend_and_regenerate(
    logged_in: Callable[..., Any], blu: BluServer, api: BluClient, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    context = logged_in(viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    open_app(page, blu.url, "/#/new")
    send(page, "first [[say text='**One** answer']]")
    wait_last_assistant(page, "complete")
    original = session_id(page)
    send(page, "second [[say text='Two']]")
    page.wait_for_function("() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 2")
    wait_idle(page)

    # One menu per message holds the actions; Copy puts the Markdown on the clipboard.
    first_reply = assistant_messages(page).first
    menu_action(first_reply, "Copy as Markdown")
    assert page.evaluate("navigator.clipboard.readText()") == "**One** answer"
    first_reply.locator("button.msg__more").click()
    assert first_reply.get_by_role("menuitem").all_inner_texts() == ["Copy as Markdown", "Fork from here"]
    screenshot(page, f"{which}-message-menu")
    page.keyboard.press("Escape")
    assert first_reply.get_by_role("menu").is_hidden()

    # ↑ in the empty box edits the last message; sending starts a branch, the original stays.
    page.locator("#composer-input").focus()
    page.keyboard.press("ArrowUp")
    assert page.locator("#composer-input").input_value() == "second [[say text='Two']]"
    assert page.get_by_test_id("editing").is_visible()
    screenshot(page, f"{which}-editing")
    send(page, "second, edited [[say text='Two again']]")
    page.wait_for_function("(sid) => !location.hash.endsWith(sid)", arg=original)
    branch = session_id(page)
    wait_last_assistant(page, "complete")
    page.get_by_test_id("branch-origin").wait_for()
    assert [body_of(m) for m in page.locator("li.msg").all()] == [
        "first [[say text='**One** answer']]",
        "One answer",
        "second, edited [[say text='Two again']]",
        "Two again",
    ]
    assert [m["text"] for m in api.messages(original)][-1] == "Two"  # the original is untouched

    # Regenerate the newest reply: a new branch from before its prompt, answered again.
    wait_idle(page)
    last = assistant_messages(page).last
    last.locator("button.msg__more").click()
    assert "Regenerate" in last.get_by_role("menuitem").all_inner_texts()
    assert "Regenerate" not in assistant_messages(page).first.get_by_role("menuitem").all_inner_texts()
    last.get_by_role("menuitem", name="Regenerate").click()
    page.wait_for_function("(sid) => !location.hash.endsWith(sid)", arg=branch)
    regenerated = session_id(page)
    page.wait_for_function("() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 2")
    texts = [m["text"] for m in api.messages(regenerated)]
    assert texts[2:] == ["second, edited [[say text='Two again']]", "Two again"]
    assert api.http.get(f"/api/sessions/{regenerated}").json()["forked_from"] == branch


@VIEWPORTS
def test_esc_stops_continue_and_cancel_a_queued_message(
    logged_in: Callable[..., Any], blu: BluServer, api: BluClient, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = logged_in(viewport=viewport).new_page()
    open_app(page, blu.url, "/#/new")
    send(page, "[[slow ms=150]] [[words n=300]]")
    page.wait_for_selector("li.msg--assistant[data-state=running] .msg__text")
    send(page, "queued one [[say text='never']]")
    user = page.locator("li.msg--user").last
    cancel = user.get_by_role("button", name="Cancel this queued message")
    cancel.wait_for()
    screenshot(page, f"{which}-queued-cancel")
    cancel.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('li.msg--assistant')]"
        ".some((m) => m.innerText.includes('Cancelled before it ran'))"
    )
    assert user.get_by_role("button", name="Cancel this queued message").count() == 0

    # Esc stops the running turn (the message box does not need focus).
    page.locator("#composer-input").blur()
    page.keyboard.press("Escape")
    page.wait_for_selector("li.msg--assistant[data-state=interrupted] >> nth=0")
    wait_idle(page)
    sid = session_id(page)
    stopped = next(m for m in api.messages(sid) if m["role"] == "assistant" and m["text"].startswith("alpha"))
    assert stopped["state"] == "interrupted"

    # The cut reply is not the newest (the cancelled one is), so Continue sits on nothing stale:
    # continue is offered on the newest reply only when it was cut after writing something.
    assert page.get_by_role("button", name="Continue the reply where it stopped").count() == 0
    send(page, "[[slow ms=150]] [[words n=300]]")
    page.wait_for_selector("li.msg--assistant:last-child[data-state=running] .msg__text")
    page.keyboard.press("Escape")
    wait_last_assistant(page, "interrupted")
    wait_idle(page)
    page.get_by_role("button", name="Continue the reply where it stopped").click()
    wait_last_assistant(page, "complete")
    assert page.locator("li.msg--user").last.inner_text().count("Continue from where you stopped.") == 1


@VIEWPORTS
def test_delete_a_session_with_undo(
    logged_in: Callable[..., Any], blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = logged_in(viewport=viewport).new_page()
    open_app(page, blu.url, "/#/new")
    send(page, "to be deleted [[say text='bye']]")
    wait_last_assistant(page, "complete")
    wait_idle(page)
    sid = session_id(page)
    link = page.locator(f".session-link[data-session-id='{sid}']")
    link.wait_for(state="attached")

    page.get_by_role("button", name="Delete this session").click()
    undo = page.get_by_test_id("undo-delete")
    undo.wait_for()
    screenshot(page, f"{which}-delete-undo")
    assert link.count() == 0 and not page.url.endswith(sid)
    undo.get_by_role("button", name="Undo").click()
    page.wait_for_url(f"**/#/s/{sid}")
    link.wait_for(state="attached")
    assert api.http.get(f"/api/sessions/{sid}").status_code == 200

    page.get_by_role("button", name="Delete this session").click()
    undo.wait_for()
    undo.wait_for(state="detached", timeout=15_000)  # the time to undo is up: deleted for real
    # (Asked from here: wait_for_function takes the promise an async function returns as a truthy answer.)
    deadline = time.monotonic() + 10
    while api.http.get(f"/api/sessions/{sid}").status_code != 404:
        assert time.monotonic() < deadline, "not deleted"
        time.sleep(0.2)
    assert link.count() == 0
