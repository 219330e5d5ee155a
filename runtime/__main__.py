"""`python -m runtime`: serve Blu with uvicorn; SIGTERM saves running turns before exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from runtime.app import begin_shutdown, create_app
from runtime.settings import Settings


class BluServer(uvicorn.Server):
    """Stops taking turns the moment a stop signal arrives, not after connections drain."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app: FastAPI = self.config.app  # type: ignore[assignment]
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_soon_threadsafe(begin_shutdown, app)
        super().handle_exit(sig, frame)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        log_level="info",
        access_log=False,
    )
    print(f"Blu is starting on http://{settings.host}:{settings.port} (data in {settings.data_dir})", flush=True)
    BluServer(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
