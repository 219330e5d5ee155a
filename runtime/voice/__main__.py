"""`python -m runtime.voice start`: the voice worker, or a non-zero exit naming what is misconfigured."""

from __future__ import annotations

import sys
import warnings

from pydantic import ValidationError

from runtime.isolation import close_to_inspection
from runtime.settings import Settings
from runtime.voice.providers import VoiceConfigError, check_voice_settings

EXIT_BAD_CONFIG = 2


def main(argv: list[str]) -> int:
    close_to_inspection()  # holds LiveKit's and OpenAI's keys: closed to the agent's shell
    try:
        settings = Settings()
        check_voice_settings(settings)
    except (ValidationError, VoiceConfigError) as error:
        # LiveKit's own worker logs a missing URL and exits 0; the supervisor must see a failure.
        print(f"blu voice worker: {error}", file=sys.stderr, flush=True)
        return EXIT_BAD_CONFIG
    from livekit.agents import cli

    from runtime.voice.worker import build_server

    server = build_server(settings)
    sys.argv = [sys.argv[0], *(argv or ["start"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cli.run_app(server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
