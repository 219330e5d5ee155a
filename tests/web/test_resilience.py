"""A dropped network and a server restart: the page shows that it is reconnecting, then resumes from
its last event, with nothing duplicated or lost."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import AppPage, Console, screenshot
from tests.web.helpers import (
    body_of,
    send,
    session_id,
    streamed_text_samples,
    wait_idle,
    wait_last_assistant,
    words,
)

pytestmark = pytest.mark.browser


def test_dropped_network_resumes_the_stream(
    app_page: AppPage, blu: BluServer, api: BluClient, console: Console
) -> None:
    console.allow(r"ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED")
    page = app_page(blu, "/#/new")
    context = page.context
    send(page, "[[slow ms=80]] [[words n=50]]")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    before = streamed_text_samples(page, 1)

    context.set_offline(True)
    page.wait_for_selector("#wake-overlay[data-phase=reconnecting]:not([hidden])", timeout=10_000)
    # The device is offline, and the page says so rather than blaming Blu.
    overlay = page.locator("#wake-overlay")
    overlay.get_by_role("heading", name="You're offline").wait_for()
    assert "back online" in overlay.inner_text() and "isn't answering" not in overlay.inner_text()
    screenshot(page, "desktop-reconnecting")
    page.wait_for_timeout(1500)  # the answer goes on without us meanwhile
    context.set_offline(False)

    page.locator("#wake-overlay").wait_for(state="hidden", timeout=10_000)
    final = body_of(wait_last_assistant(page, "complete"))
    stored = [m for m in api.messages(sid) if m["role"] == "assistant"]
    assert final == words(stored[0]["text"]) and len(final.split()) == 50
    assert final.startswith(before[0])
    assert page.locator("li.msg").count() == 2


@pytest.fixture
def own_server(browser: Any, tmp_path: Path) -> Iterator[BluServer]:
    server = BluServer(tmp_path / "data").start()
    yield server
    server.stop()


def test_server_restart_mid_turn_shows_the_interrupted_answer_and_carries_on(
    app_page: AppPage, own_server: BluServer, console: Console
) -> None:
    console.allow_restart()
    page = app_page(own_server, "/#/new")
    send(page, "[[slow ms=100]] [[words n=300]]")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    streamed_text_samples(page, 1)

    # A redeploy or crash: the runtime saves the partial answer as interrupted and goes away.
    own_server.stop(signal.SIGTERM)
    page.wait_for_selector("#wake-overlay[data-phase=reconnecting]:not([hidden])", timeout=15_000)
    assert page.locator("#wake-overlay").get_by_role("heading", name="Reconnecting…").is_visible()
    own_server.start()

    # Back: the overlay goes, the history is reloaded (new server, new event log) without duplicates.
    page.locator("#wake-overlay").wait_for(state="hidden", timeout=15_000)
    interrupted = page.locator("li.msg--assistant[data-state=interrupted]")
    interrupted.wait_for(timeout=15_000)
    assert interrupted.locator(".msg__badge").inner_text() == "Interrupted"
    assert interrupted.locator(".msg__error").inner_text().strip()
    # What happened, said plainly: no promise that the answer goes on, and Retry to ask again.
    assert "left off" not in page.locator("#app, main").first.inner_text()
    assert interrupted.get_by_role("button", name="Retry: send the same message again").is_visible()
    api = own_server.client()
    try:
        stored = [m for m in api.messages(sid) if m["role"] == "assistant"]
        assert len(stored) == 1 and stored[0]["state"] == "interrupted"
        assert body_of(interrupted) == words(stored[0]["text"])
    finally:
        api.http.close()
    assert page.locator("li.msg").count() == 2

    # And the session carries on, streaming from the new server.
    send(page, "[[say text='still here']] hello again")
    page.wait_for_function(
        "() => document.querySelector('li.msg--assistant:last-child')?.dataset.state === 'complete'", timeout=30_000
    )
    assert "still here" in body_of(page.locator("li.msg--assistant").last)
    assert page.locator("li.msg").count() == 4
    wait_idle(page)
