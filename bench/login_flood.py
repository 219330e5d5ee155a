"""An authenticated read's latency while 100 addresses send wrong passwords (production bcrypt cost)."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

import tests.support.server as blu_server
from core.auth import hash_password
from tests.support.server import PASSWORD, BluServer

ADDRESSES = 100
WRONG_PER_ADDRESS = 3
FLOOD_THREADS = 50


def _reads(url: str, cookies: httpx.Cookies, count: int) -> list[float]:
    times = []
    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as http:
        for _ in range(count):
            started = time.perf_counter()
            http.get("/api/sessions", params={"limit": 5}).raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def _flood(url: str, addresses: list[int], answers: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=120) as http:
        for address in addresses:
            for _ in range(WRONG_PER_ADDRESS):
                forwarded = {"x-forwarded-for": f"198.51.100.{address % 250}, 10.0.{address // 250}.{address}"}
                answers.append(http.post("/api/login", json={"password": "wrong"}, headers=forwarded).status_code)


def run(reads: int = 100, repo: Path | None = None) -> dict[str, float]:
    """`repo`: another checkout of Blu to measure instead of this one (e.g. the code before the change)."""
    if repo is not None:
        blu_server.REPO = repo
    with tempfile.TemporaryDirectory() as root:
        env = {
            "AUTH_PASSWORD_HASH": hash_password(PASSWORD, rounds=12),  # what `set_secret` stores
            "BLU_TRUST_FORWARDED_FOR": "1",
            "BLU_STANDIN": "on",
        }
        server = BluServer(Path(root) / "data", env=env).start()
        try:
            cookies = server.client().http.cookies
            _reads(server.url, cookies, 10)  # warm up
            idle = _reads(server.url, cookies, reads)
            answers: list[int] = []
            chunks = [list(range(i, ADDRESSES, FLOOD_THREADS)) for i in range(FLOOD_THREADS)]
            flooders = [threading.Thread(target=_flood, args=(server.url, c, answers)) for c in chunks]
            flood_started = time.perf_counter()
            for thread in flooders:
                thread.start()
            time.sleep(1.0)  # the flood is under way
            flooded = _reads(server.url, cookies, reads)
            for thread in flooders:
                thread.join()
            flood_seconds = time.perf_counter() - flood_started
        finally:
            server.stop()
    figures = {
        "idle_median_ms": statistics.median(idle) * 1000,
        "flood_median_ms": statistics.median(flooded) * 1000,
        "flood_p90_ms": statistics.quantiles(flooded, n=10)[-1] * 1000,
        "flood_seconds": flood_seconds,
        "logins_answered": len(answers),
        "logins_429": answers.count(429),
    }
    print(
        f"login flood ({ADDRESSES} addresses x {WRONG_PER_ADDRESS} wrong passwords, bcrypt cost 12): "
        f"authenticated read median {figures['idle_median_ms']:.1f} ms idle, "
        f"{figures['flood_median_ms']:.1f} ms during the flood (p90 {figures['flood_p90_ms']:.1f} ms); "
        f"{figures['logins_answered']} logins answered in {flood_seconds:.1f} s, {figures['logins_429']} with 429"
    )
    return figures


if __name__ == "__main__":
    import sys

    run(repo=Path(sys.argv[1]) if len(sys.argv) > 1 else None)
