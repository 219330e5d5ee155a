"""The backups API on real servers: fill a Blu, export, import into a fresh Blu, compare every message and file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.server import REPO, BluClient, BluServer


def wait(api: BluClient, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = api.http.get("/api/backups/operation").json()["operation"]
        if operation and operation["state"] != "running":
            return dict(operation)
        time.sleep(0.2)
    raise AssertionError("the backup operation did not finish")


def workspace_files(api: BluClient, path: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in api.http.get("/api/files", params={"path": path}).json()["entries"]:
        if entry["type"] == "dir":
            files.update(workspace_files(api, entry["path"]))
        else:
            files[entry["path"]] = api.http.get("/api/files/content", params={"path": entry["path"]}).content
    return files


def conversation(api: BluClient) -> dict[str, Any]:
    sessions = api.http.get("/api/sessions", params={"limit": 100}).json()["sessions"]
    return {s["id"]: {"name": s["name"], "messages": api.messages(s["id"])} for s in sessions}


def set_mode(api: BluClient, tool: str, mode: str | None) -> dict[str, str]:
    response = api.http.put("/api/tools/policy", json={"tool": tool, "mode": mode})
    assert response.status_code == 200, response.text
    return dict(response.json()["run_time"])


def asked_first(api: BluClient, sid: str, workspace: Path, name: str, timeout: float = 60) -> dict[str, Any]:
    """Send a turn that runs `touch <name>` with Bash; it must wait for a person (Bash's mode is ask): returns
    the approval, after denying it and following the turn to its end. Fails as soon as the file appears."""
    sent = api.send(sid, f"[[bash cmd='touch {name}']]")
    deadline = time.monotonic() + timeout
    while True:
        assert not (workspace / name).exists(), "Bash ran without asking: the policy in use is not the restored one"
        approvals = api.http.get(f"/api/sessions/{sid}/approvals", params={"pending": "true"}).json()["approvals"]
        if approvals:
            break
        assert time.monotonic() < deadline, "no approval was requested"
        time.sleep(0.1)
    answered = api.http.post(f"/api/sessions/{sid}/approvals/{approvals[0]['id']}", json={"decision": "deny"})
    assert answered.status_code == 200, answered.text
    assert api.events_until(sid, sent["turn_id"])[-1]["data"]["status"] == "complete"
    assert not (workspace / name).exists()
    return dict(approvals[0])


def test_a_restore_brings_back_the_tool_policy_and_the_next_turn_obeys_it(model: StandinServer, tmp_path: Path) -> None:
    server = BluServer(tmp_path / "blu", env=model_env(model)).start()
    workspace = server.data_dir / "workspace"
    try:
        api = server.client()
        sid = api.new_session()
        assert set_mode(api, "Bash", "ask") == {"Bash": "ask"}
        api.http.post("/api/backups")
        snapshot_id = wait(api)["result"]["id"]
        assert set_mode(api, "Bash", "allow") == {"Bash": "allow"}
        assert set_mode(api, "Write", "deny") == {"Bash": "allow", "Write": "deny"}
        status, _ = api.turn(sid, "[[bash cmd='touch before-restore.txt']]")  # allowed now: runs at once
        assert status["status"] == "complete" and (workspace / "before-restore.txt").exists()

        assert api.http.post(f"/api/backups/{snapshot_id}/restore", json={}).status_code == 202
        restored = wait(api)
        assert restored["state"] == "done", restored
        # The first thing after the restore is a turn (no read of the policy first): it asks, as Bash's
        # restored mode says, rather than running on the replaced "allow".
        approval = asked_first(api, sid, workspace, "after-restore.txt")
        assert approval["tool_name"] == "Bash"
        policy = api.http.get("/api/tools/policy").json()  # what Settings → Tools shows
        assert policy["run_time"] == {"Bash": "ask"}
    finally:
        server.stop()


def test_a_restore_made_by_the_command_while_blu_runs_is_followed_at_once(model: StandinServer, tmp_path: Path) -> None:
    """`python -m runtime.backup restore --yes` beside a running Blu: the server notices the restore on its own
    (no restart, no read of the policy) and enforces the restored tool policy, as after one through the API."""
    server = BluServer(tmp_path / "blu", env=model_env(model)).start()
    workspace = server.data_dir / "workspace"
    try:
        api = server.client()
        sid = api.new_session()
        assert set_mode(api, "Bash", "ask") == {"Bash": "ask"}
        api.http.post("/api/backups")
        snapshot_id = wait(api)["result"]["id"]
        assert set_mode(api, "Bash", "allow") == {"Bash": "allow"}
        status, _ = api.turn(sid, "[[bash cmd='touch before-restore.txt']]")  # allowed now: runs at once
        assert status["status"] == "complete" and (workspace / "before-restore.txt").exists()
        epoch = api.http.get(f"/api/sessions/{sid}").json()["epoch"]

        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_", "BLU_"))}
        command = [sys.executable, "-m", "runtime.backup", "restore", snapshot_id, "--yes"]
        done = subprocess.run(
            command, cwd=REPO, env={**env, "BLU_DATA_DIR": str(server.data_dir)}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert not (workspace / "before-restore.txt").exists()
        # The server follows it by itself: the session's readers are told to reload (a new epoch) ...
        deadline = time.monotonic() + 60
        while api.http.get(f"/api/sessions/{sid}").json()["epoch"] == epoch:
            assert time.monotonic() < deadline, "the running server did not notice the restore"
            time.sleep(0.1)
        # ... and the next tool call follows the restored policy: Bash asks.
        approval = asked_first(api, sid, workspace, "after-restore.txt")
        assert approval["tool_name"] == "Bash"
        assert api.http.get("/api/tools/policy").json()["run_time"] == {"Bash": "ask"}
    finally:
        server.stop()


def test_export_wipe_import_into_a_fresh_blu_and_compare(model: StandinServer, tmp_path: Path) -> None:
    source = BluServer(tmp_path / "laptop", env=model_env(model)).start()
    # The importing Blu takes files up to 2,000 bytes: the archive is larger and still arrives (its own limit).
    target = BluServer(tmp_path / "aws", env={**model_env(model), "BLU_MAX_UPLOAD_BYTES": "2000"})
    try:
        api = source.client()
        for n in range(2):
            session = api.new_session()
            status, _ = api.turn(session, f"hello number {n}")
            assert status["status"] == "complete"
        for path, data in {"notes/plan.md": b"# Plan\n", "data/blob.bin": os.urandom(50_000)}.items():
            assert api.http.put("/api/files/content", params={"path": path}, content=data).status_code == 201
        before_messages, before_files = conversation(api), workspace_files(api)
        assert len(before_messages) == 2 and len(before_files) == 2
        assert set_mode(api, "Bash", "ask") == {"Bash": "ask"}  # the tool policy moves with the rest

        assert api.http.post("/api/backups").status_code == 202
        taken = wait(api)
        assert taken["state"] == "done", taken
        listing = api.http.get("/api/backups").json()
        (snapshot,) = listing["snapshots"]
        assert snapshot["contents"]["store"]["session"] == 2 and snapshot["contents"]["workspace"]["files"] == 2
        link = api.http.post(f"/api/backups/{snapshot['id']}/download").json()
        assert link["direct"] is False and link["size"] == snapshot["size"]
        archive = api.http.get(link["url"]).content
        assert len(archive) == snapshot["size"]

        other = target.start().client()
        assert len(archive) > 2000
        assert other.http.post("/api/files/uploads", json={"path": "big.bin", "size": 2001}).status_code == 413
        started = other.http.post("/api/backups/imports", json={"size": len(archive)}).json()
        sent = other.http.request(started["method"], started["url"], content=archive, headers=started["headers"])
        assert sent.status_code == 204, sent.text
        assert other.http.post(f"/api/backups/imports/{started['id']}/complete").status_code == 202
        imported = wait(other)
        assert imported["state"] == "done", imported
        assert imported["result"]["store"]["session"] == {"added": 2, "kept": 0}
        assert conversation(other) == before_messages
        assert workspace_files(other) == before_files
        assert imported["result"]["store"]["tool_policy"] == {"added": 1, "kept": 0}
        sid = other.new_session()  # a turn first: the imported policy is in use without a read of it
        asked_first(other, sid, target.data_dir / "workspace", "after-import.txt")
        assert other.http.get("/api/tools/policy").json()["run_time"] == {"Bash": "ask"}

        # The import's id is spent, and it never writes a workspace file through the files API.
        again = other.http.post(f"/api/files/uploads/{started['id']}/complete")
        assert again.status_code in (400, 404, 409)
    finally:
        source.stop()
        target.stop()


def test_restore_preview_and_refusals(model: StandinServer, tmp_path: Path) -> None:
    server = BluServer(tmp_path / "blu", env=model_env(model)).start()
    try:
        api = server.client()
        session = api.new_session()
        api.turn(session, "remember this")
        api.http.put("/api/files/content", params={"path": "a.txt"}, content=b"first")
        api.http.post("/api/backups")
        snapshot_id = wait(api)["result"]["id"]
        api.http.put("/api/files/content", params={"path": "a.txt"}, content=b"second")
        later = api.new_session()

        preview = api.http.post(f"/api/backups/{snapshot_id}/preview", json={}).json()
        assert [s["id"] for s in preview["sessions_removed"]] == [later]
        # What it replaces, as a person counts it: two sessions and one file of theirs (a.txt); Claude Code's own
        # files (the transcript of the turn, its config) are counted apart, never as the person's files.
        current = preview["current"]
        assert current["sessions"] == 2 and current["workspace"] == {"files": 1, "bytes": len(b"second")}
        claude_files = [p for p in (server.data_dir / "claude").rglob("*") if p.is_file()]
        assert current["state"]["files"] == len(claude_files) > 0
        assert api.http.post(f"/api/backups/{snapshot_id}/preview", json={"session_id": "nope"}).status_code == 400
        assert api.http.post("/api/backups/20200101T000000Z-00000000/preview", json={}).status_code == 404
        assert api.http.post("/api/backups/../../etc/preview", json={}).status_code == 404

        # What the snapshot's summary can tell is refused at once, as the preview refuses it, before anything
        # changes (no 202 and then a failure in the background).
        unknown = api.http.post(f"/api/backups/{snapshot_id}/restore", json={"session_id": "0" * 24})
        assert unknown.status_code == 400 and "holds no session" in unknown.json()["detail"]
        missing = api.http.post("/api/backups/20200101T000000Z-00000000/restore", json={"session_id": session})
        assert missing.status_code == 404
        assert api.http.post(f"/api/backups/{snapshot_id}/restore", json={"path": "../a.txt"}).status_code == 400
        assert api.http.post(f"/api/backups/{snapshot_id}/restore", json={"path": "./"}).status_code == 400
        assert api.http.get("/api/backups/operation").json()["operation"]["kind"] == "snapshot"  # nothing started
        assert len(api.http.get("/api/backups").json()["snapshots"]) == 1  # no pre-restore snapshot either

        assert api.http.post(f"/api/backups/{snapshot_id}/restore", json={"path": "a.txt"}).status_code == 202
        assert wait(api)["state"] == "done"
        assert api.http.get("/api/files/content", params={"path": "a.txt"}).content == b"first"

        assert api.http.post(f"/api/backups/{snapshot_id}/restore", json={}).status_code == 202
        restored = wait(api)
        assert restored["state"] == "done", restored
        assert [s["id"] for s in api.http.get("/api/sessions").json()["sessions"]] == [session]
        status, _ = api.turn(session, "and after the restore?")  # the restored session still works
        assert status["status"] == "complete"

        anonymous = httpx.Client(base_url=server.url)
        assert anonymous.get("/api/backups").status_code == 401
        assert anonymous.post("/api/backups").status_code == 401
    finally:
        server.stop()


def test_a_deleted_session_restored_from_a_snapshot_has_a_live_stream_again(
    model: StandinServer, tmp_path: Path
) -> None:
    server = BluServer(tmp_path / "blu", env=model_env(model)).start()
    try:
        api = server.client()
        session = api.new_session()
        api.turn(session, "remember this")
        api.http.post("/api/backups")
        snapshot_id = wait(api)["result"]["id"]
        reader = server.client()
        reader.read(session, wait=0)

        assert api.http.delete(f"/api/sessions/{session}").status_code == 204
        page = reader.read(session, wait=0)  # a reader behind it is told, then the stream is gone
        assert [e["type"] for e in page["events"]][-1] == "session.deleted"
        gone = reader.http.get(f"/api/sessions/{session}/events", params={"after": page["next"], "wait": 0})
        assert gone.status_code == 404

        restored = api.http.post(f"/api/backups/{snapshot_id}/restore", json={"session_id": session})
        assert restored.status_code == 202, restored.text
        assert wait(api)["state"] == "done"
        assert reader.read(session, wait=0)["reset"] is True  # a log of its own again: reload, then go on
        status, events = reader.turn(session, "and after the restore?")
        assert status["status"] == "complete" and "session.deleted" not in [e["type"] for e in events]
    finally:
        server.stop()


def test_a_tab_following_a_session_a_restore_replaced_is_told_to_reload(model: StandinServer, tmp_path: Path) -> None:
    """The session is still there after the restore, with fewer messages: a reader of it (another tab, which
    names the epoch it was given) must reload, not go on from a position in a history that no longer exists."""
    server = BluServer(tmp_path / "blu", env=model_env(model)).start()
    try:
        api = server.client()
        session = api.new_session()
        api.turn(session, "kept")
        api.http.post("/api/backups")
        snapshot_id = wait(api)["result"]["id"]
        api.turn(session, "removed by the restore")
        tab = server.client()
        detail = tab.http.get(f"/api/sessions/{session}").json()
        page = tab.http.get(
            f"/api/sessions/{session}/events",
            params={"after": detail["events_head"], "epoch": detail["epoch"], "wait": 0},
        ).json()
        assert page["reset"] is False

        for scope in ({}, {"session_id": session}):  # everything, then the one session
            restored = api.http.post(f"/api/backups/{snapshot_id}/restore", json=scope)
            assert restored.status_code == 202, restored.text
            assert wait(api)["state"] == "done"
            page = tab.http.get(
                f"/api/sessions/{session}/events",
                params={"after": page["next"], "epoch": page["epoch"], "wait": 0},
            ).json()
            assert page["reset"] is True
            assert [m["text"] for m in api.messages(session) if m["role"] == "user"] == ["kept"]
            detail = tab.http.get(f"/api/sessions/{session}").json()  # the reload: then it goes on as before
            assert detail["epoch"] == page["epoch"]
    finally:
        server.stop()


def test_a_tab_following_a_session_the_restored_snapshot_lacks_is_told_it_is_gone(
    model: StandinServer, tmp_path: Path
) -> None:
    """A session made after the snapshot does not exist once everything is restored: its readers get
    `session.deleted`, as after a deletion, and a read past it is 404 (not a fresh, empty stream)."""
    server = BluServer(tmp_path / "blu", env=model_env(model)).start()
    try:
        api = server.client()
        api.http.post("/api/backups")
        snapshot_id = wait(api)["result"]["id"]
        session = api.new_session()
        api.turn(session, "made after the snapshot")
        tab = server.client()
        detail = tab.http.get(f"/api/sessions/{session}").json()
        params = {"after": detail["events_head"], "epoch": detail["epoch"], "wait": 0}
        assert tab.http.get(f"/api/sessions/{session}/events", params=params).json()["events"] == []

        restored = api.http.post(f"/api/backups/{snapshot_id}/restore", json={})
        assert restored.status_code == 202, restored.text
        assert wait(api)["state"] == "done"
        page = tab.http.get(f"/api/sessions/{session}/events", params=params).json()
        assert [(e["type"], e["data"]) for e in page["events"]] == [
            ("session.deleted", {"session_id": session, "reason": "restore"})
        ], page
        after = {**params, "after": page["next"]}
        assert tab.http.get(f"/api/sessions/{session}/events", params=after).status_code == 404
        assert tab.http.get(f"/api/sessions/{session}").status_code == 404
    finally:
        server.stop()


def test_snapshot_requests_at_once_make_one_snapshot(tmp_path: Path) -> None:
    """Requests while a snapshot runs are refused (409), not queued: three at once make one snapshot."""
    server = BluServer(tmp_path / "data").start()
    try:
        api = server.client()
        with ThreadPoolExecutor(3) as pool:
            codes = sorted(pool.map(lambda _: api.http.post("/api/backups").status_code, range(3)))
        assert codes == [202, 409, 409]
        assert wait(api)["state"] == "done"
        assert len(api.http.get("/api/backups").json()["snapshots"]) == 1
    finally:
        server.stop()
