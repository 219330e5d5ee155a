"""Large files in the browser: the limit is stated before an upload, big files take the direct flow."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3 import runtime_env, s3_server
from tests.support.server import BluServer
from tests.web.conftest import AppPage, login_context
from tests.web.helpers import open_app

MB = 1024 * 1024
BUCKET = "blu-files-web"


def content(size: int) -> bytes:
    block = hashlib.sha256(b"blu").digest() * (MB // 32)
    return (block * (size // len(block) + 1))[:size]


def test_large_upload_takes_the_direct_flow_and_downloads_whole(
    logged_in: Callable[..., Any], blu: BluServer, tmp_path: Path
) -> None:
    page = logged_in().new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url.removeprefix(blu.url)}"))
    open_app(page, blu.url)
    panel = page.locator("#panel")
    if not panel.is_visible():
        page.get_by_role("button", name="Artifacts and files").click()
    panel.get_by_role("tab", name="Files").click()
    files = panel.locator("#tabpanel-files")

    # The limit is on screen before anything is chosen, and tied to the Upload control.
    limit = files.get_by_test_id("upload-limit")
    assert limit.inner_text() == "Up to 25 MB a file"
    assert files.locator("label[for=upload-input]").get_attribute("aria-describedby") == "upload-limit"

    # Over the limit: refused in the page, nothing sent. The files are chosen from disk, as a person would:
    # Playwright hands a local browser the path, where a buffer would go through its protocol in base64.
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    huge = chosen / "huge.bin"
    huge.write_bytes(content(25 * MB + 1))
    page.set_input_files("#upload-input", files=[huge])
    page.get_by_text("huge.bin is 25.0 MB: larger than the limit of 25 MB. Nothing was uploaded.").wait_for()
    assert not [r for r in requests if "/api/files/uploads" in r or r.startswith("PUT ")], requests
    assert not (blu.data_dir / "workspace" / "huge.bin").exists()

    # Above API Gateway's 10 MB: straight to the upload URL, then completed into the workspace.
    data = content(12 * MB + 3)
    video = chosen / "video.bin"
    video.write_bytes(data)
    page.set_input_files("#upload-input", files=[video])
    row = files.locator(".file-row[data-path='video.bin']")
    row.wait_for()
    assert (blu.data_dir / "workspace" / "video.bin").read_bytes() == data
    transfer = [r for r in requests if "/api/files/uploads" in r or r.startswith("PUT ")]
    assert [r.split("?")[0].split("/")[-1] if "/uploads/" in r else r for r in transfer] == [
        "POST /api/files/uploads",
        "data",
        "complete",
    ], transfer
    assert not any(r.startswith("PUT /api/files/content") for r in requests)

    with page.expect_download() as info:
        row.get_by_role("link", name="Download video.bin").click()
    saved = tmp_path / "video.bin"
    info.value.save_as(saved)
    assert info.value.suggested_filename == "video.bin"
    assert saved.read_bytes() == data
    assert any(r == "POST /api/files/downloads" for r in requests)


@pytest.fixture(scope="module")
def blu_with_bucket(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BluServer, str]]:
    """Blu staging large files in a bucket of moto's S3 server (another origin, as the bucket is in AWS)."""
    with s3_server(BUCKET) as endpoint:
        env = {"BLU_DIRECT_TRANSFER_BYTES": str(64 * 1024), **runtime_env(endpoint, BUCKET)}
        server = BluServer(tmp_path_factory.mktemp("blu-web-s3") / "data", env=env).start()
        try:
            yield server, endpoint
        finally:
            server.stop()


def test_large_files_go_through_the_bucket(
    new_context: Callable[..., Any], blu_with_bucket: tuple[BluServer, str], tmp_path: Path
) -> None:
    server, endpoint = blu_with_bucket
    context = new_context()
    login_context(context, server.url)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
    open_app(page, server.url)
    panel = page.locator("#panel")
    if not panel.is_visible():
        page.get_by_role("button", name="Artifacts and files").click()
    panel.get_by_role("tab", name="Files").click()
    files = panel.locator("#tabpanel-files")

    data = content(300 * 1024 + 5)
    page.set_input_files("#upload-input", files=[{"name": "scan.pdf", "mimeType": "application/pdf", "buffer": data}])
    row = files.locator(".file-row[data-path='scan.pdf']")
    row.wait_for()
    assert (server.data_dir / "workspace" / "scan.pdf").read_bytes() == data
    assert f"POST {endpoint}/{BUCKET}" in requests, requests  # the browser's form POST to the bucket

    with page.expect_download() as info:
        row.get_by_role("link", name="Download scan.pdf").click()
    saved = tmp_path / "scan.pdf"
    info.value.save_as(saved)
    assert info.value.suggested_filename == "scan.pdf"
    assert saved.read_bytes() == data
    assert any(r.startswith(f"GET {endpoint}/{BUCKET}/downloads/") for r in requests), requests


def test_the_files_panel_says_what_a_listing_leaves_out(app_page: AppPage, blu: BluServer) -> None:
    folder = blu.data_dir / "workspace" / "left-out"
    folder.mkdir(exist_ok=True)
    (folder / "shown.txt").write_text("x")
    (folder / "back\\slash.txt").write_text("x")  # a name the file API refuses
    (folder / "link").symlink_to("/etc/hostname")
    page = app_page(blu)
    panel = page.locator("#panel")
    if not panel.is_visible():
        page.get_by_role("button", name="Artifacts and files").click()
    panel.get_by_role("tab", name="Files").click()
    files = panel.locator("#tabpanel-files")
    files.get_by_role("button", name="Open folder left-out").click()
    files.locator(".file-row[data-path='left-out/shown.txt']").wait_for()
    assert files.get_by_test_id("listing-hidden").inner_text().startswith("2 items are not shown")
    assert files.get_by_test_id("listing-truncated").count() == 0
