"""How things look where a tester found them rough: the Tool policy dialog styled as the other dialogs, an
invalid MCP server name that says what a valid one is, and a phone header that leaves the session name room."""

from __future__ import annotations

import pytest

from tests.support.server import BluServer
from tests.web.conftest import DESKTOP, AppPage, assert_no_horizontal_overflow, screenshot
from tests.web.helpers import send

pytestmark = pytest.mark.browser

STYLE_JS = """(el) => { const s = getComputedStyle(el);
    return {font: s.fontFamily, radius: s.borderTopLeftRadius, border: s.borderTopStyle, height: el.offsetHeight}; }"""


def test_the_tool_policy_dialog_looks_like_the_other_dialogs(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, viewport=DESKTOP)
    page.get_by_test_id("open-tools").click()
    tools_title = page.locator("#servers-title").evaluate(STYLE_JS)
    page.get_by_test_id("servers-dialog").get_by_role("button", name="Close").click()
    page.get_by_test_id("policy-open").click()
    dialog = page.get_by_test_id("policy")
    dialog.wait_for()
    # The title in the dialogs' type, not the file preview's monospace.
    assert dialog.locator("#policy-title").evaluate(STYLE_JS)["font"] == tools_title["font"]
    # The mode dropdown drawn like the text box beside it (rounded, bordered, as tall).
    box = dialog.get_by_label("Tool name").evaluate(STYLE_JS)
    mode = dialog.get_by_label("Mode of the new tool").evaluate(STYLE_JS)
    assert (mode["radius"], mode["border"], mode["height"]) == (box["radius"], box["border"], box["height"])
    screenshot(page, "desktop-tool-policy")


def test_an_invalid_mcp_server_name_says_what_a_valid_one_is(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, viewport=DESKTOP)
    page.get_by_test_id("open-tools").click()
    dialog = page.get_by_test_id("servers-dialog")
    dialog.get_by_role("button", name="Add server").click()
    name = dialog.locator("#mcp-name")
    name.fill("bad name!!")
    dialog.get_by_role("button", name="Save server").click()
    message = name.evaluate("e => e.validationMessage")
    assert "letters, digits" in message and "no spaces" in message, message
    name.fill("good-name_2")
    assert name.evaluate("e => e.validationMessage") == ""


@pytest.mark.parametrize("width", [390, 360])
def test_a_phone_header_leaves_the_name_room_and_shows_the_cost(app_page: AppPage, blu: BluServer, width: int) -> None:
    page = app_page(blu, "/#/new", viewport={"width": width, "height": 780}, is_mobile=True, has_touch=True)
    send(page, "URL check five [[say text=ok]]")
    page.wait_for_selector("li.msg--assistant[data-state=complete]")
    page.get_by_test_id("session-usage").get_by_text("$", exact=False).wait_for()
    title = page.locator("#session-title")
    sizes = title.evaluate("e => ({width: e.clientWidth, needs: e.scrollWidth})")
    assert sizes["needs"] <= sizes["width"] and sizes["width"] >= 200, sizes  # the whole name, with room to spare
    usage = page.get_by_test_id("session-usage")
    assert usage.evaluate("e => e.scrollWidth <= e.clientWidth"), usage.inner_text()  # the cost not cut off
    for name in ("Rename this session", "Archive this session", "Delete this session", "Artifacts and files"):
        assert page.get_by_role("button", name=name).is_visible()
    assert_no_horizontal_overflow(page, f"{width} px header")
    screenshot(page, f"phone-{width}-header")
