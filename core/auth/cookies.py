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
        claims = self.claims(token)
        return claims is not None and issued_after(claims, not_before)

    def claims(self, token: str | None) -> dict[str, object] | None:
        """The payload of a cookie this key signed and that has not expired, else None. The signature is
        checked once (an HMAC): a caller that also needs `issued_after` needs no second check."""
        if not token or len(token) > 512:
            return None
        try:
            payload = self._serializer.loads(token, max_age=self.max_age_seconds)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(payload, dict) or payload.get("sub") != "owner":
            return None
        return payload


def issued_after(claims: dict[str, object], not_before: float | None) -> bool:
    """Whether a valid cookie's payload was issued after `not_before` (the last logout; None: none)."""
    if not_before is None:
        return True
    issued = claims.get("iat")
    return isinstance(issued, float | int) and issued > not_before


def cookie_is_secure(host: str) -> bool:
    """Secure everywhere except on plain-HTTP localhost, where browsers would drop a Secure cookie."""
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return hostname.lower() not in _LOCAL_HOSTS
