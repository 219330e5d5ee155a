"""Turns through the worker's seam: real SDK message objects from an in-memory client, no CLI."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import PermissionResultAllow, PermissionResultDeny, ToolPermissionContext

from core.store.aio import AsyncStore
from core.store.local import LocalStore
from core.store.models import SessionRecord, new_id, new_message_id, reply_id_for
from runtime.agent.capacity import CLI_MEMORY_MIB, RESERVED_MEMORY_MIB
from runtime.agent.events import Event, EventHub
from runtime.agent.manager import SessionManager
from runtime.agent.options import ClaudeEndpoint
from runtime.settings import Settings
from tests.runtime.fake_claude import (
    CLAUDE_SESSION,
    HANG,
    FakeClaude,
    Item,
    Quiet,
    calls,
    init,
    interrupted,
    model_call,
    result,
    said,
    text_turn,
    tool_result,
    tool_use,
)

FINAL = ("complete", "interrupted", "error")
RUNNING_KEYS = {"turn_id", "status", "message_id", "user_message_id", "tier"}
ENDED_KEYS = RUNNING_KEYS | {"reason", "duration_ms", "first_token_ms"}
TOOL_KEYS = {
    "turn_id",
    "message_id",
    "id",
    "text_offset",
    "name",
    "input_summary",
    "outcome",
    "result_summary",
    "duration_ms",
    "decision",
}


@dataclass
class Blu:
    """A SessionManager on a local store, whose Claude is `claude`; read through the hub as a reader would."""

    settings: Settings
    store: AsyncStore
    hub: EventHub
    manager: SessionManager
    claude: FakeClaude

    async def new_session(self) -> str:
        session = SessionRecord(id=new_id())
        await self.store.create_session(session)
        return session.id

    async def send(self, sid: str, text: str) -> str:
        request, _position, _message = await self.manager.submit(sid, text, "text")
        return request.turn_id

    async def until(self, sid: str, found: Callable[[Event], bool]) -> list[Event]:
        """Every event of the session so far, once one satisfies `found` (a guard ends a test that hangs)."""
        log, after = self.hub.log(sid), 0
        async with asyncio.timeout(30):
            while True:
                read = await log.read(after=after, wait=5)
                after = read.next
                if any(found(event) for event in read.events):
                    return log._after(0)

    async def finished(self, sid: str, turn_id: str) -> tuple[dict[str, Any], list[Event]]:
        """The turn's last `turn.status` and every event of the session up to it."""

        def ends(event: Event) -> bool:
            return event.type == "turn.status" and event.data["turn_id"] == turn_id and event.data["status"] in FINAL

        events = await self.until(sid, ends)
        return next(e.data for e in events if ends(e)), events

    async def turn(self, sid: str, text: str) -> tuple[dict[str, Any], list[Event]]:
        return await self.finished(sid, await self.send(sid, text))

    async def reply(self, sid: str) -> Any:
        return (await self.store.list_messages(sid, limit=200)).items[-1]


@pytest.fixture
async def make_blu(tmp_path: Path) -> AsyncIterator[Callable[..., Blu]]:
    """Makes the test's Blu with these settings (field names), and stops it after the test."""
    made: list[tuple[Blu, LocalStore]] = []

    def make(local_store: Callable[[Path], LocalStore] = LocalStore, **settings: Any) -> Blu:
        config = Settings(**{"data_dir": tmp_path, "title_mode": "words", "task_memory_mib": 4096, **settings})
        local = local_store(tmp_path / "blu.db")
        store, hub, claude = AsyncStore(local), EventHub(), FakeClaude()
        endpoint = ClaudeEndpoint(base_url=None, api_key="test-key", oauth_token=None)
        manager = SessionManager(settings=config, store=store, hub=hub, endpoint=endpoint, client_factory=claude)
        made.append((Blu(config, store, hub, manager, claude), local))
        return made[-1][0]

    yield make
    for blu, local in made:
        await blu.manager.shutdown(grace_seconds=5)
        local.close()


@pytest.fixture
def blu(make_blu: Callable[..., Blu]) -> Blu:
    return make_blu()


