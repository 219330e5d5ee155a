"""Blu's metric catalogue and the only functions that emit it: one EMF line per call, flushed at once."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from typing import IO

from aws_lambda_powertools.metrics import Metrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

NAMESPACE = "Blu"

# ---- the catalogue: every metric Blu emits (the monitoring stack and its tests read these names) ----
# Power: the launcher, the idle checker (and the runtime, when it stops itself)
WAKES = "Wakes"
WAKE_DURATION_SECONDS = "WakeDurationSeconds"  # from the wake to a healthy task
SLEEPS = "Sleeps"  # dimension Reason
RUNNING_MINUTES = "RunningMinutes"  # minutes the service was running, reported by each idle check
RUNNING_TASKS = "RunningTasks"  # desired/running/pending tasks seen by the idle check (while running)
# Turns (the runtime): latency by Tier, usage without dimensions (names, not secrets: S105 is wrong here)
TURNS = "Turns"
TURN_FIRST_TOKEN_MS = "TurnFirstTokenMs"  # noqa: S105
TURN_DURATION_MS = "TurnDurationMs"
TURN_INPUT_TOKENS = "TurnInputTokens"
TURN_OUTPUT_TOKENS = "TurnOutputTokens"
TURN_COST_USD = "TurnCostUSD"
TOOL_CALLS = "ToolCalls"
TOOL_ERRORS = "ToolErrors"
# Voice (the voice worker)
VOICE_CALLS = "VoiceCalls"
VOICE_MINUTES = "VoiceMinutes"
VOICE_FIRST_AUDIO_MS = "VoiceFirstAudioMs"  # end of the person's speech to Blu's first audio
# Login (the runtime and the launcher)
LOGIN_FAILURES = "LoginFailures"  # a wrong password
LOGIN_THROTTLED = "LoginThrottled"  # refused unchecked while the client is locked out
# Errors by Kind
ERRORS = "Errors"
# Backups (the runtime) and the restore drill (its Lambda): outcomes by Outcome
BACKUPS = "Backups"  # dimension Outcome
BACKUP_BYTES = "BackupBytes"  # the archive's size
BACKUP_DURATION_SECONDS = "BackupDurationSeconds"
BACKUP_PENDING_HOURS = "BackupPendingHours"  # how long a due snapshot has waited while Blu ran (0: none)
RESTORE_DRILLS = "RestoreDrills"  # dimension Outcome
NEWEST_GOOD_BACKUP_AGE_HOURS = "NewestGoodBackupAgeHours"  # the drill's finding

METRIC_NAMES: tuple[str, ...] = (
    WAKES,
    WAKE_DURATION_SECONDS,
    SLEEPS,
    RUNNING_MINUTES,
    RUNNING_TASKS,
    TURNS,
    TURN_FIRST_TOKEN_MS,
    TURN_DURATION_MS,
    TURN_INPUT_TOKENS,
    TURN_OUTPUT_TOKENS,
    TURN_COST_USD,
    TOOL_CALLS,
    TOOL_ERRORS,
    VOICE_CALLS,
    VOICE_MINUTES,
    VOICE_FIRST_AUDIO_MS,
    LOGIN_FAILURES,
    LOGIN_THROTTLED,
    ERRORS,
    BACKUPS,
    BACKUP_BYTES,
    BACKUP_DURATION_SECONDS,
    BACKUP_PENDING_HOURS,
    RESTORE_DRILLS,
    NEWEST_GOOD_BACKUP_AGE_HOURS,
)

# ---- dimensions: small closed sets, so a month of use creates a bounded number of series ----
TIER = "Tier"
TIERS: tuple[str, ...] = ("hot", "warm", "cold")
REASON = "Reason"
SLEEP_REASONS: tuple[str, ...] = ("idle", "stale", "user", "self", "external", "other")
KIND = "Kind"
# Turn failures (runtime/agent/turns.py), stopped turns, server and function failures, voice.
ERROR_KINDS: tuple[str, ...] = (
    "auth",
    "rate_limited",
    "overloaded",
    "api",
    "claude",
    "internal",
    "timeout",
    "http",
    "voice",
    "other",
)

OUTCOME = "Outcome"
OUTCOMES: tuple[str, ...] = ("ok", "failed")

_lock = threading.Lock()
_out: IO[str] | None = None  # None: sys.stdout at the time of writing (tests may redirect it)


def sleep_reason(reason: str) -> str:
    """The closed Reason for a free-text sleep reason (the idle rule's own words are logged, not used)."""
    text = reason.strip().lower()
    if text in SLEEP_REASONS:
        return text
    if text.startswith("idle"):
        return "idle"
    if text.startswith("stale"):
        return "stale"
    if "outside" in text:
        return "external"
    return "other"


def error_kind(kind: str | None) -> str:
    return kind if kind in ERROR_KINDS else "other"


def emit(
    values: Mapping[str, tuple[float, MetricUnit]],
    *,
    dimensions: Mapping[str, str] | None = None,
    with_total: bool = False,
) -> None:
    """Write one EMF record now. Each call has its own metric set (Powertools' `Metrics()` shares one
    per process), so threads and tasks never mix their dimensions, and nothing waits for a flush.

    ``with_total`` also files the values under no dimension (one more series), so an alarm can watch
    the total as one metric instead of a sum over every dimension value (each costs as an alarm metric).
    """
    if not values or is_metrics_disabled():
        return
    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, metric_set={}, dimension_set={}, metadata_set={})
    provider.service = ""  # no implicit "service" dimension (POWERTOOLS_SERVICE_NAME): it would multiply series
    metrics = Metrics(provider=provider)
    for metric, (value, unit) in values.items():
        metrics.add_metric(name=metric, unit=unit, value=value)
    if with_total and dimensions:
        metrics.add_dimensions(**dimensions)  # a second dimension set beside the empty primary one
    else:
        for dimension, label in (dimensions or {}).items():
            metrics.add_dimension(name=dimension, value=label)
    line = json.dumps(provider.serialize_metric_set(), separators=(",", ":")) + "\n"
    with _lock:
        out = _out or sys.stdout
        out.write(line)  # one write: a record is never interleaved with another thread's output
        out.flush()


