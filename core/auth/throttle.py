"""Per-client login throttling with exponential backoff, kept in the store so restarts don't reset it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.auth.passwords import verify_password
from core.store.base import Conflict, Store

FREE_FAILURES = 3  # mistakes allowed before any wait
BASE_LOCK_SECONDS = 2.0
MAX_LOCK_SECONDS = 15 * 60.0
RECORD_LIFETIME_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    retry_after: float = 0.0  # seconds to wait before the next attempt is considered
    throttled: bool = False  # refused without checking the password


def lock_seconds(failures: int) -> float:
    """0 for the first FREE_FAILURES failures, then 2 s doubling up to 15 minutes."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_LOCK_SECONDS, BASE_LOCK_SECONDS * 2 ** (failures - FREE_FAILURES))


class LoginThrottle:
    def __init__(self, store: Store, *, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def wait_seconds(self, client: str) -> float:
        record = self._store.get_throttle(client)
        if record is None:
            return 0.0
        return max(0.0, record.locked_until - self._clock())

    def claim(self, client: str) -> tuple[bool, float]:
        """Count an attempt as failed before its password is checked (atomically, in the store), so
        parallel attempts cannot all pass a check-then-act; (allowed, seconds locked after it)."""
        now = self._clock()
        try:
            record, claimed = self._store.claim_login_attempt(
                client, at=now, expires_at=now + RECORD_LIFETIME_SECONDS, lock_for=lock_seconds
            )
        except Conflict:  # too many writers at once: that is a flood, refuse without checking
            return False, BASE_LOCK_SECONDS
        return claimed, max(0.0, record.locked_until - now)

    def succeeded(self, client: str) -> None:
        self._store.clear_throttle(client)


def attempt_login(password: str, *, password_hash: str, client: str, throttle: LoginThrottle) -> LoginResult:
    """The one login rule both the runtime and the launcher apply."""
    allowed, wait = throttle.claim(client)
    if not allowed:
        return LoginResult(ok=False, retry_after=wait, throttled=True)
    if verify_password(password, password_hash):
        throttle.succeeded(client)
        return LoginResult(ok=True)
    return LoginResult(ok=False, retry_after=wait)
