"""Turn overhead by tier (Blu vs a bare SDK client in interleaved pairs), stream latency, and a concurrent load."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import paired
from runtime.standin import StandinServer
from tests.support.server import BluServer


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms" if values else "      n/a"


def bench_stream_latency(model: StandinServer, root: Path) -> list[float]:
    """Seconds from a delta reaching the server to a long-poll reader, for a slowly streamed answer: a chunk every
    45 ms, slower than the coalescing window (30 ms, runtime/agent/events.py), so each is sent at once. A chunk
    every 30 ms would land on the window's edge, and each run would fall anywhere between 1 and 30 ms."""
    server = BluServer(root / "stream", env={"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "bench"}).start()
    latencies: list[float] = []
    try:
        api = server.client()
        sid = api.new_session()
        accepted = api.send(sid, "[[slow ms=45]] [[words n=60]]")
        deadline = time.monotonic() + 60
        done = False
        while not done and time.monotonic() < deadline:
            for event in api.read(sid)["events"]:
                if event["type"] == "message.delta":
                    latencies.append(time.time() - event["data"]["received_at"])
                done = done or (
                    event["type"] == "turn.status"
                    and event["data"]["status"] == "complete"
                    and event["data"]["turn_id"] == accepted["turn_id"]
                )
    finally:
        server.stop()
    return latencies


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


def run(*, pairs: int, sessions: int, per_session: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, StandinServer() as model:
        root = Path(tmp)
        print("Blu against a bare SDK client on one instant stand-in, interleaved pairs per tier (medians, ms)")
        results = paired.run_pairs(model, root, pairs)
        for line in paired.table(results):
            print(line)
        print("turn ratio: median of per-pair Blu/SDK ratios [interquartile range]; 1st-text Δ: median Blu − SDK")
        one = paired.run_one_session(model, root, rounds=2 * pairs)
        print("\nHot turns with one session per side for every round (paired.run_one_session: no idle CLIs pile up)")
        for line in paired.table({"hot": one}):
            print(line)
        lat = bench_stream_latency(model, root)
        print(
            f"stream latency, chunk reaching the server → long-poll reader: median {median_ms(lat).strip()}, "
            f"p95 {sorted(lat)[int(len(lat) * 0.95)] * 1000:.1f} ms over {len(lat)} delta events"
        )
        load = bench_load(model, root, sessions, per_session)
        clients = load["stats"]["clients"]
        print(
            f"\nLoad: {sessions} sessions × {per_session} turns at once "
            f"(hot cap {clients['max_hot']}, CLI limit {load['stats']['clis']['limit']})"
        )
        print(
            f"elapsed {load['elapsed']:.1f} s; peak RSS server + CLIs {load['peak_mb']:.0f} MB; "
            f"errors/lost: {len(load['errors'])}"
        )
        for error in load["errors"]:
            print("  ", error)
        print(f"turns by tier: { {t: v['turns'] for t, v in load['stats']['turns'].items()} }")
    return {"pairs": results, "one_session": one, "stream_latency": lat, "load": load}
