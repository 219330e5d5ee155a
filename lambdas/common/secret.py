"""Blu's JSON secret, read with a short cache so an edited secret takes effect within minutes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from core.observability.logs import scrubber

CACHE_SECONDS = 300.0


class SecretReader:
    def __init__(self, client: Any, secret_arn: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._arn = secret_arn
        self._clock = clock
        self._value: dict[str, str] | None = None
        self._read_at = 0.0

    def get(self, key: str) -> str:
        """The value under `key`, or "" when the user has not set it."""
        if self._value is None or self._clock() - self._read_at > CACHE_SECONDS:
            raw = self._client.get_secret_value(SecretId=self._arn)["SecretString"]
            parsed = json.loads(raw)
            self._value = {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
            scrubber.register(*self._value.values())  # the function's log lines must never show them
            self._read_at = self._clock()
        return self._value.get(key, "")
