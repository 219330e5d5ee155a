"""Setting names and defaults that the container, the Lambdas and the stacks share: one of each."""

from __future__ import annotations

# The ECS service Blu runs as: the runtime scales it to 0 when idle, the Lambdas wake it and stop it.
ENV_ECS_CLUSTER = "BLU_ECS_CLUSTER"
ENV_ECS_SERVICE = "BLU_ECS_SERVICE"
ENV_TABLE = "DYNAMODB_TABLE"
ENV_SECRET_ARN = "BLU_SECRET_ARN"  # noqa: S105 -- a variable name, not a value
ENV_IDLE_TIMEOUT_MINUTES = "BLU_IDLE_TIMEOUT_MINUTES"
ENV_COOKIE_MAX_AGE_HOURS = "BLU_COOKIE_MAX_AGE_HOURS"
ENV_BACKUPS_BUCKET = "BLU_BACKUPS_BUCKET"  # the runtime writes snapshots there, the restore drill reads them

# Minutes without a person's action before Blu goes to sleep (the idle rule, core/idle.py).
DEFAULT_IDLE_TIMEOUT_MINUTES = 30
# How long a login cookie lasts: two weeks.
DEFAULT_COOKIE_MAX_AGE_HOURS = 24 * 14
# How often the schedule runs the idle checker; each check while Blu runs reports this many minutes.
IDLE_CHECK_MINUTES = 5
