"""Store fixtures: `store` runs a test on both back-ends (DynamoDB under moto, SQLite in tmp_path)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from core.store.base import Store
from tests.support.dynamo import create_table

REGION = "eu-west-1"
_table_numbers = itertools.count()


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto's in-process AWS with fake credentials, started once per module (tests isolate by table);
    yields a DynamoDB client. Nothing can point boto at a real endpoint meanwhile."""
    nowhere = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_CA_BUNDLE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.setenv(name, "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_REGION", REGION)

        # moto handles requests on the caller's thread without a lock, and concurrent writes to one item
        # corrupt its bookkeeping. DynamoDB applies every request atomically; serializing them emulates
        # exactly that, and still lets a read-modify-write implementation lose updates (as it would in AWS).
        lock = threading.Lock()
        process_request = BotocoreStubber.process_request

        def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
            with lock:
                return process_request(self, request)

        patch.setattr(BotocoreStubber, "process_request", one_at_a_time)
        with mock_aws():
            yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def table(aws: Any) -> Iterator[str]:
    """A fresh, empty table for one test."""
    name = f"blu-test-{next(_table_numbers)}"
    create_table(aws, name)
    yield name
    aws.delete_table(TableName=name)


def empty_table(client: Any, name: str) -> None:
    """Delete every item, so tests can share one table and store (building a store's client is slow)."""
    for page in client.get_paginator("scan").paginate(TableName=name, ProjectionExpression="PK, SK"):
        keys = page["Items"]
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            client.batch_write_item(RequestItems={name: requests})


@pytest.fixture(scope="module")
def module_dynamo_store(aws: Any) -> Iterator[Store]:
    from core.store.dynamo import DynamoStore

    name = f"blu-shared-{next(_table_numbers)}"
    create_table(aws, name)
    yield DynamoStore(name)
    aws.delete_table(TableName=name)


@pytest.fixture(params=["local", "dynamo"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each kind."""
    if request.param == "dynamo":
        shared: Any = request.getfixturevalue("module_dynamo_store")
        empty_table(request.getfixturevalue("aws"), shared.table_name)
        yield shared
        return
    from core.store.local import LocalStore

    local = LocalStore(tmp_path / "blu.sqlite3")
    yield local
    local.close()