def redirect(out: IO[str] | None) -> None:
    """Send records to `out` instead of stdout (None: back to stdout)."""
    global _out
    _out = out


# ---- one function per event ----------------------------------------------------------------------


def record_wake() -> None:
    emit({WAKES: (1, MetricUnit.Count)})


def record_ready(*, wake_duration_seconds: float) -> None:
    emit({WAKE_DURATION_SECONDS: (wake_duration_seconds, MetricUnit.Seconds)})


def record_sleep(*, reason: str) -> None:
    emit({SLEEPS: (1, MetricUnit.Count)}, dimensions={REASON: sleep_reason(reason)})


def record_running(*, minutes: float, tasks: int) -> None:
    """The idle checker's sample while the service runs (the cost guard sums the minutes per day)."""
    emit({RUNNING_MINUTES: (minutes, MetricUnit.NoUnit), RUNNING_TASKS: (tasks, MetricUnit.Count)})


def record_turn(
    *,
    tier: str | None,
    first_token_ms: float | None,
    duration_ms: float,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    tool_calls: int,
    tool_errors: int,
) -> None:
    """Two records per turn: latency by Tier (3 series each), usage without dimensions (1 each)."""
    latency: dict[str, tuple[float, MetricUnit]] = {
        TURNS: (1, MetricUnit.Count),
        TURN_DURATION_MS: (duration_ms, MetricUnit.Milliseconds),
    }
    if first_token_ms is not None:
        latency[TURN_FIRST_TOKEN_MS] = (first_token_ms, MetricUnit.Milliseconds)
    # A turn stopped before it got a client has no tier; it counts as cold (it would have connected).
    emit(latency, dimensions={TIER: tier if tier in TIERS else "cold"})
    emit(
        {
            TURN_INPUT_TOKENS: (input_tokens, MetricUnit.Count),
            TURN_OUTPUT_TOKENS: (output_tokens, MetricUnit.Count),
            TURN_COST_USD: (cost_usd, MetricUnit.NoUnit),
            TOOL_CALLS: (tool_calls, MetricUnit.Count),
            TOOL_ERRORS: (tool_errors, MetricUnit.Count),
        }
    )


def record_voice_call(*, minutes: float) -> None:
    """One finished voice call and how long it lasted."""
    emit({VOICE_CALLS: (1, MetricUnit.Count), VOICE_MINUTES: (minutes, MetricUnit.NoUnit)})


def record_voice_latency(*, end_of_speech_to_first_audio_ms: float) -> None:
    """From the end of the person's speech to the first audio of Blu's answer."""
    emit({VOICE_FIRST_AUDIO_MS: (end_of_speech_to_first_audio_ms, MetricUnit.Milliseconds)})


def record_login(*, ok: bool, throttled: bool) -> None:
    if ok:
        return
    emit({LOGIN_THROTTLED if throttled else LOGIN_FAILURES: (1, MetricUnit.Count)})


def record_error(*, kind: str | None) -> None:
    emit({ERRORS: (1, MetricUnit.Count)}, dimensions={KIND: error_kind(kind)}, with_total=True)


def record_backup(*, ok: bool, size_bytes: int = 0, duration_seconds: float = 0.0) -> None:
    """One snapshot attempt: its outcome; size and duration when it was written."""
    emit({BACKUPS: (1, MetricUnit.Count)}, dimensions={OUTCOME: "ok" if ok else "failed"})
    if ok:
        emit(
            {
                BACKUP_BYTES: (size_bytes, MetricUnit.Bytes),
                BACKUP_DURATION_SECONDS: (duration_seconds, MetricUnit.Seconds),
            }
        )


def record_backup_pending(*, hours: float) -> None:
    """How long a due snapshot has waited while Blu ran (0 when none is due), from each check."""
    emit({BACKUP_PENDING_HOURS: (hours, MetricUnit.NoUnit)})


def record_restore_drill(*, ok: bool, newest_good_age_hours: float | None) -> None:
    """The restore drill's result and the age of the newest snapshot that passed it."""
    emit({RESTORE_DRILLS: (1, MetricUnit.Count)}, dimensions={OUTCOME: "ok" if ok else "failed"})
    if newest_good_age_hours is not None:
        emit({NEWEST_GOOD_BACKUP_AGE_HOURS: (newest_good_age_hours, MetricUnit.NoUnit)})
