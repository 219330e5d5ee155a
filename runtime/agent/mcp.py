"""MCP servers for Claude: GitHub and Notion from their keys, the person's own in a JSON file, and status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from runtime.settings import Settings

log = logging.getLogger(__name__)
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # becomes part of the tool names: mcp__<name>__<tool>
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # an RFC 9110 token
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_SERVERS = 32
MAX_VALUE_CHARS = 8192
CONFIG_FILE = "mcp-servers.json"

# GitHub's hosted MCP server (streamable HTTP) takes a personal access token as a Bearer token:
# github/github-mcp-server, docs/installation-guides/install-claude.md ("Remote Server Setup":
# {"type":"http","url":"https://api.githubcopilot.com/mcp","headers":{"Authorization":"Bearer <PAT>"}}).
GITHUB_MCP_URL = "https://api.githubcopilot.com/mcp"
# Notion's hosted MCP server (https://mcp.notion.com/mcp) takes OAuth 2.0 with PKCE only, not an integration
# key (developers.notion.com/guides/mcp/build-mcp-client), so NOTION_API_KEY starts Notion's official local
# server, @notionhq/notion-mcp-server (stdio; the key as NOTION_TOKEN: makenotion/notion-mcp-server README).
# The image carries it and Node (container/Dockerfile) with this command on PATH.
NOTION_MCP_COMMAND = "notion-mcp-server"
# The CLI expands ${VAR} in an MCP config from its own environment (measured: headers and env), so the keys
# themselves never appear in the config Blu writes, passes on the command line, or shows.
KEYED_SERVERS = ("github", "notion")


class ConfigError(ValueError):
    """A server definition Blu refuses; the message says what to change (an HTTP 400)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StdioServer(_Strict):
    """A local process speaking MCP on stdin/stdout (as in Claude Code's .mcp.json)."""

    type: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1, max_length=1024)
    args: list[Annotated[str, Field(max_length=MAX_VALUE_CHARS)]] = Field(default_factory=list, max_length=64)
    env: dict[str, str | None] = Field(default_factory=dict, max_length=64)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str | None]) -> dict[str, str | None]:
        for name, value in env.items():
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if value is not None and (len(value) > MAX_VALUE_CHARS or "\x00" in value):
                raise ValueError(f"the value of {name} is too long or holds a NUL character")
        return env


class HttpServer(_Strict):
    """A remote MCP server over streamable HTTP (`http`) or the older SSE transport (`sse`)."""

    type: Literal["http", "sse"]
    url: str = Field(min_length=1, max_length=2048)
    headers: dict[str, str | None] = Field(default_factory=dict, max_length=64)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the url must be an http:// or https:// address")
        if parts.username or parts.password:
            raise ValueError("put credentials in a header, not in the url")
        return url

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str | None]) -> dict[str, str | None]:
        for name, value in headers.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a header name")
            if value is not None and (len(value) > MAX_VALUE_CHARS or any(c in value for c in "\r\n\x00")):
                raise ValueError(f"the value of {name} is too long or holds a line break")
        return headers


ServerConfig = Annotated[StdioServer | HttpServer, Field(discriminator="type")]
_server_adapter: TypeAdapter[StdioServer | HttpServer] = TypeAdapter(ServerConfig)


