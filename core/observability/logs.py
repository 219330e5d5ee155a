"""JSON-line logs with the session, turn and request in context, scrubbed of secrets before they are written."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words

session_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("blu_session_id", default=None)
turn_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("blu_turn_id", default=None)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("blu_request_id", default=None)
_CONTEXT = (("session_id", session_id_var), ("turn_id", turn_id_var), ("request_id", request_id_var))

# Shapes of credentials whatever their value: Anthropic keys, bearer and basic tokens, headers that
# carry them, the login cookie, and a password field in a repr or a JSON body.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"sk-ant-[A-Za-z0-9_\-]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), rf"\1 {REDACTED}"),
    (
        re.compile(r"(?i)\b(set-cookie|cookie|authorization|x-api-key|proxy-authorization)(['\"]?\s*[:=]\s*)[^\r\n]*"),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b(blu_session)=[^;\s,'\"]+"), rf"\1={REDACTED}"),
    (re.compile(r"(?i)(['\"]?password['\"]?\s*[:=]\s*)(['\"]?)[^'\"\s,}]+"), rf"\1\2{REDACTED}"),
)


class Scrubber:
    """Redacts known secret values (registered at start-up) and credential-shaped text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def register(self, *values: str | None) -> None:
        with self._lock:
            known = set(self._values)
            known.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)
            # Longest first, so a secret that contains another is redacted whole.
            self._values = tuple(sorted(known, key=len, reverse=True))

    def clear(self) -> None:
        with self._lock:
            self._values = ()

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def scrub_value(self, value: Any) -> Any:
        """Scrub every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {str(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.scrub(str(value))


scrubber = Scrubber()

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context ids, extras, exception; all scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in _CONTEXT:
            value = var.get()
            if value is not None:
                entry[name] = value
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(scrubber.scrub_value(entry), ensure_ascii=False, default=str)


def configure_logging(*, level: str = "INFO", secrets: Iterable[str | None] = (), stream: Any = None) -> None:
    """Route every logger (Blu's, uvicorn's, the SDK's) through one scrubbing JSON handler on the root."""
    scrubber.register(*secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True


@contextmanager
def log_context(*, session_id: str | None = None, turn_id: str | None = None) -> Iterator[None]:
    """Put the session and turn on every log line written inside (and in tasks started inside)."""
    tokens = []
    if session_id is not None:
        tokens.append((session_id_var, session_id_var.set(session_id)))
    if turn_id is not None:
        tokens.append((turn_id_var, turn_id_var.set(turn_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def new_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """API Gateway's request id when it sent one (so the two logs join), else a fresh one."""
    for name, value in headers:
        if name.lower() in (b"x-request-id", b"x-amzn-requestid", b"apigw-requestid"):
            text = value.decode("latin-1")[:64]
            if re.fullmatch(r"[A-Za-z0-9=_\-.]+", text):
                return text
    return uuid.uuid4().hex[:16]
