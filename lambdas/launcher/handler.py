"""Lambda entry point of the launcher: Powertools around Mangum around the FastAPI app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from core.power import PowerLog
from core.store import open_store
from lambdas.common.config import LambdaConfig
from lambdas.common.secret import SecretReader
from lambdas.common.telemetry import logger, tracer
from lambdas.launcher.app import LauncherDeps, create_app

_NO_LOCAL_DATA = Path("/tmp/blu-unused")  # noqa: S108 -- never written: a table is always set
_deps: LauncherDeps | None = None


def build_deps(config: LambdaConfig | None = None) -> LauncherDeps:
    """Clients for this function's lifetime, from the environment the control stack sets."""
    import boto3  # at the first request, not at import: ~150 ms a cold start spends only when it must

    config = config or LambdaConfig.from_env()
    return LauncherDeps(
        ecs=boto3.client("ecs"),
        power=PowerLog(boto3.client("dynamodb"), config.table_name),
        store=open_store(table_name=config.table_name, data_dir=_NO_LOCAL_DATA),
        secrets=SecretReader(boto3.client("secretsmanager"), config.secret_arn),
        cluster=config.cluster,
        service=config.service,
        cookie_max_age_seconds=config.cookie_max_age_hours * 3600,
    )


def deps() -> LauncherDeps:
    global _deps
    if _deps is None:
        _deps = build_deps()
    return _deps


def use_deps(value: LauncherDeps | None) -> None:
    """Replace the cached clients (tests; None rebuilds them from the environment on next use)."""
    global _deps
    _deps = value


app = create_app(deps)
_asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(_asgi(event, context))  # type: ignore[arg-type]  # Mangum's context protocol is stricter
