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
from tests.web.conftest import AppPage, screenshot
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