def parse_server(raw: Any) -> StdioServer | HttpServer:
    """One `.mcp.json`-shaped entry, validated (a missing `type` means stdio, as in Claude Code)."""
    if isinstance(raw, dict) and "type" not in raw and "command" in raw:
        raw = {**raw, "type": "stdio"}
    try:
        return _server_adapter.validate_python(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'server'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(problems) from None


def check_name(name: str) -> None:
    if not SERVER_NAME.match(name):
        raise ConfigError("A server name is 1-64 letters, digits, '-' or '_' (it becomes part of tool names).")
    if name in KEYED_SERVERS:
        raise ConfigError(f"'{name}' is configured from its key (see the settings page); choose another name.")


def keyed_servers(settings: Settings) -> dict[str, dict[str, Any]]:
    """GitHub and Notion, each when its key is set; the key itself stays a ${VAR} reference."""
    servers: dict[str, dict[str, Any]] = {}
    if settings.github_token is not None and settings.github_token.get_secret_value():
        servers["github"] = {
            "type": "http",
            "url": GITHUB_MCP_URL,
            "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}"},
        }
    if settings.notion_api_key is not None and settings.notion_api_key.get_secret_value():
        servers["notion"] = {
            "type": "stdio",
            "command": NOTION_MCP_COMMAND,
            "args": [],
            "env": {"NOTION_TOKEN": "${NOTION_API_KEY}"},
        }
    return servers


def _redacted_url(url: str) -> str:
    """The url with query values hidden (a key in a query string must not reach the browser)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(f"{pair.split('=', 1)[0]}=…" if "=" in pair else pair for pair in parts.query.split("&"))
    return urlunsplit(parts._replace(query=query))


def describe(name: str, config: dict[str, Any], source: Literal["key", "added"]) -> dict[str, Any]:
    """What the settings page may show of a server: never a header or env value, only whether one is set."""
    described: dict[str, Any] = {"name": name, "source": source, "type": config.get("type", "stdio")}
    if described["type"] == "stdio":
        described["command"] = config.get("command")
        described["args"] = list(config.get("args") or [])
        described["env"] = {k: {"set": bool(v)} for k, v in (config.get("env") or {}).items()}
    else:
        described["url"] = _redacted_url(str(config.get("url")))
        described["headers"] = {k: {"set": bool(v)} for k, v in (config.get("headers") or {}).items()}
    return described


class McpConfig:
    """The person's servers, in `<data>/mcp-servers.json` (`{"mcpServers": {...}}`, mode 0600).

    A file, not the session store: it is read whole each time a Claude client starts (agent_options is
    synchronous), it holds keys the person typed, which belong with Blu's private state on the encrypted
    EFS (/state) rather than in the table every Lambda and backup reads, and it needs no new record type in
    two store implementations. Writes are atomic (temporary file, fsync, rename) under one lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> McpConfig:
        return cls(settings.data_dir / CONFIG_FILE)

    def load(self) -> dict[str, dict[str, Any]]:
        """The stored servers; a missing file holds none, and so does an unreadable one (logged: Claude
        then starts without the person's servers rather than not at all)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            log.warning("The MCP server list %s is not valid JSON; using none of its servers", self.path)
            return {}
        servers = data.get("mcpServers") if isinstance(data, dict) else None
        return {str(k): v for k, v in servers.items() if isinstance(v, dict)} if isinstance(servers, dict) else {}

    def put(self, name: str, raw: Any) -> dict[str, Any]:
        """Add or replace one server. A header or env value of null keeps the stored value (the page never
        receives values, so an edit sends null for those it leaves alone)."""
        check_name(name)
        server = parse_server(raw)
        with self._lock:
            servers = self.load()
            if name not in servers and len(servers) >= MAX_SERVERS:
                raise ConfigError(f"At most {MAX_SERVERS} servers can be added.")
            previous = servers.get(name) or {}
            config = server.model_dump(exclude_none=False)
            for field in ("env", "headers"):
                if field not in config:
                    continue
                kept = previous.get(field) or {} if previous.get("type", "stdio") == config["type"] else {}
                merged = {}
                for key, value in config[field].items():
                    if value is None:
                        if not kept.get(key):
                            raise ConfigError(f"{field}.{key}: give a value (nothing is stored to keep).")
                        value = kept[key]
                    merged[key] = value
                config[field] = merged
            if config["type"] == "stdio" and not config.get("env"):
                config.pop("env", None)
            if config["type"] != "stdio" and not config.get("headers"):
                config.pop("headers", None)
            servers[name] = config
            self._write(servers)
        return config

    def delete(self, name: str) -> bool:
        with self._lock:
            servers = self.load()
            if servers.pop(name, None) is None:
                return False
            self._write(servers)
            return True

    def _write(self, servers: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"mcpServers": servers}, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def servers_for_cli(settings: Settings) -> dict[str, Any]:
    """Every server Claude gets (ClaudeAgentOptions.mcp_servers): keyed ones, then the person's."""
    return {**keyed_servers(settings), **McpConfig.from_settings(settings).load()}


