"""Powertools logger, tracer and metrics shared by the Lambdas (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Blu"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=NAMESPACE)
