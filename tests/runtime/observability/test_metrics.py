"""The metric catalogue: every helper writes valid EMF at once, with small closed dimension sets."""

from __future__ import annotations

import ast
import inspect
import io
import threading
from pathlib import Path

import pytest

from core.observability import metrics as m
from tests.support.emf import parse_emf, sample_calls, with_metric

REPO = Path(__file__).resolve().parents[3]


def helpers() -> set[str]:
    return {name for name, value in vars(m).items() if name.startswith("record_") and inspect.isfunction(value)}


def test_voice_call_is_one_record_with_calls_and_minutes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "blu-voice")  # must not become a dimension
    m.record_voice_call(minutes=2.25)
    (record,) = parse_emf(capsys.readouterr().out)
    assert record.namespace == "Blu"
    assert record.values == {"VoiceCalls": [1.0], "VoiceMinutes": [2.25]}
    assert record.dimension_sets == [[]]


def test_voice_latency_is_one_record_in_milliseconds(capsys: pytest.CaptureFixture[str]) -> None:
    m.record_voice_latency(end_of_speech_to_first_audio_ms=730.5)
    (record,) = parse_emf(capsys.readouterr().out)
    assert record.values == {"VoiceFirstAudioMs": [730.5]}
    assert record.units == {"VoiceFirstAudioMs": "Milliseconds"}


def test_every_helper_has_a_sample_and_together_they_emit_the_whole_catalogue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls = sample_calls()
    assert set(calls) == helpers()
    for call in calls.values():
        call()
    records = parse_emf(capsys.readouterr().out)
    assert {r.namespace for r in records} == {m.NAMESPACE}
    assert {name for r in records for name in r.values} == set(m.METRIC_NAMES)


def test_turn_latency_has_only_the_tier_and_usage_has_no_dimension(capsys: pytest.CaptureFixture[str]) -> None:
    sample_calls()["record_turn"]()
    latency, usage = parse_emf(capsys.readouterr().out)
    assert latency.dimensions == {"Tier": "warm"}
    assert latency.values == {"Turns": [1.0], "TurnDurationMs": [1200.0], "TurnFirstTokenMs": [650.0]}
    assert usage.dimension_sets == [[]]
    assert usage.values["TurnCostUSD"] == [0.0123] and usage.values["ToolErrors"] == [1.0]


def test_dimension_values_stay_in_their_closed_sets(capsys: pytest.CaptureFixture[str]) -> None:
    m.record_turn(
        tier=None, first_token_ms=None, duration_ms=5, input_tokens=0, output_tokens=0, cost_usd=0, tool_calls=0,
        tool_errors=0,
    )  # fmt: skip
    m.record_sleep(reason="user")
    m.record_sleep(reason="stale heartbeat (last sign of life: 12 min ago)")
    m.record_sleep(reason="something new")
    m.record_error(kind="surprising")
    m.record_error(kind=None)
    records = parse_emf(capsys.readouterr().out)
    assert with_metric(records, "Turns")[0].dimensions == {"Tier": "cold"}
    assert "TurnFirstTokenMs" not in with_metric(records, "Turns")[0].values
    assert [r.dimensions["Reason"] for r in with_metric(records, "Sleeps")] == ["user", "stale", "other"]
    errors = with_metric(records, "Errors")
    assert [r.dimensions["Kind"] for r in errors] == ["other", "other"]
    # The total (no dimension) beside the kind: one metric for the alarm.
    assert all(r.dimension_sets == [[], ["Kind"]] for r in errors)
    for record in records:
        assert set(record.dimensions) <= {"Tier", "Reason", "Kind"}
    assert set(m.SLEEP_REASONS) >= {r.dimensions["Reason"] for r in with_metric(records, "Sleeps")}


def test_a_successful_login_is_not_counted(capsys: pytest.CaptureFixture[str]) -> None:
    m.record_login(ok=True, throttled=False)
    assert parse_emf(capsys.readouterr().out) == []


def errors(kind: str) -> None:
    for _ in range(50):
        m.record_error(kind=kind)


def test_records_from_many_threads_never_mix() -> None:
    out = io.StringIO()
    m.redirect(out)
    try:
        threads = [threading.Thread(target=errors, args=(m.ERROR_KINDS[i % 3],)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        m.redirect(None)
    records = parse_emf(out.getvalue())
    assert len(records) == 300 == len(out.getvalue().splitlines())
    assert all(r.values == {"Errors": [1.0]} and len(r.dimensions) == 1 for r in records)


def test_powertools_switch_turns_metrics_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    m.record_wake()
    assert capsys.readouterr().out == ""


def test_every_helper_is_called_by_the_runtime_or_the_lambdas() -> None:
    called: set[str] = set()
    for root in ("runtime", "lambdas"):
        for path in (REPO / root).rglob("*.py"):
            if "observability" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    func = node.func
                    called.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    assert helpers() <= called, helpers() - called
