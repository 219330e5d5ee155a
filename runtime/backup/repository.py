"""Where snapshots live: a folder on a laptop, the backups bucket in AWS; each as `<id>.tar.gz` plus `<id>.json`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from core.backup.layout import ARCHIVE_SUFFIX, S3_PREFIX, SNAPSHOT_ID, SUMMARY_SUFFIX

__all__ = ["ARCHIVE_SUFFIX", "S3_PREFIX", "SNAPSHOT_ID", "SUMMARY_SUFFIX"]


class SnapshotNotFound(LookupError):
    """No snapshot with that id (or the id is malformed)."""


@dataclass(frozen=True)
class SnapshotInfo:
    """One stored snapshot: its manifest summary (archive.Manifest.summary) and the archive's size in bytes."""

    id: str
    size: int
    summary: dict[str, Any]

    @property
    def created_at(self) -> float:
        return float(self.summary.get("created_at", 0.0))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "size": self.size,
            "reason": self.summary.get("reason", ""),
            "blu_version": self.summary.get("blu_version", ""),
            "total_bytes": self.summary.get("total_bytes", 0),
            "contents": self.summary.get("contents", {}),
            "sessions": self.summary.get("sessions", []),
            "skipped": len(self.summary.get("skipped", [])),
        }


def check_id(snapshot_id: str) -> str:
    if not SNAPSHOT_ID.match(snapshot_id):
        raise SnapshotNotFound(f"No snapshot {snapshot_id!r}.")
    return snapshot_id


class Repository(Protocol):
    """Snapshot storage. Listing is newest first; `put` stores an archive file and its summary."""

    kind: str

    def list(self, *, limit: int = 1000) -> list[SnapshotInfo]: ...

    def get(self, snapshot_id: str) -> SnapshotInfo:
        """Raises SnapshotNotFound."""

    def put(self, snapshot_id: str, archive: Path, summary: dict[str, Any]) -> SnapshotInfo: ...

    def open(self, snapshot_id: str) -> IO[bytes]:
        """The archive's bytes as a stream. Raises SnapshotNotFound."""

    def download_url(self, snapshot_id: str, *, filename: str) -> str | None:
        """A short-lived direct link (S3), or None when the runtime streams the archive itself."""


class LocalRepository:
    """A folder (BLU_DATA_DIR/backups on a laptop). Files appear atomically: written aside, then renamed."""

    kind = "local"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _ids(self) -> Iterator[str]:
        for path in self.folder.glob("*" + SUMMARY_SUFFIX):
            snapshot_id = path.name[: -len(SUMMARY_SUFFIX)]
            if SNAPSHOT_ID.match(snapshot_id) and (self.folder / (snapshot_id + ARCHIVE_SUFFIX)).is_file():
                yield snapshot_id

    def list(self, *, limit: int = 1000) -> list[SnapshotInfo]:
        return [self.get(snapshot_id) for snapshot_id in sorted(self._ids(), reverse=True)[:limit]]

    def get(self, snapshot_id: str) -> SnapshotInfo:
        check_id(snapshot_id)
        try:
            summary = json.loads((self.folder / (snapshot_id + SUMMARY_SUFFIX)).read_text())
            size = (self.folder / (snapshot_id + ARCHIVE_SUFFIX)).stat().st_size
        except (FileNotFoundError, json.JSONDecodeError) as exc:
            raise SnapshotNotFound(f"No snapshot {snapshot_id!r}.") from exc
        return SnapshotInfo(id=snapshot_id, size=size, summary=summary)

    def put(self, snapshot_id: str, archive: Path, summary: dict[str, Any]) -> SnapshotInfo:
        check_id(snapshot_id)
        target = self.folder / (snapshot_id + ARCHIVE_SUFFIX)
        partial = self.folder / (snapshot_id + ARCHIVE_SUFFIX + ".partial")
        shutil.move(archive, partial)  # a rename on the same file system, else a copy
        os.replace(partial, target)
        _write_atomically(self.folder / (snapshot_id + SUMMARY_SUFFIX), json.dumps(summary, indent=1).encode())
        return self.get(snapshot_id)

    def open(self, snapshot_id: str) -> IO[bytes]:
        check_id(snapshot_id)
        try:
            return (self.folder / (snapshot_id + ARCHIVE_SUFFIX)).open("rb")
        except FileNotFoundError as exc:
            raise SnapshotNotFound(f"No snapshot {snapshot_id!r}.") from exc

    def path(self, snapshot_id: str) -> Path:
        return self.folder / (check_id(snapshot_id) + ARCHIVE_SUFFIX)

    def download_url(self, snapshot_id: str, *, filename: str) -> str | None:
        return None


