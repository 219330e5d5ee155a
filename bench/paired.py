"""Blu against a bare ClaudeSDKClient in interleaved pairs (ABAB…) on one stand-in: turn time and first text."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage
from claude_agent_sdk.types import StreamEvent

from runtime.standin import StandinServer
from runtime.standin.cli_env import offline_cli_env
from tests.support.server import REPO, TERMINAL, BluClient, BluServer, free_port

T = TypeVar("T")
PROMPT = "[[words n=12]]"  # a short reply with text to time the first delta by


@dataclass
class Sample:
    """One turn: seconds from sending to the end of the turn, and to the first text a reader saw."""

    total: float
    first_text: float | None


@dataclass
class Pairs:
    """Blu's and the bare SDK's turns, pair by pair; on the hot tier also the transport floor's (bench/floor.py),
    one per pair, in the same rounds."""

    blu: list[Sample] = field(default_factory=list)
    sdk: list[Sample] = field(default_factory=list)
    floor: list[Sample] = field(default_factory=list)

    def add(self, blu: Sample, sdk: Sample, floor: Sample | None = None) -> None:
        self.blu.append(blu)
        self.sdk.append(sdk)
        if floor is not None:
            self.floor.append(floor)


class FloorServer:
    """bench/floor.py in a process of its own, as Blu runs: the SDK behind a bare long-poll front."""

    def __init__(self, model: StandinServer, root: Path) -> None:
        env = offline_cli_env(model.url, root / "floor")
        self.port = free_port()
        self.log = (root / "floor.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", str(self.port), str(root / "floor-workspace"), json.dumps(env)],
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the floor server did not start")

    def client(self) -> BluClient:
        return BluClient(httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=40))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class SdkSide:
    """A bare SDK client per session on an event loop of its own thread, driven from the benchmark's thread."""

    def __init__(self, model: StandinServer, root: Path) -> None:
        self.env = offline_cli_env(model.url, root / "bare")
        self.workspace = root / "bare-workspace"
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def options(self, resume: str | None = None) -> ClaudeAgentOptions:
        return ClaudeAgentOptions(
            env=self.env,
            cwd=str(self.workspace),
            permission_mode="acceptEdits",
            include_partial_messages=True,
            resume=resume,
        )

    async def connect(self, resume: str | None = None) -> ClaudeSDKClient:
        client = ClaudeSDKClient(self.options(resume))
        await client.connect()
        return client

    async def turn(self, client: ClaudeSDKClient, text: str, started: float) -> tuple[Sample, str]:
        await client.query(text)
        first: float | None = None
        session_id = ""
        async for message in client.receive_response():
            if first is None and isinstance(message, StreamEvent):
                delta = message.event.get("delta", {})
                if delta.get("type") == "text_delta" and delta.get("text"):
                    first = time.perf_counter() - started
            if isinstance(message, ResultMessage):
                session_id = message.session_id
        return Sample(time.perf_counter() - started, first), session_id

    async def cold(self, text: str) -> tuple[Sample, ClaudeSDKClient, str]:
        started = time.perf_counter()
        client = await self.connect()
        sample, session_id = await self.turn(client, text, started)
        return sample, client, session_id

    async def warm(self, session_id: str, text: str) -> Sample:
        started = time.perf_counter()
        client = await self.connect(resume=session_id)
        sample, _ = await self.turn(client, text, started)
        await client.disconnect()
        return sample

    async def hot(self, client: ClaudeSDKClient, text: str) -> Sample:
        sample, _ = await self.turn(client, text, time.perf_counter())
        return sample

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def blu_turn(api: BluClient, sid: str, text: str) -> tuple[Sample, str]:
    """POST a message (with an Idempotency-Key, as the web UI does) and follow the session's long-poll to the end:
    total and first message.delta."""
    started = time.perf_counter()
    accepted = api.send(sid, text, **{"Idempotency-Key": uuid.uuid4().hex})  # as the web UI sends every message
    first: float | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for event in api.read(sid, wait=10)["events"]:
            data = event["data"]
            if first is None and event["type"] == "message.delta" and data.get("text"):
                first = time.perf_counter() - started
            if event["type"] == "turn.status" and data["turn_id"] == accepted["turn_id"] and data["status"] in TERMINAL:
                assert data["status"] == "complete", data
                return Sample(time.perf_counter() - started, first), str(data.get("tier"))
    raise AssertionError("turn did not finish")


