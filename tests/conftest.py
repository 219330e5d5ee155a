"""Fixtures every test folder shares; each folder provides its own `blu` server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer

# Under pytest-xdist (`make test` runs `-n 2`) tests go to whichever worker is free, one at a time, except
# those that must share one process: the CDK tests (the app is synthesized once per run) and a module whose
# fixture runs a whole pruned process. The queue keeps the collection order (WEB_FIRST's aside), tests/web last:
# Playwright's sync API keeps an event loop running in its worker, so no asyncio test may come after a browser
# test there.
ONE_WORKER = ("tests/stacks/", "tests/container/test_prune.py")
# Within tests/web the wake flow's modules go first: their tests are the longest (up to ~25 s each, a runtime
# woken and put to sleep), and a worker that ends on one leaves the other idle meanwhile.
WEB = "tests/web/"
WEB_FIRST = ("tests/web/test_wake.py", "tests/web/test_scheduled_wake.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The collection order, with the browser tests last (where they collect anyway) and WEB_FIRST leading them."""
    items.sort(key=lambda item: (item.nodeid.startswith(WEB), not item.nodeid.startswith(WEB_FIRST)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "load":
        return None  # an explicit --dist other than the default keeps its own scheduling
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((group for group in ONE_WORKER if nodeid.startswith(group)), nodeid)

    return Scheduling(config, log)


@pytest.fixture
def api(blu: BluServer) -> Iterator[BluClient]:
    """A logged-in HTTP client of the folder's `blu` server."""
    client = blu.client()
    yield client
    client.http.close()