def of_type(events: list[Event], type_: str) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == type_]


async def test_a_text_reply_streams_in_order_and_is_stored_with_its_usage_and_cost(blu: Blu) -> None:
    blu.claude.answer(
        text_turn("Hel", "lo ", "there", total_cost_usd=0.25, input_tokens=10, cached_tokens=5, output_tokens=7)
    )
    sid = await blu.new_session()
    status, events = await blu.turn(sid, "hi")

    types = [e.type for e in events]
    assert types[:4] == ["message.complete", "turn.status", "session.updated", "turn.status"]
    assert types[-3:] == ["message.complete", "turn.status", "session.updated"]
    assert set(types[4:-3]) == {"message.delta"}
    running = events[3].data
    assert running["status"] == "running" and running["tier"] == "cold" and set(running) == RUNNING_KEYS
    assert status["status"] == "complete" and status["reason"] is None and set(status) == ENDED_KEYS
    deltas = of_type(events, "message.delta")
    assert all(set(d) == {"turn_id", "message_id", "text", "received_at"} for d in deltas)
    assert "".join(d["text"] for d in deltas) == "Hello there"

    reply = of_type(events, "message.complete")[-1]["message"]
    assert reply["id"] == status["message_id"] == deltas[0]["message_id"]
    assert (reply["text"], reply["state"], reply["error"]) == ("Hello there", "complete", None)
    assert (reply["input_tokens"], reply["output_tokens"], reply["cost_usd"]) == (15, 7, 0.25)
    stored = await blu.reply(sid)
    assert (stored.text, stored.state, stored.cost_usd) == ("Hello there", "complete", 0.25)
    session = await blu.store.get_session(sid)
    assert (session.message_count, session.input_tokens, session.output_tokens) == (2, 15, 7)
    assert session.claude_session_id == CLAUDE_SESSION and session.running_turn_id is None

    (client,) = blu.claude.clients
    prompt = (await blu.store.list_messages(sid)).items[0]
    assert client.prompts == [
        {
            "type": "user",
            "message": {"role": "user", "content": "hi"},
            "parent_tool_use_id": None,
            "uuid": prompt.claude_message_uuid,  # the prompt's entry in Claude's transcript
        }
    ]
    assert client.options.resume is None and client.options.include_partial_messages
    assert client.options.cwd == str(blu.settings.workspace_dir)


async def test_hot_then_warm_then_cold_and_each_turn_costs_its_share_of_the_running_total(blu: Blu) -> None:
    sid = await blu.new_session()
    blu.claude.answer(text_turn("one", total_cost_usd=0.01), text_turn("two", total_cost_usd=0.03))
    first, _ = await blu.turn(sid, "one")
    second, _ = await blu.turn(sid, "two")
    assert (first["tier"], second["tier"]) == ("cold", "hot")
    assert len(blu.claude.clients) == 1  # one connection, both turns
    assert (await blu.reply(sid)).cost_usd == pytest.approx(0.02)

    (client,) = blu.claude.clients
    blu.manager.workers[sid].demote()
    async with asyncio.timeout(30):
        await client.gone.wait()
    # Claude's transcript is on disk: the next turn resumes it, and its total goes on from the cost the CLI saved
    # in it when it exited (a `cost-state` entry, as Claude Code writes one).
    transcripts = blu.settings.claude_config_dir / "projects" / "workspace"
    transcripts.mkdir(parents=True)
    saved = {"type": "cost-state", "sessionId": CLAUDE_SESSION, "totalCostUSD": 0.03}
    (transcripts / f"{CLAUDE_SESSION}.jsonl").write_text("{}\n" + json.dumps(saved, separators=(",", ":")) + "\n")
    blu.claude.answer(text_turn("three", total_cost_usd=0.07))
    third, _ = await blu.turn(sid, "three")
    assert third["tier"] == "warm" and blu.claude.clients[-1].options.resume == CLAUDE_SESSION
    assert (await blu.reply(sid)).cost_usd == pytest.approx(0.04)

    blu.manager.workers[sid].demote()  # taken once the third turn has ended, if no turn is queued by then
    async with asyncio.timeout(30):
        await blu.claude.clients[-1].gone.wait()
    (transcripts / f"{CLAUDE_SESSION}.jsonl").unlink()
    blu.claude.answer(text_turn("four", total_cost_usd=0.02))
    fourth, _ = await blu.turn(sid, "four")
    assert fourth["tier"] == "cold" and blu.claude.clients[-1].options.resume is None
    assert len(blu.claude.clients) == 3
    assert (await blu.reply(sid)).cost_usd == pytest.approx(0.02)
    assert (await blu.store.get_session(sid)).cost_usd == pytest.approx(0.01 + 0.02 + 0.04 + 0.02)


