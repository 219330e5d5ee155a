"""Lambda entry point of the restore drill (EventBridge schedule, monthly by default)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.config import ENV_BACKUPS_BUCKET
from lambdas.common.telemetry import logger, tracer
from lambdas.restore_drill.drill import run_drill


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = run_drill(boto3.client("s3"), os.environ[ENV_BACKUPS_BUCKET])
    if result.ok:
        logger.info("The restore drill passed", extra=result.as_json())
    else:
        logger.error("The restore drill failed", extra=result.as_json())
    return result.as_json()
