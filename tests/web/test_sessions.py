"""Sessions: reload mid-stream without duplicates or gaps, two pages on one stream, rename, archive,
fork, search, and the full history loaded in pages as you scroll up."""

from __future__ import annotations

import secrets

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


def test_reload_mid_stream_completes_without_duplicates_or_gaps(
    app_page: AppPage, blu: BluServer, api: BluClient
) -> None:
    page = app_page(blu, "/#/new")
    send(page, "[[slow ms=60]] [[words n=60]]")
    page.wait_for_url("**/#/s/*")
    sid = session_id(page)
    before = streamed_text_samples(page, 2)

    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    # After the reload the answer is rebuilt from the event log and keeps streaming.
    after = streamed_text_samples(page, 2)
    final = body_of(wait_last_assistant(page, "complete"))
    stored = [m for m in api.messages(sid) if m["role"] == "assistant"]
    assert len(stored) == 1
    assert final == words(stored[0]["text"])
    assert len(final.split()) == 60 and final.count("alpha") == 4  # 60 words of a 15-word vocabulary
    for sample in before + after:
        assert final.startswith(sample), (sample, final)
    assert page.locator("li.msg").count() == 2
    assert page.locator("li.msg--user").count() == 1


def test_two_pages_on_one_session_see_the_same_stream(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    laptop = app_page(blu, f"/#/s/{sid}")
    phone = app_page(blu, f"/#/s/{sid}", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    send(laptop, "[[slow ms=60]] [[words n=30]] from the laptop")

    # The other device sees the message and the answer stream in, live.
    phone.locator("li.msg--user", has_text="from the laptop").wait_for()
    phone_samples = streamed_text_samples(phone, 2)
    texts = [body_of(wait_last_assistant(p, "complete")) for p in (laptop, phone)]
    stored = [m for m in api.messages(sid) if m["role"] == "assistant"]
    assert texts[0] == texts[1] == words(stored[0]["text"])
    for sample in phone_samples:
        assert texts[1].startswith(sample)
    for p in (laptop, phone):
        assert p.locator("li.msg").count() == 2
        wait_idle(p)

    # A session started on another device shows up in the list on refresh.
    other = api.new_session()
    api.http.patch(f"/api/sessions/{other}", json={"name": "From the tablet"})
    laptop.reload()
    laptop.locator(f".session-link[data-session-id='{other}']", has_text="From the tablet").wait_for()


def test_rename_archive_and_fork(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    api.turn(sid, "[[say text='first answer']] first question")
    api.turn(sid, "[[say text='second answer']] second question")
    page = app_page(blu, f"/#/s/{sid}")
    wait_last_assistant(page, "complete")

    # Rename from the header; the sidebar follows.
    name = f"Trip plans {secrets.token_hex(2)}"
    page.get_by_role("button", name="Rename this session").click()
    page.fill("#rename-input", name)
    page.press("#rename-input", "Enter")
    page.get_by_role("heading", name=name).wait_for()
    page.locator(f".session-link[data-session-id='{sid}']", has_text=name).wait_for()
    assert api.http.get(f"/api/sessions/{sid}").json()["name"] == name

    # Search by name finds it.
    page.keyboard.press("Control+k")
    assert page.locator("#session-search").evaluate("e => document.activeElement === e")
    page.keyboard.type(name.split()[-1])
    assert page.locator(".session-link").count() == 1
    page.fill("#session-search", "")

    # Archive: gone from the list, back with "Show archived", and unarchive.
    page.get_by_role("button", name="Archive this session").click()
    page.get_by_role("button", name="Unarchive this session").wait_for()
    assert api.http.get(f"/api/sessions/{sid}").json()["status"] == "archived"
    page.get_by_role("button", name="+ New session").click()
    page.wait_for_url("**/#/new")
    page.locator(f".session-link[data-session-id='{sid}']").wait_for(state="detached")
    page.get_by_label("Show archived").check()
    archived = page.locator(f".session-link[data-session-id='{sid}']")
    archived.wait_for()
    assert "Archived" in archived.inner_text()
    screenshot(page, "desktop-archived")
    archived.click()
    page.get_by_role("button", name="Unarchive this session").click()
    page.get_by_role("button", name="Archive this session").wait_for()
    assert api.http.get(f"/api/sessions/{sid}").json()["status"] == "active"

    # Fork from the first answer: a new session with the history up to there.
    first_answer = assistant_messages(page).first
    first_answer.get_by_role("button", name="Actions for this message", exact=False).click()
    first_answer.get_by_role("menuitem", name="Fork from here").click()
    page.wait_for_function(f"() => location.hash.startsWith('#/s/') && !location.hash.endsWith('{sid}')")
    fork_id = session_id(page)
    page.get_by_role("heading", name=f"{name} (fork)").wait_for()
    page.wait_for_function("() => document.querySelectorAll('li.msg').length === 2")
    assert "first answer" in body_of(assistant_messages(page).first)
    assert page.locator("li.msg", has_text="second").count() == 0
    assert api.messages(fork_id)[0]["text"].endswith("first question")
    page.locator(f".session-link[data-session-id='{fork_id}']").wait_for()
    # The fork carries on as a session of its own.
    send(page, "[[say text='in the fork']] go on")
    page.wait_for_function("() => document.querySelectorAll('li.msg--assistant[data-state=complete]').length === 2")
    assert "in the fork" in body_of(assistant_messages(page).last)


def test_history_loads_in_pages_as_you_scroll_up(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    sid = api.new_session()
    for i in range(16):  # 32 messages: more than one page of 30
        api.turn(sid, f"[[say text='answer {i:02d}']] question {i:02d}")
    page = app_page(blu, f"/#/s/{sid}")
    page.locator("li.msg--assistant", has_text="answer 15").wait_for()
    first_page = page.locator("li.msg").count()
    assert first_page == 30
    # Scrolling to the top loads the older page and keeps the reader's place.
    page.locator("[data-testid=chat-scroll]").evaluate("e => { e.scrollTop = 0 }")
    page.wait_for_function("() => document.querySelectorAll('li.msg').length === 32")
    texts = page.locator("li.msg .msg__body").all_inner_texts()
    assert texts[0].strip() == "[[say text='answer 00']] question 00"
    assert texts[-1].strip() == "answer 15"
    assert len(set(page.locator("li.msg").evaluate_all("els => els.map(e => e.dataset.id)"))) == 32
