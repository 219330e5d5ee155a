"""Approvals and questions in Chromium: the card in two tabs (one a phone), across a reload, and across a
runtime restart while the turn waits; Allow lets the work go on, a question's choice reaches Claude."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.conftest import (
    DESKTOP,
    PHONE,
    AppPage,
    Console,
    assert_no_horizontal_overflow,
    screenshot,
)
from tests.web.helpers import body_of, send, session_id, wait_last_assistant

pytestmark = pytest.mark.browser
PHONE_OPTIONS = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
CARD = "[data-testid=approval-card]"
QUESTION = {
    "questions": [
        {
            "question": "Which colour?",
            "header": "Colour",
            "options": [{"label": "Blue", "description": "calm"}, {"label": "Red", "description": "loud"}],
            "multiSelect": False,
        }
    ]
}


@pytest.fixture
def asking_server(browser: Any, tmp_path: Path) -> Iterator[BluServer]:
    """A Blu of its own whose policy asks before every Bash command (tests name it before their pages, so
    it stops after they are closed)."""
    server = BluServer(tmp_path / "data", env={"BLU_ASK_TOOLS": "Bash"}).start()
    yield server
    server.stop()


def wait_for_file(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} was never made"
        time.sleep(0.1)


def test_every_tab_shows_the_request_and_one_answer_lets_the_turn_go_on(
    asking_server: BluServer, app_page: AppPage, console: Console
) -> None:
    page = app_page(asking_server, "/#/new")
    send(page, "[[bash cmd='touch two-tabs.txt']]")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    card = page.locator(CARD)
    card.wait_for()
    assert "Claude wants to use Bash" in card.inner_text()
    assert card.locator("[data-testid=approval-input] pre").first.inner_text() == "touch two-tabs.txt"
    page.locator(f"[data-session-id='{sid}'] [data-testid=needs-you]").wait_for()
    # The held call's card says it waits for the person, not that it runs.
    tool = page.locator("li.msg--assistant details.tool[data-tool=Bash]")
    tool.locator(".tool__outcome", has_text="Waiting for you").wait_for()

    other = app_page(asking_server, f"/#/s/{sid}", **PHONE_OPTIONS)
    other.locator(CARD).wait_for()
    other.locator("details.tool[data-tool=Bash] .tool__outcome", has_text="Waiting for you").wait_for()
    other.reload()  # a reload shows it again: it comes from the store, not from this tab's memory
    other.wait_for_selector("html[data-ready=app]")
    other.locator(CARD).wait_for()
    assert_no_horizontal_overflow(other, "approval card")
    screenshot(other, "phone-approval")
    workspace = asking_server.data_dir / "workspace"
    assert not (workspace / "two-tabs.txt").exists()

    other.locator("[data-testid=approval-allow]").tap()
    other.locator(CARD).wait_for(state="detached")
    page.locator(CARD).wait_for(state="detached")  # answered elsewhere: gone here too
    wait_last_assistant(page, "complete")
    wait_for_file(workspace / "two-tabs.txt")
    assert tool.locator(".tool__outcome").inner_text() == "Done"
    assert page.locator(f"[data-session-id='{sid}'] [data-testid=needs-you]").count() == 0


def test_an_answer_after_a_restart_continues_the_work(
    asking_server: BluServer, app_page: AppPage, console: Console
) -> None:
    console.allow_restart()
    page = app_page(asking_server, "/#/new")
    send(page, "Tidy up. [[bash cmd='touch after-restart.txt']]")
    page.wait_for_url("**/#/s/*")
    page.locator(CARD).wait_for()

    asking_server.stop(signal.SIGTERM)  # a redeploy or a Spot interruption while the turn waits
    page.wait_for_selector("#wake-overlay[data-phase=reconnecting]:not([hidden])", timeout=15_000)
    asking_server.start()
    page.locator("#wake-overlay").wait_for(state="hidden", timeout=20_000)
    card = page.locator(CARD)
    # Reloaded from the new process (the stream reset): no turn holds it now, and the card says so.
    card.get_by_text("Your answer continues the work").wait_for(timeout=20_000)
    # The cut turn's reply (its Bash card cut by the restart) offers no Retry, Continue or Regenerate while its
    # work waits for the answer: the card is the way on (a retried turn would ask again, and both could run).
    cut = page.locator("li.msg--assistant").first
    page.locator("li.msg--assistant[data-state=interrupted]").wait_for()
    assert cut.locator("[data-action=retry-turn], [data-action=continue], [data-action=regenerate]").count() == 0
    cut.locator("[data-menu=toggle]").click()
    cut.locator("[data-action=copy]").wait_for()
    assert cut.locator("[data-action=regenerate]").count() == 0
    page.keyboard.press("Escape")
    card.locator("[data-testid=approval-allow]").click()
    card.wait_for(state="detached")
    wait_for_file(asking_server.data_dir / "workspace" / "after-restart.txt")
    page.wait_for_function(
        "() => document.querySelector('li.msg--assistant:last-child')?.dataset.state === 'complete'", timeout=60_000
    )
    assert "Ran touch after-restart.txt" in body_of(
        page.locator("li.msg--assistant").last
    )  # markdown drops the backticks
    # Its work went on in the new turn: nothing is left to retry there, now or after a reload.
    assert cut.locator("[data-action=retry-turn], [data-action=continue]").count() == 0
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    page.locator("li.msg--assistant[data-state=complete]").wait_for()
    cut = page.locator("li.msg--assistant").first
    assert cut.get_attribute("data-state") == "interrupted"
    assert cut.locator("details.tool").count() == 1
    assert cut.locator("[data-action=retry-turn], [data-action=continue]").count() == 0
    screenshot(page, "desktop-continued-after-restart")


def test_a_command_waiting_across_a_kill_runs_once(
    asking_server: BluServer, app_page: AppPage, console: Console
) -> None:
    """Blu killed (SIGKILL) while a command waits for approval: the cut reply offers no Retry (a retried turn
    would ask for the same command again, and allowing both cards ran it twice); the card runs it, once."""
    console.allow_restart()
    page = app_page(asking_server, "/#/new")
    send(page, "[[bash cmd='echo run >> count.txt']]")
    page.wait_for_url("**/#/s/*")
    page.locator(CARD).wait_for()
    asking_server.stop(signal.SIGKILL)
    asking_server.start()
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    card = page.locator(CARD)
    card.get_by_text("Your answer continues the work").wait_for(timeout=20_000)
    cut = page.locator("li.msg--assistant[data-state=interrupted]")
    cut.wait_for()
    assert cut.locator("[data-action=retry-turn], [data-action=continue], [data-action=regenerate]").count() == 0
    screenshot(page, "desktop-killed-while-waiting")
    card.locator("[data-testid=approval-allow]").click()
    card.wait_for(state="detached")
    page.wait_for_function(
        "() => document.querySelector('li.msg--assistant:last-child')?.dataset.state === 'complete'", timeout=60_000
    )
    assert (asking_server.data_dir / "workspace" / "count.txt").read_text() == "run\n"
    assert page.locator(CARD).count() == 0


# Clicks Allow on each approval card the moment it is drawn (a click meant for the card that was there before,
# e.g. answered on another device), and notes whether the button took it.
EARLY_CLICK_JS = """() => {
    window.earlyClicks = [];
    new MutationObserver(() => {
        for (const card of document.querySelectorAll('[data-testid=approval-card]:not([data-early])')) {
            card.dataset.early = 'clicked';
            const allow = card.querySelector('[data-testid=approval-allow]');
            allow.click();
            window.earlyClicks.push({ disabled: allow.disabled, arming: card.classList.contains('approval--arming') });
        }
    }).observe(document.body, { childList: true, subtree: true });
}"""


def test_a_new_card_ignores_a_click_at_first(asking_server: BluServer, app_page: AppPage, console: Console) -> None:
    """A card drawn where another just was (answered here or on another device) cannot be answered unseen: its
    buttons ignore activation for a moment (drawn disabled), then answer as usual."""
    page = app_page(asking_server, "/#/new")
    page.evaluate(EARLY_CLICK_JS)
    send(page, "[[bash cmd='touch early.txt']]")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    card = page.locator(CARD)
    card.wait_for()
    page.wait_for_function("() => window.earlyClicks.length === 1")
    assert page.evaluate("() => window.earlyClicks") == [{"disabled": True, "arming": True}]
    allow = card.locator("[data-testid=approval-allow]")
    screenshot(page, "desktop-approval-arming")
    # Ready after the moment: the early click answered nothing, the request still waits.
    page.wait_for_function("() => !document.querySelector('[data-testid=approval-allow]').disabled")
    api = asking_server.client()
    try:
        listed = api.http.get(f"/api/sessions/{sid}/approvals").json()
    finally:
        api.http.close()
    assert [a["status"] for a in listed["approvals"]] == ["pending"]
    assert card.count() == 1 and "approval--arming" not in (card.get_attribute("class") or "")
    allow.click()
    card.wait_for(state="detached")
    wait_for_file(asking_server.data_dir / "workspace" / "early.txt")


def test_a_question_shows_choices_and_the_choice_reaches_claude(
    app_page: AppPage, blu: BluServer, console: Console
) -> None:
    page = app_page(blu, "/#/new")
    send(page, f"[[tool name=AskUserQuestion input='{json.dumps(QUESTION)}']]")
    card = page.locator(CARD)
    card.wait_for()
    assert "Which colour?" in card.inner_text()
    card.get_by_label("Red").check()
    card.locator("[data-testid=approval-submit]").click()
    card.wait_for(state="detached")
    reply = wait_last_assistant(page, "complete")
    assert "Red" in body_of(reply)


def test_the_tool_policy_is_changed_in_the_ui(asking_server: BluServer, app_page: AppPage, console: Console) -> None:
    page = app_page(asking_server, "/#/new", **PHONE_OPTIONS)
    page.get_by_role("button", name="Sessions", exact=True).tap()  # the sidebar is a drawer on a phone
    page.locator("[data-testid=policy-open]").tap()
    dialog = page.locator("[data-testid=policy]")
    dialog.wait_for()
    bash = dialog.get_by_label("Mode of Bash")
    assert bash.input_value() == "ask"  # BLU_ASK_TOOLS
    bash.select_option("allow")
    dialog.get_by_role("button", name="Back to settings").wait_for()
    dialog.get_by_label("Tool name").fill("mcp__github")
    dialog.get_by_label("Mode of the new tool").select_option("deny")
    dialog.get_by_role("button", name="Add").click()
    dialog.get_by_label("Mode of mcp__github").wait_for()
    assert_no_horizontal_overflow(page, "tool policy")
    screenshot(page, "phone-tool-policy")
    api = asking_server.client()
    try:
        policy = api.http.get("/api/tools/policy").json()
        assert policy["run_time"] == {"Bash": "allow", "mcp__github": "deny"}
        assert policy["settings"] == {"Bash": "ask"}
    finally:
        api.http.close()
    dialog.get_by_role("button", name="Back to settings").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=policy] select[data-tool=Bash]')?.value === 'ask'"
    )
    # A built-in tool typed in another case is stored, and named, as Claude Code spells it.
    dialog.get_by_label("Tool name").fill("read")
    dialog.get_by_label("Mode of the new tool").select_option("ask")
    dialog.get_by_role("button", name="Add").click()
    dialog.get_by_label("Mode of Read").wait_for()
    page.wait_for_function("() => document.getElementById('sr-status').textContent === 'Read: Ask me.'")
    # A name no call can have: the server's reason shows in the dialog (a toast would be under it), the name kept.
    refused = "frobnicate"
    console.allow(r"status of 422 .*/api/tools/policy")
    api = asking_server.client()
    try:
        answer = api.http.put("/api/tools/policy", json={"tool": refused, "mode": "deny"})
    finally:
        api.http.close()
    assert answer.status_code == 422 and isinstance(answer.json()["detail"], str)
    dialog.get_by_label("Tool name").fill(refused)
    dialog.get_by_role("button", name="Add").click()
    error = dialog.locator("[data-testid=policy-error]")
    error.wait_for()
    assert error.inner_text() == f"Couldn't change {refused}: {answer.json()['detail']}"
    assert error.is_visible() and dialog.get_by_label("Tool name").input_value() == refused
    screenshot(page, "phone-tool-policy-refused")
    # A long one is named shortly and the reason wraps inside the dialog; Add with nothing clears the refusal.
    dialog.get_by_label("Tool name").fill("a" * 200)
    dialog.get_by_role("button", name="Add").click()
    page.wait_for_function("() => document.querySelector('[data-testid=policy-error]').textContent.includes('a…:')")
    assert error.evaluate("e => e.scrollWidth <= e.clientWidth")
    dialog.get_by_label("Tool name").fill("   ")
    dialog.get_by_role("button", name="Add").click()
    error.wait_for(state="hidden")


def test_a_deny_is_credited_to_the_person_and_blus_note_after_a_restart_is_not_theirs(
    asking_server: BluServer, app_page: AppPage, console: Console
) -> None:
    console.allow_restart()
    page = app_page(asking_server, "/#/new")
    # Deny: the tool card says the person refused it (the call's recorded decision), not Claude Code's settings.
    send(page, "Deny me [[bash cmd='rm -rf /tmp/nothing']]")
    page.wait_for_url("**/#/s/*")
    page.locator(CARD).locator("[data-testid=approval-deny]").click()
    reply = wait_last_assistant(page, "complete")
    reply.locator("details.tool summary").first.click()
    assert reply.locator(".tool__denied").inner_text().startswith("Denied by you:")

    # A restart while the approval waits: Allow carries the answer into a new turn whose prompt is Blu's.
    send(page, "Approve after restart [[bash cmd='echo survived']]")
    page.locator(CARD).wait_for()
    asking_server.stop(signal.SIGTERM)
    page.wait_for_selector("#wake-overlay[data-phase=reconnecting]:not([hidden])", timeout=15_000)
    asking_server.start()
    page.locator("#wake-overlay").wait_for(state="hidden", timeout=20_000)
    card = page.locator(CARD)
    card.get_by_text("Your answer continues the work").wait_for(timeout=20_000)
    card.locator("[data-testid=approval-allow]").click()
    note = page.locator("li.msg[data-sent-by=blu]")
    note.wait_for()
    page.wait_for_function(
        "() => document.querySelector('li.msg--assistant:last-child')?.dataset.state === 'complete'", timeout=60_000
    )
    assert note.locator(".msg__who").inner_text() == "Blu's note"
    assert "Blu stopped while your request for approval was waiting" in note.inner_text()
    note.locator("[data-menu=toggle]").click()
    assert note.locator("[data-action=edit]").count() == 0  # not the person's words: nothing of theirs to edit
    page.keyboard.press("Escape")
    # ↑ in the empty box edits the person's last message, not Blu's note.
    page.locator("#composer-input").focus()
    page.keyboard.press("ArrowUp")
    assert page.locator("#composer-input").input_value().startswith("Approve after restart")
    screenshot(page, "desktop-blu-note-after-restart")


# The card, its buttons, its request and the chat above it, measured where they show.
LAYOUT_JS = """() => {
    const box = (el) => {
        const r = el.getBoundingClientRect();
        return { top: r.top, bottom: r.bottom, height: r.height };
    };
    const card = document.querySelector('[data-testid=approval-card]');
    const input = card.querySelector('[data-testid=approval-input]');
    const running = [...document.querySelectorAll('li.msg--assistant')].pop();
    return {
        inner: innerHeight, card: box(card), list: box(document.querySelector('[data-testid=approvals]')),
        chat: box(document.querySelector('[data-testid=chat-scroll]')), message: box(running), input: box(input),
        buttons: [...card.querySelectorAll('.approval__actions button')].map(box),
        inputScrolls: input.scrollHeight > input.clientHeight + 1,
    };
}"""
SHAPES: dict[str, dict[str, Any]] = {
    "landscape": {"viewport": {"width": 740, "height": 360}, "is_mobile": True, "has_touch": True},
    "portrait": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": DESKTOP},
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_long_request_leaves_its_message_and_its_buttons_in_view(
    asking_server: BluServer, app_page: AppPage, console: Console, shape: str
) -> None:
    """A phone held sideways: the card takes about a third of the height, its long command scrolls inside it,
    its buttons show, and the reply that asks stays in view above it. Upright and on a desktop it is drawn as
    before: the buttons under the request, the command's own box scrolling (the card 350 and 326 px tall, as
    before the change)."""
    page = app_page(asking_server, "/#/new", **SHAPES[shape])
    words = " ".join(f"word{i}" for i in range(120))
    send(page, f"A long one [[bash cmd='echo {words} > long.txt']]")
    page.locator(CARD).wait_for()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    layout = page.evaluate(LAYOUT_JS)
    screenshot(page, f"{shape}-long-approval")
    card, listed, chat, message = layout["card"], layout["list"], layout["chat"], layout["message"]
    for button in layout["buttons"]:  # wholly on screen, without scrolling the list of requests
        assert listed["top"] <= button["top"] and button["bottom"] <= min(listed["bottom"], layout["inner"]), layout
    if shape == "landscape":
        assert card["height"] <= 0.36 * layout["inner"] and layout["inputScrolls"], layout
        assert chat["height"] >= 40 and message["bottom"] > chat["top"] + 20 and message["top"] < chat["bottom"], layout
    else:
        assert not layout["inputScrolls"] and all(b["top"] >= layout["input"]["bottom"] for b in layout["buttons"])
