"""Where snapshots are kept, shared by the runtime (writing) and the restore drill (reading): names and keys."""

from __future__ import annotations

import re

ARCHIVE_SUFFIX = ".tar.gz"
SUMMARY_SUFFIX = ".json"  # the manifest's summary (no member list), written after the archive
S3_PREFIX = "snapshots/"  # in the backups bucket: snapshots/<id>.tar.gz and snapshots/<id>.json
# A snapshot id: `<UTC time, YYYYmmddTHHMMSSZ>-<8 hex>` (the millisecond, then random); it sorts by time and is safe
# in any path or key.
SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
