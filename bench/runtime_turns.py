"""Turn overhead by tier (Blu vs a bare SDK client, side by side), stream latency, and a concurrent load."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage

from runtime.standin import StandinServer
from runtime.standin.cli_env import offline_cli_env
from tests.support.server import BluClient, BluServer


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms" if values else "      n/a"


def blu_turn(api: BluClient, sid: str, text: str) -> tuple[float, dict[str, Any], list[dict[str, Any]]]:
    started = time.perf_counter()
    status, events = api.turn(sid, text)
    return time.perf_counter() - started, status, events


def bench_blu(model: StandinServer, root: Path, turns: int) -> dict[str, list[float]]:
    """Per tier: wall time from POST to the final turn.status seen by a long-poll reader."""
    results: dict[str, list[float]] = {"cold": [], "hot": [], "warm": [], "stream_latency": []}
    server = BluServer(root / "blu", env={"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "bench"}).start()
    try:
        api = server.client()
        sessions = []
        for _ in range(turns):
            sid = api.new_session()
            sessions.append(sid)
            elapsed, status, _ = blu_turn(api, sid, "hi")
            assert status["tier"] == "cold", status
            results["cold"].append(elapsed)
            elapsed, status, _ = blu_turn(api, sid, "again")
            assert status["tier"] == "hot", status
            results["hot"].append(elapsed)
        # stream latency: a slow answer, measured per delta from reaching the server to reaching the reader
        sid = sessions[0]
        accepted = api.send(sid, "[[slow ms=30]] [[words n=60]]")
        deadline = time.monotonic() + 60
        done = False
        while not done and time.monotonic() < deadline:
            for event in api.read(sid)["events"]:
                if event["type"] == "message.delta":
                    results["stream_latency"].append(time.time() - event["data"]["received_at"])
                done = done or (
                    event["type"] == "turn.status"
                    and event["data"]["status"] == "complete"
                    and event["data"]["turn_id"] == accepted["turn_id"]
                )
        server.restart()
        api = server.client()
        for sid in sessions:
            elapsed, status, _ = blu_turn(api, sid, "back")
            assert status["tier"] == "warm", status
            results["warm"].append(elapsed)
    finally:
        server.stop()
    return results


async def bench_bare_sdk(model: StandinServer, root: Path, turns: int) -> dict[str, list[float]]:
    """The same turns with a bare ClaudeSDKClient: connect+query (cold), query (hot), resume (warm)."""
    env = offline_cli_env(model.url, root / "bare")
    workspace = root / "bare-workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[float]] = {"cold": [], "hot": [], "warm": []}

    async def one_turn(client: ClaudeSDKClient, text: str) -> str:
        await client.query(text)
        session_id = ""
        async for message in client.receive_response():
            if isinstance(message, ResultMessage):
                session_id = message.session_id
        return session_id

    ids = []
    for _ in range(turns):
        options = ClaudeAgentOptions(
            env=env, cwd=str(workspace), permission_mode="acceptEdits", include_partial_messages=True
        )
        started = time.perf_counter()
        client = ClaudeSDKClient(options)
        await client.connect()
        ids.append(await one_turn(client, "hi"))
        results["cold"].append(time.perf_counter() - started)
        started = time.perf_counter()
        await one_turn(client, "again")
        results["hot"].append(time.perf_counter() - started)
        await client.disconnect()
    for session_id in ids:
        options = ClaudeAgentOptions(
            env=env, cwd=str(workspace), permission_mode="acceptEdits", include_partial_messages=True, resume=session_id
        )
        started = time.perf_counter()
        client = ClaudeSDKClient(options)
        await client.connect()
        await one_turn(client, "back")
        results["warm"].append(time.perf_counter() - started)
        await client.disconnect()
    return results


def bench_load(model: StandinServer, root: Path, sessions: int, per_session: int) -> dict[str, Any]:
    """N sessions × M turns at once: every turn must end complete with its reply stored, no event lost."""
    server = BluServer(root / "load", env={"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "bench"}).start()
    errors: list[str] = []
    peak_mb = [0.0]
    stop = threading.Event()

    def sample_memory() -> None:
        api = server.client()
        while not stop.is_set():
            memory = api.http.get("/api/stats").json()["memory"]
            peak_mb[0] = max(peak_mb[0], memory["rss_mb"] + memory["children_rss_mb"])
            stop.wait(0.5)

    def drive(index: int) -> None:
        api = server.client()
        sid = api.new_session()
        try:
            accepted = [api.send(sid, f"turn {i} of {index} [[words n=50]]") for i in range(per_session)]
            events = api.events_until(sid, accepted[-1]["turn_id"], timeout=300)
            seqs = [e["seq"] for e in events]
            if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                errors.append(f"session {index}: gap in sequence numbers")
            finals = [
                e
                for e in events
                if e["type"] == "turn.status" and e["data"]["status"] != "queued" and e["data"]["status"] != "running"
            ]
            if [f["data"]["status"] for f in finals] != ["complete"] * per_session:
                errors.append(f"session {index}: {[f['data']['status'] for f in finals]}")
            replies = [m for m in api.messages(sid) if m["role"] == "assistant" and m["state"] == "complete"]
            if len(replies) != per_session:
                errors.append(f"session {index}: {len(replies)} replies stored")
        except Exception as exc:
            errors.append(f"session {index}: {exc!r}")

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=drive, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    stop.set()
    stats = server.client().http.get("/api/stats").json()
    server.stop()
    return {"elapsed": elapsed, "errors": errors, "peak_mb": peak_mb[0], "stats": stats}


def run(*, turns: int, sessions: int, per_session: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, StandinServer() as model:
        root = Path(tmp)
        print(f"Turn overhead against an instantly answering stand-in ({turns} turns per tier, medians)")
        blu = bench_blu(model, root, turns)
        bare = asyncio.run(bench_bare_sdk(model, root, turns))
        print(f"{'tier':6} {'Blu (HTTP + long-poll)':>24} {'bare SDK client':>18} {'Blu overhead':>14}")
        for tier in ("hot", "warm", "cold"):
            ours, theirs = statistics.median(blu[tier]), statistics.median(bare[tier])
            print(f"{tier:6} {median_ms(blu[tier]):>24} {median_ms(bare[tier]):>18} {(ours - theirs) * 1000:11.1f} ms")
        hot, cold = statistics.median(blu["hot"]), statistics.median(blu["cold"])
        print(f"cold / hot ratio (Blu): {cold / hot:.1f}x; warm / hot: {statistics.median(blu['warm']) / hot:.1f}x")
        lat = blu["stream_latency"]
        print(
            f"stream latency, chunk reaching the server → long-poll reader: median {median_ms(lat).strip()}, "
            f"p95 {sorted(lat)[int(len(lat) * 0.95)] * 1000:.1f} ms over {len(lat)} delta events "
            "(includes the ≤50 ms coalescing window)"
        )
        print(f"\nLoad: {sessions} sessions × {per_session} turns at once (hot cap 4)")
        load = bench_load(model, root, sessions, per_session)
        print(
            f"elapsed {load['elapsed']:.1f} s; peak RSS server + CLIs {load['peak_mb']:.0f} MB; "
            f"errors/lost: {len(load['errors'])}"
        )
        for error in load["errors"]:
            print("  ", error)
        print(f"turns by tier: { {t: v['turns'] for t, v in load['stats']['turns'].items()} }")
