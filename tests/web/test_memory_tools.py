"""The Memory and Tools dialogs in Chromium: edit, conflict, restore; MCP servers with their status."""

from __future__ import annotations

import json

import pytest

from tests.support.mcp_server import stdio_config
from tests.support.server import BluServer
from tests.web.conftest import Console, ContextFactory, login_context, screenshot
from tests.web.helpers import open_app, send

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_memory_is_edited_previewed_saved_and_restored(
    new_context: ContextFactory, own_blu: BluServer, console: Console
) -> None:
    console.allow(r"status of 409")  # the conflict below is answered 409, as it should be
    context = new_context()
    login_context(context, own_blu.url)
    page = context.new_page()
    open_app(page, own_blu.url)
    page.get_by_test_id("open-memory").click()
    dialog = page.get_by_test_id("memory-dialog")
    editor = dialog.locator("#memory-editor")
    dialog.get_by_test_id("memory-status").get_by_text("Empty: nothing saved yet.").wait_for()

    editor.fill("# About me\n\n- I like **herons**\n")
    dialog.get_by_role("button", name="Preview").click()
    assert dialog.get_by_test_id("memory-preview").locator("h1").inner_text() == "About me"
    assert dialog.get_by_test_id("memory-preview").locator("strong").inner_text() == "herons"
    dialog.get_by_role("button", name="Edit").click()
    dialog.get_by_role("button", name="Save", exact=True).click()
    dialog.get_by_test_id("memory-status").get_by_text("by You").wait_for()
    assert (own_blu.data_dir / "claude" / "CLAUDE.md").read_text() == "# About me\n\n- I like **herons**\n"

    # A new session's Claude reads it (the stand-in's recall quotes the memory it was sent).
    api = own_blu.client()
    session = api.new_session()
    api.turn(session, "[[recall]]")
    assert api.messages(session)[-1]["text"].endswith("Memory: # About me - I like **herons**")

    # Meanwhile the memory changes elsewhere (another tab, or Claude): this tab's save is refused, not lost.
    current = api.http.get("/api/memory")
    other = "# About me\n\n- I like herons and owls\n"
    assert api.http.put(
        "/api/memory", json={"content": other}, headers={"If-Match": current.headers["etag"]}
    ).is_success
    editor.fill("# About me\n\n- mine\n")
    dialog.get_by_role("button", name="Save", exact=True).click()
    conflict = dialog.get_by_test_id("memory-conflict")
    conflict.wait_for()
    assert "changed while you were editing" in conflict.inner_text()
    assert editor.input_value() == "# About me\n\n- mine\n"  # still here
    conflict.get_by_role("button", name="Load theirs (drop mine)").click()
    assert editor.input_value() == other

    # Every version is listed; restoring the first makes it current again.
    versions = dialog.get_by_test_id("memory-versions").locator("li")
    count = "(n) => document.querySelectorAll('[data-testid=memory-versions] li[data-version-id]').length === n"
    page.wait_for_function(count, arg=2)
    versions.last.get_by_role("button", name="Restore").click()
    page.wait_for_function("() => document.querySelector('#memory-editor').value.includes('**herons**')")
    assert (own_blu.data_dir / "claude" / "CLAUDE.md").read_text() == "# About me\n\n- I like **herons**\n"
    page.wait_for_function(count, arg=3)
    assert "Restored" in versions.first.inner_text()


