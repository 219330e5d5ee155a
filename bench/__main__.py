"""Runs every benchmark, prints each one's own table, then one summary table with every figure."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from bench import image_size, login_flood, memory_scale, runtime_turns, search, startup, store_requests, voice_latency

Row = tuple[str, str, str]  # figure, value, target


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _paired_ratio(ours: list[float], theirs: list[float]) -> str:
    return f"{statistics.median(a / b for a, b in zip(ours, theirs, strict=True)):.2f}x"


def turns_rows(figures: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for tier, pairs in figures["pairs"].items():
        rows += _tier_rows(tier, pairs, targets=tier == "hot")
    rows += _tier_rows("hot (one session per side)", figures["one_session"], targets=True)
    latency = figures["stream_latency"]
    if latency:
        rows.append(("chunk → long-poll reader (median)", _ms(statistics.median(latency)), "≤ 20 ms"))
    load = figures["load"]
    rows.append(("load run: errors/lost turns", str(len(load["errors"])), "0"))
    return rows


def _tier_rows(tier: str, pairs: Any, *, targets: bool) -> list[Row]:
    """A tier's paired figures (bench/paired.py Pairs): medians, the Blu/SDK ratio, first text; the floor's if run."""
    ratios = [b.total / s.total for b, s in zip(pairs.blu, pairs.sdk, strict=True)]
    firsts = [
        b.first_text - s.first_text
        for b, s in zip(pairs.blu, pairs.sdk, strict=True)
        if b.first_text is not None and s.first_text is not None
    ]
    blu, sdk = statistics.median(s.total for s in pairs.blu), statistics.median(s.total for s in pairs.sdk)
    rows: list[Row] = [
        (f"{tier} turn: Blu / bare SDK (paired median)", f"{_ms(blu)} / {_ms(sdk)}", ""),
        (f"{tier} turn ratio Blu/SDK", f"{statistics.median(ratios):.2f}x", "≤ 1.10x" if targets else ""),
    ]
    if firsts:
        rows.append((f"{tier} first text Δ Blu − SDK", _ms(statistics.median(firsts)), "≤ 5 ms" if targets else ""))
    if pairs.floor:
        floor = [s.total for s in pairs.floor]
        rows.append((f"{tier} turn: transport floor (bench/floor.py)", _ms(statistics.median(floor)), ""))
        rows.append((f"{tier} turn ratio floor/SDK", _paired_ratio(floor, [s.total for s in pairs.sdk]), ""))
        rows.append((f"{tier} turn ratio Blu/floor", _paired_ratio([s.total for s in pairs.blu], floor), ""))
    return rows


def voice_rows(figures: dict[str, Any]) -> list[Row]:
    decisions = ", ".join(f"{k} {v}" for k, v in figures["decisions"].items())
    return [
        ("voice: end of speech → first audio, hot", _ms(figures["hot_first_audio"]), "≤ 700 ms"),
        ("voice: end of speech → first audio, cold", _ms(figures["cold_first_audio"]), ""),
        ("voice: end of speech → turn to the LLM, hot", _ms(figures["hot_end_of_turn"]), ""),
        ("voice: end-of-turn decisions", decisions, ""),
    ]


def login_rows(figures: dict[str, float]) -> list[Row]:
    return [
        ("authenticated read, idle (median)", f"{figures['idle_median_ms']:.1f} ms", ""),
        ("authenticated read during a login flood (median)", f"{figures['flood_median_ms']:.1f} ms", ""),
    ]


def startup_rows(figures: dict[str, startup.Sample]) -> list[Row]:
    rows: list[Row] = []
    for key, label in startup.LABELS.items():
        wall, cpu = figures[key]
        target = startup.TARGETS[key]
        rows.append(
            (label, f"{wall * 1000:.0f} ms (CPU {cpu * 1000:.0f} ms)", f"≤ {target * 1000:.0f} ms" if target else "")
        )
    return rows


def store_rows(steps: list[store_requests.Step]) -> list[Row]:
    print("\nDynamoDB requests of one hot turn (moto; in AWS each is a network round trip, sent one after another)")
    for step in steps:
        kinds = ", ".join(f"{name} {count}" for name, count in sorted(step.requests.items()))
        print(f"  {step.name}: {step.count} ({kinds})")
    return [(f"DynamoDB requests {step.name}", str(step.count), "") for step in steps]


def memory_rows(figures: dict[str, Any]) -> list[Row]:
    return [
        (
            f"{figures['sessions']} sessions: most Claude Code processes at once",
            f"{figures['max_clis']} (hot cap {figures['hot_cap']})",
            f"≤ {figures['cli_limit']}",
        ),
        (
            "one CLI's RSS (median / max)",
            f"{figures['cli_rss_median_mib']:.0f} / {figures['cli_rss_max_mib']:.0f} MiB",
            "",
        ),
        (
            f"{figures['sessions']} sessions: peak RSS server + CLIs",
            f"{figures['peak_total_mib']:.0f} MiB",
            f"≤ {figures['memory_mib']} MiB",
        ),
        (
            f"{figures['sessions']} sessions: turns lost or failed",
            f"{len(figures['errors'])} of {figures['turns']}",
            "0",
        ),
    ]


def print_summary(rows: list[Row]) -> None:
    width = max(len("figure"), *(len(figure) for figure, _, _ in rows)) + 2
    value_width = max(len("value"), *(len(value) for _, value, _ in rows)) + 2
    print("\nSummary: every figure of this run")
    print(f"{'figure':<{width}}{'value':<{value_width}}target")
    for figure, value, target in rows:
        print(f"{figure:<{width}}{value:<{value_width}}{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Blu benchmarks (offline, against the stand-in model)")
    parser.add_argument("--pairs", type=int, default=20, help="interleaved Blu/SDK pairs per tier")
    parser.add_argument("--sessions", type=int, default=6, help="concurrent sessions for the load run")
    parser.add_argument("--per-session", type=int, default=4, help="turns per session in the load run")
    parser.add_argument("--voice-turns", type=int, default=8, help="spoken turns for the voice latency run")
    parser.add_argument("--starts", type=int, default=5, help="fresh processes per start-up figure")
    parser.add_argument("--scale-sessions", type=int, default=200, help="sessions in the memory-at-scale run")
    parser.add_argument("--scale-talked", type=int, default=40, help="of them, sessions that had one turn")
    parser.add_argument("--scale-hot", type=int, default=6, help="of them, sessions taking turns at once")
    parser.add_argument("--scale-turns", type=int, default=4, help="turns each hot session takes")
    parser.add_argument(
        "--only",
        choices=["turns", "store", "voice", "login", "startup", "memory", "search", "image"],
        help="run one benchmark only",
    )
    parser.add_argument(
        "--skip-image",
        action="store_true",
        help="leave out the image size by layer (it downloads the image's wheels and packages from the registries)",
    )
    args = parser.parse_args()
    rows: list[Row] = []
    if args.only in (None, "turns"):
        rows += turns_rows(runtime_turns.run(pairs=args.pairs, sessions=args.sessions, per_session=args.per_session))
    if args.only in (None, "store"):
        rows += store_rows(store_requests.run())
    if args.only in (None, "voice"):
        rows += voice_rows(voice_latency.run(turns=args.voice_turns))
    if args.only in (None, "login"):
        rows += login_rows(login_flood.run())
    if args.only in (None, "startup"):
        rows += startup_rows(startup.run(starts=args.starts))
    if args.only in (None, "memory"):
        scale = memory_scale.run(
            sessions=args.scale_sessions, talked=args.scale_talked, hot=args.scale_hot, turns=args.scale_turns
        )
        rows += memory_rows(scale)
    if args.only in (None, "search"):
        search.run()
    if args.only == "image" or (args.only is None and not args.skip_image):
        rows += image_size.rows(image_size.run_all())
    print_summary(rows)


if __name__ == "__main__":
    main()
