"""Blu's AWS shape on this machine for the wake tests: the launcher Lambda behind a local HTTP API, an ECS
stand-in whose task runs the real runtime, and DynamoDB and Secrets Manager from moto's server."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from core.power import PowerLog, put_to_sleep
from tests.support.dynamo import create_table
from tests.support.ecs_standin import EcsStandin
from tests.support.gateway import LocalGateway
from tests.support.server import PASSWORD, PASSWORD_HASH, SESSION_SECRET, BluServer, free_port
from tests.web.conftest import Diagnostics

REGION = "eu-west-1"
TABLE = "blu-table"
CLUSTER = "blu"
SERVICE = "blu-app"
STAGE_SECONDS = 0.6
# EventBridge Scheduler as stacks/control.py sets it up (in moto): the group, the schedule-wake function, its role.
SCHEDULE_GROUP = "blu-schedules"
SCHEDULE_TARGET = "arn:aws:lambda:eu-west-1:123456789012:function:blu-schedule-wake"
SCHEDULE_ROLE = "arn:aws:iam::123456789012:role/blu-schedule-wake"


@dataclass
class WakeStack:
    gateway: LocalGateway
    ecs: EcsStandin
    dynamodb: Any
    power: PowerLog
    start_runtime: Callable[[], BluServer]

    @property
    def url(self) -> str:
        return self.gateway.url

    def client(self, *, login: bool = True) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        if login:
            assert client.post("/login", json={"password": PASSWORD}).status_code == 204
        return client

    def throttle_keys(self) -> dict[str, int]:
        """The login throttle's items in the table: client key → failures."""
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return {
            item["PK"]["S"].removeprefix("AUTH#"): int(item.get("failures", {}).get("N", 0))
            for item in items
            if item["PK"]["S"].startswith("AUTH#")
        }

    def ready(self) -> bool:
        tasks = [t for t in self.ecs.tasks if t.desired_status == "RUNNING"]
        return bool(tasks) and tasks[-1].health == "HEALTHY" and self.ecs.registered_url() is not None

    def put_to_sleep(self, reason: str = "test reset") -> None:
        """Back to desired 0 with every task stopped (through the ECS API, as the idle checker would)."""
        self.ecs.release_all()
        if self.ecs.desired:
            ecs = boto3.client("ecs", region_name=REGION)
            put_to_sleep(ecs, self.power, cluster=CLUSTER, service=SERVICE, at=time.time(), reason=reason)
        self.ecs.wait_for(lambda: all(t.last_status == "STOPPED" for t in self.ecs.tasks), timeout=90)

    def wake(self) -> None:
        """Awake and healthy, woken through the launcher like a browser would."""
        self.ecs.release_all()
        if not self.ready():
            client = self.client()
            try:
                assert client.post("/wake").status_code in (200, 202)
            finally:
                client.close()
        self.ecs.wait_for(self.ready, timeout=90)

    def runtime_logs(self) -> str:
        """The tail of every task's runtime log, newest task last."""
        parts = []
        for task in self.ecs.tasks:
            log = getattr(task.container, "log", None)
            parts.append(f"# task {task.arn.rsplit('/', 1)[-1]} {task.history}\n{log() if log else '(no container)'}")
        return "\n".join(parts)

    def watch(self, diagnostics: Diagnostics) -> None:
        """Save the stand-ins' logs and the last answers when the test fails."""
        diagnostics.add("gateway", self.gateway.report)
        diagnostics.add("ecs", self.ecs.report)
        diagnostics.add("runtime", self.runtime_logs)
        diagnostics.add("power", lambda: "\n".join(str(e.as_json()) for e in self.power.recent()))


@contextmanager
def wake_stack(tmp_path: Path) -> Iterator[WakeStack]:
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    moto_url = f"http://127.0.0.1:{moto_port}"
    # moto keeps its accounts in the process, whichever server started them: an earlier stack's table,
    # secret and schedule group would still be there. Start from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10).close()
    runtime_env: dict[str, str] = {}

    def start_runtime() -> BluServer:
        return BluServer(tmp_path / "runtime", env=runtime_env).start(timeout=60)

    ecs = EcsStandin(
        region=REGION, cluster=CLUSTER, service=SERVICE, start_container=start_runtime, stage_seconds=STAGE_SECONDS
    ).start()
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
        "AWS_ENDPOINT_URL_SCHEDULER": moto_url,
        "AWS_ENDPOINT_URL_ECS": ecs.url,
    }
    # The task's environment as stacks/service.py sets it (secrets included), pointed at the stand-ins.
    runtime_env.update(
        aws,
        DYNAMODB_TABLE=TABLE,
        AUTH_PASSWORD_HASH=PASSWORD_HASH,
        SESSION_SECRET=SESSION_SECRET,
        BLU_TRUST_FORWARDED_FOR="true",
        BLU_ECS_CLUSTER=CLUSTER,
        BLU_ECS_SERVICE=SERVICE,
        BLU_IDLE_TIMEOUT_MINUTES="30",
        BLU_SCHEDULE_GROUP=SCHEDULE_GROUP,
        BLU_SCHEDULE_TARGET_ARN=SCHEDULE_TARGET,
        BLU_SCHEDULE_ROLE_ARN=SCHEDULE_ROLE,
    )
    gateway: LocalGateway | None = None
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        for name, value in aws.items():
            env.setenv(name, value)
        try:
            dynamodb = boto3.client("dynamodb")
            create_table(dynamodb, TABLE)
            boto3.client("scheduler").create_schedule_group(Name=SCHEDULE_GROUP)
            secret = {"AUTH_PASSWORD_HASH": PASSWORD_HASH, "SESSION_SECRET": SESSION_SECRET}
            arn = boto3.client("secretsmanager").create_secret(Name="blu", SecretString=json.dumps(secret))["ARN"]
            # The launcher's environment as stacks/control.py sets it.
            for name, value in {
                "BLU_ECS_CLUSTER": CLUSTER,
                "BLU_ECS_SERVICE": SERVICE,
                "DYNAMODB_TABLE": TABLE,
                "BLU_SECRET_ARN": arn,
                "BLU_IDLE_TIMEOUT_MINUTES": "30",
                "POWERTOOLS_SERVICE_NAME": "blu-launcher",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "Blu",
            }.items():
                env.setenv(name, value)
            from lambdas.launcher import handler

            handler.use_deps(None)  # built from this environment on the first request
            gateway = LocalGateway(handler.lambda_handler, ecs.registered_url).start()
            yield WakeStack(
                gateway=gateway,
                ecs=ecs,
                dynamodb=dynamodb,
                power=PowerLog(dynamodb, TABLE),
                start_runtime=start_runtime,
            )
        finally:
            if gateway is not None:
                gateway.close()
            ecs.close()
            from lambdas.launcher import handler

            handler.use_deps(None)
            moto.stop()
