"""Fixtures that run the real Claude Code CLI (via claude_agent_sdk) against the in-process stand-in."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, Message

from runtime.standin import StandinServer
from runtime.standin.cli_env import offline_cli_env

# Variables the SDK would copy from our environment into the CLI's and that change who it thinks we are.
CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL")


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def claude_env(standin: StandinServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the CLI needs to run offline against the stand-in, with private config and tmp."""
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    return offline_cli_env(standin.url, tmp_path)


@pytest.fixture
def make_options(claude_env: dict[str, str], workdir: Path) -> Callable[..., ClaudeAgentOptions]:
    """Options for a session in `workdir`; `env` entries given here are merged over `claude_env`."""

    def make(env: dict[str, str] | None = None, **kwargs: Any) -> ClaudeAgentOptions:
        kwargs.setdefault("permission_mode", "acceptEdits")
        return ClaudeAgentOptions(env={**claude_env, **(env or {})}, cwd=str(workdir), **kwargs)

    return make


async def run_turn(client: ClaudeSDKClient, prompt: str, limit_s: float = 60) -> list[Message]:
    """Send one prompt and collect everything up to and including the ResultMessage."""
    async with asyncio.timeout(limit_s):
        await client.query(prompt)
        return [message async for message in client.receive_response()]


def project_dir(config_dir: str, cwd: str) -> Path:
    """Where the CLI keeps a cwd's transcripts: every non-alphanumeric character of the path becomes '-'."""
    return Path(config_dir) / "projects" / re.sub(r"[^A-Za-z0-9]", "-", cwd)


def wait_until(predicate: Callable[[], bool], limit_s: float = 5) -> bool:
    """Poll `predicate` (blocking; from async code run it with `asyncio.to_thread`)."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
