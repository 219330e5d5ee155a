"""The session store, paired with stacks/data.py: DynamoDB in AWS, an on-disk database on a laptop."""

from __future__ import annotations

from pathlib import Path

from core.store.base import Conflict, InvalidCursor, NotFound, Store, StoreError

__all__ = ["Conflict", "InvalidCursor", "NotFound", "Store", "StoreError", "open_store"]

LOCAL_DB_NAME = "blu.sqlite3"


def open_store(
    *, table_name: str | None, data_dir: Path, region: str | None = None, endpoint_url: str | None = None
) -> Store:
    """The DynamoDB store when a table is configured (in AWS), else the SQLite file under `data_dir`."""
    # Imported here so a laptop run never loads PynamoDB and a Lambda never loads the SQLite store.
    if table_name:
        from core.store.dynamo import DynamoStore

        return DynamoStore(table_name, region=region, endpoint_url=endpoint_url)
    from core.store.local import LocalStore

    return LocalStore(data_dir / LOCAL_DB_NAME)  # creates data_dir
