"""Approvals through the worker's seam (FakeClaude asks `can_use_tool` as the CLI does): pause, answer, go on."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from claude_agent_sdk import PermissionResult, PermissionResultAllow, PermissionResultDeny

from runtime.agent.approvals import Answer, NotAccepting, StaleAnswer, UnknownTool, policy_tool_name
from tests.runtime import test_worker
from tests.runtime.fake_claude import Ask, Item, calls, init, result, tool_result, tool_use
from tests.runtime.test_worker import FINAL, Blu, of_type

make_blu = test_worker.make_blu  # the fixture: a SessionManager on a local store with FakeClaude

BASH = {"command": "rm -rf build", "description": "Clean"}
QUESTION = {
    "questions": [
        {
            "question": "Which colour?",
            "header": "Colour",
            "options": [{"label": "Blue", "description": "calm"}, {"label": "Red", "description": "loud"}],
            "multiSelect": False,
        }
    ]
}


def asks(name: str, tool_input: dict[str, Any], tool_id: str = "toolu_1") -> Callable[[str], list[Item]]:
    """A turn whose Claude calls `name` and, once Blu answers, runs it (or takes the refusal) and ends."""

    def script(prompt: str) -> list[Item]:
        def then(answer: PermissionResult) -> list[Any]:
            if isinstance(answer, PermissionResultAllow):
                used = answer.updated_input or tool_input
                outcome = tool_result(tool_id, f"ran with {json.dumps(used.get('answers', {}))}")
                text = "Done."
            else:
                outcome, text = tool_result(tool_id, answer.message, is_error=True), "Refused."
            return [outcome, *calls(prompt, text=text), result(prompt, 0.01, text=text)]

        return [
            init(),
            *calls(prompt, tool_use(tool_id, name, **tool_input)),
            Ask(tool_id, name, tool_input, then),
        ]

    return script


async def waiting_approval(blu: Blu, sid: str) -> dict[str, Any]:
    events = await blu.until(sid, lambda e: e.type == "approval.requested")
    return of_type(events, "approval.requested")[-1]


async def test_a_tool_set_to_ask_pauses_the_turn_until_a_person_allows_it(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(ask_tools="Bash", watchdog_seconds=0.2)
    blu.claude.answer(asks("Bash", BASH))
    sid = await blu.new_session()
    turn = await blu.send(sid, "clean up")
    approval = await waiting_approval(blu, sid)
    assert (approval["tool_name"], approval["input"], approval["status"], approval["kind"]) == (
        "Bash",
        BASH,
        "pending",
        "tool",
    )
    events = await blu.until(sid, lambda e: e.type == "turn.status" and e.data["status"] == "waiting")
    waiting = of_type(events, "turn.status")[-1]
    assert (waiting["reason"], waiting["approval_id"]) == ("approval", approval["id"])
    assert [a.id for a in await blu.store.pending_approvals()] == [approval["id"]]
    await asyncio.sleep(1)  # three watchdog periods: a stalled turn would have been stopped by now
    assert blu.manager.workers[sid].current is not None
    assert not any(e.type == "turn.status" and e.data["status"] in FINAL for e in blu.hub.log(sid)._after(0))

    record, replayed = await blu.manager.approvals.answer(sid, approval["id"], Answer("allow"))
    assert not replayed and (record.status, record.decided_by, record.delivered) == ("allowed", "person", "live")
    status, events = await blu.finished(sid, turn)
    assert status["status"] == "complete"
    assert of_type(events, "approval.resolved")[-1]["status"] == "allowed"
    assert [s["status"] for s in of_type(events, "turn.status")][-3:] == ["waiting", "running", "complete"]
    reply = await blu.reply(sid)
    assert reply.text.endswith("Done.")
    assert [(c.name, c.outcome, c.decision) for c in reply.tool_calls] == [("Bash", "ok", "allowed by person")]
    # The same answer again changes nothing; a different one is stale.
    assert (await blu.manager.approvals.answer(sid, approval["id"], Answer("allow")))[1] is True
    with pytest.raises(StaleAnswer):
        await blu.manager.approvals.answer(sid, approval["id"], Answer("deny"))


async def test_deny_goes_to_claude_and_into_the_audit_record(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(ask_tools="Bash")
    blu.claude.answer(asks("Bash", BASH))
    sid = await blu.new_session()
    turn = await blu.send(sid, "clean up")
    approval = await waiting_approval(blu, sid)
    await blu.manager.approvals.answer(sid, approval["id"], Answer("deny", message="not today"))
    status, _ = await blu.finished(sid, turn)
    assert status["status"] == "complete"
    (_, answer), *_ = blu.claude.clients[0].permissions
    assert isinstance(answer, PermissionResultDeny) and "not today" in answer.message
    (call,) = (await blu.reply(sid)).tool_calls
    assert (call.outcome, call.decision) == ("denied", "denied by person")


async def test_always_allow_changes_the_policy_for_the_next_call(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(tool_default="ask")
    blu.claude.answer(
        asks("mcp__github__create_issue", {"title": "x"}), asks("mcp__github__create_issue", {"title": "y"})
    )
    sid = await blu.new_session()
    first = await blu.send(sid, "file it")
    approval = await waiting_approval(blu, sid)
    await blu.manager.approvals.answer(sid, approval["id"], Answer("always"))
    await blu.finished(sid, first)
    assert await blu.store.get_tool_policy() == {"mcp__github__create_issue": "allow"}
    status, events = await blu.turn(sid, "again")
    assert status["status"] == "complete" and len(of_type(events, "approval.requested")) == 1
    (call,) = (await blu.reply(sid)).tool_calls
    assert call.decision == "allowed by always-allow rule"


async def test_policy_allows_and_denies_without_asking(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(disallowed_tools="mcp__shop", tool_default="allow")
    blu.claude.answer(asks("mcp__shop__buy", {"item": "boat"}), asks("Write", {"file_path": "a", "content": "b"}))
    sid = await blu.new_session()
    await blu.turn(sid, "buy")
    (call,) = (await blu.reply(sid)).tool_calls
    assert (call.outcome, call.decision) == ("denied", "denied by policy")
    await blu.turn(sid, "write")
    (call,) = (await blu.reply(sid)).tool_calls
    assert (call.outcome, call.decision) == ("ok", "allowed by policy")
    assert await blu.store.pending_approvals() == []


async def test_a_question_gets_the_persons_answers_in_the_tools_input(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu()
    blu.claude.answer(asks("AskUserQuestion", QUESTION))
    sid = await blu.new_session()
    turn = await blu.send(sid, "paint it")
    approval = await waiting_approval(blu, sid)
    assert approval["kind"] == "question" and approval["input"] == QUESTION
    await blu.manager.approvals.answer(sid, approval["id"], Answer("answer", answers={"Which colour?": "Teal"}))
    await blu.finished(sid, turn)
    (_, answer), *_ = blu.claude.clients[0].permissions
    assert isinstance(answer, PermissionResultAllow)
    assert answer.updated_input == {**QUESTION, "answers": {"Which colour?": "Teal"}}
    (call,) = (await blu.reply(sid)).tool_calls
    assert call.decision == "answered by person"


async def test_stopping_a_waiting_turn_denies_its_request(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(ask_tools="Bash")
    blu.claude.answer(asks("Bash", BASH))
    sid = await blu.new_session()
    turn = await blu.send(sid, "clean up")
    approval = await waiting_approval(blu, sid)
    assert await blu.manager.interrupt(sid)
    status, events = await blu.finished(sid, turn)
    assert status["status"] == "interrupted"
    stored = await blu.store.get_approval(sid, approval["id"])
    assert (stored.status, stored.message) == ("denied", "The person stopped the turn.")
    assert of_type(events, "approval.resolved")[-1]["id"] == approval["id"]


async def test_an_unanswered_wait_ends_the_turn_and_a_later_answer_resumes_the_work(
    make_blu: Callable[..., Blu],
) -> None:
    blu = make_blu(ask_tools="Bash", approval_wait_minutes=0.005)  # 0.3 s of waiting
    blu.claude.answer(asks("Bash", BASH))
    sid = await blu.new_session()
    turn = await blu.send(sid, "please clean up [[bash cmd='rm -rf build']]")
    approval = await waiting_approval(blu, sid)
    status, _ = await blu.finished(sid, turn)
    assert (status["status"], status["reason"]) == ("interrupted", "unanswered")
    assert (await blu.store.get_approval(sid, approval["id"])).status == "pending"  # still answerable

    blu.claude.answer(asks("Bash", BASH, tool_id="toolu_2"))  # the resumed turn asks for the same call
    record, _ = await blu.manager.approvals.answer(sid, approval["id"], Answer("allow"))
    assert record.delivered == "resumed"
    events = await blu.until(
        sid, lambda e: e.type == "turn.status" and e.data["status"] in FINAL and e.data["turn_id"] != turn
    )
    assert of_type(events, "turn.status")[-1]["status"] == "complete"
    prompts = [m for m in (await blu.store.list_messages(sid)).items if m.role == "user"]
    assert "allowed your call Bash" in prompts[-1].text and "please clean up" in prompts[-1].text
    # That prompt is Blu's, not the person's words: the UI shows it as Blu's note, never "You".
    assert [m.sent_by for m in prompts] == ["person", "blu"]
    assert len(of_type(events, "approval.requested")) == 1  # the stored decision was applied, not asked again
    (call,) = (await blu.reply(sid)).tool_calls
    assert (call.outcome, call.decision) == ("ok", "allowed by person (answered earlier)")
    assert (await blu.store.get_approval(sid, approval["id"])).delivered == "reapplied"


async def test_a_restart_while_waiting_keeps_the_request_and_the_answer_resumes_claude(
    make_blu: Callable[..., Blu],
) -> None:
    blu = make_blu(ask_tools="Bash")
    blu.claude.answer(asks("Bash", BASH))
    sid = await blu.new_session()
    turn = await blu.send(sid, "please clean up")
    approval = await waiting_approval(blu, sid)
    await blu.manager.shutdown(grace_seconds=5)
    assert (await blu.store.get_approval(sid, approval["id"])).status == "pending"
    with pytest.raises(NotAccepting):  # a stopping Blu could not queue the turn that carries the answer in
        await blu.manager.approvals.answer(sid, approval["id"], Answer("allow"))
    assert (await blu.store.get_approval(sid, approval["id"])).status == "pending"

    again = make_blu(ask_tools="Bash")  # a new process on the same store
    await again.manager.start()
    again.claude.answer(lambda prompt: [init(), *calls(prompt, text="Carrying on."), result(prompt, 0.02)])
    record, _ = await again.manager.approvals.answer(sid, approval["id"], Answer("deny"))
    assert record.delivered == "resumed"
    events = await again.until(sid, lambda e: e.type == "turn.status" and e.data["status"] in FINAL)
    assert of_type(events, "turn.status")[-1]["status"] == "complete"
    (client,) = again.claude.clients
    prompt = client.prompts[-1]["message"]["content"]
    assert "denied your call Bash" in prompt and "please clean up" in prompt
    assert turn not in {e.data["turn_id"] for e in events if e.type == "turn.status"}  # a new turn carried it


def test_the_policy_takes_run_time_entries_over_settings_and_servers_for_mcp_tools() -> None:
    from runtime.agent.approvals import ToolPolicy
    from runtime.settings import Settings

    policy = ToolPolicy(
        Settings(allowed_tools="Read,Bash", ask_tools="mcp__github", disallowed_tools="Bash", tool_default="deny")
    )
    assert (policy.mode_for("Bash").mode, policy.mode_for("Bash").source) == ("deny", "settings")  # deny wins
    assert policy.mode_for("Read").mode == "allow"
    assert policy.mode_for("mcp__github__create_issue").mode == "ask"  # the server's entry
    assert (policy.mode_for("WebFetch").mode, policy.mode_for("WebFetch").source) == ("deny", "default")
    policy.run_time = {"mcp__github__create_issue": "allow", "Bash": "ask"}
    assert (policy.mode_for("mcp__github__create_issue").mode, policy.mode_for("Bash").mode) == ("allow", "ask")
    assert policy.mode_for("mcp__github__delete_repo").mode == "ask"  # still the server's settings entry
    assert policy.mode_for("mcp__githubber__x").mode == "deny"  # another server: the default, not a prefix match


async def test_a_call_whose_input_is_over_the_stored_budget_still_gets_its_answer(
    make_blu: Callable[..., Blu],
) -> None:
    blu = make_blu(ask_tools="Write")
    big = {"file_path": "big.txt", "content": "x" * 40_000}
    blu.claude.answer(asks("Write", big))
    sid = await blu.new_session()
    turn = await blu.send(sid, "write it")
    approval = await waiting_approval(blu, sid)
    assert approval["input"]["text"].endswith("…[truncated]")  # the stored copy is cut to 16 kB
    await blu.manager.approvals.answer(sid, approval["id"], Answer("allow"))
    status, _ = await blu.finished(sid, turn)
    assert status["status"] == "complete"
    (_, answer), *_ = blu.claude.clients[0].permissions
    assert isinstance(answer, PermissionResultAllow)


def test_a_policy_entry_names_a_tool_as_claude_code_spells_it() -> None:
    """Entries match calls exactly: a built-in tool typed in another case is the tool's own name, and a name no
    call can have (it would silently do nothing) is refused."""
    assert [policy_tool_name(n) for n in ("bash", "BASH", "webfetch", "Bash", "NewToolOfNextYear")] == [
        "Bash",
        "Bash",
        "WebFetch",
        "Bash",
        "NewToolOfNextYear",
    ]
    assert policy_tool_name("mcp__github") == "mcp__github"
    assert policy_tool_name("mcp__my-server__do_it") == "mcp__my-server__do_it"
    for name in ("rm", "x" * 200, "mcp__", "mcp____tool", "mcp__server__", "mcp__server__*", "shell_exec", "*"):
        with pytest.raises(UnknownTool):
            policy_tool_name(name)
    rule = re.escape("whole tools (Bash), not for Claude Code's rules such as 'Bash(ls:*)'")
    with pytest.raises(UnknownTool, match=rule):
        policy_tool_name("Bash(ls:*)")
    with pytest.raises(UnknownTool, match="No Claude Code tool is named 'Bash Tool; rm -rf'"):
        policy_tool_name("Bash Tool; rm -rf")