async def test_a_tool_call_and_its_result_become_audit_records_events_and_an_artifact(blu: Blu) -> None:
    target = blu.settings.workspace_dir / "reports" / "today.md"
    write = tool_use("toolu_1", "Write", file_path=str(target), content="# Today")

    def script(prompt: str) -> list[Item]:
        return [
            init(),
            *model_call(prompt, "I'll ", "write it.", tools=(write,)),  # two chunks within one interval
            said("I'll write it.", write),
            tool_result(
                "toolu_1", "File created", tool_use_result={"type": "create", "filePath": str(target), "content": ""}
            ),
            *model_call(prompt, "Done."),
            said("Done."),
            result(prompt, 0.05, text="Done."),
        ]

    blu.claude.answer(script)
    sid = await blu.new_session()
    status, events = await blu.turn(sid, "write today's report")
    assert status["status"] == "complete"

    types = [e.type for e in events]
    call_at = types.index("tool.call")
    before = "".join(e.data["text"] for e in events[:call_at] if e.type == "message.delta")
    assert before == "I'll write it."  # the text before the call reaches readers first, all of it
    assert types[call_at : call_at + 3] == ["tool.call", "tool.result", "artifact.changed"]
    (call,), (finished,) = of_type(events, "tool.call"), of_type(events, "tool.result")
    assert set(call) == set(finished) == TOOL_KEYS
    assert (call["id"], call["name"], call["outcome"], call["message_id"]) == (
        "toolu_1",
        "Write",
        "pending",
        status["message_id"],
    )
    assert "today.md" in call["input_summary"]
    assert (finished["outcome"], finished["result_summary"]) == ("ok", "File created")
    assert finished["duration_ms"] is not None
    (artifact,) = of_type(events, "artifact.changed")
    assert set(artifact) == {"turn_id", "path", "session_id", "operation", "tool", "updated_at"}
    assert (artifact["path"], artifact["operation"], artifact["tool"]) == ("reports/today.md", "create", "Write")
    assert [a.path for a in await blu.store.list_artifacts(sid)] == ["reports/today.md"]

    streamed = "".join(d["text"] for d in of_type(events, "message.delta"))
    reply = await blu.reply(sid)
    assert streamed == reply.text == "I'll write it.\n\nDone."  # two text blocks, one paragraph each
    assert [(c.name, c.outcome) for c in reply.tool_calls] == [("Write", "ok")]
    assert (reply.input_tokens, reply.output_tokens) == (20, 10)  # both model calls


