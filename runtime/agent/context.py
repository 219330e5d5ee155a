"""How full Claude's context is: the last request's input over the window of the model in use."""

from __future__ import annotations

import re
from typing import Any

# Context windows by model id prefix, from Anthropic's model pages (platform.claude.com/docs/en/about-claude/
# models/overview and build-with-claude/context-windows, read 2026-11): every model from the 4.6 generation
# on holds 1M tokens; "other Claude models, including Claude Sonnet 4.5, have a 200k-token context window".
# The first matching prefix wins, so longer prefixes come first.
CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("claude-fable-5", 1_000_000),
    ("claude-mythos-5", 1_000_000),
    ("claude-opus-5", 1_000_000),
    ("claude-sonnet-5", 1_000_000),
    ("claude-haiku-5", 1_000_000),
    ("claude-opus-4-8", 1_000_000),
    ("claude-opus-4-7", 1_000_000),
    ("claude-opus-4-6", 1_000_000),
    ("claude-sonnet-4-6", 1_000_000),
    ("claude-opus-4", 200_000),
    ("claude-sonnet-4", 200_000),
    ("claude-haiku-4", 200_000),
    ("claude-3", 200_000),
)
# A model the table does not know: Claude Code's own assumption for an id it does not recognise.
DEFAULT_CONTEXT_WINDOW = 200_000
_ONE_MILLION = re.compile(r"\[1m\]", re.IGNORECASE)


def context_window(model: str | None, reported: int | None = None) -> int:
    """The window of `model` in tokens: what Claude Code reported for it (its result's `modelUsage`
    names the window it compacts against, 1M betas included) when it did, else the table, else the default."""
    if reported and reported > 0:
        return reported
    name = (model or "").lower()
    if _ONE_MILLION.search(name):
        return 1_000_000
    for prefix, window in CONTEXT_WINDOWS:
        if name.startswith(prefix):
            return window
    return DEFAULT_CONTEXT_WINDOW


def reported_window(model_usage: dict[str, Any] | None, model: str | None) -> int | None:
    """The `contextWindow` Claude Code's result reports for `model`, or None."""
    entry = (model_usage or {}).get(model or "")
    if not isinstance(entry, dict):
        return None
    window = entry.get("contextWindow")
    return int(window) if isinstance(window, int | float) and window > 0 else None
