"""Memory through the real server and CLI: saved in the UI, seen by a new session, Claude's edit as an event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from runtime.agent.event_types import EVENT_ADAPTER
from runtime.api.deps import record_user_action
from runtime.api.memory import router
from tests.support.server import BluClient, BluServer

pytestmark = pytest.mark.slow


def _events_after(api: BluClient, session_id: str, kind: str, *, timeout: float = 20) -> dict[str, Any]:
    """The next event of a kind (memory.changed follows the turn's final status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in api.read(session_id, wait=2)["events"]:
            if event["type"] == kind:
                EVENT_ADAPTER.validate_python(event)  # exactly the shape the event union documents
                return dict(event["data"])
    raise AssertionError(f"no {kind} event")


def test_memory_saved_in_the_ui_reaches_a_new_session_and_claudes_edit_comes_back_as_a_card(
    fresh_server: BluServer,
) -> None:
    api = fresh_server.start().client()
    http = api.http

    empty = http.get("/api/memory")
    assert empty.status_code == 200 and empty.json()["content"] == "" and empty.json()["version"] is None
    assert empty.headers["etag"] == f'"{empty.json()["etag"]}"'
    path = empty.json()["path"]
    assert path.endswith("/claude/CLAUDE.md")  # Claude Code's user-level memory under CLAUDE_CONFIG_DIR

    blind = http.put("/api/memory", json={"content": "x"})
    assert blind.status_code == 428  # a save must name what it edited

    text = "# Person\n- likes herons\n"
    saved = http.put("/api/memory", json={"content": text}, headers={"If-Match": empty.headers["etag"]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"]["author"] == "you"

    # A new session's Claude is sent the memory (the stand-in's recall quotes it).
    session = api.new_session()
    status, _ = api.turn(session, "[[recall]]")
    assert status["status"] == "complete"
    assert api.messages(session)[-1]["text"].endswith("Memory: # Person - likes herons")

    # Claude edits its memory with its own tool: the chat gets the diff and what Revert restores.
    status, _ = api.turn(session, f'[[edit path={path} old="likes herons" new="likes herons and owls"]]')
    assert status["status"] == "complete", api.messages(session)[-1]
    changed = _events_after(api, session, "memory.changed")
    assert changed["version"]["author"] == "Claude" and changed["previous"]["id"] == saved.json()["version"]["id"]
    assert "-- likes herons\n+- likes herons and owls\n" in changed["diff"]
    assert changed["turn_id"] == status["turn_id"]

    # The tab that loaded the first version cannot overwrite Claude's edit unseen.
    stale = http.put("/api/memory", json={"content": "mine", "base_etag": saved.json()["etag"]})
    assert stale.status_code == 409
    assert stale.json()["detail"]["current"]["content"] == "# Person\n- likes herons and owls\n"

    # Revert, as the card's button does: restore the previous version over Claude's.
    revert_to, over = changed["previous"]["id"], changed["version"]["etag"]
    reverted = http.post(f"/api/memory/versions/{revert_to}/restore", headers={"If-Match": f'"{over}"'})
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["content"] == "# Person\n- likes herons\n"
    assert http.get("/api/memory").json()["content"] == "# Person\n- likes herons\n"

    versions = http.get("/api/memory/versions").json()["versions"]
    assert [v["author"] for v in versions] == ["restore", "Claude", "you"]
    assert versions[1]["session_id"] == session
    one = http.get(f"/api/memory/versions/{versions[1]['id']}")
    assert one.json()["content"] == "# Person\n- likes herons and owls\n"
    assert http.get("/api/memory/versions/0000-nope").status_code == 404

    assert fresh_server.client(login=False).http.get("/api/memory").status_code == 401


def test_an_open_dialog_asks_whether_the_memory_changed_with_its_etag_and_gets_a_304(fresh_server: BluServer) -> None:
    http = fresh_server.start().client().http
    empty = http.get("/api/memory")
    saved = http.put("/api/memory", json={"content": "- one\n"}, headers={"If-Match": empty.headers["etag"]})
    assert saved.status_code == 200, saved.text
    etag = saved.headers["etag"]

    for shown in (etag, f"W/{etag}", etag.strip('"')):  # as a browser or a script may send it
        same = http.get("/api/memory", headers={"If-None-Match": shown})
        assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
        assert same.headers["cache-control"] == "no-store"
    older = http.get("/api/memory", headers={"If-None-Match": empty.headers["etag"]})  # changed since: all of it
    assert older.status_code == 200 and older.json()["content"] == "- one\n" and older.headers["etag"] == etag

    # A change on disk nobody recorded yet (Claude in another session) is no longer the version shown.
    (fresh_server.data_dir / "claude" / "CLAUDE.md").write_text("- one\n- two\n")
    found = http.get("/api/memory", headers={"If-None-Match": etag})
    assert found.status_code == 200 and found.json()["version"]["author"] == "Claude"


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def test_reading_the_memory_keeps_nobody_awake_changing_it_does() -> None:
    """An open Memory dialog reads the memory every few seconds: a read is no person's action (or an open tab
    would keep Blu awake for ever); a save and a restore are."""
    actions = {
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if record_user_action in set(_calls(route.dependant))
    }
    assert actions == {("PUT", "/api/memory"), ("POST", "/api/memory/versions/{version_id}/restore")}
