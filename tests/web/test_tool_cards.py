"""Tool cards where they happened: between the reply's text in order, while streaming and after a reload,
with workspace-relative paths, diffs for file edits, Bash's command and exit status, and clean errors; and
Claude's task list (TaskCreate/TaskUpdate) as a live checklist."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.server import BluServer
from tests.support.tasks import TASK_MODEL, task_prompt
from tests.web.conftest import (
    DESKTOP,
    PHONE,
    AppPage,
    assert_no_horizontal_overflow,
    screenshot,
)
from tests.web.helpers import send, wait_last_assistant

pytestmark = pytest.mark.browser

# The reply's body as a list: ("text", first words) and ("tool", name) in the order shown.
FLOW_JS = """(li) => [...li.querySelector('.msg__body').children].map((el) =>
    el.matches('details.tool') ? ['tool', el.dataset.tool] : ['text', el.innerText.trim()])"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_tool_cards_sit_between_the_text_live_and_after_reload(
    app_page: AppPage, blu: BluServer, viewport: dict[str, int]
) -> None:
    page = app_page(blu, "/#/new", viewport=viewport)
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


@pytest.fixture(scope="module")
def task_blu(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """A Blu whose model is one the CLI offers its task tools to (with its default model it offers none:
    tests/support/tasks.py, tests/runtime/test_task_tools.py)."""
    server = BluServer(tmp_path_factory.mktemp("blu-tasks") / "data", env={"BLU_MODEL": TASK_MODEL}).start()
    yield server
    server.stop()


CHECKLIST_JS = """(card) => [...card.querySelectorAll('.tasks__item')].map((li) =>
    [li.querySelector('.tasks__text').innerText, li.dataset.status])"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_claudes_task_list_is_a_live_checklist(
    app_page: AppPage, task_blu: BluServer, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    page = app_page(task_blu, "/#/new", viewport=viewport)
    send(page, task_prompt(pause_s=2))
    # While the turn runs, the newest task card is open on the list as it is now.
    live = page.locator("li.msg--assistant[data-state=running] details.tool--tasks[open]").last
    live.locator(".tasks__item[data-status=in_progress]", has_text="Plan the trip").wait_for(timeout=30_000)
    assert live.evaluate(CHECKLIST_JS) == [["Plan the trip", "in_progress"], ["Book the hotels", "pending"]]
    if viewport == PHONE:
        assert_no_horizontal_overflow(page, "a task list on a phone")
    screenshot(page, f"{which}-task-list-live")
    live = page.locator("li.msg--assistant[data-state=running] details.tool--tasks[open]").last
    live.locator(".tasks__item[data-status=in_progress]", has_text="Book the hotels").wait_for(timeout=30_000)
    assert live.evaluate(CHECKLIST_JS) == [["Plan the trip", "completed"], ["Book the hotels", "in_progress"]]

    # At the end: everything done, on the newest card, the only one open; the same after a reload.
    reply = wait_last_assistant(page, "complete")
    done = [["Plan the trip", "completed"], ["Book the hotels", "completed"]]
    cards = reply.locator("details.tool--tasks")
    assert cards.count() == 6  # two TaskCreate, four TaskUpdate
    assert reply.locator("details.tool--tasks[open]").count() == 1
    assert cards.last.evaluate("(el) => el.open") and cards.last.evaluate(CHECKLIST_JS) == done
    screenshot(page, f"{which}-task-list-done")
    page.reload()
    page.wait_for_selector("li.msg--assistant[data-state=complete] details.tool--tasks")
    assert page.locator("li.msg--assistant").last.locator("details.tool--tasks").last.evaluate(CHECKLIST_JS) == done