async def test_tool_outcomes_and_which_file_changes_are_artifacts(blu: Blu) -> None:
    outside = blu.settings.data_dir.parent / "elsewhere.txt"
    from_result = blu.settings.workspace_dir / "from-result.md"

    def script(prompt: str) -> list[Item]:
        return [
            init(),
            *calls(
                prompt,
                tool_use("toolu_a", "Bash", command="false"),
                tool_use("toolu_b", "WebFetch", url="https://example.com"),
                tool_use("toolu_c", "Edit", file_path=str(outside), old_string="a", new_string="b"),
                tool_use("toolu_d", "Write", file_path="notes.md", content="new"),  # relative to the workspace
                tool_use("toolu_e", "MultiEdit", edits=[]),  # no path in the input: the result names it
            ),
            tool_result("toolu_a", "Exit code 1", is_error=True),
            tool_result("toolu_b", "Permission to use WebFetch has been denied.", is_error=True),
            tool_result("toolu_c", "The file has been updated.", tool_use_result={"filePath": str(outside)}),
            tool_result("toolu_d", "The file has been overwritten.", tool_use_result={"type": "update"}),
            tool_result("toolu_e", "Edited.", tool_use_result={"filePath": str(from_result)}),
            tool_result("toolu_unknown", "a result for a call never seen"),
            said("Tried."),
            result(prompt, 0.01, text="Tried."),
        ]

    blu.claude.answer(script)
    sid = await blu.new_session()
    status, events = await blu.turn(sid, "try things")
    assert status["status"] == "complete"
    outcomes = [(r["name"], r["outcome"]) for r in of_type(events, "tool.result")]
    assert outcomes == [("Bash", "error"), ("WebFetch", "denied"), ("Edit", "ok"), ("Write", "ok"), ("MultiEdit", "ok")]
    changed = [(a["path"], a["operation"], a["tool"]) for a in of_type(events, "artifact.changed")]
    assert changed == [("notes.md", "update", "Write"), ("from-result.md", "update", "MultiEdit")]  # not elsewhere.txt
    assert sorted(a.path for a in await blu.store.list_artifacts(sid)) == ["from-result.md", "notes.md"]
    assert [c.outcome for c in (await blu.reply(sid)).tool_calls] == ["error", "denied", "ok", "ok", "ok"]


async def test_a_subagent_counts_its_usage_but_is_no_part_of_the_reply(blu: Blu) -> None:
    def script(prompt: str) -> list[Item]:
        return [
            init(),
            *calls(prompt, tool_use("toolu_task", "Task", prompt="look around")),
            *model_call(prompt, "subagent text", parent="toolu_task", input_tokens=100, output_tokens=50),
            said("subagent text", tool_use("toolu_sub", "Read", file_path="a.txt"), parent="toolu_task"),
            tool_result("toolu_sub", "contents", parent="toolu_task"),
            tool_result("toolu_task", "It looked around."),
            *model_call(prompt, "Found it."),
            said("Found it."),
            result(prompt, 0.01),
        ]

    blu.claude.answer(script)
    sid = await blu.new_session()
    _status, events = await blu.turn(sid, "delegate")
    assert [c["name"] for c in of_type(events, "tool.call")] == ["Task"]
    assert "".join(d["text"] for d in of_type(events, "message.delta")) == "Found it."
    reply = await blu.reply(sid)
    assert reply.text == "Found it." and (reply.input_tokens, reply.output_tokens) == (120, 60)


async def test_a_failed_request_is_explained_by_blu_not_by_the_cli(blu: Blu) -> None:
    def script(prompt: str) -> list[Item]:
        return [
            init(),
            said("API Error: 429 {'type':'rate_limit_error'} · see https://docs.claude.com", error="rate_limit"),
            result(prompt, 0.0, is_error=True, api_error_status=429, text="API Error: 429"),
        ]

    blu.claude.answer(script)
    sid = await blu.new_session()
    status, events = await blu.turn(sid, "hi")
    assert status["status"] == "error"
    explanation = "Claude's rate limit was reached. Wait a minute and send the message again."
    assert of_type(events, "error") == [{"turn_id": status["turn_id"], "kind": "rate_limited", "message": explanation}]
    types = [e.type for e in events]
    assert types[-4:] == ["message.complete", "error", "turn.status", "session.updated"]
    reply = await blu.reply(sid)
    assert (reply.state, reply.text, reply.error) == ("error", "", explanation)


async def test_a_client_that_breaks_off_ends_the_turn_and_the_next_turn_starts_afresh(blu: Blu) -> None:
    def breaks(prompt: str) -> list[Item]:
        return [init(), *model_call(prompt, "half a rep"), RuntimeError("the CLI went away")]

    blu.claude.answer(breaks, text_turn("whole"))
    sid = await blu.new_session()
    status, events = await blu.turn(sid, "hi")
    assert status["status"] == "error"
    (error,) = of_type(events, "error")
    assert error["kind"] == "internal" and error["message"].startswith("Blu lost its connection to Claude Code")
    reply = await blu.reply(sid)
    assert (reply.state, reply.text) == ("error", "half a rep")
    assert blu.claude.clients[0].disconnected and blu.manager.cli_slots.running == 0

    again, _ = await blu.turn(sid, "again")
    assert (again["status"], again["tier"]) == ("complete", "cold") and len(blu.claude.clients) == 2


