"""MCP configuration without a CLI: validation, keyed servers, redaction, the tool policy's rules."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from runtime.agent.mcp import (
    ConfigError,
    McpConfig,
    describe,
    keyed_servers,
    missing_command,
    server_listing,
    tool_blocked,
)
from runtime.agent.options import ClaudeEndpoint, agent_options, claude_env
from runtime.settings import Settings

GITHUB_TOKEN = "ghp_test0123456789abcdefABCDEF0123456789"
NOTION_KEY = "ntn_test_0123456789abcdef"


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **values)


@pytest.fixture
def config(tmp_path: Path) -> McpConfig:
    return McpConfig(tmp_path / "data" / "mcp-servers.json")


def test_servers_in_claude_codes_shape_are_stored_and_given_to_the_cli(tmp_path: Path, config: McpConfig) -> None:
    config.put("local", {"command": "python3", "args": ["-m", "srv"], "env": {"TOKEN": "s3cret"}})
    config.put("web", {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"X-Key": "k"}})
    stored = json.loads(config.path.read_text())
    assert stored == {
        "mcpServers": {
            "local": {"type": "stdio", "command": "python3", "args": ["-m", "srv"], "env": {"TOKEN": "s3cret"}},
            "web": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"X-Key": "k"}},
        }
    }
    assert stat.S_IMODE(config.path.stat().st_mode) == 0o600  # Blu's own file
    options = agent_options(settings_for(tmp_path), ClaudeEndpoint(None, "k", None))
    assert options.mcp_servers == stored["mcpServers"]
    assert options.strict_mcp_config  # nothing the agent writes into .mcp.json or its config is used
    assert options.setting_sources == ["user", "project"]  # user: the memory file every session reads


@pytest.mark.parametrize(
    ("name", "server", "says"),
    [
        ("bad name!", {"command": "x"}, "server name"),
        ("github", {"command": "x"}, "configured from its key"),
        ("ok", {"type": "ftp", "url": "ftp://x"}, "type"),
        ("ok", {"type": "http", "url": "file:///etc/passwd"}, "http:// or https://"),
        ("ok", {"type": "http", "url": "https://user:pw@example.com/mcp"}, "credentials in a header"),
        ("ok", {"type": "http", "url": "https://e.com", "headers": {"Bad Header": "v"}}, "not a header name"),
        ("ok", {"type": "http", "url": "https://e.com", "headers": {"X": "a\r\nInjected: 1"}}, "line break"),
        ("ok", {"command": "x", "env": {"1BAD": "v"}}, "environment variable name"),
        ("ok", {"command": "x", "surprise": True}, "surprise"),
        ("ok", {"type": "stdio"}, "command"),
        ("ok", {"command": "x", "env": {"NEW": None}}, "nothing is stored to keep"),
    ],
)
def test_invalid_servers_are_refused_with_the_reason(config: McpConfig, name: str, server: Any, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        config.put(name, server)
    assert not config.path.exists()


def test_an_edit_that_sends_null_keeps_the_stored_secret(config: McpConfig) -> None:
    config.put("web", {"type": "http", "url": "https://e.com/mcp", "headers": {"Authorization": "Bearer one"}})
    config.put("web", {"type": "http", "url": "https://e.com/v2/mcp", "headers": {"Authorization": None}})
    assert config.load()["web"] == {
        "type": "http",
        "url": "https://e.com/v2/mcp",
        "headers": {"Authorization": "Bearer one"},
    }
    assert config.delete("web") and not config.delete("web")


def test_keys_switch_github_and_notion_on_and_stay_references(tmp_path: Path) -> None:
    assert keyed_servers(settings_for(tmp_path)) == {}
    settings = settings_for(tmp_path, github_token=GITHUB_TOKEN, notion_api_key=NOTION_KEY)
    servers = keyed_servers(settings)
    assert servers["github"] == {
        "type": "http",
        "url": "https://api.githubcopilot.com/mcp",
        "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}"},
    }
    assert servers["notion"]["env"] == {"NOTION_TOKEN": "${NOTION_API_KEY}"}
    options = agent_options(settings, ClaudeEndpoint(None, "k", None))
    assert GITHUB_TOKEN not in json.dumps(options.mcp_servers) and NOTION_KEY not in json.dumps(options.mcp_servers)
    env = claude_env(settings, ClaudeEndpoint(None, "k", None))
    assert (env["GITHUB_TOKEN"], env["NOTION_API_KEY"]) == (GITHUB_TOKEN, NOTION_KEY)  # the CLI expands them
    assert {GITHUB_TOKEN, NOTION_KEY} <= set(settings.secret_values())  # the log scrubber hides them


def test_the_listing_shows_names_and_urls_never_values(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, github_token=GITHUB_TOKEN)
    McpConfig.from_settings(settings).put(
        "web", {"type": "http", "url": "https://e.com/mcp?api_key=q-secret&x", "headers": {"X-Key": "h-secret"}}
    )
    McpConfig.from_settings(settings).put("local", {"command": "srv", "env": {"TOKEN": "e-secret", "EMPTY": ""}})
    listing = server_listing(settings)
    text = json.dumps(listing)
    for secret in (GITHUB_TOKEN, "q-secret", "h-secret", "e-secret", "${GITHUB_TOKEN}"):
        assert secret not in text
    by_name = {s["name"]: s for s in listing}
    assert by_name["github"]["headers"] == {"Authorization": {"set": True}} and by_name["github"]["source"] == "key"
    assert by_name["web"]["url"] == "https://e.com/mcp?api_key=…&x"
    assert by_name["local"]["env"] == {"TOKEN": {"set": True}, "EMPTY": {"set": False}}
    assert describe("x", {"command": "c"}, "added")["args"] == []


def test_the_tool_policy_names_mcp_tools_or_whole_servers(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, disallowed_tools=("mcp__web__secret_word", "mcp__other"))
    assert tool_blocked(settings, "web", "secret_word")
    assert not tool_blocked(settings, "web", "shout")
    assert tool_blocked(settings, "other", "anything")
    options = agent_options(settings, ClaudeEndpoint(None, "k", None))
    assert options.disallowed_tools == ["mcp__web__secret_word", "mcp__other"]  # the CLI removes them


def test_a_missing_command_is_found_before_the_cli_is_asked(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "my-mcp"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    workspace = tmp_path / "workspace"
    (workspace / "tools").mkdir(parents=True)
    (workspace / "tools" / "plain.sh").write_text("echo\n")
    path = str(bin_dir)

    def reason(config: dict[str, Any]) -> str | None:
        return missing_command(describe("s", config, "added"), workspace, path)

    assert reason({"command": "my-mcp"}) is None
    assert reason({"command": "nope-mcp"}) == (
        "The command `nope-mcp` was not found (it is not installed where Blu runs, or not on its PATH)."
    )
    assert reason({"command": str(tool)}) is None
    assert reason({"command": "tools/missing.sh"}) == (
        "The command `tools/missing.sh` was not found: there is no such file."
    )
    assert reason({"command": "tools/plain.sh"}) == (
        "The command `tools/plain.sh` is not executable (its file lacks execute permission)."
    )
    # Blu cannot tell: a variable in the command, the server's own PATH, or not a stdio server.
    assert reason({"command": "${HOME}/x"}) is None
    assert reason({"command": "nope-mcp", "env": {"PATH": "/opt/x"}}) is None
    assert reason({"type": "http", "url": "http://127.0.0.1:1/mcp"}) is None
