"""Search across everything: session names, artifact paths and the text of every message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.store.models import SearchResults
from runtime.api.deps import LoginRequired, StoreDep

router = APIRouter(prefix="/api", tags=["search"], dependencies=LoginRequired)


@router.get("/search")
async def search(
    store: StoreDep,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 30,
) -> SearchResults:
    """Hits in order: sessions by name, artifacts by path, then messages by text, newest first."""
    return await store.search(q, limit=limit)
