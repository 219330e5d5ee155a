"""The seam between a session worker and Claude Code: the client a worker drives and the factory it comes from."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the SDK loads on first use, so the web process answers /health without it
    from claude_agent_sdk import ClaudeAgentOptions, Message


class AgentClient(Protocol):
    """The part of `ClaudeSDKClient` a SessionWorker uses.

    The worker calls everything from its own task except `interrupt`, which a stop request calls from
    another task. `receive_messages` yields every message of the connection (several turns, and turns
    the CLI starts by itself); the worker picks out its turn's own."""

    async def connect(self) -> None: ...

    async def query(self, prompt: AsyncIterable[dict[str, Any]]) -> None: ...

    def receive_messages(self) -> AsyncIterator[Message]: ...

    async def interrupt(self) -> None: ...

    async def disconnect(self) -> None: ...


ClientFactory = Callable[["ClaudeAgentOptions"], AgentClient]
"""Makes a session's client from its options (the host provides it; tests pass an in-memory one)."""


def sdk_client(options: ClaudeAgentOptions) -> AgentClient:
    """Production's factory: the SDK's client, which starts the Claude Code CLI when it connects."""
    from claude_agent_sdk import ClaudeSDKClient

    return ClaudeSDKClient(options)