async def test_a_client_that_cannot_connect_gives_its_slot_back(blu: Blu) -> None:
    blu.claude.connect_error = TimeoutError()
    sid = await blu.new_session()
    status, events = await blu.turn(sid, "hi")
    assert status["status"] == "error"
    assert of_type(events, "error")[0]["message"].startswith("Claude Code did not start in time")
    assert blu.manager.cli_slots.running == 0 and not blu.manager.workers[sid].is_hot


async def test_an_interrupt_keeps_what_was_said_and_stops_the_pending_tool(blu: Blu) -> None:
    def script(prompt: str) -> list[Item]:
        return [
            init(),
            *calls(prompt, tool_use("toolu_r", "Read", file_path="a.txt"), text="Let me look."),
            tool_result("toolu_r", "contents"),
            *calls(prompt, tool_use("toolu_s", "Bash", command="sleep 60")),
            HANG,
            interrupted(prompt, 0.02),
        ]

    blu.claude.answer(script, text_turn("still here"))
    sid = await blu.new_session()
    turn_id = await blu.send(sid, "look")
    await blu.until(sid, lambda e: e.type == "tool.call" and e.data["name"] == "Bash")
    # Claude's session id and the partial reply were stored while the turn still runs.
    assert (await blu.store.get_session(sid)).claude_session_id == CLAUDE_SESSION
    saved = await blu.reply(sid)
    assert (saved.state, saved.text, [c.name for c in saved.tool_calls]) == ("running", "Let me look.", ["Read"])

    assert await blu.manager.interrupt(sid)
    status, events = await blu.finished(sid, turn_id)
    assert (status["status"], status["reason"]) == ("interrupted", "interrupted")
    assert blu.claude.clients[0].interrupts == 1
    stopped = of_type(events, "tool.result")[-1]
    assert (stopped["id"], stopped["outcome"]) == ("toolu_s", "stopped")
    assert stopped["result_summary"] == "Stopped on request before the tool finished."
    reply = await blu.reply(sid)
    assert (reply.state, reply.text, reply.error) == ("interrupted", "Let me look.", "Stopped on request.")
    assert reply.cost_usd == pytest.approx(0.02)
    assert of_type(events, "error") == []  # a stop is no error

    again, _ = await blu.turn(sid, "and now?")
    assert (again["status"], again["tier"]) == ("complete", "hot")
    assert not await blu.manager.interrupt(sid)  # nothing runs


