"""The restore drill: download the newest snapshot, restore it into scratch space, verify every byte and item."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.backup.archive import ITEMS_NAME, ArchiveError, read_archive, verify_extracted
from core.backup.layout import ARCHIVE_SUFFIX, S3_PREFIX, SNAPSHOT_ID, SUMMARY_SUFFIX
from core.observability.metrics import record_restore_drill
from core.store.portable import ExportedItem, UnknownKind, record_of

log = logging.getLogger(__name__)
MAX_TRIES = 5  # when the newest fails: how many older snapshots to try for the newest good one


@dataclass(frozen=True)
class DrillResult:
    """`ok`: the newest snapshot restored and verified. `newest_good` and its age in hours: the newest
    snapshot that passed (None when none did). `checked`: snapshot id -> "ok" or the reason it failed."""

    ok: bool
    newest: str | None
    newest_good: str | None
    newest_good_age_hours: float | None
    checked: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "newest": self.newest,
            "newest_good": self.newest_good,
            "newest_good_age_hours": self.newest_good_age_hours,
            "checked": self.checked,
        }


def snapshot_ids(s3: Any, bucket: str) -> list[str]:
    """Complete snapshots (archive and summary both present), newest first."""
    archives, summaries = set(), set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=S3_PREFIX):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(S3_PREFIX) :]
            if name.endswith(ARCHIVE_SUFFIX):
                archives.add(name[: -len(ARCHIVE_SUFFIX)])
            elif name.endswith(SUMMARY_SUFFIX):
                summaries.add(name[: -len(SUMMARY_SUFFIX)])
    return sorted((i for i in archives & summaries if SNAPSHOT_ID.match(i)), reverse=True)


def restore_and_verify(s3: Any, bucket: str, snapshot_id: str, scratch: Path) -> float:
    """Download one snapshot to `scratch`, restore it there and check it; returns its creation time.
    Raises ArchiveError (or ValueError/TypeError for a store item that does not parse)."""
    archive = scratch / (snapshot_id + ARCHIVE_SUFFIX)
    s3.download_file(bucket, S3_PREFIX + snapshot_id + ARCHIVE_SUFFIX, str(archive))
    restored = scratch / "restored"
    restored.mkdir()
    with archive.open("rb") as stream:
        manifest = read_archive(stream, extract_to=restored).manifest
    archive.unlink()  # room for the restored copy in the function's /tmp
    verify_extracted(restored, manifest)
    items = restored / ITEMS_NAME
    if items.exists():
        with items.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    try:
                        record_of(ExportedItem.from_json(json.loads(line)))
                    except UnknownKind:
                        continue  # written by a newer Blu: not this drill's to judge
    summary = json.loads(s3.get_object(Bucket=bucket, Key=S3_PREFIX + snapshot_id + SUMMARY_SUFFIX)["Body"].read())
    if summary.get("id") != manifest.id or summary.get("total_bytes") != manifest.total_bytes:
        raise ArchiveError("The snapshot's summary in the bucket does not match the archive's manifest.")
    return manifest.created_at


def run_drill(s3: Any, bucket: str, *, now: float | None = None, scratch_root: Path | None = None) -> DrillResult:
    """Drill the newest snapshot; when it fails, older ones until one passes (for the age of the newest
    good one). Emits RestoreDrills (Outcome) and NewestGoodBackupAgeHours. Never raises."""
    now = time.time() if now is None else now
    checked: dict[str, str] = {}
    newest_good: str | None = None
    age: float | None = None
    try:
        ids = snapshot_ids(s3, bucket)
    except Exception as exc:
        log.exception("Could not list the snapshots")
        ids, checked["(listing)"] = [], f"{type(exc).__name__}: {exc}"
    for snapshot_id in ids[:MAX_TRIES]:
        scratch = Path(tempfile.mkdtemp(prefix="blu-drill-", dir=scratch_root))
        try:
            created_at = restore_and_verify(s3, bucket, snapshot_id, scratch)
            checked[snapshot_id] = "ok"
            newest_good, age = snapshot_id, max(0.0, (now - created_at) / 3600.0)
            break
        except Exception as exc:
            checked[snapshot_id] = f"{type(exc).__name__}: {exc}"
            log.error("Snapshot %s failed the restore drill: %s", snapshot_id, exc)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    newest = ids[0] if ids else None
    ok = newest is not None and newest == newest_good
    if newest is None and "(listing)" not in checked:
        checked["(none)"] = "no snapshot in the bucket yet"
    record_restore_drill(ok=ok, newest_good_age_hours=age)
    return DrillResult(ok=ok, newest=newest, newest_good=newest_good, newest_good_age_hours=age, checked=checked)
