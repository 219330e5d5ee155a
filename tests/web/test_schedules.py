"""The Schedules dialog: on a phone, create a one-shot, see its run end, open its session, edit, pause, delete; on
desktop and phone, a field's error goes once that field is corrected."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import (
    DESKTOP,
    PHONE,
    AppPage,
    Console,
    assert_no_horizontal_overflow,
    screenshot,
)
from tests.web.helpers import wait_last_assistant

pytestmark = pytest.mark.browser
REFUSED = r"status of 422 \(Unprocessable \w+\) \[.*/api/schedules\]"  # a save refused on purpose
PHONE_OPTIONS = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def test_schedules_on_a_phone(app_page: AppPage, blu: BluServer, api: BluClient, console: Console) -> None:
    console.allow(REFUSED)  # the repeat refused on purpose
    page = app_page(blu, "/#/new", **PHONE_OPTIONS)
    page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    page.get_by_role("button", name="Sessions").tap()
    page.get_by_role("button", name="Schedules").tap()
    dialog = page.get_by_test_id("schedules")
    dialog.get_by_role("heading", name="Schedules").wait_for()
    assert_no_horizontal_overflow(page, "schedules")

    # An empty repeat is refused in the form's words, on the Repeat field (not "cron, repeat or run_at").
    dialog.get_by_role("button", name="+ New schedule").tap()
    page.fill("#schedule-name", "Phone briefing")
    page.fill("#schedule-prompt", "[[say text='Scheduled hello']] brief me")
    dialog.get_by_role("button", name="Save schedule").tap()
    error = dialog.locator(".schedules__error")
    error.wait_for()
    assert error.inner_text().startswith("Repeat: Say when it repeats"), error.inner_text()
    assert "run_at" not in error.inner_text() and "exactly one" not in error.inner_text()
    assert page.locator("#schedule-repeat").get_attribute("aria-invalid") == "true"

    # A limit over the most: the field's label, not max_minutes.
    page.fill("#schedule-repeat", "every day at 8:00")
    page.fill("#schedule-max-minutes", "5000")
    dialog.get_by_role("button", name="Save schedule").tap()
    error.get_by_text("Stop after (minutes): ", exact=False).wait_for()
    assert "max_minutes" not in error.inner_text()
    assert page.locator("#schedule-max-minutes").get_attribute("aria-invalid") == "true"
    page.fill("#schedule-max-minutes", "")

    # A repeat Blu cannot read is refused with the forms it can.
    page.fill("#schedule-repeat", "now and then")
    dialog.get_by_role("button", name="Save schedule").tap()
    error.get_by_text("every weekday at 08:00", exact=False).wait_for()
    assert_no_horizontal_overflow(page, "schedule form")
    screenshot(page, "phone-schedule-form")

    # Once, a few seconds from now (in UTC, whatever the phone's zone).
    page.select_option("#schedule-kind", "once")
    page.fill("#schedule-timezone", "UTC")
    due = datetime.fromtimestamp(int(time.time()) + 4, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    page.fill("#schedule-run-at", due)
    page.fill("#schedule-max-usd", "5")
    dialog.get_by_role("button", name="Save schedule").tap()
    item = dialog.locator("li.schedule", has_text="Phone briefing")
    item.wait_for()
    assert "once" in item.locator(".schedule__when").inner_text()
    schedule_id = item.get_attribute("data-schedule-id")
    run = item.locator("li.schedule-run[data-outcome=complete]")
    run.wait_for(timeout=40_000)
    assert "Done" in run.inner_text()
    assert_no_horizontal_overflow(page, "schedule with a run")
    screenshot(page, "phone-schedules")

    # The run wrote a new session, titled from the schedule.
    run.get_by_role("button", name="Open session").tap()
    reply = wait_last_assistant(page, "complete")
    assert "Scheduled hello" in reply.inner_text()
    assert page.locator("#session-title").inner_text().startswith("Phone briefing · ")

    # Edit, pause and delete it.
    page.get_by_role("button", name="Sessions").tap()
    page.get_by_role("button", name="Schedules").tap()
    item = dialog.locator(f"li.schedule[data-schedule-id='{schedule_id}']")
    # A one-shot whose time has passed can still be renamed (the edit leaves its timing alone).
    item.get_by_role("button", name="Edit Phone briefing").tap()
    page.fill("#schedule-name", "Evening briefing")
    dialog.get_by_role("button", name="Save schedule").tap()
    item.locator(".schedule__name", has_text="Evening briefing").wait_for()
    item.get_by_role("button", name="Edit Evening briefing").tap()
    page.select_option("#schedule-kind", "repeat")
    page.fill("#schedule-repeat", "every monday at 9:00")
    page.fill("#schedule-name", "Monday briefing")
    dialog.get_by_role("button", name="Save schedule").tap()
    item.locator(".schedule__name", has_text="Monday briefing").wait_for()
    assert "every monday at 9:00" in item.locator(".schedule__when").inner_text()
    item.get_by_role("button", name="Pause Monday briefing").tap()
    page.wait_for_selector(f"li.schedule[data-schedule-id='{schedule_id}'][data-paused=true]")
    assert api.http.get(f"/api/schedules/{schedule_id}").json()["paused"] is True
    item.get_by_role("button", name="Delete Monday briefing").tap()
    item.wait_for(state="detached")
    assert api.http.get(f"/api/schedules/{schedule_id}").status_code == 404
    dialog.get_by_role("button", name="Close schedules").tap()
    dialog.wait_for(state="hidden")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_field_error_goes_once_the_field_is_corrected(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    console.allow(REFUSED)  # the zone refused on purpose
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
    if viewport == PHONE:
        page.get_by_role("button", name="Sessions").click()  # the drawer with the sidebar's buttons
    page.get_by_role("button", name="Schedules").click()
    dialog = page.get_by_test_id("schedules")
    dialog.get_by_role("button", name="+ New schedule").click()
    page.fill("#schedule-name", "Zone check")
    page.fill("#schedule-prompt", "[[say text=hi]]")
    page.fill("#schedule-repeat", "every monday at 9:00")
    page.fill("#schedule-timezone", "Mars/Olympus")
    dialog.get_by_role("button", name="Save schedule").click()
    error = dialog.locator(".schedules__error")
    error.get_by_text("Unknown time zone", exact=False).wait_for()
    zone = page.locator("#schedule-timezone")
    assert zone.get_attribute("aria-invalid") == "true"
    screenshot(page, f"{which}-schedule-zone-error")

    # Another field's change leaves the zone's error; correcting the zone takes it away at once.
    page.fill("#schedule-name", "Zone check, renamed")
    assert error.is_visible() and zone.get_attribute("aria-invalid") == "true"
    page.fill("#schedule-timezone", "Europe/Berlin")
    assert error.is_hidden() and zone.get_attribute("aria-invalid") is None

    # Saved: no stale error in the list or in the next form.
    dialog.get_by_role("button", name="Save schedule").click()
    item = dialog.locator("li.schedule", has_text="Zone check, renamed")
    item.wait_for()
    assert "(Europe/Berlin)" in item.locator(".schedule__when").inner_text()
    dialog.get_by_role("button", name="+ New schedule").click()
    assert error.is_hidden() and zone.get_attribute("aria-invalid") is None
    schedule_id = item.get_attribute("data-schedule-id")
    assert api.http.delete(f"/api/schedules/{schedule_id}").status_code == 204


# Whether an element is on screen: inside the window and inside every scrolling box around it.
ON_SCREEN_JS = """(el) => {
    const r = el.getBoundingClientRect();
    if (r.top < 0 || r.bottom > innerHeight || r.height === 0) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {
        const box = p.getBoundingClientRect();
        if (p.scrollHeight > p.clientHeight && (r.top < box.top || r.bottom > box.bottom)) return false;
    }
    return true;
}"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_refusal_is_brought_into_view_with_its_field_focused(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console, viewport: dict[str, int]
) -> None:
    console.allow(r"status of 4\d\d \(.*\) \[.*/api/schedules\]")  # the interval refused on purpose
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(blu, "/#/new", viewport=viewport)
    if viewport == PHONE:
        page.get_by_role("button", name="Sessions").click()
    page.get_by_role("button", name="Schedules").click()
    dialog = page.get_by_test_id("schedules")
    dialog.get_by_role("button", name="+ New schedule").click()
    page.fill("#schedule-prompt", "[[say text=hi]]")
    page.fill("#schedule-repeat", "every 10 minutes")
    # Saved from the top of the form (Enter in its first field, the phone keyboard's Go): the error is far below.
    page.locator("#schedule-name").focus()
    page.locator("#schedule-name").press("Enter")
    error = dialog.locator(".schedules__error")
    error.wait_for()
    repeat = page.locator("#schedule-repeat")
    assert repeat.get_attribute("aria-invalid") == "true"
    screenshot(page, f"{which}-schedule-refusal")
    assert error.evaluate(ON_SCREEN_JS), "the refusal is off screen"
    assert page.evaluate("document.activeElement.id") == "schedule-repeat"
