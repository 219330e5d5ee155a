"""Unit tests for reading prompts and planning the stand-in's replies (no HTTP, no CLI)."""

from __future__ import annotations

from typing import Any

from runtime.standin.directives import (
    Conversation,
    find_cwd,
    offered_tools,
    parse_directives,
    result_text,
    strip_directives,
)
from runtime.standin.replies import plan_reply, title_for

CWD = "/srv/work"
ENV = {"role": "system", "content": [{"type": "text", "text": f"# Environment\n - Primary working directory: {CWD}\n"}]}
REMINDER = {"type": "text", "text": "<system-reminder>\nAttribution...\n</system-reminder>\n"}


def user(*texts: str, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"role": "user", "content": [*(results or []), REMINDER, *({"type": "text", "text": t} for t in texts)]}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def tool_use(tool_id: str, name: str = "Write") -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": {}}


def tool_result(tool_id: str, content: str = "ok", is_error: bool = False) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": content, "is_error": is_error}


def never_seen(key: str) -> int:
    return 0


def reply_to(*messages: dict[str, Any]) -> Any:
    return plan_reply({"messages": [messages[0], ENV, *messages[1:]]}, never_seen)


def test_directives_follow_shell_quoting() -> None:
    found = parse_directives('go [[write path=a/b.txt content="hello world\\nbye"]] and [[slow ms=5]] [[drop]]')
    assert [d.name for d in found] == ["write", "slow", "drop"]
    assert found[0].args == {"path": "a/b.txt", "content": "hello world\\nbye"}
    assert found[0].text("content") == "hello world\nbye"
    assert found[1].number("ms", 0) == 5
    assert strip_directives("a [[drop]] b") == "a b"


def test_prompt_is_last_typed_text_and_merged_user_messages_count_as_turns() -> None:
    # After an interrupt the CLI merges the interrupted prompt, its notice and the next prompt into one message.
    merged = {
        "role": "user",
        "content": [
            REMINDER,
            {"type": "text", "text": "first\n"},
            {"type": "text", "text": "[Request interrupted by user]\n"},
            {"type": "text", "text": "second"},
        ],
    }
    conversation = Conversation([merged, ENV])
    assert conversation.prompt == "second"
    assert [text for _, text in conversation.prompts()] == ["first", "second"]


def test_cwd_comes_from_the_system_role_message_or_the_system_prompt() -> None:
    assert find_cwd({"messages": [user("hi"), ENV]}) == CWD
    assert find_cwd({"system": [{"type": "text", "text": "Working directory: /x/y"}], "messages": []}) == "/x/y"
    assert find_cwd({"messages": [user("hi")]}) is None


def test_default_reply_echoes_the_prompt() -> None:
    reply = reply_to(user("hello there"))
    assert (reply.kind, reply.text, reply.stop_reason) == ("echo", "Echo: hello there", "end_turn")


def test_write_asks_for_the_tool_then_summarises_after_the_result() -> None:
    prompt = 'please [[write path=notes/a.txt content="hi there"]]'
    first = reply_to(user(prompt))
    assert first.kind == "tool" and first.stop_reason == "tool_use"
    assert first.tool is not None
    assert (first.tool.name, first.tool.input) == ("Write", {"file_path": f"{CWD}/notes/a.txt", "content": "hi there"})
    done = reply_to(user(prompt), assistant(tool_use("t1")), user(results=[tool_result("t1")]))
    assert (done.kind, done.text) == ("tool_done", "Wrote notes/a.txt.")


def test_edit_reads_first_and_steps_run_in_order() -> None:
    prompt = "[[edit path=a.txt old=x new=y]] [[bash cmd='ls -la']]"
    history: list[dict[str, Any]] = [user(prompt)]
    names = []
    for n in range(3):
        reply = reply_to(*history)
        assert reply.tool is not None
        names.append(reply.tool.name)
        history += [assistant(tool_use(f"t{n}", reply.tool.name)), user(results=[tool_result(f"t{n}", f"out{n}")])]
    assert names == ["Read", "Edit", "Bash"]
    assert reply_to(*history).text == "Edited a.txt.\nRan `ls -la`: out2"


def test_failed_tool_is_reported() -> None:
    prompt = "[[write path=a.txt content=x]]"
    reply = reply_to(user(prompt), assistant(tool_use("t1")), user(results=[tool_result("t1", "denied", True)]))
    assert reply.text == "Write failed: denied"


def test_recall_counts_typed_prompts_and_names_the_first() -> None:
    reply = reply_to(user("one"), assistant({"type": "text", "text": "Echo: one"}), user("[[recall]]"))
    assert reply.text == "Recall: 2 user turns; first prompt: one"


