"""Powertools logger and tracer shared by the Lambdas; log lines are scrubbed like the runtime's.

Metrics go through core/observability/metrics.py, which writes each record at once, so the
handlers need no flush decorator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from core.observability.logs import scrubber

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

F = TypeVar("F", bound=Callable[..., Any])


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines with secrets redacted from every value, exceptions included."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(scrubber.scrub_value(log))


class LazyTracer:
    """Powertools' Tracer, made when a traced function first runs rather than when the module is imported.

    Making it imports the X-Ray SDK and patches botocore (~130 ms, ~0.5 s on a loaded machine): the
    function's cold start spends that on its first invocation instead of on every import, and only a
    function whose code runs a traced call pays it. The subsegments are the same.
    """

    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer()
        return self._tracer

    def capture_method(self, method: F) -> F:
        return self._lazily(method, lambda tracer: tracer.capture_method(method))

    def capture_lambda_handler(self, handler: F) -> F:
        return self._lazily(handler, lambda tracer: tracer.capture_lambda_handler(handler))

    def _lazily(self, function: F, wrap: Callable[[Tracer], Callable[..., Any]]) -> F:
        traced: Callable[..., Any] | None = None

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal traced
            if traced is None:
                traced = wrap(self.tracer)
            return traced(*args, **kwargs)

        return cast(F, call)


logger = Logger(logger_formatter=ScrubbingFormatter())
tracer = LazyTracer()
