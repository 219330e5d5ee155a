"""The Lambdas' configuration, read once from the environment the control stack sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.config import (
    DEFAULT_COOKIE_MAX_AGE_HOURS,
    DEFAULT_IDLE_TIMEOUT_MINUTES,
    ENV_COOKIE_MAX_AGE_HOURS,
    ENV_ECS_CLUSTER,
    ENV_ECS_SERVICE,
    ENV_IDLE_TIMEOUT_MINUTES,
    ENV_SECRET_ARN,
    ENV_TABLE,
    IDLE_CHECK_MINUTES,
)

__all__ = ["ENV_NAMES", "IDLE_CHECK_MINUTES", "ConfigError", "LambdaConfig"]

# Every variable the control stack sets on the functions (its test compares against this).
ENV_NAMES: tuple[str, ...] = (ENV_ECS_CLUSTER, ENV_ECS_SERVICE, ENV_TABLE, ENV_SECRET_ARN, ENV_IDLE_TIMEOUT_MINUTES)
_REQUIRED = (ENV_ECS_CLUSTER, ENV_ECS_SERVICE, ENV_TABLE, ENV_SECRET_ARN)


class ConfigError(RuntimeError):
    """A variable the function cannot run without is missing."""


@dataclass(frozen=True, kw_only=True)
class LambdaConfig:
    cluster: str
    service: str
    table_name: str
    secret_arn: str
    idle_timeout_minutes: int = DEFAULT_IDLE_TIMEOUT_MINUTES
    cookie_max_age_hours: int = DEFAULT_COOKIE_MAX_AGE_HOURS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LambdaConfig:
        env = os.environ if env is None else env
        missing = [name for name in _REQUIRED if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            cluster=env[ENV_ECS_CLUSTER],
            service=env[ENV_ECS_SERVICE],
            table_name=env[ENV_TABLE],
            secret_arn=env[ENV_SECRET_ARN],
            idle_timeout_minutes=int(env.get(ENV_IDLE_TIMEOUT_MINUTES) or DEFAULT_IDLE_TIMEOUT_MINUTES),
            cookie_max_age_hours=int(env.get(ENV_COOKIE_MAX_AGE_HOURS) or DEFAULT_COOKIE_MAX_AGE_HOURS),
        )
