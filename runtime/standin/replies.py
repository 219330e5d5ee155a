"""Decides what the stand-in model answers to one request, from the directives in the user's prompt."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.standin.directives import (
    Conversation,
    Directive,
    find_cwd,
    offered_tools,
    parse_directives,
    result_text,
    user_memory,
)

_VOCABULARY_TEXT = "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar"
_STOPWORD_TEXT = (
    "a an and are as at be but by can could do does for from had has have how i in into is it its me my "
    "of on or our please should so that the their them then there these this to us was we were what "
    "when where which who why will with would you your user assistant human echo title write words "
    "conversation"
)
_VOCABULARY = _VOCABULARY_TEXT.split()
_SPEAKER = re.compile(r"^[ \t]*[A-Za-z][\w ]{0,20}:", re.MULTILINE)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class ToolCall:
    """A tool_use the stand-in asks the CLI to run; `done` is the summary line once its result is back."""

    name: str
    input: dict[str, Any]
    done: str
    quiet: bool = False  # a helper step (Read before Edit) left out of the final summary


@dataclass
class Reply:
    """One answer: text and/or a tool call, or an error status, plus pacing and failure injection."""

    kind: str
    text: str = ""
    tool: ToolCall | None = None
    error_status: int | None = None
    chunk_delay_s: float = 0.0
    sleep_s: float = 0.0
    drop: bool = False
    cache_read: int = 0  # `[[usage cache_read=N cache_write=M]]`: cached input the answer reports
    cache_write: int = 0

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.tool else "end_turn"


def _absolute(path: str, cwd: str | None) -> str:
    return path if posixpath.isabs(path) or not cwd else posixpath.normpath(posixpath.join(cwd, path))


def tool_steps(directives: list[Directive], cwd: str | None) -> list[ToolCall]:
    """The tool calls a prompt's directives ask for, in order (Edit needs a Read first in Claude Code)."""
    steps: list[ToolCall] = []
    for d in directives:
        path = d.args.get("path", "")
        file_path = _absolute(path, cwd)
        if d.name == "write":
            steps.append(ToolCall("Write", {"file_path": file_path, "content": d.text("content")}, f"Wrote {path}."))
        elif d.name == "read":
            steps.append(ToolCall("Read", {"file_path": file_path}, f"Read {path}:"))
        elif d.name == "edit":
            steps.append(ToolCall("Read", {"file_path": file_path}, f"Read {path}.", quiet=True))
            edit = {"file_path": file_path, "old_string": d.text("old"), "new_string": d.text("new")}
            steps.append(ToolCall("Edit", edit, f"Edited {path}."))
        elif d.name == "bash":
            command = d.args.get("cmd", "true")
            bash: dict[str, Any] = {"command": command, "description": "Run a command"}
            if d.args.get("background"):  # the CLI runs it in the background and reports its end later
                bash["run_in_background"] = True
            steps.append(ToolCall("Bash", bash, f"Ran `{command}`:"))
        elif d.name == "call":  # any tool by name (an MCP tool: mcp__<server>__<tool>), string arguments
            name = d.args.get("tool", "")
            arguments = {key: d.text(key) for key in d.args if key != "tool"}
            steps.append(ToolCall(name, arguments, f"Called {name}:"))
        elif d.name == "tool":  # any tool: [[tool name=AskUserQuestion input='{"questions": [...]}']]
            name = d.args.get("name", "")
            try:
                tool_input = json.loads(d.args.get("input", "{}"))
            except ValueError:
                tool_input = {"input": d.args.get("input", "")}
            steps.append(ToolCall(name, tool_input if isinstance(tool_input, dict) else {}, f"Used {name}:"))
    return steps


