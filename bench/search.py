"""Search latency on a large history: the local store (SQLite FTS5) with N messages, queried as the UI does.

`python -m bench --only search` (default 12,000 messages in 400 sessions of 30, plus artifacts). Prints
the median, 95th percentile and slowest answer of each kind of query; the target is ≤ 300 ms at
≥ 10,000 messages (issue 18). Timing is measured here, never asserted in a test."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from core.store.local import LocalStore
from core.store.models import ArtifactRecord, MessageRecord, Role, SessionRecord, new_id

_VOCABULARY = """deploy invoice garden kernel python lisbon budget tiles oak ferry meeting schedule report database
migration backup cache latency queue widget refactor pipeline concert recipe chapter review contract travel
weather holiday sketch voice camera battery network printer"""
WORDS = _VOCABULARY.split()
QUERIES = {
    "one rare word": ["quokka"],
    "one common word": ["deploy", "budget", "ferry"],
    "two words": ["database migration", "oak tiles", "travel weather"],
    "a prefix": ["migr", "sched", "pyth"],
    "no match": ["zyzzyva"],
}


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def build(path: Path, sessions: int, per_session: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    store = LocalStore(path)
    t0 = time.time() - sessions * per_session * 60
    count = 0
    for s in range(sessions):
        sid = new_id()
        store.create_session(SessionRecord(id=sid, name=_text(rng, 3), created_at=t0, updated_at=t0))
        for m in range(per_session):
            at = t0 + count * 60
            text = _text(rng, rng.randint(8, 200))
            if count % 997 == 0:
                text += " A quokka was seen."
            role: Role = "user" if m % 2 == 0 else "assistant"
            store.put_message(
                MessageRecord(
                    session_id=sid, id=f"{int(at * 1000):013d}-{count:08x}", role=role, text=text, created_at=at
                )
            )
            count += 1
        store.put_artifact(ArtifactRecord(path=f"notes/{rng.choice(WORDS)}-{s}.md", session_id=sid, updated_at=t0))
        store.update_session(sid, updated_at=t0 + count * 60)
    store.close()
    return count


def run(sessions: int = 400, per_session: int = 30, rounds: int = 20) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "blu.sqlite3"
        started = time.perf_counter()
        count = build(path, sessions, per_session)
        print(f"search: {count} messages in {sessions} sessions written in {time.perf_counter() - started:.1f} s")
        store = LocalStore(path)
        for name, queries in QUERIES.items():
            times: list[float] = []
            hits = 0
            for _ in range(rounds):
                for query in queries:
                    began = time.perf_counter()
                    hits = len(store.search(query, limit=30).hits)
                    times.append((time.perf_counter() - began) * 1000)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            figures[name] = {"median_ms": statistics.median(times), "p95_ms": p95, "max_ms": times[-1]}
            print(
                f"search: {name:16} median {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms"
                f"  max {times[-1]:6.1f} ms  ({hits} hits, limit 30)"
            )
        store.close()
    return figures


if __name__ == "__main__":
    run()
