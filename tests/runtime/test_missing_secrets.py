"""A task started in AWS before the password is stored scales its service to 0 instead of crash-looping."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.app import create_app
from runtime.credentials import MissingSecrets
from runtime.self_stop import MISSING_SECRETS_REASON
from runtime.settings import Settings
from tests.runtime.test_self_stop import CLUSTER, REGION, SERVICE, TABLE, Aws, aws  # noqa: F401 -- fixture

pytestmark = pytest.mark.usefixtures("aws")


def _settings(tmp_path: Path) -> Settings:
    # The session key is there (CloudFormation generates it); the password hash is not yet.
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        BLU_DATA_DIR=str(tmp_path / "state"),
        BLU_WORKSPACE_DIR=str(tmp_path / "workspace"),
        DYNAMODB_TABLE=TABLE,
        AWS_REGION=REGION,
        BLU_ECS_CLUSTER=CLUSTER,
        BLU_ECS_SERVICE=SERVICE,
        BLU_STANDIN="off",
        SESSION_SECRET="s" * 48,
    )


async def test_missing_password_hash_puts_the_service_to_sleep(aws: Aws, tmp_path: Path) -> None:  # noqa: F811
    app = create_app(_settings(tmp_path))
    with pytest.raises(MissingSecrets):
        async with app.router.lifespan_context(app):
            pass
    assert aws.desired() == 0
    sleeps = [e for e in aws.power.recent() if e.kind == "sleep"]
    assert len(sleeps) == 1 and MISSING_SECRETS_REASON in sleeps[0].reason
