"""Notifications in Chromium: the service worker registers and shows a pushed notification, the manifest makes
Blu installable, and the dialog sets which kinds the person gets.

A real subscription cannot be made here: PushManager.subscribe needs the browser vendor's push service, which is
not reachable offline. The push is handed to the service worker through the DevTools protocol instead
(ServiceWorker.deliverPushMessage), as the push service would; tests/runtime/test_notifications.py covers the
server's side against a stand-in push service."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import PHONE, AppPage, assert_no_horizontal_overflow, screenshot
from tests.web.helpers import open_app

pytestmark = pytest.mark.browser

READY_JS = """async () => {
    const registration = await navigator.serviceWorker.ready;
    return { script: registration.active.scriptURL, scope: registration.scope };
}"""


SHOWN_JS = """async () => {
    const registration = await navigator.serviceWorker.ready;
    const [notice] = await registration.getNotifications();
    return notice ? { title: notice.title, body: notice.body, tag: notice.tag, data: notice.data } : null;
}"""


def test_the_service_worker_registers_and_the_manifest_is_served(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu)
    registration = page.evaluate(READY_JS)
    assert registration == {"script": f"{blu.url}/sw.js", "scope": f"{blu.url}/"}

    manifest = page.evaluate(
        """async () => {
        const link = document.querySelector('link[rel=manifest]');
        const response = await fetch(link.href);
        const body = await response.json();
        const icons = await Promise.all(body.icons.map(async (icon) => {
            const r = await fetch(icon.src);
            return { status: r.status, type: r.headers.get('content-type') };
        }));
        return { type: response.headers.get('content-type'), body, icons };
    }"""
    )
    assert manifest["type"] == "application/manifest+json"
    assert manifest["body"]["display"] == "standalone"
    assert all(icon == {"status": 200, "type": "image/png"} for icon in manifest["icons"])


def test_a_pushed_notice_is_shown_with_its_link(logged_in: Callable[..., Any], blu: BluServer) -> None:
    context = logged_in()
    context.grant_permissions(["notifications"], origin=blu.url)
    page = context.new_page()
    open_app(page, blu.url)
    page.evaluate(READY_JS)
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.wait_for_timeout(200)  # the registrations arrive as events right after enable
    (registration,) = [r for r in registrations if r["scopeURL"] == f"{blu.url}/" and not r["isDeleted"]]
    payload = {
        "kind": "turn_finished",
        "title": "Plans: reply ready",
        "body": "Here is the plan.",
        "url": "/#/s/" + "a" * 24,
        "tag": "session-" + "a" * 24,
        "at": 1_760_000_000,
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": blu.url, "registrationId": registration["registrationId"], "data": json.dumps(payload)},
    )
    shown = None
    for _ in range(100):  # the worker handles the push on its own time: look until the notification is there
        shown = page.evaluate(SHOWN_JS)
        if shown:
            break
        page.wait_for_timeout(100)
    assert shown == {
        "title": "Plans: reply ready",
        "body": "Here is the plan.",
        "tag": "session-" + "a" * 24,
        "data": {"url": f"{blu.url}/#/s/" + "a" * 24, "kind": "turn_finished"},
    }


def test_the_dialog_sets_the_kinds_on_a_phone(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    page = app_page(blu, viewport=PHONE, is_mobile=True, has_touch=True)
    page.get_by_role("button", name="Sessions").tap()
    page.get_by_test_id("notifications-open").tap()
    dialog = page.get_by_test_id("notifications-dialog")
    dialog.get_by_text("A scheduled run failed").wait_for()
    assert_no_horizontal_overflow(page, "notifications dialog")
    screenshot(page, "phone-notifications")
    status = page.get_by_test_id("notifications-status").inner_text()
    assert status in ("Off for this browser.", "On for this browser.")
    box = dialog.locator("input[data-kind=schedule_failed]")
    assert box.is_checked()
    with page.expect_response("**/api/notifications/preferences"):
        box.uncheck()
    kinds = {k["kind"]: k["enabled"] for k in api.http.get("/api/notifications").json()["kinds"]}
    assert kinds["schedule_failed"] is False and kinds["turn_finished"] is True
    with page.expect_response("**/api/notifications/preferences"):
        box.check()
    assert page.get_by_test_id("notifications-test").is_disabled()  # no browser subscribed here
