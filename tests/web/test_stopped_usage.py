"""A reply stopped mid-stream: its footer and the session header show no made-up output count."""

from __future__ import annotations

import signal
import time

import pytest

from tests.support.server import BluServer
from tests.web.conftest import AppPage, Console
from tests.web.helpers import send, session_id, streamed_text_samples, wait_last_assistant

pytestmark = pytest.mark.browser


def test_a_stopped_reply_says_its_output_was_not_counted(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new")
    send(page, "[[slow ms=150]] [[words n=300]]")
    reply = wait_last_assistant(page, "running")
    page.wait_for_function(
        "(e) => e.querySelector('.msg__body').innerText.trim().length > 0", arg=reply.element_handle()
    )
    page.get_by_role("button", name="Stop the running turn").click()
    stopped = page.locator("li.msg--assistant[data-state=interrupted]")
    stopped.wait_for()
    usage = stopped.locator(".msg__usage")
    text = usage.inner_text()
    assert " in · output not counted · $" in text, text
    assert " out " not in f"{text} ", text
    assert "output tokens not known" in (usage.get_attribute("title") or "")
    # The session header's totals say the same (the session counts its stopped replies: `stopped_replies`).
    header = page.get_by_test_id("session-usage")
    header.get_by_text("output not counted", exact=False).wait_for()
    assert " out " not in f"{header.inner_text()} ", header.inner_text()
    # So after a reload, from the stored records.
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    assert (
        " in · output not counted · $"
        in page.locator("li.msg--assistant[data-state=interrupted] .msg__usage").inner_text()
    )
    assert " in · output not counted · $" in page.get_by_test_id("session-usage").inner_text()


def test_a_reply_cut_by_a_restart_says_its_cost_was_not_counted(
    own_blu: BluServer, app_page: AppPage, console: Console
) -> None:
    # Blu went away mid-reply: the call's input was counted when it started, but Claude's result (the
    # cost) never came. The footer and the header say so instead of a made-up "$0".
    console.allow_restart()
    page = app_page(own_blu, "/#/new")
    send(page, "[[slow ms=100]] [[words n=300]]")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    streamed_text_samples(page, 1)
    api = own_blu.client()
    try:  # killed once the reply's first checkpoint is stored (its text and the call's input)
        while not [m for m in api.messages(sid) if m["role"] == "assistant" and m["input_tokens"] and m["text"]]:
            time.sleep(0.1)
    finally:
        api.http.close()
    own_blu.stop(signal.SIGKILL)  # a SIGTERM still gets Claude's result, with the cost
    own_blu.start()
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    usage = page.locator("li.msg--assistant[data-state=interrupted] .msg__usage")
    usage.wait_for()
    assert usage.inner_text().endswith(" in · output not counted · cost not counted"), usage.inner_text()
    assert "$" not in usage.inner_text()
    assert "cost not known" in (usage.get_attribute("title") or "")
    header = page.get_by_test_id("session-usage")
    header.get_by_text("cost not counted", exact=False).wait_for()
    assert "$" not in header.inner_text()
