"""The workspace file API: jailed paths, atomic uploads, size limits."""

from __future__ import annotations

import os

import pytest

from tests.support.server import BluClient, BluServer


def test_upload_list_read_and_download(api: BluClient) -> None:
    put = api.http.put("/api/files/content", params={"path": "docs/plan.md"}, content=b"# Plan\n")
    assert put.status_code == 201 and put.json() == {"path": "docs/plan.md", "size": 7}
    listing = api.http.get("/api/files", params={"path": "docs"}).json()
    assert [e["name"] for e in listing["entries"]] == ["plan.md"]
    read = api.http.get("/api/files/content", params={"path": "docs/plan.md"})
    assert read.text == "# Plan\n" and read.headers["content-type"].startswith("text/markdown")
    download = api.http.get("/api/files/content", params={"path": "docs/plan.md", "download": 1})
    assert download.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize(
    "path",
    ["../escape.txt", "/etc/passwd", "a/../../b", "..", "a\\..\\b", "ok/\x00bad", "%2e%2e/x", "link/secret"],
)
def test_paths_outside_the_workspace_are_refused(api: BluClient, blu: BluServer, path: str) -> None:
    workspace = blu.data_dir / "workspace"
    link = workspace / "link"
    if not link.exists():
        os.symlink("/etc", link)
    for response in (
        api.http.get("/api/files/content", params={"path": path}),
        api.http.put("/api/files/content", params={"path": path}, content=b"x"),
        api.http.get("/api/files", params={"path": path}),
    ):
        assert response.status_code in (400, 404), (path, response.status_code)
    assert not (blu.data_dir / "escape.txt").exists()


def test_oversized_upload_is_refused_and_leaves_nothing(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_MAX_UPLOAD_BYTES"] = "1000"
    api = fresh_server.start().client()

    def body():  # streamed without a length, so only the running count can catch it
        for _ in range(5):
            yield b"x" * 500

    response = api.http.put("/api/files/content", params={"path": "big.bin"}, content=body())
    assert response.status_code == 413
    workspace = fresh_server.data_dir / "workspace"
    assert not (workspace / "big.bin").exists() and not list(workspace.glob(".upload-*"))
    declared = api.http.put("/api/files/content", params={"path": "big.bin"}, content=b"x" * 2000)
    assert declared.status_code == 413


def test_missing_files_are_404(api: BluClient) -> None:
    assert api.http.get("/api/files/content", params={"path": "nope.txt"}).status_code == 404
    assert api.http.get("/api/files", params={"path": "no-dir"}).status_code == 404
