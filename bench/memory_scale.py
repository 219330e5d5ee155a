"""Memory at scale: many sessions in one Blu process under a task's memory, most idle and a few hot.

One server with `BLU_TASK_MEMORY_MIB` set (2 GB, a Fargate task's size) against the instant stand-in:
`sessions` sessions are opened; `talked` of them have had a turn (their workers stay, idle, their clients
hot or demoted); then `hot` sessions take `turns` turns each at once while a reader keeps looking at
every session (as open tabs do). A sampler reads the server's process tree all along: the number of
Claude Code processes (never above the CLI limit), the RSS of each (the measured size of one CLI) and
the total (server + children, against the task's memory). Every turn must end `complete` with its
reply stored.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from runtime.agent.capacity import CLI_MEMORY_MIB, RESERVED_MEMORY_MIB, cli_limit, hot_cap
from runtime.settings import Settings
from runtime.standin import StandinServer
from tests.support.server import BluClient, BluServer


class TreeSampler:
    """Samples the server's process tree every `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.max_clis = 0
        self.max_helpers = 0  # claude processes a CLI started itself
        self.peak_total_mib = 0.0
        self.peak_server_mib = 0.0
        self.cli_rss_mib: list[float] = []
        self.over: list[str] = []  # what the tree held when it held more CLIs than `limit`
        self.limit: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                server = self.process.memory_info().rss / 2**20
                total, clis, helpers, seen = server, 0, 0, []
                for child in self.process.children(recursive=True):
                    try:
                        rss = child.memory_info().rss / 2**20
                        name, status, ppid = child.name(), child.status(), child.ppid()
                        age = time.time() - child.create_time()
                    except psutil.Error:
                        continue
                    total += rss
                    # A CLI is a claude process the server started; one may start claude processes of its
                    # own for a moment (counted in the total, not as CLIs). A zombie holds no memory.
                    if name == "claude" and ppid == self.process.pid and status != psutil.STATUS_ZOMBIE:
                        clis += 1
                        self.cli_rss_mib.append(rss)
                        seen.append(f"pid {child.pid} {status} {age:.1f}s {rss:.0f}MiB")
                    elif name == "claude":
                        helpers += 1
                self.max_clis = max(self.max_clis, clis)
                self.max_helpers = max(self.max_helpers, helpers)
                if self.limit is not None and clis > self.limit:
                    self.over.append("; ".join(seen))
                self.peak_total_mib = max(self.peak_total_mib, total)
                self.peak_server_mib = max(self.peak_server_mib, server)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _turn(api: BluClient, sid: str, text: str) -> str:
    accepted = api.send(sid, text)
    events = api.events_until(sid, accepted["turn_id"], timeout=600)
    return str(events[-1]["data"]["status"])


