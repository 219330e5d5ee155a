"""The archive format: round trips, and every attack refused with a clear error before anything is used."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from core.backup.archive import (
    MANIFEST_NAME,
    MARKER,
    MARKER_NAME,
    ArchiveError,
    ArchiveWriter,
    ForeignArchive,
    TamperedArchive,
    TruncatedArchive,
    UnsafeMember,
    read_archive,
    verify_archive,
    verify_extracted,
)

T0 = 1_760_000_000.0


def make_tree(root: Path) -> None:
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_text("alpha\n")
    (root / "docs" / "deep" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "docs" / "ünï cødé.md").write_text("ß" * 1000)
    (root / "link").symlink_to(root / "a.txt")
    os.mkfifo(root / "pipe")


def write(tmp_path: Path, *, items: list[dict[str, Any]] | None = None) -> bytes:
    workspace = tmp_path / "ws"
    if not workspace.exists():
        make_tree(workspace)
    out = io.BytesIO()
    writer = ArchiveWriter(out, snapshot_id="snap-1", reason="manual", blu_version="0.1.0", created_at=T0)
    writer.add_items(iter(items or [{"kind": "session", "item": {"id": "s1"}}]))
    writer.add_tree("workspace", workspace)
    writer.add_tree("state", tmp_path / "no-such-folder")
    writer.finish()
    return out.getvalue()


def members(data: bytes) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        result = []
        for info in tar.getmembers():
            handle = tar.extractfile(info) if info.isreg() else None
            result.append((info, handle.read() if handle else None))
        return result


def repack(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def test_round_trip_is_byte_for_byte(tmp_path: Path) -> None:
    data = write(tmp_path)
    target = tmp_path / "out"
    target.mkdir()
    result = read_archive(io.BytesIO(data), extract_to=target)
    manifest = result.manifest
    assert manifest.id == "snap-1" and manifest.blu_version == "0.1.0" and manifest.reason == "manual"
    assert manifest.contents["workspace"] == {
        "files": 3,
        "bytes": 6 + 300_000 + len(("ß" * 1000).encode()),
    }
    assert manifest.contents["store"] == {"session": 1}
    assert {s["reason"] for s in manifest.skipped} == {"link", "special file"}
    for relative in ("a.txt", "docs/deep/b.bin", "docs/ünï cødé.md"):
        assert (target / "workspace" / relative).read_bytes() == (tmp_path / "ws" / relative).read_bytes()
    assert (target / "workspace" / "empty").is_dir()
    assert not (target / "workspace" / "link").exists()
    assert json.loads((target / "store" / "items.jsonl").read_text()) == {"kind": "session", "item": {"id": "s1"}}
    verify_extracted(target, manifest)
    listed = {m.path: m for m in manifest.members}
    digest = hashlib.sha256((tmp_path / "ws" / "a.txt").read_bytes()).hexdigest()
    assert listed["workspace/a.txt"].sha256 == digest


def test_verify_extracted_notices_a_changed_or_extra_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    manifest = read_archive(io.BytesIO(write(tmp_path)), extract_to=target).manifest
    (target / "workspace" / "a.txt").write_text("alphA\n")
    with pytest.raises(TamperedArchive, match="checksum"):
        verify_extracted(target, manifest)
    (target / "workspace" / "a.txt").write_text("alpha\n")
    (target / "workspace" / "new.txt").write_text("x")
    with pytest.raises(TamperedArchive, match="does not list"):
        verify_extracted(target, manifest)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_archives_are_refused(tmp_path: Path, cut: float) -> None:
    data = write(tmp_path)
    with pytest.raises((TruncatedArchive, ForeignArchive)):
        verify_archive(io.BytesIO(data[: int(len(data) * cut)]))


def test_a_flipped_byte_is_refused(tmp_path: Path) -> None:
    data = bytearray(write(tmp_path))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ArchiveError):
        verify_archive(io.BytesIO(bytes(data)))


def test_a_changed_member_is_refused(tmp_path: Path) -> None:
    entries = members(write(tmp_path))
    entries = [(i, b"evil\n" if i.name == "workspace/a.txt" else d) for i, d in entries]
    with pytest.raises(TamperedArchive, match="checksum"):
        verify_archive(io.BytesIO(repack(entries)))


def test_extra_missing_and_duplicate_members_are_refused(tmp_path: Path) -> None:
    entries = members(write(tmp_path))
    extra = tarfile.TarInfo("workspace/extra.txt")
    manifest_at = len(entries) - 1
    with pytest.raises(TamperedArchive, match="does not list"):
        verify_archive(io.BytesIO(repack([*entries[:manifest_at], (extra, b"x"), entries[manifest_at]])))
    without = [(i, d) for i, d in entries if i.name != "workspace/a.txt"]
    with pytest.raises(TamperedArchive, match="lacks"):
        verify_archive(io.BytesIO(repack(without)))
    a_txt = next(e for e in entries if e[0].name == "workspace/a.txt")
    with pytest.raises(TamperedArchive, match="twice"):
        verify_archive(io.BytesIO(repack([*entries[:manifest_at], a_txt, entries[manifest_at]])))
    with pytest.raises(TamperedArchive, match="after its manifest"):
        verify_archive(io.BytesIO(repack([*entries, (extra, b"x")])))


def test_a_missing_manifest_is_truncation(tmp_path: Path) -> None:
    entries = [e for e in members(write(tmp_path)) if e[0].name != MANIFEST_NAME]
    with pytest.raises(TruncatedArchive, match="manifest"):
        verify_archive(io.BytesIO(repack(entries)))


def _evil(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "info",
    [
        _evil("/etc/passwd"),
        _evil("workspace/../../etc/passwd"),
        _evil("workspace/a/../../../x"),
        _evil("../outside"),
        _evil("workspace//double"),
        _evil("elsewhere/file"),
        _evil("workspace/link", tarfile.SYMTYPE, "/etc/passwd"),
        _evil("workspace/hard", tarfile.LNKTYPE, "workspace/a.txt"),
        _evil("workspace/dev", tarfile.CHRTYPE),
        _evil("workspace/blk", tarfile.BLKTYPE),
        _evil("workspace/fifo", tarfile.FIFOTYPE),
    ],
    ids=lambda info: info.name,
)
def test_members_that_could_escape_are_refused_and_nothing_is_written(tmp_path: Path, info: tarfile.TarInfo) -> None:
    entries = members(write(tmp_path))
    evil_data = b"pwned" if info.type == tarfile.REGTYPE else None
    data = repack([entries[0], (info, evil_data), *entries[1:]])
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(UnsafeMember):
        read_archive(io.BytesIO(data), extract_to=target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "outside").exists()


def test_foreign_archives_are_refused(tmp_path: Path) -> None:
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w:gz") as tar:
        info = tarfile.TarInfo("workspace/a.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"a"))
    with pytest.raises(ForeignArchive, match="marker"):
        verify_archive(io.BytesIO(plain.getvalue()))
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.txt", "a")
    with pytest.raises(ForeignArchive):
        verify_archive(io.BytesIO(zipped.getvalue()))
    with pytest.raises(ForeignArchive):
        verify_archive(io.BytesIO(b""))
    with pytest.raises(ForeignArchive):
        verify_archive(io.BytesIO(b"just some text"))


def test_a_newer_format_is_refused_with_advice(tmp_path: Path) -> None:
    entries = members(write(tmp_path))
    newer = [(i, MARKER.replace(b"\n1\n", b"\n2\n") if i.name == MARKER_NAME else d) for i, d in entries]
    with pytest.raises(ForeignArchive, match="newer Blu"):
        verify_archive(io.BytesIO(repack(newer)))
    manifest_info, body = entries[-1]
    assert body is not None
    changed = json.loads(body)
    changed["format"] = "other"
    with pytest.raises(ForeignArchive):
        verify_archive(io.BytesIO(repack([*entries[:-1], (manifest_info, json.dumps(changed).encode())])))


def test_the_unpacked_size_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="more than"):
        verify_archive(io.BytesIO(write(tmp_path)), max_bytes=100_000)
