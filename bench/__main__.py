"""Runs every benchmark and prints its figures."""

from __future__ import annotations

import argparse

from bench import login_flood, runtime_turns, search, voice_latency


def main() -> None:
    parser = argparse.ArgumentParser(description="Blu benchmarks (offline, against the stand-in model)")
    parser.add_argument("--pairs", type=int, default=20, help="interleaved Blu/SDK pairs per tier")
    parser.add_argument("--sessions", type=int, default=6, help="concurrent sessions for the load run")
    parser.add_argument("--per-session", type=int, default=4, help="turns per session in the load run")
    parser.add_argument("--voice-turns", type=int, default=8, help="spoken turns for the voice latency run")
    parser.add_argument("--only", choices=["turns", "voice", "login", "search"], help="run one benchmark only")
    args = parser.parse_args()
    if args.only in (None, "turns"):
        runtime_turns.run(pairs=args.pairs, sessions=args.sessions, per_session=args.per_session)
    if args.only in (None, "voice"):
        voice_latency.run(turns=args.voice_turns)
    if args.only in (None, "login"):
        login_flood.run()
    if args.only in (None, "search"):
        search.run()


if __name__ == "__main__":
    main()
