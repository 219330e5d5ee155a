"""Back up, wipe, restore and compare against moto's S3 (the backups bucket) and DynamoDB (the table)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.backup.archive import ArchiveError
from core.store.dynamo import DynamoStore
from runtime.backup.engine import Backups
from runtime.backup.repository import S3_PREFIX, S3Repository, SnapshotNotFound
from tests.core.store.test_portable import fill
from tests.runtime.backup.test_engine import CLAUDE_ID, STORE_CONTENTS, everything, fill_files, make, wipe
from tests.support.dynamo import create_table

REGION = "eu-west-1"
BUCKET = "blu-backups"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        create_table(boto3.client("dynamodb", region_name=REGION), "blu-table")
        yield s3


@pytest.fixture
def blu(aws: Any, tmp_path: Path) -> Backups:
    b = make(
        tmp_path / "task", store=DynamoStore("blu-table", region=REGION), repository=S3Repository(BUCKET, client=aws)
    )
    fill(b.store)
    b.store.update_session("s-one", claude_session_id=CLAUDE_ID)
    fill_files(b.sources)
    return b


def test_back_up_to_s3_wipe_and_restore_from_it(blu: Backups, aws: Any) -> None:
    before = everything(blu)
    info = blu.snapshot("daily")
    keys = sorted(o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"{S3_PREFIX}{info.id}.json", f"{S3_PREFIX}{info.id}.tar.gz"]
    (listed,) = blu.repository.list()
    assert listed.as_json()["contents"]["store"] == STORE_CONTENTS
    assert listed.size == info.size
    wipe(blu)
    blu.restore_all(info.id)
    assert everything(blu) == before
    assert len(blu.repository.list()) == 2  # and the pre-restore snapshot beside it


def test_a_laptop_export_imports_into_the_aws_blu(blu: Backups, aws: Any, tmp_path: Path) -> None:
    laptop = make(tmp_path / "laptop")
    fill(laptop.store)
    (laptop.sources.workspace / "from-laptop.txt").write_text("made with make dev")
    exported = laptop.snapshot("export")
    wipe(blu)
    with laptop.repository.open(exported.id) as stream:
        report = blu.import_archive(stream)
    assert report.store["message"] == {"added": 4, "kept": 0}
    assert everything(blu) == everything(laptop)
    laptop.store.close()


def test_a_tampered_object_in_the_bucket_is_refused(blu: Backups, aws: Any) -> None:
    info = blu.snapshot()
    key = f"{S3_PREFIX}{info.id}.tar.gz"
    data = bytearray(aws.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    aws.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    (blu.sources.workspace / "new.txt").write_text("kept")
    before = everything(blu)
    with pytest.raises(ArchiveError):
        blu.restore_all(info.id)
    assert everything(blu) == before
    with pytest.raises(SnapshotNotFound):
        blu.restore_all("20200101T000000Z-00000000")
    with pytest.raises(SnapshotNotFound):
        blu.repository.open("../../etc/passwd")
