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


# The installable app's files (web/public, copied to the build's root): open like the page, revalidated on
# every load (a service worker must be able to update), with the types browsers require. The CSP above has
# no worker-src, script-src or manifest-src, so default-src 'self' lets the page load both.
APP_FILES: dict[str, str] = {
    "sw.js": "text/javascript; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
}
APP_FILE_HEADERS: dict[str, str] = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
ICONS_CACHE_CONTROL = "public, max-age=86400"  # icons keep their names across builds: a day


def with_connect_source(origin: str | None) -> dict[str, str]:
    """The security headers, letting the page also reach ``origin`` (e.g. a plain-HTTP upload staging)."""
    if not origin:
        return SECURITY_HEADERS
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace("connect-src 'self'", f"connect-src 'self' {origin}")
    return {**SECURITY_HEADERS, "Content-Security-Policy": policy}
