"""When a schedule runs: cron expressions and plain repeats (a small grammar, read into cron), in an IANA time zone.

The plain repeats Blu understands (case-insensitive; times are 24-hour `H:MM`/`HH:MM`, or with am/pm):

    every day at 7:30                 -> 30 7 * * *
    every weekday at 08:00            -> 0 8 * * 1-5
    every weekend at 10:00            -> 0 10 * * 0,6
    every monday at 9:00              -> 0 9 * * 1
    every monday and thursday at 9pm  -> 0 21 * * 1,4   (also "mon, wed and fri")
    every hour                        -> 0 * * * *
    every 2 hours                     -> 0 */2 * * *
    every 30 minutes                  -> */30 * * * *

Anything else is refused with a message that lists these forms (RecurrenceError; the API answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

REPEAT_FORMS = (
    "every day at 7:30",
    "every weekday at 08:00",
    "every weekend at 10:00",
    "every monday at 9:00",
    "every monday and thursday at 9pm",
    "every 2 hours",
    "every 30 minutes",
)
_DAYS = {
    "sunday": 0, "sun": 0, "monday": 1, "mon": 1, "tuesday": 2, "tue": 2, "tues": 2, "wednesday": 3, "wed": 3,
    "thursday": 4, "thu": 4, "thurs": 4, "friday": 5, "fri": 5, "saturday": 6, "sat": 6,
}  # fmt: skip
_TIME = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)?"
_AT_DAYS = re.compile(rf"^every\s+(?P<days>.+?)\s+at\s+{_TIME}$")
_EVERY_HOURS = re.compile(r"^every\s+(?:(?P<n>\d+)\s+)?hours?$")
_EVERY_MINUTES = re.compile(r"^every\s+(?P<n>\d+)\s+minutes?$")
# How far ahead the minimum-interval check looks: enough occurrences to see any weekly pattern's gaps.
_GAP_SAMPLE = 60


class RecurrenceError(ValueError):
    """A cron expression, repeat, time zone or time Blu cannot use; the message says what to write instead."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (e.g. "Europe/Berlin", "UTC"); RecurrenceError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RecurrenceError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'."
        ) from exc


def repeat_to_cron(text: str) -> str:
    """The 5-field cron expression of a plain repeat (see the module docstring); RecurrenceError otherwise."""
    phrase = " ".join(text.strip().lower().split())
    if match := _EVERY_HOURS.match(phrase):
        n = int(match["n"] or 1)
        if not 1 <= n <= 23:
            raise RecurrenceError("'every N hours' takes N from 1 to 23.")
        return "0 * * * *" if n == 1 else f"0 */{n} * * *"
    if match := _EVERY_MINUTES.match(phrase):
        n = int(match["n"])
        if not 1 <= n <= 59:
            raise RecurrenceError("'every N minutes' takes N from 1 to 59.")
        return f"*/{n} * * * *"
    if match := _AT_DAYS.match(phrase):
        hour, minute = _clock(match["hour"], match["minute"], match["ampm"])
        return f"{minute} {hour} * * {_days(match['days'])}"
    raise RecurrenceError(f"Blu cannot read the repeat {text!r}. Write it like: " + "; ".join(REPEAT_FORMS) + ".")


def _clock(hour_text: str, minute_text: str | None, ampm: str | None) -> tuple[int, int]:
    hour, minute = int(hour_text), int(minute_text or 0)
    if ampm:
        if not 1 <= hour <= 12:
            raise RecurrenceError("With am/pm the hour is 1 to 12.")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise RecurrenceError("The time must be between 00:00 and 23:59.")
    return hour, minute


def _days(text: str) -> str:
    if text == "day":
        return "*"
    if text == "weekday":
        return "1-5"
    if text in ("weekend", "weekend day"):
        return "0,6"
    names = [part for part in re.split(r"\s*,\s*|\s+and\s+", text) if part]
    try:
        numbers = sorted({_DAYS[name.removesuffix("s") if name not in _DAYS else name] for name in names})
    except KeyError as exc:
        raise RecurrenceError(
            f"Unknown day {exc.args[0]!r}: use day, weekday, weekend or day names (monday, tue, ...)."
        ) from None
    return ",".join(str(n) for n in numbers)


def check_cron(expression: str) -> str:
    """A standard 5-field cron expression, normalized to single spaces; RecurrenceError otherwise."""
    fields = expression.split()
    if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
        raise RecurrenceError(
            f"{expression!r} is not a cron expression Blu accepts: five fields, minute hour day-of-month "
            "month day-of-week, e.g. '0 8 * * 1-5'."
        )
    normalized = " ".join(fields)
    try:  # well-formed but never due (the 31st of February): croniter gives up looking for a next time
        croniter(normalized, datetime.now(tz=UTC)).get_next(datetime)
    except CroniterBadDateError as exc:
        raise RecurrenceError(f"{expression!r} never happens (no such date), so it would never run.") from exc
    return normalized


def occurrences(cron: str, timezone: str, *, after: float) -> Iterator[float]:
    """The cron's times (epoch seconds) strictly after `after`, read in `timezone` (DST included)."""
    start = datetime.fromtimestamp(after, tz=UTC).astimezone(zone(timezone))
    times = croniter(cron, start, ret_type=datetime)
    while True:
        yield float(times.get_next(datetime).timestamp())


def next_after(cron: str, timezone: str, after: float) -> float:
    return next(occurrences(cron, timezone, after=after))


def latest_due(cron: str, timezone: str, *, first: float, now: float) -> tuple[float, int, float]:
    """Occurrences from `first` (itself due) up to `now`: (the latest of them, how many earlier ones it
    passes over, the first occurrence after `now`). Only the latest runs; the others were missed."""
    latest, missed = first, 0
    for time in occurrences(cron, timezone, after=first):
        if time > now:
            return latest, missed, time
        latest, missed = time, missed + 1
    raise AssertionError("unreachable: occurrences never ends")  # pragma: no cover


def shortest_gap_minutes(cron: str, timezone: str, *, after: float) -> float:
    """The shortest time between two of the next occurrences, in minutes (the cost guard compares it)."""
    times = occurrences(cron, timezone, after=after)
    previous = next(times)
    gap = float("inf")
    for _ in range(_GAP_SAMPLE):
        current = next(times)
        gap = min(gap, current - previous)
        previous = current
    return gap / 60.0


def parse_local_time(text: str, timezone: str) -> float:
    """A one-shot's time: ISO 8601 ("2026-12-01T08:00", read in `timezone`, or with its own offset)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise RecurrenceError(f"{text!r} is not a date and time such as '2026-12-01T08:00'.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment.timestamp()
