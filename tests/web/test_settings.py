"""The settings page: theme (system, light, dark; kept across reloads), the shortcut help on `?`, and the
sections other features will fill, marked "Not available yet"; on desktop and phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.conftest import DESKTOP, PHONE, AppPage, Console, screenshot
from tests.web.helpers import open_app, send, session_id

pytestmark = pytest.mark.browser
BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_settings_theme_and_shortcut_help(app_page: AppPage, blu: BluServer, viewport: dict[str, int]) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport, color_scheme="light")
    light = page.evaluate(BACKGROUND)

    if viewport == PHONE:
        page.get_by_role("button", name="Sessions").click()
    page.get_by_role("button", name="Settings").click()
    settings = page.get_by_test_id("settings")
    settings.get_by_role("heading", name="Settings").wait_for()
    for name in ("Appearance", "Keyboard shortcuts", "Notifications", "Tool policy", "Memory", "MCP servers"):
        settings.get_by_role("heading", name=name, exact=True).wait_for()
    for planned in ("notifications", "tool-policy", "memory", "mcp", "schedules", "backups"):  # each feature's own
        settings.locator(f"#settings-{planned} button").first.wait_for()
        assert "Not available yet." not in settings.locator(f"#settings-{planned}").inner_text()
    settings.locator("#settings-tool-policy").get_by_role("button", name="Open Tool policy").click()
    page.get_by_test_id("policy").get_by_role("heading").first.wait_for()  # the settings gave way to the dialog
    page.keyboard.press("Escape")
    page.get_by_test_id("policy").wait_for(state="hidden")
    if viewport == PHONE and not page.get_by_role("button", name="Settings").is_visible():
        page.get_by_role("button", name="Sessions").click()
    page.get_by_role("button", name="Settings").click()
    assert settings.get_by_role("radio", name="System (follows your device)").is_checked()

    settings.get_by_role("radio", name="Dark").check()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark = page.evaluate(BACKGROUND)
    assert dark != light
    screenshot(page, f"{which}-settings-dark")
    settings.get_by_role("button", name="Close the settings").click()
    assert settings.is_hidden()

    page.reload()  # kept across reloads, applied before the app starts
    page.wait_for_selector("html[data-ready=app][data-theme=dark]")
    assert page.evaluate(BACKGROUND) == dark

    # `?` (outside a text field) opens the shortcuts; typing `?` in the message box does not.
    page.locator("#composer-input").fill("why?")
    assert settings.is_hidden()
    page.locator("#composer-input").blur()
    page.keyboard.press("?")
    settings.locator("#settings-shortcuts").get_by_text("Stop the running turn", exact=False).wait_for()
    screenshot(page, f"{which}-shortcuts")
    settings.get_by_role("radio", name="System (follows your device)").check()
    assert page.evaluate("document.documentElement.dataset.theme") is None
    assert page.evaluate(BACKGROUND) == light
    page.keyboard.press("Escape")
    assert settings.is_hidden()


def test_a_snapshot_is_taken_listed_and_restored_from_the_settings(app_page: AppPage, tmp_path: Any) -> None:
    server = BluServer(tmp_path / "data").start()  # its own: a restore replaces everything
    try:
        api = server.client()
        session = api.new_session()
        api.turn(session, "[[say text=kept]]")
        page = app_page(server)
        context = page.context
        page.get_by_role("button", name="Settings").click()
        backups = page.get_by_test_id("settings").locator("#settings-backups")
        backups.get_by_text("No snapshot yet.").wait_for()
        take = backups.get_by_role("button", name="Take a snapshot now")
        # Whether the button was off while the snapshot ran, and on again after (a snapshot of this Blu takes
        # a fraction of a second: the line saying it was taken is what stops a second click for a copy).
        take.evaluate(
            """(button) => { window.takeStates = [];
            new MutationObserver(() => window.takeStates.push(button.disabled))
                .observe(button, { attributes: true, attributeFilter: ["disabled"] }); }"""
        )
        take.click()
        status = backups.get_by_test_id("backups-status")
        status.get_by_text("Snapshot taken at", exact=False).wait_for(timeout=60_000)
        states = page.evaluate("window.takeStates")
        assert [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]] == [True, False], states
        assert take.is_enabled()
        item = backups.locator("li.backups__item")
        assert "1 session, 2 messages" in item.inner_text() and "manual" in item.inner_text()
        assert "backups__item--new" in (item.get_attribute("class") or "")
        assert "first in the list" in status.inner_text()
        screenshot(page, "desktop-settings-backups")

        api.turn(session, "[[say text=after]]")  # changed since: the restore takes it back
        page.once("dialog", lambda dialog: dialog.accept())
        item.get_by_role("button", name="Restore everything…").click()
        backups.get_by_test_id("backups-status").get_by_text("Restored.").wait_for(timeout=60_000)
        assert [m["text"] for m in api.messages(session)] == ["[[say text=kept]]", "kept"]
        # The snapshot of what the restore replaced is listed at once, newest first (no reopening).
        assert item.count() == 2
        assert "pre-restore" in item.first.inner_text() and "1 session, 4 messages" in item.first.inner_text()
        assert "manual" in item.last.inner_text()
        screenshot(page, "desktop-settings-backups-restored")
        context.close()  # before its server stops
    finally:
        server.stop()


def test_the_tab_that_restores_shows_what_the_snapshot_holds(
    app_page: AppPage, tmp_path: Any, console: Console
) -> None:
    # No reload: the list shows the snapshot's sessions, and the open session, made after the snapshot, is
    # left as a deleted one is (a notice, a new chat, its draft in the new chat's box).
    console.allow(r"status of 404 .*/api/sessions/[0-9a-f]{24}\]")  # asking whether the open session is still there
    server = BluServer(tmp_path / "data").start()  # its own: a restore replaces everything
    try:
        api = server.client()
        kept = api.new_session()
        api.turn(kept, "[[say text=kept]]")
        page = app_page(server)
        context = page.context
        page.get_by_role("button", name="Settings").click()
        settings = page.get_by_test_id("settings")
        backups = settings.locator("#settings-backups")
        backups.get_by_role("button", name="Take a snapshot now").click()
        backups.locator("li.backups__item").wait_for(timeout=60_000)
        page.keyboard.press("Escape")

        page.get_by_role("button", name="+ New session").click()
        send(page, "Made after the snapshot [[say text=later]]")
        page.wait_for_selector("li.msg--assistant[data-state=complete]")
        later = session_id(page)
        page.fill("#composer-input", "half a thought")
        page.locator(f".session-link[data-session-id='{later}']").wait_for()
        other = context.new_page()  # another tab on the same session: told by its stream, not by the restore
        open_app(other, server.url, f"#/s/{later}")
        other.wait_for_selector("li.msg--assistant[data-state=complete]")
        other.fill("#composer-input", "the other tab's thought")

        page.get_by_role("button", name="Settings").click()
        page.once("dialog", lambda dialog: dialog.accept())
        backups.locator("li.backups__item").last.get_by_role("button", name="Restore everything…").click()
        backups.get_by_test_id("backups-status").get_by_text("Restored.").wait_for(timeout=60_000)
        page.locator(f".session-link[data-session-id='{later}']").wait_for(state="detached")
        page.locator(f".session-link[data-session-id='{kept}']").wait_for(state="attached")
        page.wait_for_url("**/#/new")
        page.locator(".toast", has_text="not in the restored snapshot").wait_for()
        assert page.locator("#composer-input").input_value() == "half a thought"
        other.wait_for_url("**/#/new")
        other.locator(".toast", has_text="not in the restored snapshot").wait_for()
        assert other.locator("#composer-input").input_value() == "the other tab's thought"
        assert other.locator(f".session-link[data-session-id='{later}']").count() == 0
        context.close()  # before its server stops
    finally:
        server.stop()
