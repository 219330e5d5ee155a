"""Powertools logger and tracer shared by the Lambdas; log lines are scrubbed like the runtime's.

Metrics go through core/observability/metrics.py, which writes each record at once, so the
handlers need no flush decorator.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from core.observability.logs import scrubber


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines with secrets redacted from every value, exceptions included."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(scrubber.scrub_value(log))


logger = Logger(logger_formatter=ScrubbingFormatter())
tracer = Tracer()
