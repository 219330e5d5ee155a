"""The keys of Blu's one JSON secret: what the data stack declares, the task receives and set_secret fills."""

from __future__ import annotations

SECRET_KEYS: tuple[str, ...] = (
    "CLAUDE_CODE_OAUTH_TOKEN",
    "AUTH_PASSWORD_HASH",
    "SESSION_SECRET",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "OPENAI_API_KEY",
    "NOTION_API_KEY",
    "GITHUB_TOKEN",
)
