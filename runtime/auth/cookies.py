"""The signed login cookie: stateless, so the launcher Lambda and the container accept the same one."""

from __future__ import annotations

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
        return self._serializer.dumps({"sub": "owner"})

    def is_valid(self, token: str | None) -> bool:
        if not token or len(token) > 512:
            return False
        try:
            payload = self._serializer.loads(token, max_age=self.max_age_seconds)
        except (BadSignature, SignatureExpired):
            return False
        return isinstance(payload, dict) and payload.get("sub") == "owner"


def cookie_is_secure(host: str) -> bool:
    """Secure everywhere except on plain-HTTP localhost, where browsers would drop a Secure cookie."""
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return hostname.lower() not in _LOCAL_HOSTS
