"""The workspace file API: jailed paths, atomic uploads, size limits, names as the listing shows them."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path

import pytest

from runtime.workspace import NotAFile, PathRejected, Workspace
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
    ["../escape.txt", "/etc/passwd", "a/../../b", "..", "a\\..\\b", "ok/\x00bad", "link/secret", "link", "x" * 256],
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


def test_a_link_to_a_folder_on_the_path_is_refused_as_a_link(api: BluClient, blu: BluServer) -> None:
    """A linked folder on the path (or named by it) gets the link refusal, not "a name on the path is a file"
    (O_DIRECTORY meets the link first and the kernel says ENOTDIR); a real file on the path keeps that one."""
    workspace = blu.data_dir / "workspace"
    (workspace / "real").mkdir(exist_ok=True)
    (workspace / "real" / "note.txt").write_text("n")
    if not (workspace / "etc-link").is_symlink():
        os.symlink("/etc", workspace / "etc-link")
        os.symlink("real", workspace / "inner-link")
    for path in ("etc-link/passwd", "inner-link/note.txt", "inner-link/new/x.txt"):
        for response in (
            api.http.get("/api/files/content", params={"path": path}),
            api.http.put("/api/files/content", params={"path": path}, content=b"x"),
        ):
            assert response.status_code == 400, (path, response.text)
            assert response.json()["detail"] == "Symbolic links are not followed in the workspace.", path
    listing = api.http.get("/api/files", params={"path": "inner-link"})
    assert listing.status_code == 400 and "Symbolic links" in listing.json()["detail"]
    on_a_file = api.http.get("/api/files/content", params={"path": "real/note.txt/more"})
    assert on_a_file.json()["detail"] == "A name on the path is a file, not a folder."
    assert not (workspace / "real" / "new").exists()


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


def test_every_listed_name_opens_and_downloads(api: BluClient, blu: BluServer) -> None:
    workspace = blu.data_dir / "workspace"
    names = ["a%20b.md", "100% done.txt", "é ü.txt", " padded .txt", "#hash?.txt"]
    (workspace / "odd").mkdir(exist_ok=True)
    for name in names:
        (workspace / "odd" / name).write_bytes(name.encode())
    listing = api.http.get("/api/files", params={"path": "odd"}).json()
    assert sorted(e["name"] for e in listing["entries"]) == sorted(names)
    for entry in listing["entries"]:
        for download in (0, 1):
            read = api.http.get("/api/files/content", params={"path": entry["path"], "download": download})
            assert read.status_code == 200 and read.content == entry["name"].encode(), entry
    put = api.http.put("/api/files/content", params={"path": "odd/Invoice%202024.pdf"}, content=b"%PDF")
    assert put.status_code == 201 and put.json()["path"] == "odd/Invoice%202024.pdf"
    assert (workspace / "odd" / "Invoice%202024.pdf").read_bytes() == b"%PDF"


def test_uploads_keep_their_name_or_are_refused(api: BluClient, blu: BluServer) -> None:
    workspace = blu.data_dir / "workspace"
    for path, reason in [
        (" spaced.txt ", "spaces"),
        ("dir /x.txt", "spaces"),
        ("newname/", "end with '/'"),
        ("x" * 256, "255 bytes"),
        (".upload-x", "reserved"),
    ]:
        response = api.http.put("/api/files/content", params={"path": path}, content=b"x")
        assert response.status_code == 400 and reason in response.json()["detail"], (path, response.text)
    assert not (workspace / "newname").exists() and not (workspace / "spaced.txt").exists()
    assert not list(workspace.glob("dir*"))


def test_malformed_workspace_contents_never_break_the_api(api: BluClient, blu: BluServer) -> None:
    workspace = blu.data_dir / "workspace"
    (workspace / "odd2").mkdir(exist_ok=True)
    (workspace / "odd2" / "plain.txt").write_text("plain")
    os.close(os.open(os.fsencode(workspace / "odd2") + b"/bad-\xff-name", os.O_CREAT | os.O_WRONLY, 0o644))
    os.mkfifo(workspace / "odd2" / "pipe")
    outside = blu.data_dir / "outside.txt"
    outside.write_text("secret")
    os.link(outside, workspace / "odd2" / "hardlink.txt")
    listing = api.http.get("/api/files", params={"path": "odd2"})
    assert listing.status_code == 200
    assert [e["name"] for e in listing.json()["entries"]] == ["plain.txt"] and listing.json()["hidden"] == 3
    for path in ("odd2/hardlink.txt", "odd2/pipe", "odd2"):
        response = api.http.get("/api/files/content", params={"path": path})
        assert response.status_code == 400 and "secret" not in response.text, path
    under_a_file = api.http.put("/api/files/content", params={"path": "odd2/plain.txt/child"}, content=b"x")
    assert under_a_file.status_code == 400 and "is a file" in under_a_file.json()["detail"]
    overwrite = api.http.put("/api/files/content", params={"path": "odd2/hardlink.txt"}, content=b"new")
    assert overwrite.status_code == 201 and outside.read_text() == "secret"  # the link is replaced, not written


def test_long_folders_say_they_are_truncated(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    for i in range(2001):
        (tmp_path / f"f{i}").touch()
    listing = workspace.list("")
    assert listing.truncated and len(listing.entries) == 2000
    (tmp_path / "f0").unlink()
    assert not workspace.list("").truncated


def test_a_symlink_swap_race_never_escapes(tmp_path: Path) -> None:
    """An agent swapping a folder and a link to an outside folder, against reads and writes through it."""
    root, outside = tmp_path / "workspace", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "passwd").write_text("OUTSIDE")
    workspace = Workspace(root)
    stop = threading.Event()

    def swap() -> None:
        real, link, d = root / "real", root / "link", root / "d"
        real.mkdir()
        (real / "passwd").write_text("inside")
        link.symlink_to(outside)
        while not stop.is_set():
            for source, target in ((real, d), (d, real), (link, d), (d, link)):  # d: the folder, then the link
                try:
                    os.rename(source, target)
                except OSError:  # a write made its own folder d meanwhile: take it away
                    if d.is_dir() and not d.is_symlink() and not (d / "passwd").exists():
                        shutil.rmtree(d, ignore_errors=True)

    async def body():  # type: ignore[no-untyped-def]
        yield b"written"

    swapper = threading.Thread(target=swap)
    swapper.start()
    loop = asyncio.new_event_loop()  # not asyncio.run: that leaves the main thread without a loop for later tests
    escapes, served = [], 0
    try:
        for i in range(4000):
            try:
                if i % 4 == 0:
                    loop.run_until_complete(workspace.write("d/new.txt", body(), max_bytes=100))
                else:
                    data = b"".join(workspace.open_for_reading("d/passwd", max_bytes=100).chunks())
                    served += 1
                    if data != b"inside":
                        escapes.append(data)
            except (PathRejected, NotAFile, FileNotFoundError):
                pass
    finally:
        stop.set()
        swapper.join()
        loop.close()
    assert served > 0 and escapes == []
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]  # no upload, no temporary file


def test_names_that_cannot_be_asked_for_are_not_listed(api: BluClient, blu: BluServer) -> None:
    # The agent can create names the file API refuses (a backslash, control characters): the listing
    # shows only names that open, and counts the others in `hidden`.
    workspace = blu.data_dir / "workspace"
    (workspace / "odd3").mkdir(exist_ok=True)
    for name in ("back\\slash.txt", "nl\nname.txt", "tab\tname.txt", "\x7f.txt", "fine.txt"):
        (workspace / "odd3" / name).write_text("x")
    listing = api.http.get("/api/files", params={"path": "odd3"}).json()
    assert [e["name"] for e in listing["entries"]] == ["fine.txt"] and listing["hidden"] == 4
    for entry in listing["entries"]:
        assert api.http.get("/api/files/content", params={"path": entry["path"]}).status_code == 200


def test_a_query_that_is_not_utf8_is_refused_not_replaced(api: BluClient, blu: BluServer) -> None:
    # Decoded with replacement characters, coll%FF and coll%FE would both write coll\ufffd.txt.
    for raw in ("coll%FF.txt", "coll%FE.txt"):
        response = api.http.put(f"/api/files/content?path={raw}", content=b"data")
        assert response.status_code == 400 and "UTF-8" in response.json()["detail"], response.text
    assert not (blu.data_dir / "workspace" / "coll\ufffd.txt").exists()
    ok = api.http.put("/api/files/content?path=caf%C3%A9.txt", content=b"data")  # valid UTF-8 passes
    assert ok.status_code == 201 and ok.json()["path"] == "café.txt"
