"""Tool cards where they happened: between the reply's text in order, while streaming and after a reload,
with workspace-relative paths, diffs for file edits, Bash's command and exit status, and clean errors."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.conftest import DESKTOP, PHONE, assert_no_horizontal_overflow, screenshot
from tests.web.helpers import open_app, send, wait_last_assistant

pytestmark = pytest.mark.browser

# The reply's body as a list: ("text", first words) and ("tool", name) in the order shown.
FLOW_JS = """(li) => [...li.querySelector('.msg__body').children].map((el) =>
    el.matches('details.tool') ? ['tool', el.dataset.tool] : ['text', el.innerText.trim()])"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_tool_cards_sit_between_the_text_live_and_after_reload(
    logged_in: Callable[..., Any], blu: BluServer, viewport: dict[str, int]
) -> None:
    page = logged_in(viewport=viewport).new_page()
    open_app(page, blu.url, "/#/new")
    name = f"tc-{secrets.token_hex(3)}.py"
    send(
        page,
        f'[[slow ms=60]] [[write path=src/{name} content="one\\ntwo\\nthree"]] '
        f"[[edit path=src/{name} old=two new=TWO]] [[bash cmd='echo hi; exit 3']] [[read path=missing-{name}]]",
    )
    reply = page.locator("li.msg--assistant").last

    # Live: the first card appears right after the text written before it, while the reply still runs.
    page.wait_for_selector("li.msg--assistant[data-state=running] details.tool[data-tool=Write]")
    live = reply.evaluate(FLOW_JS)
    assert live[:2] == [["text", "Using Write."], ["tool", "Write"]], live

    wait_last_assistant(page, "complete")
    expected = [
        ["text", "Using Write."],
        ["tool", "Write"],
        ["text", "Using Read."],
        ["tool", "Read"],
        ["text", "Using Edit."],
        ["tool", "Edit"],
        ["text", "Using Bash."],
        ["tool", "Bash"],
        ["text", "Using Read."],
        ["tool", "Read"],
    ]
    flow = reply.evaluate(FLOW_JS)
    assert flow[: len(expected)] == expected and flow[-1][0] == "text", flow

    # Paths relative to the workspace; an Edit as a diff; Write as added lines.
    write = reply.locator("details.tool[data-tool=Write]")
    assert write.locator(".tool__target").inner_text() == f"src/{name}"
    edit = reply.locator("details.tool[data-tool=Edit]")
    edit.locator("summary").click()
    assert edit.locator(".diff__line--del").all_inner_texts() == ["- two"]
    assert edit.locator(".diff__line--add").all_inner_texts() == ["+ TWO"]
    assert "{" not in edit.locator(".tool__body").inner_text()  # no raw JSON
    write.locator("summary").click()
    assert write.locator(".diff__line--add").all_inner_texts() == ["+ one", "+ two", "+ three"]

    # Bash: the command, its exit status and its output (folded until opened).
    bash = reply.locator("details.tool[data-tool=Bash]")
    assert bash.locator(".tool__exit").inner_text() == "exit 3"
    assert not bash.locator(".tool__command").is_visible()
    bash.locator("summary").click()
    assert bash.locator(".tool__command").inner_text() == "$ echo hi; exit 3"
    assert "hi" in bash.locator(".tool__result").inner_text()

    # A failed call's error is clean text: no <tool_use_error> tags.
    failed = reply.locator("details.tool[data-tool=Read]").last
    assert failed.get_attribute("data-outcome") == "error"
    failed.locator("summary").click()
    error = failed.locator(".tool__result").inner_text()
    assert error and "tool_use_error" not in error
    which = "phone" if viewport == PHONE else "desktop"
    if viewport == PHONE:
        assert_no_horizontal_overflow(page, "tool cards on a phone")
    edit.scroll_into_view_if_needed()
    screenshot(page, f"{which}-tool-cards-in-order")

    # After a reload the stored record puts every card in the same place.
    page.reload()
    page.wait_for_selector("li.msg--assistant[data-state=complete] details.tool[data-tool=Bash]")
    assert page.locator("li.msg--assistant").last.evaluate(FLOW_JS) == flow
