"""The security headers every page Blu serves carries, from the container or from the launcher."""

from __future__ import annotations

# The page loads only its own scripts and styles; it may talk to LiveKit (wss:) and presigned S3 URLs (https:).
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self' wss: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def with_connect_source(origin: str | None) -> dict[str, str]:
    """The security headers, letting the page also reach ``origin`` (e.g. a plain-HTTP upload staging)."""
    if not origin:
        return SECURITY_HEADERS
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace("connect-src 'self'", f"connect-src 'self' {origin}")
    return {**SECURITY_HEADERS, "Content-Security-Policy": policy}