def measure(
    model: StandinServer, root: Path, *, sessions: int, talked: int, hot: int, turns: int, memory_mib: int
) -> dict[str, Any]:
    env = {
        "ANTHROPIC_BASE_URL": model.url,
        "ANTHROPIC_API_KEY": "bench",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "BLU_TASK_MEMORY_MIB": str(memory_mib),
    }
    server = BluServer(root / "scale", env=env).start(timeout=120)
    errors: list[str] = []
    statuses: list[str] = []
    lock = threading.Lock()
    try:
        api = server.client()
        ids = [api.new_session() for _ in range(sessions)]
        assert server.process is not None
        with TreeSampler(server.process.pid) as sampler:
            sampler.limit = cli_limit(Settings(BLU_TASK_MEMORY_MIB=memory_mib))  # type: ignore[call-arg]

            def talk(sid: str, text: str) -> None:
                own = server.client()
                try:
                    status = _turn(own, sid, text)
                except Exception as exc:  # recorded, then counted as lost
                    status = f"error: {exc!r}"
                with lock:
                    statuses.append(status)

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda sid: talk(sid, "hello [[words n=8]]"), ids[:talked]))
            talked_seconds = time.perf_counter() - started

            stop_reading = threading.Event()
            reads = [0]

            def browse() -> None:
                # Open tabs: the list and each session's events and messages, round after round.
                reader = server.client()
                while not stop_reading.is_set():
                    reader.http.get("/api/sessions", params={"limit": 50})
                    for sid in ids:
                        if stop_reading.is_set():
                            break
                        reader.http.get(f"/api/sessions/{sid}/events", params={"after": 0, "wait": 0})
                        reads[0] += 1

            browser = threading.Thread(target=browse, daemon=True)
            browser.start()

            def busy(sid: str) -> None:
                for n in range(turns):
                    talk(sid, f"turn {n} [[words n=40]]")

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=hot) as pool:
                list(pool.map(busy, ids[-hot:]))
            hot_seconds = time.perf_counter() - started
            stop_reading.set()
            browser.join(30)
        stats = api.http.get("/api/stats").json()
        expected = {sid: (1 if sid in ids[:talked] else 0) + (turns if sid in ids[-hot:] else 0) for sid in ids}
        for sid, count in expected.items():
            if not count:
                continue
            replies = [m for m in api.messages(sid) if m["role"] == "assistant" and m["state"] == "complete"]
            if len(replies) != count:
                errors.append(f"{sid}: {len(replies)} of {count} replies stored")
        errors += [status for status in statuses if status != "complete"]
    finally:
        server.stop()
    settings = Settings(BLU_TASK_MEMORY_MIB=memory_mib)  # type: ignore[call-arg]
    return {
        "sessions": sessions,
        "talked": talked,
        "hot": hot,
        "turns": len(statuses),
        "talked_seconds": talked_seconds,
        "hot_seconds": hot_seconds,
        "reads": reads[0],
        "cli_limit": cli_limit(settings),
        "hot_cap": hot_cap(settings),
        "stats_limit": stats["clis"]["limit"],
        "stats_max_hot": stats["clients"]["max_hot"],
        "max_clis": sampler.max_clis,
        "max_helpers": sampler.max_helpers,
        "cli_rss_median_mib": statistics.median(sampler.cli_rss_mib) if sampler.cli_rss_mib else float("nan"),
        "cli_rss_max_mib": max(sampler.cli_rss_mib, default=float("nan")),
        "peak_server_mib": sampler.peak_server_mib,
        "peak_total_mib": sampler.peak_total_mib,
        "memory_mib": memory_mib,
        "errors": errors,
        "over_limit": sampler.over,
    }


def run(*, sessions: int, talked: int, hot: int, turns: int, memory_mib: int = 2048) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="blu-bench-scale-") as tmp, StandinServer() as model:
        figures = measure(
            model, Path(tmp), sessions=sessions, talked=talked, hot=hot, turns=turns, memory_mib=memory_mib
        )
    budget = f"{CLI_MEMORY_MIB} MiB each + {RESERVED_MEMORY_MIB} MiB reserved"
    print(
        f"\nMemory at scale: {sessions} sessions in one process, {memory_mib} MiB task "
        f"(CLI limit {figures['cli_limit']}, hot cap {figures['hot_cap']}: {budget})"
    )
    print(
        f"{talked} sessions had a turn ({figures['talked_seconds']:.0f} s), then {hot} took {turns} turns each "
        f"at once ({figures['hot_seconds']:.0f} s) while {figures['reads']} event reads went over all sessions"
    )
    print(
        f"Claude Code processes at most {figures['max_clis']} (limit {figures['cli_limit']}; besides, up to "
        f"{figures['max_helpers']} claude processes a CLI started of its own); one CLI's RSS "
        f"median {figures['cli_rss_median_mib']:.0f} MiB, max {figures['cli_rss_max_mib']:.0f} MiB; peak RSS "
        f"server {figures['peak_server_mib']:.0f} MiB, server + CLIs {figures['peak_total_mib']:.0f} MiB "
        f"of {memory_mib}; turns {figures['turns']}, lost or failed {len(figures['errors'])}"
    )
    for error in figures["errors"][:10]:
        print("  ", error)
    for moment in figures["over_limit"][:5]:
        print("   more CLIs than the limit:", moment)
    return figures
