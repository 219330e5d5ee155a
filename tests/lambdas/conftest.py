"""AWS under moto for the Lambdas: Blu's table, its secret, and an ECS cluster with the service at zero."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.auth import hash_password
from core.power import PowerLog
from core.store.dynamo import DynamoStore
from lambdas.common.secret import SecretReader
from tests.support.dynamo import create_table
from tests.support.ecs import create_service

REGION = "eu-west-1"
TABLE = "blu-table"
CLUSTER = "blu"
SERVICE = "blu-app"
PASSWORD = "correct horse battery staple"
SESSION_SECRET = "s" * 48
# bcrypt at its minimum cost: the tests check the rule, not the hash's strength.
PASSWORD_HASH = hash_password(PASSWORD, rounds=4)


@dataclass
class Aws:
    ecs: Any
    dynamodb: Any
    secretsmanager: Any
    secret_arn: str
    store: DynamoStore
    power: PowerLog

    def desired_count(self) -> int:
        return int(self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["desiredCount"])

    def secrets(self) -> SecretReader:
        return SecretReader(self.secretsmanager, self.secret_arn)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Aws]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Blu")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, TABLE)
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        secret = {"AUTH_PASSWORD_HASH": PASSWORD_HASH, "SESSION_SECRET": SESSION_SECRET, "CLAUDE_CODE_OAUTH_TOKEN": ""}
        arn = secretsmanager.create_secret(Name="blu", SecretString=json.dumps(secret))["ARN"]
        ecs = boto3.client("ecs", region_name=REGION)
        create_service(ecs, cluster=CLUSTER, service=SERVICE, desired_count=0)
        yield Aws(
            ecs=ecs,
            dynamodb=dynamodb,
            secretsmanager=secretsmanager,
            secret_arn=arn,
            store=DynamoStore(TABLE, region=REGION),
            power=PowerLog(dynamodb, TABLE),
        )


class RecordingEcs:
    """An ECS client that answers from recorded data and remembers every call."""

    def __init__(self, service: dict[str, Any], tasks: list[dict[str, Any]] | None = None) -> None:
        self.service = service
        self.tasks = tasks or []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_services(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe_services", kwargs))
        return {"services": [self.service]}

    def list_tasks(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("list_tasks", kwargs))
        wanted = kwargs.get("desiredStatus")
        return {"taskArns": [t["taskArn"] for t in self.tasks if t.get("desiredStatus") == wanted]}

    def describe_tasks(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe_tasks", kwargs))
        return {"tasks": [t for t in self.tasks if t["taskArn"] in kwargs["tasks"]]}

    def update_service(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("update_service", kwargs))
        self.service = {**self.service, "desiredCount": kwargs["desiredCount"]}
        return {"service": self.service}


class NoEcs:
    """An ECS client that fails the test on any call."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"ECS was called ({name}) without a login")
