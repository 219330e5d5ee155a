"""MCP servers: the list with each server's status, adding, replacing and removing the person's own."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Response, status

from runtime.agent.mcp import (
    KEYED_SERVERS,
    ConfigError,
    McpConfig,
    ServerStatus,
    missing_command,
    server_listing,
    tool_blocked,
)
from runtime.api.deps import ManagerDep, SettingsDep, UserAction
from runtime.api.errors import error_responses
from runtime.api.models import Answer
from runtime.settings import Settings

router = APIRouter(prefix="/api/mcp", tags=["mcp"], dependencies=UserAction, responses=error_responses(404, 503))


class McpTool(Answer):
    name: str  # as the server names it
    full_name: str  # as Claude and the tool policy name it: mcp__<server>__<tool>
    blocked: bool  # BLU_DISALLOWED_TOOLS takes it away


class ValueSet(Answer):
    """Whether a header or env value is stored (never the value)."""

    set: bool


class McpServerInfo(Answer):
    name: str | None
    version: str | None


class McpServer(Answer):
    """A server as the page shows it: header and env values never, only whether each is set. `url`/`headers`
    for http and sse, `command`/`args`/`env` for stdio; the rest is null until a status check."""

    name: str
    source: Literal["key", "added"]  # key: GITHUB_TOKEN / NOTION_API_KEY; added: by the person
    type: Literal["stdio", "http", "sse"]
    url: str | None = None  # query values hidden
    headers: dict[str, ValueSet] | None = None
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, ValueSet] | None = None
    status: Literal["connected", "failed", "needs-auth", "pending", "disabled"] | None = None
    error: str | None = None
    tools: list[McpTool] | None = None
    server_info: McpServerInfo | None = None


class McpServers(Answer):
    servers: list[McpServer]
    checked_at: float | None  # when the status was last asked of Claude Code (seconds since the epoch)
    disallowed_tools: list[str]


def _listing(settings: Settings, checked: tuple[float, list[ServerStatus]] | None) -> McpServers:
    statuses = {s.name: s for s in checked[1]} if checked else {}
    servers = []
    for described in server_listing(settings):
        found = statuses.get(described["name"])
        if found is not None:
            known = found.status in ("connected", "failed", "needs-auth", "pending", "disabled")
            described["status"] = found.status if known else "failed"
            described["error"] = found.error if known else f"Claude Code reports the state {found.status!r}."
            if described["status"] == "failed":  # Blu's plain reason when it can tell, else the CLI's text
                described["error"] = missing_command(described, settings.workspace_dir) or described["error"]
            described["server_info"] = found.server_info
            described["tools"] = [
                McpTool(name=t, full_name=f"mcp__{found.name}__{t}", blocked=tool_blocked(settings, found.name, t))
                for t in found.tools
            ]
        servers.append(McpServer(**described))
    return McpServers(
        servers=servers, checked_at=checked[0] if checked else None, disallowed_tools=list(settings.disallowed_tools)
    )


@router.get("/servers", response_model=McpServers)
async def list_servers(settings: SettingsDep, manager: ManagerDep) -> McpServers:
    """Every server Claude gets, with the status of the last check (null before the first)."""
    return _listing(settings, manager.mcp_status)


@router.post("/status", response_model=McpServers)
async def check_servers(settings: SettingsDep, manager: ManagerDep) -> McpServers:
    """Ask Claude Code now: starts a short-lived CLI with the current servers (a few seconds)."""
    if not manager.accepting:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Blu is stopping.")
    try:
        statuses = await manager.check_mcp()
    except Exception as error:  # the CLI did not start: say so rather than show stale states
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Claude Code did not start to check.") from error
    return _listing(settings, (manager.mcp_status or (0.0, statuses)))


@router.put("/servers/{name}", response_model=McpServer, responses=error_responses(400))
async def put_server(
    name: str,
    settings: SettingsDep,
    manager: ManagerDep,
    server: dict[str, Any] = Body(  # noqa: B008 -- FastAPI's way to take any JSON object
        ..., examples=[{"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer …"}}]
    ),
) -> McpServer:
    """Add or replace a server, in the shape of one entry of `.mcp.json`'s `mcpServers`. A header or env
    value of null keeps the value stored for it. 400 says what is wrong."""
    try:
        McpConfig.from_settings(settings).put(name, server)
    except ConfigError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    manager.mcp_changed()
    listed = next(s for s in _listing(settings, None).servers if s.name == name and s.source == "added")
    return listed


@router.delete("/servers/{name}", status_code=204, responses=error_responses(400))
async def delete_server(name: str, settings: SettingsDep, manager: ManagerDep) -> Response:
    if name in KEYED_SERVERS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"'{name}' comes from its key; remove the key to remove it.")
    if not McpConfig.from_settings(settings).delete(name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such server.")
    manager.mcp_changed()
    return Response(status_code=204)
