"""Attachments in Chromium: a pasted image reaches the model as an image block, a picked file by its path."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.runtime.test_attachments import png
from tests.support.server import BluServer
from tests.web.conftest import AppPage, Console, screenshot
from tests.web.helpers import session_id, wait_last_assistant

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def model() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture(scope="module")
def blu_model(model: StandinServer, browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """A Blu whose stand-in this test reads: what the model was really sent."""
    server = BluServer(tmp_path_factory.mktemp("blu-attach") / "data", env=model_env(model)).start()
    yield server
    server.stop()


PASTE = """([data, name]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: "image/png" }));
    const paste = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
    document.querySelector("#composer-input").dispatchEvent(paste);
}"""


def test_pasted_image_and_picked_file_reach_claude(
    app_page: AppPage, blu_model: BluServer, model: StandinServer, tmp_path: Path
) -> None:
    page = app_page(blu_model, "/#/new")
    picture = png(3, 2)
    page.evaluate(PASTE, [base64.b64encode(picture).decode(), "shot.png"])
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes")
    page.get_by_test_id("attach-input").set_input_files(str(notes))
    tray = page.get_by_test_id("attachment-tray")
    ready = "() => document.querySelectorAll('[data-testid=attachment-tray] [data-state=ready]').length === 2"
    page.wait_for_function(ready)
    assert tray.locator("img.attachment__preview").count() == 1
    screenshot(page, "attachments-composer")
    page.fill("#composer-input", "what is in these")
    page.press("#composer-input", "Enter")
    page.wait_for_url("**/#/s/*")
    wait_last_assistant(page, "complete")
    assert tray.is_hidden()

    # The model got the image as an image block (the very bytes) and the file by its path.
    request = [r for r in model.messages_requests() if "what is in these" in str(r.body)][-1]
    assert request.body is not None
    content = [m for m in request.body["messages"] if m["role"] == "user"][-1]["content"]
    images = [b for b in content if b.get("type") == "image"]
    assert len(images) == 1 and base64.b64decode(images[0]["source"]["data"]) == picture
    text = " ".join(b.get("text", "") for b in content if b.get("type") == "text")
    assert "uploads/" in text and "notes.txt" in text

    # The sent message shows both as chips, the image with its preview, and they are in the workspace.
    sent = page.locator("li.msg--user").last
    sent.locator(".msg__attachments img.attachment__preview").wait_for()
    assert sent.locator(".msg__attachments [data-testid=attachment]").count() == 2
    page.reload()
    page.wait_for_selector("html[data-ready=app]")
    preview = page.locator("li.msg--user .msg__attachments img.attachment__preview")
    preview.wait_for()
    page.wait_for_function("(img) => img.complete", arg=preview.element_handle())
    loaded = preview.evaluate("(img) => img.naturalWidth")
    assert loaded == 3
    stored = blu_model.client().messages(session_id(page))[0]
    assert sorted(stored["attachments"].values()) == ["file", "image/png"]
    screenshot(page, "attachments-message")


def _attach_two(page: Any, tmp_path: Path) -> None:
    page.evaluate(PASTE, [base64.b64encode(png(3, 2)).decode(), "keep.png"])
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes")
    page.get_by_test_id("attach-input").set_input_files(str(notes))
    ready = "() => document.querySelectorAll('[data-testid=attachment-tray] [data-state=ready]').length === 2"
    page.wait_for_function(ready)


def _sessions(server: BluServer) -> list[dict[str, Any]]:
    response = server.client().http.get("/api/sessions?archived=false&limit=100")
    assert response.status_code == 200, response.text
    return list(response.json()["sessions"])


def test_an_attachment_gone_from_the_workspace_sends_nothing_and_loses_nothing(
    app_page: AppPage, blu_model: BluServer, tmp_path: Path
) -> None:
    """The file is deleted after it was attached: no "Not sent" dead end and no empty session; the text
    and the other chip are back in the box, the gone file's chip marked, and without it the message goes."""
    page = app_page(blu_model, "/#/new")
    _attach_two(page, tmp_path)
    before = len(_sessions(blu_model))
    for path in (blu_model.data_dir / "workspace" / "uploads").glob("*notes.txt"):
        path.unlink()
    page.fill("#composer-input", "read my notes")
    page.press("#composer-input", "Enter")
    page.locator(".toast", has_text="notes.txt is no longer in the workspace").wait_for()
    assert page.input_value("#composer-input") == "read my notes"
    tray = page.get_by_test_id("attachment-tray")
    missing = tray.locator("[data-state=missing]")
    assert missing.count() == 1 and "notes.txt" in missing.inner_text()
    assert tray.locator("[data-state=ready]").count() == 1
    assert page.locator("li.msg--user").count() == 0
    assert page.url.endswith("#/new") and len(_sessions(blu_model)) == before
    screenshot(page, "attachments-missing")

    # Without the gone file the message is sent, with the image.
    missing.get_by_role("button", name="Remove notes.txt").click()
    page.press("#composer-input", "Enter")
    page.wait_for_url("**/#/s/*")
    wait_last_assistant(page, "complete")
    stored = blu_model.client().messages(session_id(page))[0]
    assert stored["text"] == "read my notes" and list(stored["attachments"].values()) == ["image/png"]


def test_a_file_deleted_while_sending_leaves_no_empty_session(
    app_page: AppPage, blu_model: BluServer, console: Console, tmp_path: Path
) -> None:
    """The folder cannot be checked (the check leaves it to the server), and the server refuses the message
    400: the session made for it is deleted, and the text and the image wait in the new chat's box."""
    console.allow(r"status of 500 .*/api/files\?path=uploads")
    console.allow(r"status of 400 .*/api/sessions/\w+/messages")
    page = app_page(blu_model, "/#/new")
    _attach_two(page, tmp_path)
    before = len(_sessions(blu_model))
    for path in (blu_model.data_dir / "workspace" / "uploads").glob("*notes.txt"):
        path.unlink()
    page.route("**/api/files?path=uploads", lambda route: route.fulfill(status=500, json={"detail": "busy"}))
    page.fill("#composer-input", "read my notes again")
    page.press("#composer-input", "Enter")
    page.locator(".toast", has_text="notes.txt is no longer in the workspace").wait_for()
    page.wait_for_url("**/#/new")
    page.wait_for_function("() => document.querySelector('#composer-input')?.value === 'read my notes again'")
    tray = page.get_by_test_id("attachment-tray")
    tray.locator("[data-state=ready]").wait_for()
    assert tray.locator("[data-testid=attachment]").count() == 1
    assert "keep.png" in tray.inner_text()
    assert len(_sessions(blu_model)) == before
    assert page.locator("li.msg--user").count() == 0
