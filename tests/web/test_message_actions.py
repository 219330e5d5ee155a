"""What a person does to messages all day: copy one as Markdown, edit and resend (↑), regenerate (the earlier
version kept collapsed), stop with Esc, continue a cut reply, cancel a queued message, and delete a session with
undo; on desktop and phone."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import DESKTOP, PHONE, AppPage, Console, screenshot
from tests.web.helpers import assistant_messages, body_of, open_app, send, session_id, wait_idle, wait_last_assistant

pytestmark = pytest.mark.browser
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def menu_action(message: Any, name: str) -> None:
    message.locator("button.msg__more").click()
    message.get_by_role("menuitem", name=name).click()


@VIEWPORTS
def test_copy_edit_and_resend(app_page: AppPage, blu: BluServer, api: BluClient, viewport: dict[str, int]) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
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
    assert api.http.get(f"/api/sessions/{branch}").json()["forked_from"] == original


CURRENT_REPLY = "li.msg--assistant:not(.msg--earlier)"


def wait_current_reply_complete(page: Any, earlier: int) -> Any:
    """The newest reply written to its end, once `earlier` earlier versions are shown above it."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('li.msg--earlier').length === n"
        " && document.querySelector('li.msg--assistant:last-child:not(.msg--earlier)[data-state=complete]')",
        arg=earlier,
    )
    return page.locator(CURRENT_REPLY).last