async def test_a_silent_claude_is_stopped_by_the_watchdog(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(watchdog_seconds=0.5)
    blu.claude.answer(lambda prompt: [init(), *model_call(prompt, "Thinking"), HANG, interrupted(prompt, 0.0)])
    sid = await blu.new_session()
    status, _ = await blu.turn(sid, "hi")
    assert (status["status"], status["reason"]) == ("interrupted", "stalled")
    assert blu.claude.clients[0].interrupts == 1
    reply = await blu.reply(sid)
    assert reply.text == "Thinking"
    assert reply.error == "Claude sent nothing for 0.5 s, so Blu stopped the turn."


async def test_a_silent_tool_is_work_until_the_turn_limit(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(watchdog_seconds=0.5, turn_timeout_seconds=2.5)

    def working(prompt: str) -> list[Item]:
        return [
            init(),
            *calls(prompt, tool_use("toolu_b", "Bash", command="make")),
            Quiet(1.2),  # longer than the watchdog: the tool is working
            tool_result("toolu_b", "built"),
            said("Built."),
            result(prompt, 0.01),
        ]

    def forever(prompt: str) -> list[Item]:
        return [
            init(),
            *calls(prompt, tool_use("toolu_f", "Bash", command="sleep 600")),
            HANG,
            interrupted(prompt, 0.0),
        ]

    blu.claude.answer(working, forever)
    sid = await blu.new_session()
    status, _ = await blu.turn(sid, "build")
    assert status["status"] == "complete" and (await blu.reply(sid)).text == "Built."

    status, events = await blu.turn(sid, "wait")
    assert (status["status"], status["reason"]) == ("interrupted", "timeout")
    stopped = of_type(events, "tool.result")[-1]
    assert (stopped["id"], stopped["outcome"]) == ("toolu_f", "stopped")
    assert stopped["result_summary"] == (
        "Stopped by Blu before the tool finished: The turn ran longer than 2.5 s and Blu stopped it."
    )


async def test_only_the_turns_own_messages_make_its_reply(blu: Blu) -> None:
    def first(prompt: str) -> list[Item]:
        # After its result, the CLI runs a turn of its own (a background command ended) on the connection.
        other = "00000000-0000-4000-8000-00000000beef"
        return [
            *text_turn("one")(prompt),
            *model_call(other, "about the background command"),
            said("about the background command"),
            result(other, 0.02, origin={"kind": "task-notification"}),
        ]

    def unstreamed(prompt: str) -> list[Item]:
        # A request the CLI retried without streaming: no stream event carries the prompt's mark.
        return [said("two"), result(prompt, 0.03)]

    blu.claude.answer(first, unstreamed)
    sid = await blu.new_session()
    await blu.turn(sid, "one")
    status, _ = await blu.turn(sid, "two")
    assert status["status"] == "complete"
    assert [m.text for m in (await blu.store.list_messages(sid)).items if m.role == "assistant"] == ["one", "two"]


async def test_blus_tool_policy_goes_to_the_client_with_its_options(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(disallowed_tools="WebFetch")
    blu.claude.answer(text_turn("ok"))
    await blu.turn(await blu.new_session(), "hi")
    ask = blu.claude.clients[0].options.can_use_tool
    assert ask is not None
    denied = await ask("WebFetch", {"url": "https://example.com"}, ToolPermissionContext())
    assert isinstance(denied, PermissionResultDeny) and "not allowed" in denied.message
    assert isinstance(await ask("Read", {"file_path": "a"}, ToolPermissionContext()), PermissionResultAllow)


async def test_shutdown_saves_the_running_turn_and_answers_the_queued_one(blu: Blu) -> None:
    blu.claude.answer(lambda prompt: [init(), *model_call(prompt, "Halfway"), HANG, interrupted(prompt, 0.0)])
    sid = await blu.new_session()
    running = await blu.send(sid, "long")
    await blu.until(sid, lambda e: e.type == "message.delta")
    queued = await blu.send(sid, "next")
    await blu.manager.shutdown(grace_seconds=5)
    events = blu.hub.log(sid)._after(0)
    ends = {e.data["turn_id"]: e.data for e in events if e.type == "turn.status" and e.data["status"] in FINAL}
    assert (ends[running]["status"], ends[running]["reason"]) == ("interrupted", "shutdown")
    assert (ends[queued]["status"], ends[queued]["reason"]) == ("interrupted", "shutdown")
    replies = {m.turn_id: m for m in (await blu.store.list_messages(sid)).items if m.role == "assistant"}
    assert replies[running].text == "Halfway" and replies[running].state == "interrupted"
    assert replies[queued].error == "Blu stopped before this message was answered. Send it again."
    assert blu.claude.clients[0].disconnected


async def test_a_turn_without_room_for_a_client_waits_visibly_then_runs(make_blu: Callable[..., Blu]) -> None:
    blu = make_blu(task_memory_mib=RESERVED_MEMORY_MIB + CLI_MEMORY_MIB)  # room for one Claude Code process
    blu.claude.answer(lambda prompt: [init(), *model_call(prompt, "Busy"), HANG, interrupted(prompt, 0.0)])
    first, second = await blu.new_session(), await blu.new_session()
    busy = await blu.send(first, "long")
    await blu.until(first, lambda e: e.type == "message.delta")
    queued = await blu.send(second, "short")
    events = await blu.until(second, lambda e: e.type == "turn.status" and e.data["status"] == "waiting")
    waiting = of_type(events, "turn.status")[-1]
    assert set(waiting) == ENDED_KEYS | {"running_clis", "max_clis"}
    assert (waiting["reason"], waiting["running_clis"], waiting["max_clis"], waiting["tier"]) == (
        "capacity",
        1,
        1,
        None,
    )
    assert len(blu.claude.clients) == 1  # no second client while the first holds the only slot

    blu.claude.answer(text_turn("done"))
    assert await blu.manager.interrupt(first)
    await blu.finished(first, busy)
    status, _ = await blu.finished(second, queued)
    assert (status["status"], status["tier"]) == ("complete", "cold") and (await blu.reply(second)).text == "done"
    assert blu.claude.clients[0].disconnected  # the idle client was let go for it
    assert blu.manager.cli_slots.running == 1


def test_a_reply_sorts_after_its_prompt_even_within_one_millisecond() -> None:
    """Messages are listed by id, whose first part is the millisecond: a hot turn can start in its prompt's."""
    for prompt_at in (time.time(), time.time() + 5):  # now, and a prompt stamped ahead of this clock
        prompt_id = new_message_id(prompt_at)
        reply_id = reply_id_for(prompt_id)
        assert reply_id > prompt_id
        assert reply_id < new_message_id(prompt_at + 0.003)  # and before one sent 2+ ms after it


def test_a_prompt_in_the_previous_reply_ids_millisecond_lists_after_that_reply() -> None:
    """The manager reserves a prompt's reply id 1 ms after it: a next prompt sent within that millisecond is
    moved past it, so the earlier prompt's reply still lists between the two."""
    from runtime.agent.manager import _after

    prompt = new_message_id()
    reserved = reply_id_for(prompt)
    same_millisecond = f"{reserved[:13]}-00000000"
    assert _after(same_millisecond, reserved) > reserved
    later = new_message_id(time.time() + 1)
    assert _after(later, reserved) == later and _after(prompt, None) == prompt


class _HeldAccept(LocalStore):
    """The store, its commits logged in order (accepted messages, turn ends with the running mark they
    leave); while `holding`, an accepted message's trip back to the event loop waits for `resume`: the
    moment when the message is stored but not yet queued."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits: list[tuple[str, str | None]] = []
        self.holding = False
        self.held, self.resume, self.ended = threading.Event(), threading.Event(), threading.Event()

    def accept_message(self, message: Any, **kwargs: Any) -> Any:
        session = super().accept_message(message, **kwargs)
        self.commits.append(("accepted", message.turn_id))
        if self.holding:
            self.held.set()
            self.resume.wait(timeout=30)
        return session

    def end_turn(self, *args: Any, **kwargs: Any) -> Any:
        message, session = super().end_turn(*args, **kwargs)
        self.commits.append(("ended", session.running_turn_id))
        self.ended.set()
        return message, session


async def test_a_message_stored_as_a_turn_ends_keeps_the_session_marked_running(
    make_blu: Callable[..., Blu],
) -> None:
    """A message accepted while the running mark was the ending turn's is not marked by its own write; the
    turn's end must then leave the mark on it, or a crash before it starts would leave it unanswered, unmarked."""
    blu = make_blu(local_store=_HeldAccept)
    store = blu.store.sync
    assert isinstance(store, _HeldAccept)
    blu.claude.answer(lambda prompt: [init(), *model_call(prompt, "Halfway"), HANG, interrupted(prompt, 0.0)])
    blu.claude.answer(text_turn("Next."))
    sid = await blu.new_session()
    first = await blu.send(sid, "long")
    await blu.until(sid, lambda e: e.type == "message.delta")
    store.holding = True
    sending = asyncio.create_task(blu.send(sid, "next"))
    assert await asyncio.to_thread(store.held.wait, 30)
    await blu.manager.interrupt(sid)  # the first turn ends while the second message is stored, not yet queued
    await asyncio.to_thread(store.ended.wait, 2)  # its end may be written now, or wait for the message's turn
    store.resume.set()
    second = await sending
    await blu.finished(sid, first)
    await blu.finished(sid, second)
    ends = [mark for kind, mark in store.commits if kind == "ended"]
    assert ends == [second, None]  # the first turn's end hands the mark to the second message's turn
