"""Fixtures every test folder shares; each folder provides its own `blu` server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import BluClient, BluServer


@pytest.fixture
def api(blu: BluServer) -> Iterator[BluClient]:
    """A logged-in HTTP client of the folder's `blu` server."""
    client = blu.client()
    yield client
    client.http.close()