def server_listing(settings: Settings) -> list[dict[str, Any]]:
    """Every configured server as the settings page may show it (no secret values)."""
    listed = [describe(name, config, "key") for name, config in keyed_servers(settings).items()]
    listed += [describe(name, config, "added") for name, config in McpConfig.from_settings(settings).load().items()]
    return listed


def tool_blocked(settings: Settings, server: str, tool: str) -> bool:
    """Whether Blu's tool policy takes this MCP tool away: BLU_DISALLOWED_TOOLS names it
    (`mcp__<server>__<tool>`) or its whole server (`mcp__<server>`), as Claude Code's rules do."""
    full = f"mcp__{server}__{tool}"
    return any(rule in (full, f"mcp__{server}", f"mcp__{server}__*") for rule in settings.disallowed_tools)


def missing_command(described: dict[str, Any], workspace: Path, search_path: str | None = None) -> str | None:
    """Blu's own reason why a stdio server (as `describe` gives it) cannot start: its command is not found
    on the PATH Claude Code runs with (`search_path`, default this process's, which the CLI inherits), or
    a path (relative to the workspace, the CLI's working directory) names no file or one that cannot be
    run. None when the command is there, the server is not stdio, or Blu cannot tell (a `${VAR}` in
    the command, or the server's own PATH in its env)."""
    command = described.get("command")
    if described.get("type") != "stdio" or not isinstance(command, str) or not command or "$" in command:
        return None
    if "PATH" in (described.get("env") or {}):
        return None
    if "/" in command:
        target = Path(command).expanduser()
        target = target if target.is_absolute() else workspace / target
        if not target.is_file():
            return f"The command `{command}` was not found: there is no such file."
        if not os.access(target, os.X_OK):
            return f"The command `{command}` is not executable (its file lacks execute permission)."
        return None
    if shutil.which(command, path=search_path if search_path is not None else os.environ.get("PATH", os.defpath)):
        return None
    return f"The command `{command}` was not found (it is not installed where Blu runs, or not on its PATH)."


@dataclass(frozen=True)
class ServerStatus:
    """One server's state as the Claude Code CLI reports it (get_mcp_status), without its config (which
    holds expanded keys)."""

    name: str
    status: str  # connected / failed / needs-auth / pending / disabled
    error: str | None
    tools: list[str]
    server_info: dict[str, Any] | None

    @classmethod
    def from_sdk(cls, raw: dict[str, Any]) -> ServerStatus:
        info = raw.get("serverInfo")
        return cls(
            name=str(raw.get("name")),
            status=str(raw.get("status")),
            error=str(raw["error"]) if raw.get("error") else None,
            tools=[str(t.get("name")) for t in raw.get("tools") or [] if isinstance(t, dict)],
            server_info={"name": info.get("name"), "version": info.get("version")} if isinstance(info, dict) else None,
        )


async def wait_for_status(client: Any, *, limit_s: float = 20.0, poll_s: float = 0.25) -> list[ServerStatus]:
    """Ask a connected client for its servers' status until none is still `pending` (or `limit_s` passed:
    those stay pending). The CLI connects servers in the background, so the first answer is often pending."""
    deadline = time.monotonic() + limit_s
    while True:
        response = await client.get_mcp_status()
        statuses = [ServerStatus.from_sdk(s) for s in response.get("mcpServers", []) if isinstance(s, dict)]
        if all(s.status != "pending" for s in statuses) or time.monotonic() >= deadline:
            return statuses
        await asyncio.sleep(poll_s)
