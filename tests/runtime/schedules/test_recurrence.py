"""The plain repeats read into cron, cron and zones checked, occurrences across DST, missed ones counted."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from runtime.schedules.recurrence import (
    RecurrenceError,
    check_cron,
    latest_due,
    next_after,
    parse_local_time,
    repeat_to_cron,
    shortest_gap_minutes,
    zone,
)


@pytest.mark.parametrize(
    ("repeat", "cron"),
    [
        ("every weekday at 08:00", "0 8 * * 1-5"),
        ("Every day at 7:30", "30 7 * * *"),
        ("every monday at 9:00", "0 9 * * 1"),
        ("every 2 hours", "0 */2 * * *"),
        ("every hour", "0 * * * *"),
        ("every 30 minutes", "*/30 * * * *"),
        ("every weekend at 10:00", "0 10 * * 0,6"),
        ("every  monday and thursday at 9pm", "0 21 * * 1,4"),
        ("every mon, wed and fri at 12am", "0 0 * * 1,3,5"),
        ("every sundays at 6:05 am", "5 6 * * 0"),
    ],
)
def test_plain_repeats_become_cron(repeat: str, cron: str) -> None:
    assert repeat_to_cron(repeat) == cron


@pytest.mark.parametrize(
    "repeat",
    ["daily", "every day at 25:00", "every day at 7:61", "every funday at 9:00", "every 0 hours", "every 13pm", ""],
)
def test_other_repeats_are_refused_with_the_forms_blu_reads(repeat: str) -> None:
    with pytest.raises(RecurrenceError):
        repeat_to_cron(repeat)
    with pytest.raises(RecurrenceError, match="every weekday at 08:00"):
        repeat_to_cron("whenever")


def test_cron_and_zones_are_checked() -> None:
    assert check_cron(" 0  8 * * 1-5 ") == "0 8 * * 1-5"
    for bad in ("0 8 * *", "0 8 * * * *", "61 8 * * *", "every day", "0 8 31 2 *", "0 0 30 2 *"):
        with pytest.raises(RecurrenceError):
            check_cron(bad)
    assert zone("Europe/Berlin").key == "Europe/Berlin"
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(RecurrenceError):
            zone(bad)


def test_occurrences_follow_the_zone_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2026, 3, 27, 12, 0, tzinfo=berlin).timestamp()  # Friday; DST starts on Sunday the 29th
    first = next_after("0 8 * * *", "Europe/Berlin", before)
    second = next_after("0 8 * * *", "Europe/Berlin", first)
    third = next_after("0 8 * * *", "Europe/Berlin", second)
    local = [datetime.fromtimestamp(t, tz=berlin) for t in (first, second, third)]
    assert [(d.day, d.hour, d.minute) for d in local] == [(28, 8, 0), (29, 8, 0), (30, 8, 0)]
    assert second - first == 23 * 3600  # the night the clocks went forward


def test_only_the_latest_missed_occurrence_is_due() -> None:
    first = datetime(2026, 6, 1, 5, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    latest, missed, following = latest_due("0 * * * *", "UTC", first=first, now=first + 4 * 3600 + 10)
    assert (latest, missed, following) == (first + 4 * 3600, 4, first + 5 * 3600)
    assert latest_due("0 * * * *", "UTC", first=first, now=first) == (first, 0, first + 3600)


def test_the_shortest_gap_and_one_shot_times() -> None:
    now = datetime(2026, 6, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    assert shortest_gap_minutes("0 8 * * 1-5", "UTC", after=now) == 24 * 60
    assert shortest_gap_minutes("*/5 * * * *", "UTC", after=now) == 5
    assert shortest_gap_minutes("0,10 8 * * *", "UTC", after=now) == 10
    assert (
        parse_local_time("2026-12-01T08:00", "Europe/Berlin")
        == datetime(2026, 12, 1, 7, tzinfo=ZoneInfo("UTC")).timestamp()
    )
    assert (
        parse_local_time("2026-12-01T08:00+00:00", "Europe/Berlin")
        == datetime(2026, 12, 1, 8, tzinfo=ZoneInfo("UTC")).timestamp()
    )
    with pytest.raises(RecurrenceError):
        parse_local_time("tomorrow", "UTC")
