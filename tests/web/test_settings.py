"""The settings page: theme (system, light, dark; kept across reloads), the shortcut help on `?`, and the
sections other features will fill, marked "Not available yet"; on desktop and phone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.conftest import DESKTOP, PHONE, screenshot
from tests.web.helpers import open_app

pytestmark = pytest.mark.browser
BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_settings_theme_and_shortcut_help(
    logged_in: Callable[..., Any], blu: BluServer, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = logged_in(viewport=viewport, color_scheme="light").new_page()
    open_app(page, blu.url, "/#/new")
    light = page.evaluate(BACKGROUND)

    if viewport == PHONE:
        page.get_by_role("button", name="Sessions").click()
    page.get_by_role("button", name="Settings").click()
    settings = page.get_by_test_id("settings")
    settings.get_by_role("heading", name="Settings").wait_for()
    for name in ("Appearance", "Keyboard shortcuts", "Notifications", "Tool policy", "Memory", "MCP servers"):
        settings.get_by_role("heading", name=name, exact=True).wait_for()
    for planned in ("notifications", "tool-policy", "memory", "mcp", "schedules", "backups"):
        assert settings.locator(f"#settings-{planned}").inner_text().endswith("Not available yet.")
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
