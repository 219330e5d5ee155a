"""The idle rule (core/idle.py) on a table of cases; the idle checker and the runtime share it."""

from __future__ import annotations

import pytest

from core.idle import STALE_HEARTBEAT_MINUTES, is_idle
from core.store.models import ActivityRecord

NOW = 1_800_000_000.0
MIN = 60.0
TIMEOUT = 30  # minutes


def fresh(**changes: object) -> ActivityRecord:
    """A healthy runtime: heartbeat a minute ago, the last user action 40 minutes ago, nothing running."""
    base: dict[str, object] = {"heartbeat_at": NOW - 1 * MIN, "last_user_action_at": NOW - 40 * MIN}
    return ActivityRecord(**{**base, **changes})  # type: ignore[arg-type]


CASES = [
    # (name, activity, service_running, service_started_at, idle, reason fragment)
    ("nobody, nothing, past the timeout", fresh(), True, NOW - 60 * MIN, True, "idle"),
    ("active turn", fresh(running_turns={"s1": "t1"}), True, NOW - 60 * MIN, False, "turn"),
    (
        "open voice call, 40 minutes long (its mark refreshed a minute ago)",
        fresh(voice_rooms={"room": NOW - 1 * MIN}),
        True,
        NOW - 60 * MIN,
        False,
        "voice",
    ),
    (
        "call mark left by a voice worker that died 20 minutes ago",
        fresh(voice_rooms={"room": NOW - 20 * MIN}),
        True,
        NOW - 60 * MIN,
        True,
        "idle",
    ),
    ("recent user action", fresh(last_user_action_at=NOW - 5 * MIN), True, NOW - 60 * MIN, False, "user action"),
    (
        "user action just inside the timeout",
        fresh(last_user_action_at=NOW - 29 * MIN),
        True,
        None,
        False,
        "user action",
    ),
    ("user action exactly at the timeout", fresh(last_user_action_at=NOW - 30 * MIN), True, None, True, "idle"),
    ("stale heartbeat", fresh(heartbeat_at=NOW - 20 * MIN), True, NOW - 60 * MIN, True, "stale heartbeat"),
    (
        "stale heartbeat with a turn mark left by a dead runtime",
        fresh(heartbeat_at=NOW - 20 * MIN, running_turns={"s1": "t1"}),
        True,
        NOW - 60 * MIN,
        True,
        "stale heartbeat",
    ),
    ("already stopped", fresh(), False, None, False, "already stopped"),
    (
        "already stopped even with stale marks",
        fresh(heartbeat_at=None, running_turns={"s": "t"}),
        False,
        None,
        False,
        "already stopped",
    ),
    (
        "just woken: no heartbeat yet, old user action",
        fresh(heartbeat_at=None),
        True,
        NOW - 2 * MIN,
        False,
        "user action",
    ),
    ("woken but never came up", fresh(heartbeat_at=None), True, NOW - 15 * MIN, True, "stale heartbeat"),
    (
        "heartbeat from the last run, woken a minute ago",
        fresh(heartbeat_at=NOW - 3 * 3600),
        True,
        NOW - 1 * MIN,
        False,
        "user action",
    ),
    ("running with no record at all", ActivityRecord(), True, None, True, "stale heartbeat"),
]


@pytest.mark.parametrize(
    ("activity", "running", "started_at", "idle", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_idle_rule(
    activity: ActivityRecord, running: bool, started_at: float | None, idle: bool, fragment: str
) -> None:
    result, reason = is_idle(
        activity, now=NOW, idle_timeout_minutes=TIMEOUT, service_running=running, service_started_at=started_at
    )
    assert (result, fragment in reason) == (idle, True), reason


def test_never_idle_while_a_turn_or_call_is_active_and_the_runtime_reports() -> None:
    for minutes_quiet in (0, 31, 600):
        for activity in (
            fresh(last_user_action_at=NOW - minutes_quiet * MIN, running_turns={"s": "t"}),
            fresh(last_user_action_at=NOW - minutes_quiet * MIN, voice_rooms={"r": NOW}),
        ):
            assert is_idle(activity, now=NOW, idle_timeout_minutes=TIMEOUT, service_running=True)[0] is False


def test_stale_threshold_is_shorter_than_any_timeout_and_longer_than_the_heartbeat() -> None:
    from runtime.app import HEARTBEAT_SECONDS

    assert HEARTBEAT_SECONDS * 3 < STALE_HEARTBEAT_MINUTES * 60
