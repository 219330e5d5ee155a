"""The context meter in the chat header: the session's figure, the warning from 80 %, Compact and the hand-off."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import AppPage, screenshot
from tests.web.helpers import open_app, send, session_id, wait_idle, wait_last_assistant

pytestmark = pytest.mark.browser


def _percent(session: dict[str, Any]) -> int:
    return round(session["context_tokens"] / session["context_window"] * 100)


def test_header_shows_the_meter_and_warns_from_80_percent(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    page = app_page(blu, "/#/new")
    send(page, "[[usage cache_read=1000]] a first question")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    wait_last_assistant(page, "complete")
    wait_idle(page)
    session = api.http.get(f"/api/sessions/{sid}").json()
    meter = page.get_by_test_id("context-meter")
    meter.wait_for()
    page.wait_for_function(
        "(text) => document.querySelector('[data-testid=context-meter]').textContent === text",
        arg=f"Context {_percent(session)}%",
    )
    assert not page.get_by_test_id("context-compact").is_visible()

    # A turn whose request carried 85 % of the window (cached input) turns the meter into a warning.
    cached = int(session["context_window"] * 0.85)
    send(page, f"[[usage cache_read={cached}]] a long one")
    page.get_by_test_id("context-compact").wait_for()
    session = api.http.get(f"/api/sessions/{sid}").json()
    assert _percent(session) >= 85
    assert meter.text_content() == f"Context {_percent(session)}%"
    color = meter.evaluate("(el) => getComputedStyle(el).color")
    assert color != page.locator(".topbar__usage").evaluate("(el) => getComputedStyle(el).color")
    screenshot(page, "context-meter-warning")

    # Continue in a new session: its first message is the hand-off note, linking back.
    page.get_by_test_id("context-continue").click()
    page.wait_for_function("(old) => location.hash.startsWith('#/s/') && !location.hash.endsWith(old)", arg=sid)
    note = page.locator("li.msg--user").first
    note.wait_for()
    text = note.inner_text()
    assert f"#/s/{sid}" in text and "a long one" in text
    new_sid = session_id(page)
    first = api.messages(new_sid)[0]
    assert first["role"] == "user" and first["text"].startswith("This continues the session")

    # Compact, back in the full session: Claude Code's /compact, after which the meter drops.
    open_app(page, blu.url, f"/#/s/{sid}")
    page.get_by_test_id("context-compact").click()
    page.wait_for_selector("li.msg--assistant:last-child[data-state=complete] >> text=Compacted the conversation")
    page.get_by_test_id("context-compact").wait_for(state="hidden")
    messages = api.messages(sid)
    assert [m["text"] for m in messages if m["role"] == "user"][-1] == "/compact"
    session = api.http.get(f"/api/sessions/{sid}").json()
    assert _percent(session) < 80
    assert meter.text_content() == f"Context {_percent(session)}%"
