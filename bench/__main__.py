"""Runs every benchmark and prints its figures."""

from __future__ import annotations

import argparse

from bench import runtime_turns


def main() -> None:
    parser = argparse.ArgumentParser(description="Blu benchmarks (offline, against the stand-in model)")
    parser.add_argument("--turns", type=int, default=10, help="turns per tier")
    parser.add_argument("--sessions", type=int, default=6, help="concurrent sessions for the load run")
    parser.add_argument("--per-session", type=int, default=4, help="turns per session in the load run")
    args = parser.parse_args()
    runtime_turns.run(turns=args.turns, sessions=args.sessions, per_session=args.per_session)


if __name__ == "__main__":
    main()
