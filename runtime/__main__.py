"""`python -m runtime`: serve Blu with uvicorn; SIGTERM saves running turns before exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from core.observability.logs import configure_logging
from core.secret_keys import SECRET_KEYS
from runtime.app import begin_shutdown, create_app, warm_imports
from runtime.isolation import close_to_inspection, scrub_environment
from runtime.settings import Settings

log = logging.getLogger("runtime")


class BluServer(uvicorn.Server):
    """Stops taking turns the moment a stop signal arrives, not after connections drain."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app: FastAPI = self.config.app  # type: ignore[assignment]
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_soon_threadsafe(begin_shutdown, app)
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # listening: /health answers while the first turn's imports load
            warm_imports(self.config.app.state.settings)  # type: ignore[union-attr]


def main() -> int:
    close_to_inspection()  # before any secret is read: the agent's shell cannot read this process
    settings = Settings()
    # Every key of Blu's secret the task may receive, settings or not: scrub them all.
    passed_through = (os.environ.get(key) for key in SECRET_KEYS if key != "LIVEKIT_URL")
    configure_logging(level=settings.log_level, secrets=(*settings.secret_values(), *passed_through))
    scrub_environment()  # read into settings; nothing started from here inherits them
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the scrubbing JSON handler configure_logging installed
        access_log=False,
    )
    log.info(
        "Blu is starting on http://%s:%s (data in %s)",
        settings.host,
        settings.port,
        settings.data_dir,
        extra={"event": "start"},
    )
    BluServer(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
