"""Reads what a Messages API request asks for: the user's prompt, its `[[...]]` directives, the cwd."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

_DIRECTIVE = re.compile(r"\[\[\s*([a-z_]+)\b(.*?)\]\]", re.DOTALL)
_CWD = re.compile(r"(?:Primary working directory|Working directory|cwd):\s*(/[^\n]*)", re.IGNORECASE)
# Text the CLI itself adds to user messages, never typed: reminders, notes, and "Tool loaded." beside the
# result of a ToolSearch that loaded a deferred tool's schema.
_NOISE_PREFIXES = (
    "<system-reminder>",
    "[Request interrupted",
    "<local-command",
    "<command-name>",
    "[Image: source:",
    "Tool loaded.",
)


@dataclass(frozen=True)
class Directive:
    """One `[[name key=value key="quoted value"]]` instruction found in a prompt."""

    name: str
    args: dict[str, str] = field(default_factory=dict)

    def text(self, key: str, default: str = "") -> str:
        """An argument with `\\n` and `\\t` escapes decoded, so file contents can span lines."""
        return self.args.get(key, default).replace("\\n", "\n").replace("\\t", "\t")

    def number(self, key: str, default: float) -> float:
        try:
            return float(self.args[key])
        except (KeyError, ValueError):
            return default


def parse_directives(prompt: str) -> list[Directive]:
    """All directives in order; arguments follow shell quoting, so `content="a b"` keeps its space."""
    found = []
    for match in _DIRECTIVE.finditer(prompt):
        try:
            words = shlex.split(match.group(2))
        except ValueError:  # unbalanced quotes: take the words as they are
            words = match.group(2).split()
        args = {key: value for key, _, value in (word.partition("=") for word in words)}
        found.append(Directive(match.group(1), args))
    return found


def strip_directives(prompt: str) -> str:
    return " ".join(_DIRECTIVE.sub(" ", prompt).split())


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)]


def prompt_texts(message: dict[str, Any]) -> list[str]:
    """What the person typed in a user message, leaving out text the CLI adds itself (reminders, notices).

    The CLI merges consecutive user messages (e.g. an interrupted prompt and the next one), so one
    message can hold several prompts, one per text block.
    """
    if message.get("role") != "user":
        return []
    texts = (block.get("text", "").strip() for block in _blocks(message) if block.get("type") == "text")
    return [text for text in texts if text and not text.startswith(_NOISE_PREFIXES)]


@dataclass(frozen=True)
class Conversation:
    """The request's messages seen as turns: prompts typed, and tool calls made since the last prompt."""

    messages: list[dict[str, Any]]

    def prompts(self) -> list[tuple[int, str]]:
        """Every prompt typed so far, with the index of the message that carries it."""
        return [(i, text) for i, message in enumerate(self.messages) for text in prompt_texts(message)]

    @property
    def prompt(self) -> str:
        prompts = self.prompts()
        return prompts[-1][1] if prompts else ""

    def _since_prompt(self) -> list[dict[str, Any]]:
        prompts = self.prompts()
        return self.messages[prompts[-1][0] + 1 :] if prompts else list(self.messages)

    def tool_uses_this_turn(self) -> list[dict[str, Any]]:
        return [
            block
            for message in self._since_prompt()
            if message.get("role") == "assistant"
            for block in _blocks(message)
            if block.get("type") == "tool_use"
        ]

    def tool_results_this_turn(self) -> dict[str, dict[str, Any]]:
        return {
            str(block.get("tool_use_id")): block
            for message in self._since_prompt()
            if message.get("role") == "user"
            for block in _blocks(message)
            if block.get("type") == "tool_result"
        }

    @property
    def carries_tool_result(self) -> bool:
        """True when the last user message answers a tool call (the CLI's follow-up request)."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return bool(users) and any(b.get("type") == "tool_result" for b in _blocks(users[-1]))


def find_cwd(body: dict[str, Any]) -> str | None:
    """The session's working directory, which the CLI states in a system-role message or the system prompt."""
    system = body.get("system")
    texts = [system] if isinstance(system, str) else [b.get("text", "") for b in system or []]
    for message in body.get("messages", []):
        texts += [b.get("text", "") for b in _blocks(message) if b.get("type") == "text"]
    for text in texts:
        if match := _CWD.search(text or ""):
            return match.group(1).strip()
    return None


_USER_MEMORY = re.compile(
    r"Contents of (\S+) \(user's private global instructions for all projects\):\n\n(.*?)"
    r"(?=\n\nContents of |\n</system-reminder>|$)",
    re.DOTALL,
)
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_MCP_TOOL = re.compile(r"\bmcp__[A-Za-z0-9_-]+__[A-Za-z0-9_-]+")
# The CLI's list of deferred tools (schemas loaded through ToolSearch), one name a line, in its system prompt.
_DEFERRED_LIST = re.compile(r"deferred tools are now available[^\n]*\n((?:[A-Za-z][A-Za-z0-9_-]*\n)+)")


def _all_texts(body: dict[str, Any]) -> list[str]:
    """Every text of a request, the CLI's own reminders included (where it puts memory and deferred tools)."""
    system = body.get("system")
    texts = [system] if isinstance(system, str) else [b.get("text", "") for b in system or []]
    for message in body.get("messages", []):
        texts += [b.get("text", "") for b in _blocks(message) if b.get("type") == "text"]
    return [text for text in texts if isinstance(text, str)]


def user_memory(body: dict[str, Any]) -> str | None:
    """The user-level CLAUDE.md the CLI sent with the request (it quotes the file in a reminder), or None."""
    for text in _all_texts(body):
        if match := _USER_MEMORY.search(text):
            return match.group(2).strip()
    return None


def offered_tools(body: dict[str, Any]) -> list[str]:
    """The tools a request offers: its `tools` array, plus the tools the CLI names as deferred (their
    schemas load through ToolSearch, so they appear only by name: MCP tools in a reminder, the CLI's own
    in its list of deferred tools)."""
    names = [str(tool.get("name")) for tool in body.get("tools") or [] if isinstance(tool, dict)]
    for text in _all_texts(body):
        found = _MCP_TOOL.findall(text)
        for listed in _DEFERRED_LIST.findall(text):
            found += listed.split()
        names += [name for name in dict.fromkeys(found) if name not in names]
    return names


def result_text(block: dict[str, Any]) -> str:
    """A tool_result's content as plain text, without the reminders the CLI adds to it."""
    content = block.get("content")
    if isinstance(content, list):
        text = "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    else:
        text = str(content or "")
    return _REMINDER.sub("", text).strip()
