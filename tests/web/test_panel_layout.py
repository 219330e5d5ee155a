"""The Files panel as the window's width changes: the chat is never left covered by it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.conftest import AppPage

pytestmark = pytest.mark.browser


def chat_usable(page: Any) -> bool:
    """The message box is the topmost thing at its own centre: nothing (drawer, backdrop) lies over it."""
    return bool(
        page.evaluate(
            """() => {
              const box = document.querySelector('#composer-input');
              const r = box.getBoundingClientRect();
              const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
              return hit === box || box.contains(hit);
            }"""
        )
    )


def widen(page: Any) -> None:
    """To 1400 px, once the page has seen it: the wide layout applies and the resize has been handled."""
    page.set_viewport_size({"width": 1400, "height": 800})
    page.wait_for_function("() => matchMedia('(min-width: 1200px)').matches")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def test_the_panel_open_beside_the_chat_closes_when_the_window_narrows(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new", viewport={"width": 1400, "height": 800})
    panel = page.locator("#panel")
    files_button = page.get_by_role("button", name="Artifacts and files")
    panel.wait_for()  # open beside the chat on a wide window
    panel.get_by_role("tab", name="Files").click()
    assert chat_usable(page)

    # About 1000 px: the panel would be a drawer over the chat, so it closes; the chat is usable.
    page.set_viewport_size({"width": 1000, "height": 800})
    panel.wait_for(state="hidden")
    assert files_button.get_attribute("aria-expanded") == "false"
    assert page.locator(".backdrop").is_hidden()
    assert chat_usable(page)
    page.locator("#composer-input").fill("still here")

    # Opened on purpose at this width, it is a drawer with its own ways out: ✕, Esc, a click beside it.
    files_button.click()
    panel.wait_for()
    assert not chat_usable(page)
    panel.get_by_role("button", name="Close the panel").click()
    panel.wait_for(state="hidden")
    files_button.click()
    panel.wait_for()
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    files_button.click()
    panel.wait_for()
    page.mouse.click(100, 400)  # on the dimmed chat, left of the drawer
    panel.wait_for(state="hidden")
    assert chat_usable(page)
    assert page.locator("#composer-input").input_value() == "still here"

    # Wide again: the person's last action was to close it, so it stays closed.
    widen(page)
    assert panel.is_hidden()
    assert files_button.get_attribute("aria-expanded") == "false"

    # Reopened beside the chat and not touched while narrow: it comes back when the window widens, on the
    # tab it was on.
    files_button.click()
    panel.wait_for()
    page.set_viewport_size({"width": 1000, "height": 800})
    panel.wait_for(state="hidden")
    page.set_viewport_size({"width": 1400, "height": 800})
    panel.wait_for()
    assert panel.get_by_role("tab", name="Files").get_attribute("aria-selected") == "true"
    assert chat_usable(page)

    # Opened as a drawer and closed with ✕ while narrow: it stays closed when the window widens.
    page.set_viewport_size({"width": 1000, "height": 800})
    panel.wait_for(state="hidden")
    files_button.click()
    panel.wait_for()
    panel.get_by_role("button", name="Close the panel").click()
    panel.wait_for(state="hidden")
    widen(page)
    assert panel.is_hidden()

    # Opened as a drawer and left open: it stays open, beside the chat, when the window widens.
    page.set_viewport_size({"width": 1000, "height": 800})
    files_button.click()
    panel.wait_for()
    widen(page)
    assert panel.is_visible()
    assert chat_usable(page)

    # A drawer opened on purpose stays open while the window narrows further (it is still a drawer).
    page.set_viewport_size({"width": 1000, "height": 800})
    panel.wait_for(state="hidden")
    files_button.click()
    panel.wait_for()
    page.set_viewport_size({"width": 950, "height": 800})
    assert panel.is_visible()
