"""Whether the person is looking at a session: its event readers, and what each page says of its visibility."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# A reader that finished a long-poll this recently counts as still reading: the page asks again at once.
READER_GRACE_SECONDS = 15.0
# Pages that stopped reporting are forgotten after a day; at most this many are remembered.
PAGE_MEMORY_SECONDS = 24 * 3600.0
MAX_PAGES = 200


@dataclass(frozen=True)
class PageReport:
    session_id: str | None  # the session the page shows (None: the empty "new session" screen)
    visible: bool
    at: float


class Presence:
    """ "The person left the page" (docs/architecture.md, Notifications): nobody is looking at session S when
    no event reader of S is live (one in flight, or one that ended less than READER_GRACE_SECONDS ago), or
    when every page that reported showing S said it is hidden. Pages report through
    POST /api/notifications/presence; a client that never reports (a script) is judged by its reads alone.
    In memory only: after a restart nobody is looking until a page reads again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._reading: dict[str, int] = {}
        self._last_read: dict[str, float] = {}
        self._pages: dict[str, PageReport] = {}

    @contextmanager
    def reading(self, session_id: str) -> Iterator[None]:
        """Around one long-poll of a session's events."""
        self._reading[session_id] = self._reading.get(session_id, 0) + 1
        try:
            yield
        finally:
            left = self._reading[session_id] - 1
            if left:
                self._reading[session_id] = left
            else:
                del self._reading[session_id]
            self._last_read[session_id] = self._clock()

    def report(self, page_id: str, session_id: str | None, visible: bool) -> None:
        """What one page (a random id it keeps for its lifetime) shows, and whether it is visible."""
        now = self._clock()
        self._pages.pop(page_id, None)
        self._pages[page_id] = PageReport(session_id, visible, now)
        stale = [key for key, page in self._pages.items() if now - page.at > PAGE_MEMORY_SECONDS]
        for key in stale:
            del self._pages[key]
        while len(self._pages) > MAX_PAGES:
            del self._pages[next(iter(self._pages))]

    def reader_live(self, session_id: str) -> bool:
        if self._reading.get(session_id):
            return True
        last = self._last_read.get(session_id)
        return last is not None and self._clock() - last < READER_GRACE_SECONDS

    def watching(self, session_id: str) -> bool:
        """Whether someone is looking at `session_id` now."""
        if not self.reader_live(session_id):
            return False
        pages = [page for page in self._pages.values() if page.session_id == session_id]
        return not pages or any(page.visible for page in pages)