class S3Repository:
    """The backups bucket (stacks/data.py): versioned, Intelligent-Tiering, expired after the retention
    days. The task may list, read and write `snapshots/` only (stacks: grant_backups)."""

    kind = "s3"

    def __init__(self, bucket: str, *, region: str | None = None, client: Any = None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            # Virtual-hosted URLs name the bucket's regional endpoint: a presigned download link then
            # works from the browser without a redirect (as runtime/transfers.py does for the files bucket).
            client = boto3.client("s3", region_name=region, config=Config(signature_version="s3v4"))
            host = urlsplit(client.meta.endpoint_url).hostname or ""
            if host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
                config = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
                client = boto3.client("s3", region_name=region, config=config)
        self.bucket = bucket
        self.client = client

    def _keys(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        summaries: set[str] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=S3_PREFIX):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(S3_PREFIX) :]
                if name.endswith(ARCHIVE_SUFFIX):
                    sizes[name[: -len(ARCHIVE_SUFFIX)]] = int(obj["Size"])
                elif name.endswith(SUMMARY_SUFFIX):
                    summaries.add(name[: -len(SUMMARY_SUFFIX)])
        return {k: v for k, v in sizes.items() if k in summaries and SNAPSHOT_ID.match(k)}

    def list(self, *, limit: int = 1000) -> list[SnapshotInfo]:
        keys = self._keys()
        return [self._info(k, keys[k]) for k in sorted(keys, reverse=True)[:limit]]

    def _info(self, snapshot_id: str, size: int) -> SnapshotInfo:
        body = self.client.get_object(Bucket=self.bucket, Key=S3_PREFIX + snapshot_id + SUMMARY_SUFFIX)["Body"]
        with contextlib.closing(body):
            return SnapshotInfo(id=snapshot_id, size=size, summary=json.loads(body.read()))

    def get(self, snapshot_id: str) -> SnapshotInfo:
        from botocore.exceptions import ClientError

        check_id(snapshot_id)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=S3_PREFIX + snapshot_id + ARCHIVE_SUFFIX)
            return self._info(snapshot_id, int(head["ContentLength"]))
        except ClientError as exc:
            raise SnapshotNotFound(f"No snapshot {snapshot_id!r}.") from exc

    def put(self, snapshot_id: str, archive: Path, summary: dict[str, Any]) -> SnapshotInfo:
        check_id(snapshot_id)
        # The archive first: a listing needs both, so a snapshot is never listed before its bytes exist.
        self.client.upload_file(
            str(archive),
            self.bucket,
            S3_PREFIX + snapshot_id + ARCHIVE_SUFFIX,
            ExtraArgs={"ContentType": "application/gzip"},
        )
        self.client.put_object(
            Bucket=self.bucket,
            Key=S3_PREFIX + snapshot_id + SUMMARY_SUFFIX,
            Body=json.dumps(summary, indent=1).encode(),
            ContentType="application/json",
        )
        return SnapshotInfo(id=snapshot_id, size=archive.stat().st_size, summary=summary)

    def open(self, snapshot_id: str) -> IO[bytes]:
        from botocore.exceptions import ClientError

        check_id(snapshot_id)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=S3_PREFIX + snapshot_id + ARCHIVE_SUFFIX)["Body"]
        except ClientError as exc:
            raise SnapshotNotFound(f"No snapshot {snapshot_id!r}.") from exc
        return body  # type: ignore[no-any-return]

    def download_url(self, snapshot_id: str, *, filename: str) -> str | None:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": S3_PREFIX + check_id(snapshot_id) + ARCHIVE_SUFFIX,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=15 * 60,
        )
        return url


def _write_atomically(path: Path, data: bytes) -> None:
    """Write aside, fsync, rename: a reader sees the old file or the new one, never half of one."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
