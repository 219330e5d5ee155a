"""Everything the Claude Code CLI is started with: environment, tool policy and paths, from settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, HookMatcher

from runtime.settings import Settings

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
    if not endpoint.base_url:
        del env["ANTHROPIC_BASE_URL"]  # an empty URL would break the CLI; unset means the real API
    return env


def agent_options(
    settings: Settings,
    endpoint: ClaudeEndpoint,
    *,
    resume: str | None = None,
    stderr: Any = None,
    can_use_tool: Any = None,
    pre_tool_use: Any = None,
) -> ClaudeAgentOptions:
    """The options of one session's client. Blu's tool policy decides every call: `pre_tool_use` (a
    PreToolUse hook) answers "ask" for every tool, so the CLI puts each call to `can_use_tool`, also the
    ones its permission mode would let through unasked (Read, edits in acceptEdits). The policy lists
    are therefore not given to the CLI: they change at run time, the CLI's flags would not."""
    hooks: Any = {"PreToolUse": [HookMatcher(matcher=None, hooks=[pre_tool_use])]} if pre_tool_use else None
    return ClaudeAgentOptions(
        cwd=str(settings.workspace_dir),
        env=claude_env(settings, endpoint),
        cli_path=endpoint.cli_path,
        resume=resume,
        model=settings.model,
        permission_mode=settings.permission_mode,
        system_prompt={"type": "preset", "preset": "claude_code", "append": prompt("system")},
        include_partial_messages=True,
        can_use_tool=can_use_tool,
        hooks=hooks,
        stderr=stderr,
        setting_sources=["project"],  # a CLAUDE.md in the workspace is memory across sessions
    )


def transcript_path(settings: Settings, claude_session_id: str) -> Path | None:
    """The CLI's transcript of a session (`<config>/projects/<cwd>/<id>.jsonl`), None when not on disk."""
    projects = settings.claude_config_dir / "projects"
    return next(iter(projects.glob(f"*/{claude_session_id}.jsonl")), None)


def transcript_exists(settings: Settings, claude_session_id: str) -> bool:
    """Whether the CLI's transcript of a session is on disk, i.e. whether a warm resume can work."""
    return transcript_path(settings, claude_session_id) is not None
