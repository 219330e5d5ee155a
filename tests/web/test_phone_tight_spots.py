"""Where a phone's room runs short: the drawer on a landscape phone keeps its session list usable, and the
Undo bar of a long session name keeps its button inside the bar at 360 px."""

from __future__ import annotations

import secrets

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import AppPage, screenshot

pytestmark = pytest.mark.browser
LANDSCAPE = {"viewport": {"width": 844, "height": 390}, "is_mobile": True, "has_touch": True}
ROWS = 3  # sessions the drawer's list shows at once, at least


def test_a_landscape_drawer_keeps_room_for_its_sessions(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    sids = [api.new_session() for _ in range(ROWS + 1)]
    for n, sid in enumerate(sids):
        response = api.http.patch(f"/api/sessions/{sid}", json={"name": f"Landscape {n}"})
        assert response.status_code == 200, response.text
    page = app_page(blu, "/#/new", **LANDSCAPE)
    page.get_by_role("button", name="Sessions").tap()
    sidebar = page.get_by_role("navigation", name="Sessions")
    link = sidebar.locator(f".session-link[data-session-id='{sids[0]}']")
    link.wait_for()
    page.wait_for_function("(e) => getComputedStyle(e).transform === 'none'", arg=sidebar.element_handle())
    row = link.evaluate("e => e.closest('li').getBoundingClientRect().height")
    listed = sidebar.locator(".sidebar__list").evaluate("e => e.getBoundingClientRect().height")
    screenshot(page, "landscape-drawer")
    assert listed >= ROWS * row, (listed, row)
    # The footer is still there, the drawer scrolling to it.
    sidebar.get_by_role("button", name="Log out").scroll_into_view_if_needed()
    assert sidebar.get_by_role("button", name="Log out").is_visible()
    link.tap()
    page.wait_for_url(f"**/#/s/{sids[0]}")


def test_the_undo_bar_keeps_its_button_inside_at_360(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    name = f"Supercalifragilisticexpialidocious antidisestablishmentarian {secrets.token_hex(2)}"
    assert api.http.patch(f"/api/sessions/{sid}", json={"name": name}).status_code == 200
    page = app_page(blu, f"/#/s/{sid}", viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page.get_by_role("button", name="Delete this session").click()
    bar = page.get_by_test_id("undo-delete")
    bar.wait_for()
    outer = bar.bounding_box()
    button = bar.get_by_role("button", name="Undo").bounding_box()
    screenshot(page, "phone-360-undo-long-name")
    assert outer and button
    assert outer["x"] <= button["x"] and button["x"] + button["width"] <= outer["x"] + outer["width"], (outer, button)
    assert button["x"] + button["width"] <= 360, button
    bar.get_by_role("button", name="Undo").click()  # leave the session in place
    bar.wait_for(state="detached")


PHONE_360 = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
FIELD = "e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; }"


def test_the_rename_field_and_the_message_box_have_room_at_360(
    app_page: AppPage, blu: BluServer, api: BluClient
) -> None:
    # At 360 × 740 the name being edited and the message being written each get most of the width and a
    # finger's height (44 px), with every button still on screen; also while a turn runs (Stop beside Send).
    sid = api.new_session()
    name = f"Weekly groceries and the plan for the garden {secrets.token_hex(2)}"
    assert api.http.patch(f"/api/sessions/{sid}", json={"name": name}).status_code == 200
    page = app_page(blu, f"/#/s/{sid}", **PHONE_360)

    page.get_by_role("button", name="Rename this session").tap()
    field = page.locator("#rename-input")
    field.wait_for()
    width, height = field.evaluate(FIELD)
    screenshot(page, "phone-360-rename")
    assert width >= 220 and height >= 44, (width, height)
    for label in ("Save", "Cancel"):
        box = page.locator(".topbar__rename").get_by_role("button", name=label).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 44, (label, box)
    page.keyboard.press("Escape")

    box = page.locator("#composer-input")
    page.get_by_test_id("attach-button").wait_for()
    width, height = box.evaluate(FIELD)
    screenshot(page, "phone-360-composer")
    assert width >= 220 and height >= 44, (width, height)
    box.fill("[[slow ms=300]] [[words n=200]]")
    box.press("Enter")
    page.locator(".composer__stop").wait_for()
    box.fill("A second thought, typed while Blu answers")
    width, height = box.evaluate(FIELD)
    screenshot(page, "phone-360-composer-running")
    assert width >= 200 and height >= 44, (width, height)
    for button in page.locator(".composer__buttons button:visible").all():
        b = button.bounding_box()
        assert b and b["x"] + b["width"] <= 360 and b["width"] >= 44 and b["height"] >= 44, b
    page.locator(".composer__stop").tap()


def test_the_rename_field_is_a_fingers_height_on_a_phone_held_sideways(
    app_page: AppPage, blu: BluServer, api: BluClient
) -> None:
    # At 740 × 360 the rename field stays beside the name (the row of its own is for narrower screens), but it
    # is as tall as a finger, like its Save and Cancel; a desktop keeps its compact 36 px field.
    sid = api.new_session()
    assert api.http.patch(f"/api/sessions/{sid}", json={"name": "Trip notes"}).status_code == 200
    sideways = {"viewport": {"width": 740, "height": 360}, "is_mobile": True, "has_touch": True}
    page = app_page(blu, f"/#/s/{sid}", **sideways)
    page.get_by_role("button", name="Rename this session").tap()
    field = page.locator("#rename-input")
    field.wait_for()
    width, height = field.evaluate(FIELD)
    screenshot(page, "phone-740x360-rename")
    assert width >= 200 and height >= 44, (width, height)
    for label in ("Save", "Cancel"):
        box = page.locator(".topbar__rename").get_by_role("button", name=label).bounding_box()
        assert box and box["x"] + box["width"] <= 740 and box["height"] >= 44, (label, box)

    desk = app_page(blu, f"/#/s/{sid}", viewport={"width": 1280, "height": 800})
    desk.get_by_role("button", name="Rename this session").click()
    desk.locator("#rename-input").wait_for()
    width, height = desk.locator("#rename-input").evaluate(FIELD)
    # The session's own buttons give way while renaming: the field has room with the side panel open too.
    assert height == 36 and width >= 240 and desk.locator(".topbar__actions").is_hidden(), (width, height)
    desk.locator(".topbar__rename").get_by_role("button", name="Cancel").click()
    desk.get_by_role("button", name="Rename this session").wait_for()
