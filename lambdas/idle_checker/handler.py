"""Lambda entry point of the idle checker (EventBridge schedule)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.power import PowerLog
from core.store import open_store
from lambdas.common.config import LambdaConfig
from lambdas.common.telemetry import logger, tracer
from lambdas.idle_checker.check import check_idle

_NO_LOCAL_DATA = Path("/tmp/blu-unused")  # noqa: S108 -- never written: a table is always set


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = LambdaConfig.from_env()
    return check_idle(
        boto3.client("ecs"),
        open_store(table_name=config.table_name, data_dir=_NO_LOCAL_DATA),
        PowerLog(boto3.client("dynamodb"), config.table_name),
        cluster=config.cluster,
        service=config.service,
        idle_timeout_minutes=config.idle_timeout_minutes,
        now=time.time(),
    )
