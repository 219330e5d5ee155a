"""The Memory dialog open in two tabs (and on another device): a save in one shows in the other."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.conftest import Console, ContextFactory, login_context
from tests.web.helpers import open_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_memory(page: Any) -> Any:
    page.get_by_test_id("open-memory").click()
    dialog = page.get_by_test_id("memory-dialog")
    dialog.get_by_test_id("memory-status").get_by_text("Saved", exact=False).or_(
        dialog.get_by_test_id("memory-status").get_by_text("Empty", exact=False)
    ).wait_for()
    return dialog


def wait_editor(page: Any, text: str) -> None:
    page.wait_for_function("(t) => document.querySelector('#memory-editor').value === t", arg=text)


def save_in(dialog: Any, text: str) -> None:
    dialog.locator("#memory-editor").fill(text)
    dialog.get_by_role("button", name="Save", exact=True).click()
    dialog.get_by_test_id("memory-status").get_by_text("Saved", exact=False).wait_for()


def test_an_open_memory_dialog_follows_a_save_in_another_tab(
    new_context: ContextFactory, own_blu: BluServer, console: Console
) -> None:
    console.allow(r"status of 409")  # the refused save below
    context = new_context()
    login_context(context, own_blu.url)
    tab_a, tab_b = context.new_page(), context.new_page()
    for page in (tab_a, tab_b):
        open_app(page, own_blu.url)
    dialog_a, dialog_b = open_memory(tab_a), open_memory(tab_b)

    # No edits in B: it shows A's text, and says where it came from.
    save_in(dialog_a, "- from A\n")
    wait_editor(tab_b, "- from A\n")
    assert "changed elsewhere" in dialog_b.get_by_test_id("memory-changed").inner_text()
    assert dialog_b.get_by_test_id("memory-conflict").is_hidden()
    assert dialog_b.get_by_role("button", name="Save", exact=True).is_disabled()  # nothing unsaved

    # Unsaved edits in B: kept, with a word that the memory changed and a way to load the new version.
    dialog_b.locator("#memory-editor").fill("- mine, in B\n")
    save_in(dialog_a, "- again from A\n")
    notice = dialog_b.get_by_test_id("memory-conflict")
    notice.get_by_text("The memory changed elsewhere").wait_for()
    assert dialog_b.locator("#memory-editor").input_value() == "- mine, in B\n"
    status = dialog_b.get_by_test_id("memory-status").inner_text()
    assert status.startswith("Unsaved changes. Saved"), status  # what the memory is now: A's save
    assert "Not saved" not in status  # B tried no save

    # Saving over it still meets the 409 and its choices; nothing of A's is overwritten unasked.
    dialog_b.get_by_role("button", name="Save", exact=True).click()
    notice.get_by_text("The memory changed while you were editing").wait_for()
    assert dialog_b.get_by_test_id("memory-status").inner_text().startswith("Not saved: the memory changed meanwhile.")
    assert notice.get_by_role("button", name="Save mine over theirs").is_visible()
    assert (own_blu.data_dir / "claude" / "CLAUDE.md").read_text() == "- again from A\n"

    # Once more, and B takes the new version instead.
    save_in(dialog_a, "- third from A\n")
    notice.get_by_role("button", name="Load the new version (drop mine)").wait_for()
    assert dialog_b.locator("#memory-editor").input_value() == "- mine, in B\n"
    notice.get_by_role("button", name="Load the new version (drop mine)").click()
    wait_editor(tab_b, "- third from A\n")
    assert notice.is_hidden()
    assert "changed" not in dialog_b.get_by_test_id("memory-status").inner_text()
    context.close()  # before the server of its own stops


def test_a_change_from_another_device_shows_when_the_tab_is_looked_at_again(
    new_context: ContextFactory, own_blu: BluServer
) -> None:
    context = new_context()
    login_context(context, own_blu.url)
    page = context.new_page()
    open_app(page, own_blu.url)
    dialog = open_memory(page)

    api = own_blu.client()  # another device: no tab of this browser to tell
    current = api.http.get("/api/memory")
    saved = api.http.put(
        "/api/memory", json={"content": "- from the phone\n"}, headers={"If-Match": current.headers["etag"]}
    )
    assert saved.is_success, saved.text
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")  # the person comes back to this tab
    wait_editor(page, "- from the phone\n")
    dialog.get_by_test_id("memory-changed").wait_for()
    context.close()  # before the server of its own stops


def test_an_open_dialog_notices_another_devices_save_while_it_stays_visible(
    new_context: ContextFactory, own_blu: BluServer, console: Console
) -> None:
    """Two devices (two browser contexts: no tab of one can tell the other): the laptop's open dialog notices
    the phone's saves by itself within seconds, without being looked at again (no focus, no visibility change),
    and a stale save from it still meets the 409."""
    console.allow(r"status of 409")  # the refused save below
    laptop, phone = new_context(), new_context()
    for context in (laptop, phone):
        login_context(context, own_blu.url)
    page, other = laptop.new_page(), phone.new_page()
    for each in (page, other):
        open_app(each, own_blu.url)
    dialog, on_phone = open_memory(page), open_memory(other)
    page.evaluate(
        """() => {
            window.__looks = 0;  // what made the old dialog re-read: the tab looked at again
            window.addEventListener('focus', () => window.__looks++);
            document.addEventListener('visibilitychange', () => window.__looks++);
        }"""
    )

    save_in(on_phone, "- from the phone\n")
    wait_editor(page, "- from the phone\n")
    assert "changed elsewhere" in dialog.get_by_test_id("memory-changed").inner_text()
    assert dialog.get_by_role("button", name="Save", exact=True).is_disabled()  # nothing unsaved

    # Unsaved edits on the laptop are kept: it says the memory changed and offers the new version.
    dialog.locator("#memory-editor").fill("- mine, on the laptop\n")
    save_in(on_phone, "- again from the phone\n")
    notice = dialog.get_by_test_id("memory-conflict")
    notice.get_by_text("The memory changed elsewhere").wait_for()
    assert dialog.locator("#memory-editor").input_value() == "- mine, on the laptop\n"
    assert page.evaluate("() => [window.__looks, document.visibilityState]") == [0, "visible"]

    # Saving the laptop's text over it is still refused (409) with its choices; the phone's text stays.
    dialog.get_by_role("button", name="Save", exact=True).click()
    notice.get_by_text("The memory changed while you were editing").wait_for()
    assert notice.get_by_role("button", name="Save mine over theirs").is_visible()
    assert (own_blu.data_dir / "claude" / "CLAUDE.md").read_text() == "- again from the phone\n"
    for context in (laptop, phone):
        context.close()  # before the server of its own stops
