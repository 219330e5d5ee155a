"""The HTTP API's launcher routes as plain data: the API stack builds them, the local gateway in tests mirrors them."""

from __future__ import annotations

# What the launcher answers, awake or asleep (path, method); every other request goes to the task.
LAUNCHER_ROUTES: tuple[tuple[str, str], ...] = (
    ("/", "GET"),
    ("/login", "GET"),
    ("/login", "POST"),
    ("/logout", "POST"),
    ("/status", "GET"),
    ("/wake", "POST"),
    ("/shutdown", "POST"),
    ("/assets/{proxy+}", "GET"),
    # The installable app (service worker, manifest, icons): served while Blu sleeps too.
    ("/sw.js", "GET"),
    ("/manifest.webmanifest", "GET"),
    ("/icons/{proxy+}", "GET"),
)