def test_recall_quotes_the_user_memory_the_cli_sent() -> None:
    memory = {
        "type": "text",
        "text": "<system-reminder>\nCodebase and user instructions are shown below.\n\n"
        "Contents of /state/claude/CLAUDE.md (user's private global instructions for all projects):\n\n"
        "# Person\n- likes herons\n\nContents of /w/CLAUDE.md (project instructions, checked into the codebase):"
        "\n\nproject notes\n</system-reminder>",
    }
    first = {"role": "user", "content": [memory, {"type": "text", "text": "[[recall]]"}]}
    reply = reply_to(first)
    assert reply.text == "Recall: 1 user turns; first prompt: [[recall]]\nMemory: # Person - likes herons"


def test_call_runs_any_tool_by_name_and_tools_lists_the_offered_ones() -> None:
    prompt = "[[call tool=mcp__local__shout text=hi]]"
    reply = reply_to(user(prompt))
    assert reply.tool is not None and (reply.tool.name, reply.tool.input) == ("mcp__local__shout", {"text": "hi"})
    done = reply_to(
        user(prompt), assistant(tool_use("t1", "mcp__local__shout")), user(results=[tool_result("t1", "HI")])
    )
    assert done.text == "Called mcp__local__shout: HI"
    deferred = {
        "type": "text",
        "text": "<system-reminder>\nDeferred tools:\nWebFetch\nmcp__local__shout\n</system-reminder>",
    }
    body = {
        "tools": [{"name": "Bash"}, {"name": "mcp__web__echo"}],
        "messages": [{"role": "user", "content": [deferred, {"type": "text", "text": "[[tools prefix=mcp__]]"}]}, ENV],
    }
    assert plan_reply(body, never_seen).text == "Tools: mcp__web__echo, mcp__local__shout"
    # The CLI's own deferred tools are listed in its system prompt, one a line.
    listed = (
        "The following deferred tools are now available via ToolSearch. Their schemas are NOT loaded:\n"
        "CronCreate\nTaskCreate\nTaskUpdate\nWebFetch\n\nAvailable agent types for the Agent tool:\n- claude"
    )
    body = {"system": [{"type": "text", "text": listed}], "tools": [{"name": "Bash"}], "messages": [user("x"), ENV]}
    assert offered_tools(body) == ["Bash", "CronCreate", "TaskCreate", "TaskUpdate", "WebFetch"]


def test_the_clis_own_notes_are_not_prompts() -> None:
    """After a ToolSearch that loaded a deferred tool, the CLI adds "Tool loaded." beside the result: the
    turn goes on with the next scripted step instead of answering it as a new prompt."""
    prompt = '[[tool name=ToolSearch input=\'{"query": "select:TaskCreate"}\']] [[tool name=TaskCreate]]'
    reference = {"type": "tool_reference", "tool_name": "TaskCreate"}
    loaded = {"type": "tool_result", "tool_use_id": "t1", "content": [reference]}
    reply = reply_to(
        user(prompt),
        assistant(tool_use("t1", "ToolSearch")),
        {"role": "user", "content": [loaded, {"type": "text", "text": "Tool loaded."}]},
    )
    assert reply.tool is not None and reply.tool.name == "TaskCreate"
    # Nor are the reminders it adds to a tool's result part of what the stand-in quotes.
    reminder = "<system-reminder>\n<total_tokens>9</total_tokens>\n</system-reminder>"
    created = tool_result("t2", f"Task #1 created successfully: Plan\n\n{reminder}")
    assert result_text(created) == "Task #1 created successfully: Plan"


def test_pacing_errors_and_words() -> None:
    reply = reply_to(user("[[slow ms=20]] [[sleep s=1.5]] [[words n=5]]"))
    assert (reply.chunk_delay_s, reply.sleep_s, reply.kind) == (0.02, 1.5, "words")
    assert len(reply.text.split()) == 5
    assert reply_to(user("[[error status=529]]")).error_status == 529


def test_error_times_fails_only_the_first_attempts() -> None:
    counts: dict[str, int] = {}

    def seen(key: str) -> int:
        counts[key] = counts.get(key, 0) + 1
        return counts[key] - 1

    body = {"messages": [user("[[error status=529 times=1]]"), ENV]}
    assert plan_reply(body, seen).error_status == 529
    assert plan_reply(body, seen).error_status is None


def test_title_uses_conversation_words_and_ignores_directives() -> None:
    prompt = (
        "Title: write a 3-6 word title for this conversation.\nUser: how do I bake sourdough bread [[write path=x]]"
    )
    reply = reply_to(user(prompt))
    assert reply.kind == "title" and reply.tool is None
    assert reply.text == "Bake Sourdough Bread"
    assert title_for("Title: ...") == "New conversation"


def test_title_of_blus_own_title_prompt_has_no_speaker_labels() -> None:
    from runtime.agent.options import prompt

    text = prompt("title").format(user_text="Hello Blu, can you help", assistant_text="Echo: Hello Blu")
    assert title_for(text) == "Hello Blu Help"
