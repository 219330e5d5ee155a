"""The restore drill against moto's S3: a good snapshot passes; a damaged newest one fails and names the newest good."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.backup.layout import S3_PREFIX
from lambdas.restore_drill.drill import run_drill
from runtime.backup.repository import S3Repository
from tests.core.store.test_portable import fill
from tests.runtime.backup.test_engine import fill_files, make
from tests.support.emf import parse_emf

REGION = "eu-west-1"
BUCKET = "blu-backups"
HOUR = 3600.0


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def snapshots(s3: Any, tmp_path: Path, count: int) -> list[Any]:
    blu = make(tmp_path / "blu", repository=S3Repository(BUCKET, client=s3))
    fill(blu.store)
    fill_files(blu.sources)
    clock = [1_800_000_000.0]
    blu.clock = lambda: clock[0]
    taken = []
    for _ in range(count):
        taken.append(blu.snapshot("daily"))
        clock[0] += 24 * HOUR
    blu.store.close()
    return taken


def test_the_newest_snapshot_passes(s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (snap,) = snapshots(s3, tmp_path, 1)
    result = run_drill(s3, BUCKET, now=snap.created_at + 30 * HOUR, scratch_root=tmp_path)
    assert result.ok and result.newest == result.newest_good == snap.id
    assert result.newest_good_age_hours == pytest.approx(30)
    records = parse_emf(capsys.readouterr().out)
    assert [(r.values, r.dimensions) for r in records] == [
        ({"RestoreDrills": [1.0]}, {"Outcome": "ok"}),
        ({"NewestGoodBackupAgeHours": [30.0]}, {}),
    ]
    assert not list(tmp_path.glob("blu-drill-*"))  # the scratch space is cleaned up


def test_a_damaged_newest_snapshot_fails_and_the_newest_good_one_is_named(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older, newest = snapshots(s3, tmp_path, 2)
    key = f"{S3_PREFIX}{newest.id}.tar.gz"
    data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    result = run_drill(s3, BUCKET, now=newest.created_at, scratch_root=tmp_path)
    assert not result.ok
    assert result.newest == newest.id and result.newest_good == older.id
    assert result.newest_good_age_hours == pytest.approx(24)
    assert result.checked[older.id] == "ok" and result.checked[newest.id] != "ok"
    drill = parse_emf(capsys.readouterr().out)[0]
    assert drill.dimensions == {"Outcome": "failed"}


def test_a_summary_that_disagrees_with_its_archive_fails(s3: Any, tmp_path: Path) -> None:
    (snap,) = snapshots(s3, tmp_path, 1)
    key = f"{S3_PREFIX}{snap.id}.json"
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    summary["total_bytes"] += 1
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(summary).encode())
    assert not run_drill(s3, BUCKET, scratch_root=tmp_path).ok


def test_no_snapshot_at_all_fails(s3: Any, tmp_path: Path) -> None:
    result = run_drill(s3, BUCKET, scratch_root=tmp_path)
    assert (result.ok, result.newest, result.newest_good_age_hours) == (False, None, None)
    assert "(none)" in result.checked
