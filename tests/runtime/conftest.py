"""Fixtures for runtime tests: a stand-in Messages API and real Blu servers that use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.standin import StandinServer
from tests.support.server import BluServer


@pytest.fixture(scope="session")
def model() -> Iterator[StandinServer]:
    """The offline stand-in of the Anthropic Messages API, shared by the session's servers."""
    with StandinServer() as server:
        yield server


def model_env(model: StandinServer, api_key: str = "test-key") -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": api_key, "CLAUDE_CODE_MAX_RETRIES": "0"}


@pytest.fixture(scope="session")
def blu(model: StandinServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """One Blu server for the tests that don't restart it."""
    server = BluServer(tmp_path_factory.mktemp("blu") / "data", env=model_env(model)).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_server(model: StandinServer, tmp_path: Path) -> Iterator[BluServer]:
    """A server of its own, for tests that restart, kill or reconfigure it."""
    server = BluServer(tmp_path / "data", env=model_env(model))
    yield server
    server.stop()
