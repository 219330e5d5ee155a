"""The transport's floor: a bare ClaudeSDKClient behind the least an HTTP long-poll front needs, to time Blu against."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage
from claude_agent_sdk.types import StreamEvent
from fastapi import FastAPI, HTTPException, Request

# Blu's browser transport is fixed by its deploy (API Gateway HTTP APIs buffer responses and do not proxy
# WebSockets, BLUEPRINT.md): a POST per message, then long-poll reads. This server keeps exactly that, on
# the same framework and server (FastAPI on uvicorn, configured as runtime/__main__.py does), and nothing
# else: no login, no store, no queue, no coalescing. What a hot turn costs here over the bare SDK is what
# the transport itself costs on this machine; what Blu costs over this is Blu's own.


class Session:
    """One SDK client kept connected (a hot session) and its events, numbered from 1."""

    def __init__(self, client: ClaudeSDKClient) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.relay: asyncio.Task[None] | None = None

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append({"seq": len(self.events) + 1, "type": kind, "data": data})
        self.changed.set()
        self.changed = asyncio.Event()


def create_app(options: ClaudeAgentOptions) -> FastAPI:
    sessions: dict[str, Session] = {}
    ids = itertools.count(1)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for session in sessions.values():
            await session.client.disconnect()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/login")
    async def login() -> dict[str, str]:
        return {"status": "ok"}  # BluClient logs in first; the floor has nothing to check

    @app.post("/api/sessions", status_code=201)
    async def new_session() -> dict[str, str]:
        client = ClaudeSDKClient(options)
        await client.connect()
        sid = f"s{next(ids)}"
        sessions[sid] = Session(client)
        return {"id": sid}

    @app.post("/api/sessions/{sid}/messages", status_code=202)
    async def send(sid: str, request: Request) -> dict[str, str]:
        session = sessions.get(sid) or _missing()
        text = (await request.json())["text"]
        turn_id = f"t{next(ids)}"
        await session.client.query(text)
        session.relay = asyncio.create_task(_relay(session, turn_id))
        return {"turn_id": turn_id}

    @app.get("/api/sessions/{sid}/events")
    async def events(sid: str, after: int = 0, wait: float = 10) -> dict[str, Any]:
        session = sessions.get(sid) or _missing()
        if len(session.events) <= after:
            changed = session.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=wait)
        new = session.events[after:]
        return {"events": new, "next": after + len(new)}

    return app


def _missing() -> Session:
    raise HTTPException(404, "Session not found")


async def _relay(session: Session, turn_id: str) -> None:
    """Each text delta as it comes, then the turn's end: the events a reader needs, and no more."""
    async for message in session.client.receive_response():
        if isinstance(message, StreamEvent):
            delta = message.event.get("delta", {})
            if delta.get("type") == "text_delta" and delta.get("text"):
                session.publish("message.delta", {"turn_id": turn_id, "text": delta["text"]})
        elif isinstance(message, ResultMessage):
            session.publish("turn.status", {"turn_id": turn_id, "status": "complete", "tier": "hot"})


def main() -> int:
    """`python -m bench.floor PORT WORKSPACE CLI_ENV_JSON`: serve until SIGTERM."""
    port, workspace, env = int(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    workspace.mkdir(parents=True, exist_ok=True)
    options = ClaudeAgentOptions(
        env=env, cwd=str(workspace), permission_mode="acceptEdits", include_partial_messages=True
    )
    config = uvicorn.Config(
        create_app(options),
        host="127.0.0.1",
        port=port,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        log_level=os.environ.get("LOG_LEVEL", "warning"),
        access_log=False,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
