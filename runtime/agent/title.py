"""A short title for a session from a small model, after its first exchange; first words as the fallback."""

from __future__ import annotations

import asyncio
import logging
import re

from runtime.agent.options import ClaudeEndpoint, claude_env, prompt
from runtime.settings import Settings

log = logging.getLogger(__name__)
TITLE_TIMEOUT_SECONDS = 45.0


def fallback_title(text: str, *, words: int = 6) -> str:
    cleaned = re.sub(r"\[\[.*?\]\]", " ", text)  # stand-in directives are not words
    parts = re.findall(r"[\w'’.-]+", cleaned)
    title = " ".join(parts[:words]) or "New session"
    return title[:60]


def clean_title(raw: str) -> str | None:
    line = raw.strip().splitlines()[0] if raw.strip() else ""
    line = line.strip().strip("\"'“”*#").strip().rstrip(".")
    if line.lower().startswith("title:"):
        line = line[6:].strip()
    words = line.split()
    if not words:
        return None
    return " ".join(words[:6])[:60]


async def generate_title(
    settings: Settings, endpoint: ClaudeEndpoint, user_text: str, assistant_text: str
) -> str | None:
    """Ask the title model for 3-6 words; None when it fails (the caller keeps the fallback)."""
    from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, TextBlock, query

    text = prompt("title").format(user_text=user_text[:2000], assistant_text=assistant_text[:2000])
    cwd = settings.data_dir / "titles"
    cwd.mkdir(parents=True, exist_ok=True)
    options = ClaudeAgentOptions(
        cwd=str(cwd),
        env=claude_env(settings, endpoint),
        model=settings.title_model,
        max_turns=1,
        tools=[],
        setting_sources=[],
        system_prompt="You write short, specific titles for conversations.",
    )
    reply: list[str] = []
    try:
        async with asyncio.timeout(TITLE_TIMEOUT_SECONDS):
            async for message in query(prompt=text, options=options):
                if isinstance(message, AssistantMessage):
                    reply.extend(block.text for block in message.content if isinstance(block, TextBlock))
    except Exception:
        log.warning("title generation failed", exc_info=True)
        return None
    return clean_title(" ".join(reply))