def test_after_a_save_conflict_the_labels_say_what_the_memory_is_now(
    new_context: ContextFactory, own_blu: BluServer, console: Console
) -> None:
    """Opened while the memory was empty; another tab saves first: the refused save's status no longer says
    "Empty", and the versions list marks the other tab's version as the current one (not Restore)."""
    console.allow(r"status of 409")  # the refused save
    context = new_context()
    login_context(context, own_blu.url)
    page = context.new_page()
    open_app(page, own_blu.url)
    page.get_by_test_id("open-memory").click()
    dialog = page.get_by_test_id("memory-dialog")
    status = dialog.get_by_test_id("memory-status")
    status.get_by_text("Empty: nothing saved yet.").wait_for()

    api = own_blu.client()
    empty = api.http.get("/api/memory")
    theirs = api.http.put("/api/memory", json={"content": "- theirs\n"}, headers={"If-Match": empty.headers["etag"]})
    assert theirs.is_success, theirs.text
    their_version = theirs.json()["version"]["id"]

    dialog.locator("#memory-editor").fill("- mine\n")
    dialog.get_by_role("button", name="Save", exact=True).click()
    dialog.get_by_test_id("memory-conflict").wait_for()
    mark = dialog.locator(f"[data-version-id='{their_version}']")
    mark.wait_for()
    assert "Empty" not in status.inner_text()
    assert "by You" in status.inner_text() and "changed" in status.inner_text()
    assert "Current" in mark.inner_text()
    assert mark.get_by_role("button", name="Restore").count() == 0
    screenshot(page, "desktop-memory-conflict")

    # Saving mine over theirs makes mine the current one; the labels follow.
    dialog.get_by_role("button", name="Save mine over theirs").click()
    status.get_by_text("Saved", exact=False).wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=memory-versions] li[data-version-id]').length === 2"
    )
    assert "changed" not in status.inner_text() and "Unsaved" not in status.inner_text()
    versions = dialog.get_by_test_id("memory-versions").locator("li[data-version-id]")
    assert "Current" in versions.first.inner_text() and "Current" not in mark.inner_text()
    assert (own_blu.data_dir / "claude" / "CLAUDE.md").read_text() == "- mine\n"
    context.close()


def test_claudes_memory_change_shows_as_a_card_after_its_reply_and_reverts(
    new_context: ContextFactory, own_blu: BluServer
) -> None:
    api = own_blu.client()
    empty = api.http.get("/api/memory")
    path = empty.json()["path"]
    saved = api.http.put(
        "/api/memory", json={"content": "- likes herons\n"}, headers={"If-Match": empty.headers["etag"]}
    )
    assert saved.is_success, saved.text
    context = new_context()
    login_context(context, own_blu.url)
    page = context.new_page()
    open_app(page, own_blu.url)
    send(page, f'[[edit path={path} old="likes herons" new="likes herons and owls"]]')
    page.locator("li.msg--assistant[data-state=complete]").wait_for()
    card = page.locator("li.messages__card")
    card.wait_for()
    # Right after the reply of the turn that changed it, with the diff.
    assert page.locator("li.msg--assistant + li.messages__card").count() == 1
    assert "+- likes herons and owls" in card.inner_text()
    card.get_by_role("button", name="Revert").click()
    card.get_by_text("Reverted.").wait_for()
    assert (own_blu.data_dir / "claude" / "CLAUDE.md").read_text() == "- likes herons\n"
    context.close()  # before its server stops: the page's long-poll would log the refused connection


def test_tools_dialog_lists_servers_with_their_status_and_refuses_bad_ones(
    new_context: ContextFactory, own_blu: BluServer, console: Console
) -> None:
    console.allow(r"status of 400")  # the bad server below
    api = own_blu.client()
    assert api.http.put("/api/mcp/servers/local", json=stdio_config()).is_success
    context = new_context()
    login_context(context, own_blu.url)
    page = context.new_page()
    open_app(page, own_blu.url)
    page.get_by_test_id("open-tools").click()
    dialog = page.get_by_test_id("servers-dialog")
    card = dialog.locator("[data-server=local]")
    assert card.get_by_test_id("mcp-status").inner_text() == "Not checked"

    dialog.get_by_role("button", name="Check status").click()
    card.get_by_test_id("mcp-status").get_by_text("Connected").wait_for(timeout=60_000)
    assert "mcp__local__shout" in card.inner_text() and "mcp__local__secret_word" in card.inner_text()

    # Add one in the .mcp.json shape: a bad address is refused with the reason; a good one is listed,
    # its key never shown again.
    dialog.get_by_role("button", name="Add server").click()
    dialog.locator("#mcp-name").fill("down")
    dialog.locator("#mcp-config").fill('{"type": "http", "url": "ftp://nowhere"}')
    dialog.get_by_role("button", name="Save server").click()
    dialog.get_by_test_id("mcp-error").get_by_text("http:// or https://", exact=False).wait_for()
    key = "form-secret-7c1d"
    server = {"type": "http", "url": "http://127.0.0.1:1/mcp", "headers": {"X-Key": key}}
    dialog.locator("#mcp-config").fill(json.dumps(server))
    dialog.get_by_role("button", name="Save server").click()
    down = dialog.locator("[data-server=down]")
    down.get_by_test_id("mcp-status").get_by_text("Failed").wait_for(timeout=60_000)
    assert "Reason:" in down.inner_text() and "X-Key: set" in down.inner_text()
    assert key not in page.content()
