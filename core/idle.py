"""The one idle rule: when Blu may go back to sleep (used by the idle checker Lambda and the runtime)."""

from __future__ import annotations

from core.store.models import ActivityRecord

# The runtime writes its heartbeat every minute; ten missed beats mean it is hung or gone, and the
# running-turn and voice-room marks it left behind can no longer be trusted.
STALE_HEARTBEAT_MINUTES = 10


def is_idle(
    activity: ActivityRecord,
    *,
    now: float,
    idle_timeout_minutes: int,
    service_running: bool,
    service_started_at: float | None = None,
    stale_heartbeat_minutes: int = STALE_HEARTBEAT_MINUTES,
) -> tuple[bool, str]:
    """Whether to scale Blu to zero now, and why (the reason is logged and recorded with the sleep).

    Idle means no person and no work: no running turn, no open voice call and no user action for
    ``idle_timeout_minutes``. A service that started recently (``service_started_at``: the wake or
    the task's creation) gets a full timeout, and time to write its first heartbeat, before either
    rule can stop it. A heartbeat older than ``stale_heartbeat_minutes`` stops the service even with
    activity marks, because a runtime that no longer reports cannot be running anything useful.
    """
    if not service_running:
        return False, "already stopped"
    timeout = idle_timeout_minutes * 60.0
    signs_of_life = [t for t in (activity.heartbeat_at, service_started_at) if t is not None]
    if not signs_of_life and activity.last_user_action_at is not None:
        signs_of_life.append(activity.last_user_action_at)
    last_sign = max(signs_of_life, default=None)
    if last_sign is None or now - last_sign > stale_heartbeat_minutes * 60.0:
        ago = "never" if last_sign is None else f"{_minutes(now - last_sign)} min ago"
        return True, f"stale heartbeat (last sign of life: {ago})"
    if activity.running_turns:
        return False, f"{len(activity.running_turns)} turn(s) running"
    # A call's mark is refreshed every minute by the voice worker; one left by a worker that died
    # mid-call stops counting once it is as old as a stale heartbeat.
    open_calls = [room for room, seen in activity.voice_rooms.items() if now - seen <= stale_heartbeat_minutes * 60.0]
    if open_calls:
        return False, f"{len(open_calls)} voice call(s) open"
    last_action = max((t for t in (activity.last_user_action_at, service_started_at) if t is not None), default=None)
    if last_action is not None and now - last_action < timeout:
        return False, f"last user action {_minutes(now - last_action)} min ago"
    since = "never" if last_action is None else f"{_minutes(now - last_action)} min"
    return True, f"idle: no turn, no call and no user action for {since}"


def _minutes(seconds: float) -> int:
    return max(0, int(seconds // 60))
