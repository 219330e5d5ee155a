"""The chat as a new user meets it: start a session, watch the answer stream in, see a tool use as a
card and its file as an artifact, read Markdown safely rendered, stop a long turn, see the queue."""

from __future__ import annotations

import re
import secrets
import struct
import zlib
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import AppPage, screenshot
from tests.web.helpers import (
    assistant_messages,
    body_of,
    send,
    session_id,
    streamed_text_samples,
    wait_idle,
    wait_last_assistant,
    words,
)

pytestmark = pytest.mark.browser


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x60\xe0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_start_a_session_and_watch_the_answer_stream(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    page = app_page(blu)
    page.get_by_role("button", name="+ New session").click()
    assert page.locator("#composer-input").evaluate("e => document.activeElement === e")
    send(page, "[[slow ms=80]] [[words n=40]]")

    # The person's message shows at once; the session exists now and has an address.
    page.wait_for_selector("li.msg--user")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    samples = streamed_text_samples(page, 3)
    assert "Blu is answering" in page.get_by_test_id("chat-status").inner_text()
    assert page.get_by_role("button", name="Stop the running turn").is_visible()
    # The session's totals count a reply once it ends: no made-up "0 in · 0 out · $0" meanwhile.
    made_up = re.compile(r"(?<![\d.k])0 (in|out)\b|\$0(?![.\d])")
    assert not made_up.search(page.get_by_test_id("session-usage").inner_text())
    screenshot(page, "desktop-streaming")

    final = wait_last_assistant(page, "complete")
    text = body_of(final)
    for sample in samples:  # every moment showed a prefix of the answer: nothing duplicated on the way
        assert text.startswith(sample), (sample, text)
    stored = [m for m in api.messages(sid) if m["role"] == "assistant"]
    assert len(stored) == 1 and words(stored[0]["text"]) == text
    assert page.locator("li.msg").count() == 2
    wait_idle(page)
    assert not page.get_by_role("button", name="Stop the running turn").is_visible()

    # The sidebar lists the new session first; the header shows tokens and cost.
    first = page.locator(".session-link").first
    assert first.get_attribute("data-session-id") == sid
    assert first.get_attribute("aria-current") == "page"
    usage = page.get_by_test_id("session-usage")
    page.wait_for_function(
        "(e) => /\\d+(\\.\\d)?k? in · \\d+ out · \\$/.test(e.textContent)", arg=usage.element_handle()
    )
    assert "in ·" in final.locator(".msg__usage").inner_text()


def test_tool_use_is_a_card_and_its_file_an_artifact(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new")
    name = f"notes-{secrets.token_hex(3)}.md"
    send(page, f'[[write path={name} content="# Shopping\\n\\n- **eggs**\\n- milk\\n\\n```python\\nprint(42)\\n```"]]')

    card = page.locator("details.tool").first
    card.wait_for()
    page.wait_for_selector("details.tool[data-outcome=ok]")
    assert card.locator(".tool__name").inner_text() == "Write"
    assert name in card.locator(".tool__target").inner_text()
    assert card.locator(".tool__outcome").inner_text() == "Done"
    assert not card.locator(".tool__result").is_visible()
    card.locator("summary").click()  # collapsible: opens to show input and result
    assert card.locator(".tool__result").is_visible()
    assert "File created" in card.locator(".tool__result").inner_text()
    wait_last_assistant(page, "complete")
    # Still open after the message completed and re-rendered.
    assert card.evaluate("e => e.open")

    # The artifacts panel lists the file; opening it previews the Markdown (rendered), with a download.
    panel = page.locator("#panel")
    if not panel.is_visible():
        page.get_by_role("button", name="Artifacts and files").click()
    row = panel.locator(f"#tabpanel-artifacts .file-row[data-path='{name}']")
    row.wait_for()
    assert "Created" in row.inner_text()
    screenshot(page, "desktop-tool-card-and-artifacts")
    row.get_by_role("button", name=f"Preview {name}").click()
    dialog = page.get_by_test_id("file-preview")
    dialog.get_by_role("heading", name="Shopping").wait_for()
    assert dialog.locator("strong").inner_text() == "eggs"
    assert dialog.locator("pre code .hljs-built_in, pre code .hljs-number").count() >= 1
    download = dialog.get_by_role("link", name="Download")
    assert "download=1" in (download.get_attribute("href") or "")
    screenshot(page, "desktop-artifact-preview")
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == name
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    # The workspace browser shows it too; upload a file and find it there.
    panel.get_by_role("tab", name="Files").click()
    files = panel.locator("#tabpanel-files")
    files.locator(f".file-row[data-path='{name}']").wait_for()
    page.set_input_files(
        "#upload-input", files=[{"name": "hello.txt", "mimeType": "text/plain", "buffer": b"hi from the browser"}]
    )
    files.locator(".file-row[data-path='hello.txt']").wait_for()
    files.get_by_role("button", name="Preview hello.txt").click()
    dialog.get_by_text("hi from the browser").wait_for()
    page.keyboard.press("Escape")
    page.set_input_files("#upload-input", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png()}])
    files.get_by_role("button", name="Preview dot.png").click()
    image = dialog.locator("img.preview__image")
    image.wait_for()
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 3", arg=image.element_handle())
    page.keyboard.press("Escape")


