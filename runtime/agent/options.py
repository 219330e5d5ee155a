"""Everything the Claude Code CLI is started with: environment, tool policy and paths, from settings."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.agent.mcp import servers_for_cli
from runtime.memory import MEMORY_FILE
from runtime.settings import Settings

if TYPE_CHECKING:
    from claude_agent_sdk import ClaudeAgentOptions

PROMPTS_DIR = Path(__file__).parent / "prompts"

# Variables the runtime holds that the agent (and anything it runs) must never see. The SDK copies the
# parent environment into the CLI's and cannot remove a variable, so each is overridden with "".
HIDDEN_FROM_AGENT = (
    "AUTH_PASSWORD_HASH",
    "SESSION_SECRET",
    "LIVEKIT_API_SECRET",
    "LIVEKIT_API_KEY",
    "OPENAI_API_KEY",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "ECS_CONTAINER_METADATA_URI",
    "ECS_CONTAINER_METADATA_URI_V4",
)


@cache
def prompt(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class ClaudeEndpoint:
    """Where the CLI sends its requests and with which credential."""

    base_url: str | None
    api_key: str | None
    oauth_token: str | None
    standin: bool = False
    cli_path: str | None = None  # the wrapper that starts the CLI as the agent's own user, when set

    @classmethod
    def from_settings(cls, settings: Settings, *, standin_url: str | None = None) -> ClaudeEndpoint:
        if standin_url:
            return cls(base_url=standin_url, api_key="standin-local", oauth_token=None, standin=True)
        return cls(
            base_url=settings.anthropic_base_url,
            api_key=settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None,
            oauth_token=(
                settings.claude_code_oauth_token.get_secret_value() if settings.claude_code_oauth_token else None
            ),
        )


def claude_env(settings: Settings, endpoint: ClaudeEndpoint) -> dict[str, str]:
    env = {name: "" for name in HIDDEN_FROM_AGENT}
    env.update(
        {
            "CLAUDE_CONFIG_DIR": str(settings.claude_config_dir),
            "CLAUDE_CODE_TMPDIR": str(settings.data_dir / "tmp"),
            "CLAUDE_CODE_MAX_RETRIES": str(settings.claude_max_retries),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "ANTHROPIC_BASE_URL": endpoint.base_url or "",
            "ANTHROPIC_API_KEY": endpoint.api_key or "",
            "CLAUDE_CODE_OAUTH_TOKEN": endpoint.oauth_token or "",
        }
    )
    # The MCP config names these as ${GITHUB_TOKEN} / ${NOTION_API_KEY}; the CLI expands them from here.
    for name, key in (("GITHUB_TOKEN", settings.github_token), ("NOTION_API_KEY", settings.notion_api_key)):
        if key is not None and key.get_secret_value():
            env[name] = key.get_secret_value()
    if not endpoint.base_url:
        del env["ANTHROPIC_BASE_URL"]  # an empty URL would break the CLI; unset means the real API
    return env


def memory_prompt(settings: Settings) -> str:
    """Where Claude's memory about the person is, so "remember this" lands in the file every session reads."""
    return prompt("memory").format(path=settings.claude_config_dir / MEMORY_FILE)


def agent_options(
    settings: Settings,
    endpoint: ClaudeEndpoint,
    *,
    resume: str | None = None,
    stderr: Any = None,
    can_use_tool: Any = None,
    pre_tool_use: Any = None,
    disallowed_tools: list[str] | None = None,
) -> ClaudeAgentOptions:
    """The options of one session's client. Blu's tool policy decides every call: `pre_tool_use` (a
    PreToolUse hook) answers "ask" for every tool, so the CLI puts each call to `can_use_tool`, also the
    ones its permission mode would let through unasked (Read, edits in acceptEdits). The policy lists
    are therefore not given to the CLI as allow lists: they change at run time, the CLI's flags would not.
    Only what is denied when the client starts (`disallowed_tools`, ToolPolicy.denied) is, so Claude does not
    see those tools at all; a later change reaches a connected client through `can_use_tool`."""
    from claude_agent_sdk import ClaudeAgentOptions, HookMatcher

    hooks: Any = {"PreToolUse": [HookMatcher(matcher=None, hooks=[pre_tool_use])]} if pre_tool_use else None
    return ClaudeAgentOptions(
        cwd=str(settings.workspace_dir),
        env=claude_env(settings, endpoint),
        cli_path=endpoint.cli_path,
        resume=resume,
        model=settings.model,
        permission_mode=settings.permission_mode,
        # None: what the settings deny (a client built without the run-time policy at hand).
        disallowed_tools=list(settings.disallowed_tools if disallowed_tools is None else disallowed_tools),
        system_prompt={
            "type": "preset",
            "preset": "claude_code",
            "append": prompt("system") + "\n\n" + memory_prompt(settings),
        },
        include_partial_messages=True,
        can_use_tool=can_use_tool,
        hooks=hooks,
        stderr=stderr,
        # "user": $CLAUDE_CONFIG_DIR/CLAUDE.md, the memory every session reads (runtime/memory.py);
        # "project": the workspace's own CLAUDE.md and settings, as Claude Code reads any project's.
        setting_sources=["user", "project"],
        # Only the servers Blu configures (keys and the settings page), never ones the agent writes into
        # a .mcp.json or its config folder.
        mcp_servers=servers_for_cli(settings),
        strict_mcp_config=True,
    )


def transcript_path(settings: Settings, claude_session_id: str) -> Path | None:
    """The CLI's transcript of a session (`<config>/projects/<cwd>/<id>.jsonl`), None when not on disk."""
    projects = settings.claude_config_dir / "projects"
    return next(iter(projects.glob(f"*/{claude_session_id}.jsonl")), None)


def transcript_exists(settings: Settings, claude_session_id: str) -> bool:
    """Whether the CLI's transcript of a session is on disk, i.e. whether a warm resume can work."""
    return transcript_path(settings, claude_session_id) is not None


_COST_STATE = b'{"type":"cost-state"'


def transcript_cost(settings: Settings, claude_session_id: str) -> float:
    """The running cost total (USD) the CLI goes on from when it resumes this transcript: the last `cost-state`
    entry it saved there (it writes one when it exits). None saved (a transcript cut by a fork or by Regenerate,
    whose copied entries carry no cost; a CLI that was killed): the CLI starts from 0."""
    path = transcript_path(settings, claude_session_id)
    total = 0.0
    if path is None:
        return total
    with path.open("rb") as transcript:
        for line in transcript:
            if not line.startswith(_COST_STATE):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            value = entry.get("totalCostUSD")
            if entry.get("sessionId") == claude_session_id and isinstance(value, int | float) and math.isfinite(value):
                total = max(0.0, float(value))
    return total