@VIEWPORTS
def test_regenerate_keeps_the_earlier_version_collapsed_in_the_same_session(
    app_page: AppPage, blu: BluServer, api: BluClient, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
    context = page.context
    send(page, "first [[say text='One']]")
    wait_last_assistant(page, "complete")
    prompt = "second [[say text='Two, **as written the first time**']]"
    send(page, prompt)
    page.wait_for_function("() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 2")
    wait_idle(page)
    sid = session_id(page)
    # A second tab on the same session follows along.
    other = context.new_page()
    open_app(other, blu.url, f"/#/s/{sid}")
    other.wait_for_function("() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 2")

    # Regenerate is on the newest reply only; it answers again here, in this session.
    last = assistant_messages(page).last
    last.locator("button.msg__more").click()
    assert "Regenerate" in last.get_by_role("menuitem").all_inner_texts()
    page.keyboard.press("Escape")
    assistant_messages(page).first.locator("button.msg__more").click()
    assert "Regenerate" not in assistant_messages(page).first.get_by_role("menuitem").all_inner_texts()
    page.keyboard.press("Escape")
    menu_action(last, "Regenerate")
    newest = wait_current_reply_complete(page, 1)
    assert session_id(page) == sid
    assert page.locator("li.msg--user").count() == 2  # the prompt is not sent again as a message

    # The replaced reply stays above the new one, collapsed behind one line that says what it is.
    earlier = page.locator("li.msg--earlier")
    toggle = earlier.get_by_role("button", name=re.compile(r"^▸?\s*Earlier version 1 of 2"))
    assert toggle.get_attribute("aria-expanded") == "false"
    assert earlier.locator(".msg__card").is_hidden()
    assert newest.locator(".msg__versions").inner_text() == "Version 2 of 2"
    order = page.locator("li.msg").evaluate_all("(items) => items.map((li) => li.className)")
    assert ["msg--earlier" in c for c in order] == [False, False, False, True, False]
    assert body_of(newest) == "Two, as written the first time"
    screenshot(page, f"{which}-regenerated-collapsed")

    # The other tab shows the same, live.
    wait_current_reply_complete(other, 1)
    assert other.locator("li.msg--earlier .msg__card").is_hidden()

    # Opened, it reads like any reply; it offers copying only (it is not in Claude's mind any more).
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    card = earlier.locator(".msg__card")
    card.wait_for()
    assert body_of(earlier) == "Two, as written the first time"
    assert card.locator(".msg__versions").inner_text() == "Earlier version 1 of 2"
    earlier.locator("button.msg__more").click()
    assert earlier.get_by_role("menuitem").all_inner_texts() == ["Copy as Markdown"]
    page.keyboard.press("Escape")
    screenshot(page, f"{which}-regenerated-expanded")
    toggle.click()
    assert card.is_hidden()

    # After a reload: the same, collapsed again.
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    newest = wait_current_reply_complete(page, 1)
    assert page.locator("li.msg--earlier .msg__card").is_hidden()
    assert page.locator("li.msg--user").count() == 2

    # Again: two earlier versions, each behind its own line, in order.
    wait_idle(page)
    menu_action(newest, "Regenerate")
    wait_current_reply_complete(page, 2)
    labels = page.locator("li.msg--earlier .msg__version").all_inner_texts()
    assert [" ".join(label.replace("▸", "").split()) for label in labels] == [
        "Earlier version 1 of 3 · Show",
        "Earlier version 2 of 3 · Show",
    ]
    assert page.locator(CURRENT_REPLY).last.locator(".msg__versions").inner_text() == "Version 3 of 3"
    wait_current_reply_complete(other, 2)
    screenshot(page, f"{which}-regenerated-twice")

    stored = api.messages(sid)
    assert [m["text"] for m in stored].count(prompt) == 1
    replies = [m for m in stored if m["role"] == "assistant"][1:]
    assert [m["superseded_by"] for m in replies] == [replies[1]["id"], replies[2]["id"], None]


@VIEWPORTS
def test_esc_stops_continue_and_cancel_a_queued_message(
    app_page: AppPage, blu: BluServer, api: BluClient, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
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
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
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


def test_retry_answers_a_scheduled_runs_prompt_again_never_as_the_persons_message(
    app_page: AppPage, blu: BluServer, api: BluClient
) -> None:
    # A scheduled run's prompt (like Blu's note) is not the person's words: Retry on its failed reply answers it
    # again in place (Regenerate: the failed reply kept as an earlier version), and sends nothing as "You".
    sid = api.new_session()
    # Three failures: the CLI's first try and its two retries (CLAUDE_CODE_MAX_RETRIES=2); the Retry succeeds.
    prompt = f"Nightly check {time.time_ns()} [[error status=529 times=3]]"
    made = api.http.post(
        "/api/schedules",
        json={
            "name": "Nightly",
            "prompt": prompt,
            "repeat": "every day at 03:00",
            "target": "session",
            "session_id": sid,
            "paused": True,
        },
    )
    assert made.status_code == 201, made.text
    assert api.http.post(f"/api/schedules/{made.json()['id']}/run").status_code == 202
    page = app_page(blu, f"/#/s/{sid}")
    failed = wait_last_assistant(page, "error", timeout=60_000)
    wait_idle(page)
    asked = page.locator("li.msg--user")
    assert asked.locator(".msg__who").all_inner_texts() == ["Scheduled run"]
    assert failed.locator("[data-action=retry-turn]").count() == 0  # not "send the same message again"
    retry = failed.locator(".msg__actions > [data-action=regenerate]")
    assert retry.inner_text() == "Retry"
    retry.click()
    page.wait_for_function(
        "() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 1", timeout=60_000
    )
    wait_idle(page)
    assert asked.locator(".msg__who").all_inner_texts() == ["Scheduled run"]  # still one prompt, the schedule's
    stored = api.messages(sid)
    assert [(m["role"], m["sent_by"]) for m in stored if m["role"] == "user"] == [("user", "schedule")]
    assert [m["state"] for m in stored if m["role"] == "assistant"] == ["error", "complete"]
    screenshot(page, "desktop-retry-scheduled-run")
    # Who sent a message is the server's to say: a client cannot pass its words off as a schedule's or Blu's.
    forged = api.http.post(f"/api/sessions/{sid}/messages", json={"text": "hi", "sent_by": "schedule"})
    assert forged.status_code == 422, forged.text