def run_pairs(model: StandinServer, root: Path, pairs: int) -> dict[str, Pairs]:
    """Per tier, `pairs` Blu turns and `pairs` bare-SDK turns, alternating which side goes first."""
    results = {tier: Pairs() for tier in ("cold", "hot", "warm")}
    sdk = SdkSide(model, root)
    env = {"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "bench"}
    server = BluServer(root / "blu", env=env).start()
    floor = FloorServer(model, root)
    blu_sessions: list[str] = []
    sdk_sessions: list[str] = []
    rounds = itertools.count()
    try:
        api, floor_api = server.client(), floor.client()
        for index in range(pairs):
            # cold: a new session's first turn; then hot: the same session again.
            sid = api.new_session()

            holder: dict[str, Any] = {}

            def sdk_cold(holder: dict[str, Any] = holder) -> Sample:
                sample, client, session_id = sdk.call(sdk.cold(PROMPT))
                holder.update(client=client, session_id=session_id)
                return sample

            results["cold"].add(*_alternate(index, _blu(api, sid, "cold"), sdk_cold))
            blu_sessions.append(sid)
            sdk_sessions.append(holder["session_id"])
            client = holder["client"]

            def sdk_hot(client: ClaudeSDKClient = client) -> Sample:
                return sdk.call(sdk.hot(client, PROMPT))

            floor_sid = floor_api.new_session()
            floor_api.events_until(floor_sid, floor_api.send(floor_sid, PROMPT)["turn_id"])  # cold, untimed

            def floor_hot(sid: str = floor_sid) -> Sample:
                return blu_turn(floor_api, sid, PROMPT)[0]

            for _ in range(2):  # two hot turns per session: more pairs where people spend their time
                results["hot"].add(*_rotate(next(rounds), _blu(api, sid, "hot"), sdk_hot, floor_hot))
            sdk.call(client.disconnect())
        server.restart()
        api = server.client()
        for index, (sid, session_id) in enumerate(zip(blu_sessions, sdk_sessions, strict=True)):

            def sdk_warm(session_id: str = session_id) -> Sample:
                return sdk.call(sdk.warm(session_id, PROMPT))

            results["warm"].add(*_alternate(index, _blu(api, sid, "warm"), sdk_warm))
    finally:
        server.stop()
        floor.stop()
        sdk.close()
    return results


def run_one_session(model: StandinServer, root: Path, rounds: int) -> Pairs:
    """Hot turns as one person in one session makes them: each side (Blu, the bare SDK, the floor) keeps one
    session for every round, the order rotating. `run_pairs` times each hot turn right after its session's cold
    one and leaves every session's CLI running, as the hot cap allows: by its end some sixty idle Claude Code
    processes share the two cores, and each spends ~10 ms of CPU a second while idle (docs/architecture.md)."""
    root = root / "one-session"
    sdk = SdkSide(model, root)
    server = BluServer(root / "blu", env={"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "bench"}).start()
    floor = FloorServer(model, root)
    results = Pairs()
    try:
        api, floor_api = server.client(), floor.client()
        sid, floor_sid = api.new_session(), floor_api.new_session()
        _, client, _ = sdk.call(sdk.cold(PROMPT))
        for _ in range(2):  # cold, then hot once: every side's CLI has run a hot turn before the timed ones
            blu_turn(api, sid, PROMPT)
            blu_turn(floor_api, floor_sid, PROMPT)
        sdk.call(sdk.hot(client, PROMPT))
        blu = _blu(api, sid, "hot")

        def sdk_hot() -> Sample:
            return sdk.call(sdk.hot(client, PROMPT))

        def floor_hot() -> Sample:
            return blu_turn(floor_api, floor_sid, PROMPT)[0]

        for index in range(rounds):
            results.add(*_rotate(index, blu, sdk_hot, floor_hot))
        sdk.call(client.disconnect())
    finally:
        server.stop()
        floor.stop()
        sdk.close()
    return results


def _blu(api: BluClient, sid: str, tier: str) -> Callable[[], Sample]:
    """One Blu turn in `sid` that must run in `tier` (a benchmark of the wrong tier would mislead)."""

    def turn() -> Sample:
        sample, ran_in = blu_turn(api, sid, PROMPT)
        assert ran_in == tier, (ran_in, tier)
        return sample

    return turn


def _alternate(index: int, blu: Any, sdk: Any) -> tuple[Sample, Sample]:
    """Run both, Blu first on even pairs and the SDK first on odd ones, so drift hits both sides alike."""
    if index % 2 == 0:
        ours = blu()
        return ours, sdk()
    theirs = sdk()
    return blu(), theirs


def _rotate(index: int, *sides: Callable[[], Sample]) -> list[Sample]:
    """Run every side once, a different one first each round, so drift hits all alike; results in `sides` order."""
    samples: dict[int, Sample] = {}
    for offset in range(len(sides)):
        which = (index + offset) % len(sides)
        samples[which] = sides[which]()
    return [samples[which] for which in range(len(sides))]


def _ms(value: float) -> str:
    return f"{value * 1000:7.1f}"


def _ratio_line(ours: list[float], theirs: list[float]) -> str:
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True) if b > 0)
    if not ratios:
        return "      n/a"
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else (ratios[0], 0, ratios[0])
    return f"{statistics.median(ratios):5.2f}x [{q1:.2f}–{q3:.2f}]"


def table(results: dict[str, Pairs]) -> list[str]:
    """Medians in ms, the paired ratio Blu/SDK (median of per-pair ratios, interquartile range)."""
    lines = [
        f"{'tier':5} {'pairs':>5} {'Blu turn':>9} {'SDK turn':>9} {'turn ratio':>19}"
        f" {'Blu 1st text':>13} {'SDK 1st text':>13} {'1st-text Δ':>11}",
    ]
    for tier, pairs in results.items():
        blu_total = [s.total for s in pairs.blu]
        sdk_total = [s.total for s in pairs.sdk]
        firsts = [(b.first_text, s.first_text) for b, s in zip(pairs.blu, pairs.sdk, strict=True)]
        both = [(b, s) for b, s in firsts if b is not None and s is not None]
        blu_first = statistics.median(b for b, _ in both) if both else float("nan")
        sdk_first = statistics.median(s for _, s in both) if both else float("nan")
        delta = statistics.median(b - s for b, s in both) if both else float("nan")
        blu_median, sdk_median = _ms(statistics.median(blu_total)), _ms(statistics.median(sdk_total))
        lines.append(
            f"{tier:5} {len(blu_total):5d} {blu_median:>9} {sdk_median:>9} {_ratio_line(blu_total, sdk_total):>19}"
            f" {_ms(blu_first):>13} {_ms(sdk_first):>13} {_ms(delta):>11}"
        )
    hot = results.get("hot")
    if hot is not None and hot.floor:
        lines.append("")
        lines.append("hot turns against the transport's floor (bench/floor.py: the SDK behind a bare long-poll front):")
        lines.extend(floor_lines(hot))
    return lines


def floor_lines(pairs: Pairs) -> list[str]:
    """Where the hot turn's time is: the transport's (floor / SDK) and Blu's own (Blu / floor), paired."""
    blu, sdk, floor = ([s.total for s in side] for side in (pairs.blu, pairs.sdk, pairs.floor))
    lines = [f"  floor turn {_ms(statistics.median(floor)).strip()} ms"]
    lines.append(f"  floor / SDK  {_ratio_line(floor, sdk)}   Blu / floor  {_ratio_line(blu, floor)}")
    for label, ours, theirs in (("floor − SDK", pairs.floor, pairs.sdk), ("Blu − floor", pairs.blu, pairs.floor)):
        both = [(a.first_text, b.first_text) for a, b in zip(ours, theirs, strict=True)]
        deltas = [a - b for a, b in both if a is not None and b is not None]
        if deltas:
            lines.append(f"  1st text {label}: {_ms(statistics.median(deltas)).strip()} ms")
    return lines
