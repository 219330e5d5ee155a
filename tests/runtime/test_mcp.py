"""MCP servers through the real server and the real CLI: a local server over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import ClaudeSDKClient

from runtime.agent.mcp import keyed_servers, wait_for_status
from runtime.agent.options import ClaudeEndpoint, agent_options
from runtime.settings import Settings
from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.mcp_server import http_server, stdio_config
from tests.support.server import BluServer

pytestmark = pytest.mark.slow

WEB_KEY = "web-key-5f2c9a1e7b"


@pytest.fixture
def mcp_http(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    headers_log = tmp_path / "mcp-headers.log"
    with http_server(headers_log) as url:
        yield url, headers_log


@pytest.fixture
def server(model: StandinServer, tmp_path: Path) -> Iterator[BluServer]:
    env = {**model_env(model), "BLU_DISALLOWED_TOOLS": "mcp__web__secret_word"}
    blu = BluServer(tmp_path / "data", env=env)
    yield blu
    blu.stop()


def test_a_local_servers_tools_are_listed_and_called_over_stdio_and_http(
    server: BluServer, mcp_http: tuple[str, Path]
) -> None:
    url, headers_log = mcp_http
    api = server.start().client()
    http = api.http

    assert http.put("/api/mcp/servers/local", json=stdio_config()).status_code == 200
    web = {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {WEB_KEY}"}}
    added = http.put("/api/mcp/servers/web", json=web)
    assert added.status_code == 200 and added.json()["headers"] == {"Authorization": {"set": True}}
    assert http.put("/api/mcp/servers/down", json={"type": "http", "url": "http://127.0.0.1:1/mcp"}).status_code == 200
    refused = http.put("/api/mcp/servers/bad", json={"type": "http", "url": "ftp://x"})
    assert refused.status_code == 400 and "http:// or https://" in refused.json()["detail"]

    listed = http.get("/api/mcp/servers")
    assert [s["name"] for s in listed.json()["servers"]] == ["down", "local", "web"]
    assert all(s["status"] is None for s in listed.json()["servers"])  # not checked yet
    assert WEB_KEY not in listed.text

    checked = http.post("/api/mcp/status", timeout=90)
    assert checked.status_code == 200, checked.text
    assert WEB_KEY not in checked.text  # the CLI's own status carries the expanded header: never passed on
    by_name = {s["name"]: s for s in checked.json()["servers"]}
    assert by_name["local"]["status"] == "connected" and by_name["web"]["status"] == "connected"
    assert by_name["down"]["status"] == "failed" and by_name["down"]["error"]
    tools = {t["full_name"]: t["blocked"] for t in by_name["web"]["tools"]}
    assert tools == {"mcp__web__shout": False, "mcp__web__secret_word": True}  # BLU_DISALLOWED_TOOLS applies
    assert {t["full_name"] for t in by_name["local"]["tools"]} == {"mcp__local__shout", "mcp__local__secret_word"}

    session = api.new_session()
    api.turn(session, "[[tools prefix=mcp__]]")
    offered = api.messages(session)[-1]["text"]
    assert "mcp__local__shout" in offered and "mcp__web__shout" in offered and "mcp__local__secret_word" in offered
    assert "mcp__web__secret_word" not in offered  # the policy took it away before Claude saw it

    _, events = api.turn(session, '[[call tool=mcp__local__shout text="over stdio"]]')
    assert api.messages(session)[-1]["text"].endswith('Called mcp__local__shout: {"result":"SHOUT:OVER STDIO"}')
    calls = [e["data"] for e in events if e["type"] == "tool.result"]
    assert [(c["name"], c["outcome"]) for c in calls] == [("mcp__local__shout", "ok")]

    api.turn(session, '[[call tool=mcp__web__shout text="over http"]]')
    assert api.messages(session)[-1]["text"].endswith('Called mcp__web__shout: {"result":"SHOUT:OVER HTTP"}')
    assert f"Bearer {WEB_KEY}" in headers_log.read_text()  # the stored key reached the server

    api.turn(session, "[[call tool=mcp__web__secret_word]]")
    refused_call = api.messages(session)[-1]["text"]
    assert "mcp__web__secret_word failed:" in refused_call and "heron-42" not in refused_call

    assert http.delete("/api/mcp/servers/local").status_code == 204
    assert http.delete("/api/mcp/servers/local").status_code == 404
    assert http.delete("/api/mcp/servers/github").status_code == 400
    assert [s["name"] for s in http.get("/api/mcp/servers").json()["servers"]] == ["down", "web"]
    assert WEB_KEY not in server.log()


def test_a_server_whose_command_is_missing_fails_with_blus_own_reason(server: BluServer) -> None:
    http = server.start().client().http
    assert http.put("/api/mcp/servers/gone", json={"command": "blu-no-such-command-5f2c"}).status_code == 200
    assert http.put("/api/mcp/servers/down", json={"type": "http", "url": "http://127.0.0.1:1/mcp"}).status_code == 200

    checked = http.post("/api/mcp/status", timeout=90)
    assert checked.status_code == 200, checked.text
    by_name = {s["name"]: s for s in checked.json()["servers"]}
    assert by_name["gone"]["status"] == "failed"
    assert by_name["gone"]["error"] == (
        "The command `blu-no-such-command-5f2c` was not found (it is not installed where Blu runs, or not on its PATH)."
    )
    # Where Blu cannot tell what is wrong, the CLI's own reason stays.
    assert by_name["down"]["status"] == "failed" and by_name["down"]["error"]
    assert "installed where Blu runs" not in by_name["down"]["error"]
    assert http.get("/api/mcp/servers").json()["servers"][1]["error"] == by_name["gone"]["error"]


def test_keys_in_the_environment_list_github_and_notion_without_their_values(
    model: StandinServer, tmp_path: Path
) -> None:
    token, notion = "ghp_listing0123456789abcdef", "ntn_listing0123456789"
    env = {**model_env(model), "GITHUB_TOKEN": token, "NOTION_API_KEY": notion}
    blu = BluServer(tmp_path / "data", env=env).start()
    try:
        listed = blu.client().http.get("/api/mcp/servers")  # no turn, no check: nothing reaches GitHub
        assert listed.status_code == 200
        servers = {s["name"]: s for s in listed.json()["servers"]}
        assert servers["github"]["url"] == "https://api.githubcopilot.com/mcp"
        assert servers["github"]["headers"] == {"Authorization": {"set": True}}
        assert servers["notion"]["env"] == {"NOTION_TOKEN": {"set": True}}
        assert token not in listed.text and notion not in listed.text
    finally:
        blu.stop()
    assert token not in blu.log() and notion not in blu.log()


def test_the_cli_expands_the_key_reference_blu_writes_for_github(
    model: StandinServer, mcp_http: tuple[str, Path], tmp_path: Path
) -> None:
    """GitHub's server gets `Authorization: Bearer ${GITHUB_TOKEN}`: the CLI fills it from the environment
    Blu gives it (here pointed at the local server instead of api.githubcopilot.com)."""
    url, headers_log = mcp_http
    token = "ghp_expand0123456789abcdef"
    settings = Settings(data_dir=tmp_path / "data", github_token=token)
    for folder in (settings.claude_config_dir, settings.workspace_dir, settings.data_dir / "tmp"):
        folder.mkdir(parents=True)
    github = keyed_servers(settings)["github"]
    options = agent_options(settings, ClaudeEndpoint(model.url, "test-key", None))
    local: dict[str, Any] = {"github": {**github, "url": url}}
    options = replace(options, mcp_servers=local)

    async def check() -> list[str]:
        async with ClaudeSDKClient(options) as client:
            statuses = await wait_for_status(client)
        return [s.status for s in statuses]

    assert asyncio.run(check()) == ["connected"]
    assert f"Bearer {token}" in headers_log.read_text()
