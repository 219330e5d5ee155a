"""A reply stopped mid-stream: its footer and the session header show no made-up output count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.helpers import open_app, send, wait_last_assistant

pytestmark = pytest.mark.browser


def test_a_stopped_reply_says_its_output_was_not_counted(logged_in: Callable[..., Any], blu: BluServer) -> None:
    page = logged_in().new_page()
    open_app(page, blu.url, "/#/new")
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
