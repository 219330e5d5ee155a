"""Reads CloudWatch embedded metric format (EMF) records out of captured output, checking their shape."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EmfRecord:
    namespace: str
    dimension_sets: list[list[str]]
    dimensions: dict[str, str]
    units: dict[str, str]
    values: dict[str, list[float]]

    def value(self, name: str) -> float:
        (only,) = self.values[name]
        return only


def parse_record(data: dict[str, Any]) -> EmfRecord:
    """One EMF object, checked the way CloudWatch would read it (one directive, known keys present)."""
    directives = data["_aws"]["CloudWatchMetrics"]
    assert isinstance(data["_aws"]["Timestamp"], int)
    assert len(directives) == 1, directives
    directive = directives[0]
    dimension_sets = directive["Dimensions"]
    dimensions = {name: data[name] for names in dimension_sets for name in names}
    assert all(isinstance(v, str) for v in dimensions.values()), dimensions
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    values: dict[str, list[float]] = {}
    for name in units:
        raw = data[name]
        values[name] = [float(v) for v in (raw if isinstance(raw, list) else [raw])]
    return EmfRecord(directive["Namespace"], dimension_sets, dimensions, units, values)


def parse_emf(text: str) -> list[EmfRecord]:
    """Every EMF record among the lines of `text` (other lines, e.g. logs, are skipped)."""
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        records.append(parse_record(json.loads(line)))
    return records


def with_metric(records: list[EmfRecord], name: str) -> list[EmfRecord]:
    return [r for r in records if name in r.values]


def _both_logins() -> None:
    from core.observability.metrics import record_login

    record_login(ok=False, throttled=False)
    record_login(ok=False, throttled=True)


def _both_backups() -> None:
    from core.observability import metrics as m

    m.record_backup(ok=True, size_bytes=123_456, duration_seconds=4.5)
    m.record_backup(ok=False)


def _both_drills() -> None:
    from core.observability import metrics as m

    m.record_restore_drill(ok=True, newest_good_age_hours=30.0)
    m.record_restore_drill(ok=False, newest_good_age_hours=None)


def sample_calls() -> dict[str, Any]:
    """One call of every record_* helper in core/observability/metrics.py, by name (a test checks
    that none is missing), with values that make every optional metric appear."""
    from core.observability import metrics as m

    return {
        "record_wake": lambda: m.record_wake(),
        "record_ready": lambda: m.record_ready(wake_duration_seconds=42.5),
        "record_sleep": lambda: m.record_sleep(reason="idle: no turn, no call and no user action for 31 min"),
        "record_running": lambda: m.record_running(minutes=5, tasks=1),
        "record_turn": lambda: m.record_turn(
            tier="warm",
            first_token_ms=650.0,
            duration_ms=1200.0,
            input_tokens=1000,
            output_tokens=50,
            cost_usd=0.0123,
            tool_calls=2,
            tool_errors=1,
        ),
        "record_voice_call": lambda: m.record_voice_call(minutes=3.5),
        "record_voice_latency": lambda: m.record_voice_latency(end_of_speech_to_first_audio_ms=850.0),
        "record_login": _both_logins,
        "record_error": lambda: m.record_error(kind="rate_limited"),
        "record_backup": _both_backups,
        "record_backup_pending": lambda: m.record_backup_pending(hours=0.0),
        "record_restore_drill": _both_drills,
    }
