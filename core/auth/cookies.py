"""The signed login cookie: the launcher Lambda and the container accept the same one; a logout, kept in
the store, refuses every cookie issued before it."""

from __future__ import annotations

import time

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE_NAME = "blu_session"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class CookieSigner:
    def __init__(self, secret: str, *, max_age_seconds: int) -> None:
        if len(secret) < 16:
            raise ValueError("SESSION_SECRET must be at least 16 characters.")
        self._serializer = URLSafeTimedSerializer(secret, salt="blu-login")
        self.max_age_seconds = max_age_seconds

    def issue(self) -> str:
        return self._serializer.dumps({"sub": "owner", "iat": time.time()})

    def is_valid(self, token: str | None, *, not_before: float | None = None) -> bool:
        """A cookie this key signed, not expired, and issued after `not_before` (the last logout)."""
        if not token or len(token) > 512:
            return False
        try:
            payload = self._serializer.loads(token, max_age=self.max_age_seconds)
        except (BadSignature, SignatureExpired):
            return False
        if not isinstance(payload, dict) or payload.get("sub") != "owner":
            return False
        issued = payload.get("iat")
        if not_before is None:
            return True
        return isinstance(issued, float | int) and issued > not_before


def cookie_is_secure(host: str) -> bool:
    """Secure everywhere except on plain-HTTP localhost, where browsers would drop a Secure cookie."""
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return hostname.lower() not in _LOCAL_HOSTS
