"""Search across everything from the sessions' search box: a word from an old message deep in a long
session, a file's path, a session's name; the match is marked and a hit jumps to the message."""

from __future__ import annotations

import secrets

import pytest

from core.store import LOCAL_DB_NAME
from core.store.local import LocalStore
from core.store.models import MessageRecord, new_message_id
from tests.support.server import BluClient, BluServer
from tests.web.conftest import DESKTOP, PHONE, AppPage, screenshot

pytestmark = pytest.mark.browser


def long_session(blu: BluServer, api: BluClient, word: str, count: int = 90) -> tuple[str, str]:
    """A session of `count` stored messages whose third holds `word`; returns (session id, message id)."""
    sid = api.new_session()
    api.http.patch(f"/api/sessions/{sid}", json={"name": f"Long history {word[-4:]}"})
    store = LocalStore(blu.data_dir / LOCAL_DB_NAME)  # the running server's store (SQLite, WAL)
    try:
        base = 1_790_000_000.0
        target = ""
        for n in range(count):
            text = f"Message number {n} about nothing much."
            if n == 2:
                text = f"The {word.capitalize()} was seen near the river."
            message = MessageRecord(
                session_id=sid, id=new_message_id(base + n), role="user" if n % 2 == 0 else "assistant", text=text
            )
            store.put_message(message)
            if n == 2:
                target = message.id
    finally:
        store.close()
    return sid, target


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_search_finds_an_old_message_and_jumps_to_it(
    app_page: AppPage, blu: BluServer, api: BluClient, viewport: dict[str, int]
) -> None:
    which = "phone" if viewport == PHONE else "desktop"
    word = f"okapi{secrets.token_hex(3)}"
    sid, target = long_session(blu, api, word)
    page = app_page(blu, "/#/new", viewport=viewport)

    page.keyboard.press("Control+k")  # opens the drawer on a phone
    page.locator("#session-search").fill(word[:-2].upper())  # the start of the word, any case
    results = page.get_by_test_id("search-results")
    hit = results.locator(f"button[data-message-id='{target}']")
    hit.wait_for()
    assert hit.locator("mark").inner_text().lower() == word[:-2]
    assert "You · Long history" in hit.inner_text()
    screenshot(page, f"{which}-search-results")

    hit.click()
    page.wait_for_url(f"**/#/s/{sid}")
    found = page.locator(f"li.msg[data-id='{target}']")
    found.wait_for()  # loaded although it is older than the newest page
    assert found.evaluate("e => e.classList.contains('msg--found')")
    assert found.locator("mark.search-mark").inner_text().lower() == word[:-2]
    page.wait_for_function(
        "(e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }",
        arg=found.element_handle(),
    )
    screenshot(page, f"{which}-search-jumped")

    # Session names are found too.
    if viewport == PHONE:
        page.get_by_role("button", name="Sessions").click()
    page.locator("#session-search").fill(f"long history {word[-4:]}")
    results.locator(f".search__hit--session button[data-session-id='{sid}']").wait_for()
    page.locator("#session-search").fill("zzzz-nothing-here")
    results.get_by_text("Nothing found").wait_for()


def test_a_hit_names_who_sent_the_message_as_the_chat_does(app_page: AppPage, blu: BluServer, api: BluClient) -> None:
    # Blu's note (a late approval answer carried in) and a scheduled run's prompt are not the person's words:
    # a hit names them as the chat's card does, not "You".
    word = f"narwhal{secrets.token_hex(3)}"
    sid = api.new_session()
    api.http.patch(f"/api/sessions/{sid}", json={"name": f"Senders {word[-4:]}"})
    store = LocalStore(blu.data_dir / LOCAL_DB_NAME)
    ids: dict[str, str] = {}
    try:
        for n, sender in enumerate(["person", "blu", "schedule"]):
            message = MessageRecord(
                session_id=sid,
                id=new_message_id(1_790_100_000.0 + n),
                role="user",
                text=f"The {word} report, sent by {sender}.",
                sent_by=sender,  # type: ignore[arg-type]
            )
            store.put_message(message)
            ids[sender] = message.id
    finally:
        store.close()
    page = app_page(blu, "/#/new")
    page.locator("#session-search").fill(word)
    results = page.get_by_test_id("search-results")
    labels = {}
    for sender, message_id in ids.items():
        hit = results.locator(f"button[data-message-id='{message_id}'] .search__where")
        hit.wait_for()
        labels[sender] = hit.inner_text().split(" · ")[0]
    assert labels == {"person": "You", "blu": "Blu's note", "schedule": "Scheduled run"}
    # The chat names them the same way.
    results.locator(f"button[data-message-id='{ids['blu']}']").click()
    page.wait_for_url(f"**/#/s/{sid}")
    chat = {s: page.locator(f"li.msg[data-id='{m}'] .msg__who").inner_text() for s, m in ids.items()}
    assert chat == labels