def _summary(steps: list[ToolCall], conversation: Conversation) -> str:
    """The closing text after the last tool result: one line per step, with output or the error."""
    results = conversation.tool_results_this_turn()
    lines = []
    for step, use in zip(steps, conversation.tool_uses_this_turn(), strict=False):
        result = results.get(str(use.get("id")), {})
        output = " ".join(result_text(result).split())[:200]
        if result.get("is_error"):
            lines.append(f"{step.name} failed: {output}")
        elif not step.quiet:
            lines.append(f"{step.done} {output}" if step.done.endswith(":") else step.done)
    return "\n".join(lines) or "Done."


def title_for(prompt: str) -> str:
    """A 2-5 word title from the conversation's own words (the text after the `Title:` instruction)."""
    body = prompt.split("\n", 1)[1] if "\n" in prompt else prompt.split(":", 1)[-1]
    body = re.sub(r"\[\[.*?\]\]", " ", body, flags=re.DOTALL)
    body = _SPEAKER.sub("", body)  # "Person:", "Assistant:" and the like name a speaker, not the topic
    words: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z0-9'-]*", body):
        known = {w.lower() for w in words} | _STOPWORDS
        if len(word) > 1 and word.lower() not in known:
            words.append(word)
    return " ".join(w.capitalize() for w in words[:4]) or "New conversation"


def _text_for(directive: Directive, conversation: Conversation, body: dict[str, Any]) -> str | None:
    """The answer text of `recall`, `tools`, `words` and `say`; None for directives that produce no text.

    `recall` adds a `Memory:` line when the request carried the user-level CLAUDE.md (whitespace joined)."""
    if directive.name == "recall":
        prompts = conversation.prompts()
        first = prompts[0][1] if prompts else ""
        recalled = f"Recall: {len(prompts)} user turns; first prompt: {first}"
        memory = user_memory(body)
        return f"{recalled}\nMemory: {' '.join(memory.split())}" if memory is not None else recalled
    if directive.name == "tools":  # `[[tools prefix=mcp__]]`: the tools offered, by name
        prefix = directive.args.get("prefix", "")
        return "Tools: " + ", ".join(name for name in offered_tools(body) if name.startswith(prefix))
    if directive.name == "words":
        count = int(directive.number("n", 100))
        return " ".join(_VOCABULARY[i % len(_VOCABULARY)] for i in range(count)) + "."
    if directive.name == "say":
        return directive.text("text")
    return None


def plan_reply(body: dict[str, Any], seen: Callable[[str], int], default_cwd: str | None = None) -> Reply:
    """Choose the answer. `seen(key)` counts earlier requests with the same key (for `[[error times=N]]`)."""
    conversation = Conversation(body.get("messages", []))
    prompt = conversation.prompt
    if prompt.lstrip().lower().startswith("title:"):
        return Reply("title", text=title_for(prompt))
    directives = parse_directives(prompt)
    reply = Reply("echo")
    for d in directives:
        if d.name == "slow":
            reply.chunk_delay_s = d.number("ms", 100) / 1000
        elif d.name == "sleep":
            reply.sleep_s = d.number("s", 30)
        elif d.name == "drop":
            reply.drop = True
        elif d.name == "usage":
            reply.cache_read = int(d.number("cache_read", 0))
            reply.cache_write = int(d.number("cache_write", 0))
    errors = [d for d in directives if d.name == "error"]
    if errors and seen(f"error:{prompt}") < errors[0].number("times", float("inf")):
        reply.kind, reply.error_status = "error", int(errors[0].number("status", 500))
        return reply
    steps = tool_steps(directives, find_cwd(body) or default_cwd)
    made = len(conversation.tool_uses_this_turn())
    if made < len(steps):
        step = steps[made]
        reply.kind, reply.tool, reply.text = "tool", step, f"Using {step.name}."
        return reply
    if steps:
        reply.kind, reply.text = "tool_done", _summary(steps, conversation)
        return reply
    texts = [(d.name, text) for d in directives if (text := _text_for(d, conversation, body)) is not None]
    if texts:
        reply.kind = texts[0][0] if len(texts) == 1 else "text"
        reply.text = "\n".join(text for _, text in texts)
    else:
        reply.text = f"Echo: {prompt}"
    return reply
