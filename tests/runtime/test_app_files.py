"""The installable app's files (service worker, manifest, icons) are open static files with the right types, and
the page's Content-Security-Policy lets the service worker and the manifest load."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import REPO, BluServer

PUBLIC = REPO / "web" / "public"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """Blu serving a build made of web/public as it is (and a stub page), so no front-end build is needed."""
    web = tmp_path_factory.mktemp("web")
    shutil.copytree(PUBLIC, web, dirs_exist_ok=True)
    (web / "index.html").write_text('<!doctype html><link rel="manifest" href="/manifest.webmanifest">')
    running = BluServer(tmp_path_factory.mktemp("blu") / "data", env={"BLU_WEB_DIR": str(web)}).start()
    yield running
    running.stop()


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_the_service_worker_is_open_javascript_that_revalidates(server: BluServer) -> None:
    response = httpx.get(f"{server.url}/sw.js")  # no cookie: a static asset, like the page
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == (PUBLIC / "sw.js").read_text()
    # The worker's own CSP (its script's headers) and the page's allow a same-origin worker: worker-src
    # falls back to script-src, then default-src, which is 'self'.
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert "worker-src" not in policy and "script-src" not in policy and "child-src" not in policy


def test_the_manifest_and_its_icons_are_served(server: BluServer) -> None:
    response = httpx.get(f"{server.url}/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes  # what installing to a phone's home screen asks for
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        image = httpx.get(server.url + icon["src"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png", icon
        width = int.from_bytes(image.content[16:20], "big")  # the PNG's IHDR
        assert f"{width}x{width}" == icon["sizes"], icon
    policy = directives(httpx.get(f"{server.url}/").headers["content-security-policy"])
    assert "manifest-src" not in policy and policy["default-src"] == ["'self'"]


def test_missing_app_files_are_404_not_the_page(tmp_path: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html>")
    server = BluServer(tmp_path / "data", env={"BLU_WEB_DIR": str(web)}).start()
    try:
        assert httpx.get(f"{server.url}/sw.js").status_code == 404
        assert httpx.get(f"{server.url}/manifest.webmanifest").status_code == 404
    finally:
        server.stop()


def test_the_manifest_in_the_repository_is_valid_json() -> None:
    assert json.loads((PUBLIC / "manifest.webmanifest").read_text())["name"] == "Blu"
