"""The environment that makes the Claude Code CLI run offline against a stand-in model."""

from __future__ import annotations

from pathlib import Path


def offline_cli_env(
    base_url: str, state_dir: Path, api_key: str = "sk-standin", max_retries: int = 0
) -> dict[str, str]:
    """Env for `ClaudeAgentOptions(env=...)`: stand-in URL, any API key, private config/tmp, bounded retries.

    Without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC the CLI tries to reach the internet; with the
    default CLAUDE_CODE_MAX_RETRIES (10) a failing API takes about three minutes to report an error.
    """
    config, tmp = state_dir / "claude-config", state_dir / "claude-tmp"
    config.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CONFIG_DIR": str(config),
        "CLAUDE_CODE_TMPDIR": str(tmp),
        "CLAUDE_CODE_MAX_RETRIES": str(max_retries),
    }
