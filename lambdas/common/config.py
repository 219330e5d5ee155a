"""The Lambdas' configuration, read once from the environment the control stack sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV_CLUSTER = "BLU_CLUSTER_NAME"
ENV_SERVICE = "BLU_SERVICE_NAME"
ENV_TABLE = "DYNAMODB_TABLE"
ENV_SECRET = "BLU_SECRET_ARN"  # noqa: S105 -- a variable name, not a value
ENV_IDLE_TIMEOUT = "BLU_IDLE_TIMEOUT_MINUTES"
ENV_COOKIE_MAX_AGE_HOURS = "BLU_COOKIE_MAX_AGE_HOURS"
# How often the schedule runs the idle checker; each check while Blu runs reports this many minutes.
IDLE_CHECK_MINUTES = 5

# Every variable the control stack sets on the functions (its test compares against this).
ENV_NAMES: tuple[str, ...] = (ENV_CLUSTER, ENV_SERVICE, ENV_TABLE, ENV_SECRET, ENV_IDLE_TIMEOUT)


class ConfigError(RuntimeError):
    """A variable the function cannot run without is missing."""


@dataclass(frozen=True, kw_only=True)
class LambdaConfig:
    cluster: str
    service: str
    table_name: str
    secret_arn: str
    idle_timeout_minutes: int = 30
    cookie_max_age_hours: int = 24 * 14

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LambdaConfig:
        env = os.environ if env is None else env
        missing = [name for name in (ENV_CLUSTER, ENV_SERVICE, ENV_TABLE, ENV_SECRET) if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            cluster=env[ENV_CLUSTER],
            service=env[ENV_SERVICE],
            table_name=env[ENV_TABLE],
            secret_arn=env[ENV_SECRET],
            idle_timeout_minutes=int(env.get(ENV_IDLE_TIMEOUT) or 30),
            cookie_max_age_hours=int(env.get(ENV_COOKIE_MAX_AGE_HOURS) or 24 * 14),
        )
