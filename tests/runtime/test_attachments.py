"""Attachments: images reach the model as image content, other files by their workspace path."""

from __future__ import annotations

import base64
import struct
import uuid
import zlib

from runtime.standin import StandinServer
from tests.support.server import BluClient


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (red pixels), small enough to travel as it is."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _upload(api: BluClient, path: str, data: bytes) -> None:
    response = api.http.put("/api/files/content", params={"path": path}, content=data)
    assert response.status_code == 201, response.text


def test_an_image_goes_as_image_content_and_a_file_by_its_path(api: BluClient, model: StandinServer) -> None:
    marker = uuid.uuid4().hex
    image, notes = f"uploads/{marker}.png", f"uploads/{marker}-notes.txt"
    picture = png()
    _upload(api, image, picture)
    _upload(api, notes, b"some notes")
    sid = api.new_session()
    response = api.http.post(
        f"/api/sessions/{sid}/messages", json={"text": f"{marker} look", "attachments": [image, notes]}
    )
    assert response.status_code == 202, response.text
    api.events_until(sid, response.json()["turn_id"])
    request = [r for r in model.messages_requests() if marker in str(r.body)][-1]
    assert request.body is not None
    content = [m for m in request.body["messages"] if m["role"] == "user"][-1]["content"]
    images = [block for block in content if block.get("type") == "image"]
    assert [block["source"]["media_type"] for block in images] == ["image/png"]
    assert base64.b64decode(images[0]["source"]["data"]) == picture
    text = " ".join(block.get("text", "") for block in content if block.get("type") == "text")
    assert notes in text and image not in text
    assert marker in api.messages(sid)[1]["text"]  # the stand-in read the text, not the CLI's image note
    stored = api.messages(sid)[0]
    assert stored["text"] == f"{marker} look"
    assert stored["attachments"] == {image: "image/png", notes: "file"}
    artifacts = api.http.get(f"/api/sessions/{sid}/artifacts").json()["artifacts"]
    assert sorted(a["path"] for a in artifacts) == sorted([image, notes])


def test_attachments_that_cannot_be_sent_are_refused_before_the_turn(api: BluClient) -> None:
    sid = api.new_session()
    missing = api.http.post(f"/api/sessions/{sid}/messages", json={"text": "x", "attachments": ["uploads/none.png"]})
    assert missing.status_code == 400 and "no such file" in missing.json()["detail"]
    _upload(api, "uploads/big.png", png() + b"\0" * (5 * 1024 * 1024))
    big = api.http.post(f"/api/sessions/{sid}/messages", json={"text": "x", "attachments": ["uploads/big.png"]})
    assert big.status_code == 400 and "5 MB" in big.json()["detail"]
    escape = api.http.post(f"/api/sessions/{sid}/messages", json={"text": "x", "attachments": ["../etc/passwd"]})
    assert escape.status_code == 400
    assert api.messages(sid) == []


def test_a_key_reused_with_other_attachments_is_refused(api: BluClient) -> None:
    """The attachments are part of the message: the same key and text with other files is not a retry."""
    marker = uuid.uuid4().hex
    first_file, second_file = f"uploads/{marker}-a.txt", f"uploads/{marker}-b.txt"
    _upload(api, first_file, b"a")
    _upload(api, second_file, b"b")
    sid = api.new_session()
    url, key = f"/api/sessions/{sid}/messages", {"Idempotency-Key": f"files-{marker}"}
    first = api.http.post(url, json={"text": "read this", "attachments": [first_file]}, headers=key)
    assert first.status_code == 202, first.text
    for files in ([second_file], [first_file, second_file], []):
        other = api.http.post(url, json={"text": "read this", "attachments": files}, headers=key)
        assert other.status_code == 422, other.text
    again = api.http.post(url, json={"text": "read this", "attachments": [first_file]}, headers=key)
    assert again.status_code == 202 and again.json()["turn_id"] == first.json()["turn_id"] and again.json()["replayed"]
    api.events_until(sid, first.json()["turn_id"])
    assert [m["attachments"] for m in api.messages(sid) if m["role"] == "user"] == [{first_file: "file"}]