def test_keyboard_only(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new")
    # The first stop for Tab on the page is a skip link to the message box.
    first_focusable = page.evaluate("() => document.querySelector('#root a, #root button, #root input').className")
    assert first_focusable == "skip-link"
    page.focus(".skip-link")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to the message box"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "composer-input"
    assert page.url.endswith("#/new")
    # Shift+Enter adds a line, Enter sends.
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two")
    page.keyboard.press("Enter")
    sent = "() => document.querySelector('li.msg--user .msg__body')?.innerText"
    page.wait_for_function(f"{sent} === 'line one\\nline two'")  # the bubble is drawn, then filled
    wait_last_assistant(page, "complete")
    # Ctrl+K jumps to the session search; Tab reaches the sessions, Enter opens one.
    page.keyboard.press("Control+k")
    assert page.evaluate("() => document.activeElement.id") == "session-search"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('session-link')")


def test_markdown_is_rendered_and_model_html_never_runs(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new")
    evil = (
        "# Title\\n\\nSome *text* and `code`.\\n\\n```python\\ndef f():\\n    return 1\\n```\\n\\n"
        "- [ ] open task\\n- [x] done task\\n\\n"
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" onerror="window.__xss=1">'
        '<script>window.__xss=2</script> <iframe src="/"></iframe> '
        '<b onmouseover="window.__xss=4">bold</b> [bad link](javascript:window.__xss=3)'
    )
    send(page, f"[[say text='{evil}']]")
    message = wait_last_assistant(page, "complete")
    body = message.locator(".msg__body")
    assert body.locator("h1").inner_text() == "Title"
    assert body.locator("em").inner_text() == "text"
    assert body.locator("pre code .hljs-keyword").first.inner_text() == "def"
    # A task list keeps each item's state as a named mark (no input element), in place of the bullet.
    assert body.locator("input").count() == 0
    done = body.locator("li", has_text="done task")
    assert done.locator("[role=img][aria-label='Done']").inner_text() == "☑"
    assert body.locator("li", has_text="open task").locator("[role=img][aria-label='Not done']").inner_text() == "☐"
    assert done.evaluate("(li) => getComputedStyle(li).listStyleType") == "none"
    screenshot(page, "markdown-task-list")
    # The model's raw HTML is shown as text, not parsed into elements.
    assert body.locator("img, script, iframe, b, [onerror], [onmouseover]").count() == 0
    assert "<script>window.__xss=2</script>" in body.inner_text()
    link = body.get_by_text("bad link")
    assert not (link.get_attribute("href") or "").startswith("javascript")
    link.click()
    assert page.evaluate("() => window.__xss") is None
    # The person's own text is shown as text, never as HTML.
    assert page.locator("li.msg--user .msg__body script").count() == 0
    assert "<script>" in page.locator("li.msg--user .msg__body").inner_text()


def test_stop_a_long_turn_and_see_the_queue(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    page = app_page(blu, "/#/new")
    send(page, "[[sleep s=30]] take your time")
    wait_last_assistant(page, "running")
    stop = page.get_by_role("button", name="Stop the running turn")
    stop.wait_for()

    # A second message while busy waits in the queue, and says so.
    send(page, "and then this")
    queued = page.locator("li.msg--user").last
    queued.locator(".msg__badge", has_text="Queued").wait_for()
    # The status line says so too (waited for: it can be drawn a moment after the badge).
    page.get_by_test_id("chat-status").filter(has_text="more queued").wait_for()
    screenshot(page, "desktop-queued")

    stop.click()
    interrupted = page.locator("li.msg--assistant[data-state=interrupted]")
    interrupted.wait_for()
    assert interrupted.locator(".msg__badge").inner_text() == "Interrupted"
    assert interrupted.locator(".msg__error").is_visible()
    # The queued message runs next, and its badge goes away.
    page.wait_for_function(
        "() => [...document.querySelectorAll('li.msg--assistant')].length === 2 && "
        "document.querySelector('li.msg--assistant:last-child')?.dataset.state === 'complete'",
        timeout=30_000,
    )
    assert queued.locator(".msg__badge").inner_text() == ""
    assert "and then this" in body_of(assistant_messages(page).last)
    states = [m["state"] for m in api.messages(session_id(page)) if m["role"] == "assistant"]
    assert states == ["interrupted", "complete"]


def test_a_failed_turn_shows_its_error(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new")
    send(page, "[[error status=529]] are you there")
    failed = wait_last_assistant(page, "error")
    assert failed.locator(".msg__badge").inner_text() == "Failed"
    assert failed.locator(".msg__error").inner_text().strip()
    assert "API Error" not in failed.inner_text() and failed.locator(".msg__body").is_hidden()  # Blu's words only
    wait_idle(page)


def test_retry_sends_the_prompt_of_a_failed_reply_again(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    page = app_page(blu, "/#/new")
    # Three failures: the CLI's first try and its two retries (CLAUDE_CODE_MAX_RETRIES=2); the Retry succeeds.
    send(page, "[[error status=529 times=3]] try me")
    failed = wait_last_assistant(page, "error")
    assert "127.0.0.1" not in failed.locator(".msg__error").inner_text()
    failed.get_by_role("button", name="Retry: send the same message again").click()
    page.wait_for_function(
        "() => document.querySelectorAll('li.msg').length === 4 && "
        "document.querySelector('li.msg--assistant:last-child')?.dataset.state === 'complete'",
        timeout=30_000,
    )
    stored = api.messages(session_id(page))
    assert [(m["role"], m["state"]) for m in stored] == [
        ("user", "complete"),
        ("assistant", "error"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert stored[2]["text"] == stored[0]["text"] and stored[2]["turn_id"] != stored[0]["turn_id"]
    # A complete reply offers no Retry.
    assert assistant_messages(page).last.get_by_role("button", name="Retry: send the same message again").count() == 0


def test_right_to_left_text_runs_right_to_left(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new")
    send(page, 'هذا اختبار. [[say text="هذا اختبار."]]')
    reply = wait_last_assistant(page, "complete")
    direction = "e => getComputedStyle(e).direction"
    assert page.locator("li.msg--user .msg__body").evaluate(direction) == "rtl"
    assert reply.locator(".msg__body p").first.evaluate(direction) == "rtl"
    assert body_of(reply) == "هذا اختبار."
    page.locator(".session-link__name", has_text="اختبار").first.wait_for()
    assert page.locator(".session-link__name", has_text="اختبار").first.evaluate(direction) == "rtl"
    assert page.locator("#session-title").evaluate(direction) == "rtl"
    # Left-to-right text beside it keeps its own direction.
    send(page, "plain English")
    page.wait_for_function(
        "() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 2", timeout=30_000
    )
    assert assistant_messages(page).last.locator(".msg__body p").first.evaluate(direction) == "ltr"


def test_a_turn_waiting_for_a_claude_process_says_so(app_page: AppPage, tmp_path: Any) -> None:
    from runtime.agent.capacity import CLI_MEMORY_MIB, RESERVED_MEMORY_MIB

    server = BluServer(tmp_path / "data", env={"BLU_TASK_MEMORY_MIB": str(RESERVED_MEMORY_MIB + CLI_MEMORY_MIB)})
    server.start()
    try:
        api = server.client()
        busy = api.new_session()
        long_turn = api.send(busy, "[[sleep s=60]]")
        page = app_page(server, "/#/new")
        context = page.context
        for _ in range(15):
            events = api.read(busy, wait=2)["events"]
            if any(e["type"] == "turn.status" and e["data"]["status"] == "running" for e in events):
                break
        send(page, "hello while busy")
        page.locator("li.msg--user .msg__badge", has_text="Waiting for a free Claude process").wait_for()
        assert "Waiting for a free Claude process" in page.get_by_test_id("chat-status").inner_text()
        api.http.post(f"/api/sessions/{busy}/interrupt")
        api.events_until(busy, long_turn["turn_id"])
        reply = wait_last_assistant(page, "complete")
        assert "hello while busy" in body_of(reply)
        assert page.locator("li.msg--user .msg__badge").inner_text() == ""
        context.close()  # before the server goes, so the page logs no refused connections
        api.http.close()
    finally:
        server.stop()


def test_a_long_message_shows_that_it_is_shortened_and_opens_whole(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new")
    japanese = "日本語のテキスト。" * 11_000  # 99,000 characters, 297 kB
    send(page, japanese)
    wait_last_assistant(page, "complete", timeout=60_000)
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    user = page.locator("li.msg--user").first
    show = user.get_by_role("button", name="Shortened here · Show the whole message")
    show.wait_for()
    assert len(user.locator(".msg__body").inner_text()) < len(japanese)
    show.click()
    page.wait_for_function(
        "(n) => document.querySelector('li.msg--user .msg__body').innerText.length === n", arg=len(japanese)
    )
    assert user.get_by_role("button", name="Shortened here · Show the whole message").count() == 0
