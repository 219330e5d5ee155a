"""An async face over a synchronous Store: each call runs in a worker thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from runtime.store.base import Store


class AsyncStore:
    """`await astore.get_session(...)` runs `store.get_session(...)` in a thread; `.sync` is the store itself."""

    def __init__(self, store: Store) -> None:
        self.sync = store

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.sync, name)

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        setattr(self, name, call)
        return call
