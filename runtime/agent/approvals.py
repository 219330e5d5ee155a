"""Blu's tool policy and the approvals a person answers: decide, wait, deliver live or resume after a restart."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from core.store.aio import AsyncStore
from core.store.base import NotFound
from core.store.codec import fit_approval
from core.store.models import ApprovalRecord, new_id, to_plain
from runtime.agent.events import EventHub
from runtime.settings import Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # the SDK loads on use: the web process answers /health without it
    from claude_agent_sdk import PermissionResultAllow, PermissionResultDeny

    PermissionResult = PermissionResultAllow | PermissionResultDeny

Mode = Literal["allow", "ask", "deny"]
QUESTION_TOOL = "AskUserQuestion"  # Claude's questions: always put to the person, whatever the policy

# Who or what decided a tool call (ToolCall.decision, ApprovalRecord.decided_by).
BY_PERSON = "person"
BY_POLICY = "policy"
BY_RULE = "always-allow rule"  # an allow a person set at run time (Always allow, or the policy API)

# How a decision reached Claude (ApprovalRecord.delivered).
LIVE = "live"  # the waiting turn went on with it
RESUMED = "resumed"  # the turn had ended: a new turn carried the decision in
REAPPLIED = "reapplied"  # the resumed turn asked for the same call again and got the stored decision


def canonical_input(tool_input: dict[str, Any]) -> str:
    """A tool input as stored and compared: JSON with sorted keys (so a re-requested call matches)."""
    return json.dumps(tool_input, sort_keys=True, ensure_ascii=False, default=str)


# Claude Code's built-in tools, by the exact names its permission rules use (Claude Code's tools reference,
# code.claude.com/docs/en/tools-reference, and the tools this CLI offers the model). A policy entry is matched
# exactly, so a name typed in another case is taken as the tool's own.
BUILT_IN_TOOLS = (
    "Agent", "AskUserQuestion", "Bash", "BashOutput", "CronCreate", "CronDelete", "CronList", "Edit",
    "EnterPlanMode", "EnterWorktree", "ExitPlanMode", "ExitWorktree", "Glob", "Grep", "KillShell", "LS",
    "ListMcpResourcesTool", "LSP", "MultiEdit", "NotebookEdit", "PowerShell", "Read", "ReadMcpResourceTool",
    "Skill", "Task", "TaskCreate", "TaskGet", "TaskList", "TaskOutput", "TaskStop", "TaskUpdate", "TodoWrite",
    "ToolSearch", "WebFetch", "WebSearch", "Write",
)  # fmt: skip
_BUILT_IN_BY_FOLDED = {name.casefold(): name for name in BUILT_IN_TOOLS}
_NEWER_TOOL = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")  # a built-in tool of a newer Claude Code: its names' shape
_MCP_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class UnknownTool(ValueError):
    """A policy entry for a name no tool can have: it would match nothing and silently do nothing."""


def policy_tool_name(name: str) -> str:
    """The tool a policy entry names, as Claude Code spells it: a built-in tool in any case ("bash" → "Bash"),
    an MCP server `mcp__server` or tool `mcp__server__tool`, or a PascalCase name (a tool of a newer Claude
    Code). Raises UnknownTool for anything else (it would never match a call), saying what a tool name is."""
    shown = name if len(name) <= 60 else f"{name[:57]}…"
    if name.startswith("mcp__"):
        server, separator, tool = name.removeprefix("mcp__").partition("__")
        if _MCP_PART.fullmatch(server) and (not separator or _MCP_PART.fullmatch(tool)):
            return name
        raise UnknownTool(
            f"'{shown}' names no MCP tool: write mcp__server for all of a server's tools, or mcp__server__tool."
        )
    if (built_in := _BUILT_IN_BY_FOLDED.get(name.casefold())) is not None:
        return built_in
    if _NEWER_TOOL.fullmatch(name):
        return name
    tool, parenthesis, _ = name.partition("(")
    if parenthesis and (_BUILT_IN_BY_FOLDED.get(tool.strip().casefold()) or _NEWER_TOOL.fullmatch(tool.strip())):
        raise UnknownTool(
            f"Blu's tool policy is set for whole tools ({tool.strip()}), not for Claude Code's rules such as "
            f"'{shown}': choose Ask me to decide each call."
        )
    raise UnknownTool(
        f"No Claude Code tool is named '{shown}'. Tool names are written as Claude Code does (Bash, Read, "
        "WebFetch, …); MCP tools as mcp__server or mcp__server__tool."
    )


@dataclass(frozen=True)
class PolicyDecision:
    """The mode a tool gets and why: `source` is "settings", "default" or "run time"."""

    mode: Mode
    source: str


class ToolPolicy:
    """Per-tool modes: run-time entries (the store, set through the API or Always allow) over the
    settings (BLU_ALLOWED_TOOLS / BLU_ASK_TOOLS / BLU_DISALLOWED_TOOLS) over BLU_TOOL_DEFAULT. An MCP tool
    `mcp__server__tool` also matches an entry for its whole server, `mcp__server`."""

    def __init__(self, settings: Settings) -> None:
        self.default: Mode = settings.tool_default
        self.settings: dict[str, Mode] = {}
        for names, mode in (
            (settings.allowed_tools, "allow"),
            (settings.ask_tools, "ask"),
            (settings.disallowed_tools, "deny"),  # the strictest wins when a name is listed twice
        ):
            for name in names:
                self.settings[name] = mode  # type: ignore[assignment]
        self.run_time: dict[str, str] = {}

    def mode_for(self, tool_name: str) -> PolicyDecision:
        names = [tool_name]
        if tool_name.startswith("mcp__"):
            server = tool_name.split("__")[1] if tool_name.count("__") >= 2 else ""
            if server:
                names.append(f"mcp__{server}")
        for name in names:
            if name in self.run_time:
                return PolicyDecision(self.run_time[name], "run time")  # type: ignore[arg-type]
            if name in self.settings:
                return PolicyDecision(self.settings[name], "settings")
        return PolicyDecision(self.default, "default")

    def describe(self) -> dict[str, Any]:
        return {"default": self.default, "settings": dict(self.settings), "run_time": dict(self.run_time)}

    def denied(self) -> list[str]:
        """The names (tools, or whole MCP servers `mcp__server`) denied now: given to a new CLI as its
        disallowed tools, so Claude does not even see them; `can_use_tool` still enforces every change."""
        merged = {**self.settings, **self.run_time}
        return sorted(name for name, mode in merged.items() if mode == "deny")


@dataclass
class Waiter:
    """A tool call held in `can_use_tool` until a person answers (or its turn ends)."""

    session_id: str
    turn_id: str
    approval: ApprovalRecord
    future: asyncio.Future[PermissionResult]
    tool_input: dict[str, Any]  # whole (the stored input is cut to 16 kB): a question's answers go into it
    started: float = field(default_factory=time.monotonic)


class StaleAnswer(Exception):
    """The approval was decided differently already (by another tab, a stop, …): the answer is stale."""

    def __init__(self, approval: ApprovalRecord) -> None:
        super().__init__(f"approval {approval.id} is {approval.status}")
        self.approval = approval


class NotAccepting(Exception):
    """Blu is stopping: an answer that needs a new turn is refused before it is recorded (retry later)."""


@dataclass(frozen=True)
class Answer:
    """A person's answer: `decision` allow / deny / always (allow, and the tool's policy becomes allow)
    / answer (a question's `answers`, question text -> answer); `message` goes to Claude."""

    decision: Literal["allow", "deny", "always", "answer"]
    answers: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def status(self) -> str:
        return {"allow": "allowed", "always": "allowed", "deny": "denied", "answer": "answered"}[self.decision]


class Approvals:
    """The policy and every approval of this process. `can_use_tool` runs in the SDK's task for the
    session's client; `answer` in an API request's task; they meet in a future per waiting approval.
    `resubmit(session_id, text)` queues a turn (the manager's submit): how an answer reaches Claude when
    the turn that asked has ended (a restart, a sleep, the wait limit)."""

    def __init__(self, settings: Settings, store: AsyncStore, hub: EventHub) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.policy = ToolPolicy(settings)
        # Told (in a task of its own) when an approval or a question starts waiting for a person, with the
        # approval as `approval.requested` shows it: the "approval waiting" notification subscribes here.
        self.on_waiting: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []
        self.waiters: dict[str, Waiter] = {}
        self.resubmit: Callable[[str, str], Awaitable[Any]] | None = None
        self.accepting: Callable[[], bool] = lambda: True  # whether new turns are taken (False: stopping)

    async def load(self) -> None:
        self.policy.run_time = await self.store.get_tool_policy()

    async def set_mode(self, tool_name: str, mode: str | None) -> dict[str, Any]:
        self.policy.run_time = await self.store.set_tool_mode(tool_name, mode)
        return self.policy.describe()

    # -- the SDK's side ---------------------------------------------------------------------
    async def decide(
        self,
        *,
        session_id: str,
        turn_id: str,
        tool_name: str,
        tool_input: dict[str, Any],
        tool_use_id: str,
        record: Callable[[str, str], None],
        waiting: Callable[[ApprovalRecord | None], None],
    ) -> PermissionResult:
        """Blu's answer to the CLI's `can_use_tool` for one call. `record(tool_use_id, decision)` puts the
        decision on the tool's audit record; `waiting(approval)` tells the worker a wait starts
        (approval) or ends (None), so its watchdog holds and turn.status says so."""
        from claude_agent_sdk import PermissionResultAllow, PermissionResultDeny  # on use: the SDK loads late

        if tool_name != QUESTION_TOOL:
            policy = self.policy.mode_for(tool_name)
            if policy.mode == "allow":
                by = BY_RULE if policy.source == "run time" else BY_POLICY
                record(tool_use_id, f"allowed by {by}")
                return PermissionResultAllow()
            if policy.mode == "deny":
                record(tool_use_id, f"denied by {BY_POLICY}")
                return PermissionResultDeny(
                    message=f"Permission denied: {tool_name} is not allowed by Blu's tool policy."
                )
            earlier = await self._earlier_decision(session_id, tool_name, tool_input)
            if earlier is not None:
                record(tool_use_id, f"{earlier.status} by {earlier.decided_by or BY_PERSON} (answered earlier)")
                await self.store.mark_approval_delivered(session_id, earlier.id, REAPPLIED)
                return _result(earlier, tool_input)
        approval = ApprovalRecord(
            session_id=session_id,
            id=new_id(),
            turn_id=turn_id,
            tool_use_id=tool_use_id,
            tool_name=tool_name,
            input_json=canonical_input(tool_input),
            kind="question" if tool_name == QUESTION_TOOL else "tool",
        )
        approval = fit_approval(approval)  # as stored: every tab sees the same (cut) input
        await self.store.put_approval(approval)
        future: asyncio.Future[PermissionResult] = asyncio.get_running_loop().create_future()
        self.waiters[approval.id] = Waiter(session_id, turn_id, approval, future, tool_input)
        waiting(approval)
        self.hub.publish(session_id, "approval.requested", approval_event(approval))
        for listener in self.on_waiting:  # a notification must never hold up or break the turn
            _background(listener(session_id, approval_event(approval)))
        try:
            result = await future
        finally:
            self.waiters.pop(approval.id, None)
            waiting(None)
        decided = await self.store.get_approval(session_id, approval.id)
        if decided.status != "pending":
            record(tool_use_id, f"{decided.status} by {decided.decided_by or BY_PERSON}")
        return result

    async def _earlier_decision(
        self, session_id: str, tool_name: str, tool_input: dict[str, Any]
    ) -> ApprovalRecord | None:
        """A decision a person gave after its turn had ended, for exactly this call: the resumed turn
        asks again and gets it without a second question."""
        wanted = canonical_input(tool_input)
        for approval in reversed(await self.store.list_approvals(session_id)):
            if approval.delivered == RESUMED and approval.tool_name == tool_name and approval.input_json == wanted:
                return approval
        return None

    def release_turn(self, session_id: str, turn_id: str) -> list[ApprovalRecord]:
        """The turn ends (stopped, shut down, out of waiting time): let its held calls go. Their approvals
        stay pending in the store, so a later answer resumes the work. Returns them."""
        from claude_agent_sdk import PermissionResultDeny  # on use: the SDK loads late

        released = []
        for waiter in list(self.waiters.values()):
            if waiter.session_id == session_id and waiter.turn_id == turn_id and not waiter.future.done():
                waiter.future.set_result(
                    PermissionResultDeny(message="The turn ended before anyone answered.", interrupt=True)
                )
                released.append(waiter.approval)
        return released

    def waiting_in(self, session_id: str) -> list[ApprovalRecord]:
        return [w.approval for w in self.waiters.values() if w.session_id == session_id]

    # -- the person's side ------------------------------------------------------------------
    async def answer(
        self, session_id: str, approval_id: str, answer: Answer, *, by: str = BY_PERSON
    ) -> tuple[ApprovalRecord, bool]:
        """Decide a pending approval: (record, False). The same answer again: (record, True), a replay
        that changes nothing. A different answer to a decided approval raises StaleAnswer; an unknown
        one NotFound. The decision goes to the waiting call, or (its turn has ended) to a new turn."""
        current = await self.store.get_approval(session_id, approval_id)
        if current.kind == "question" and answer.decision in ("allow", "always"):
            answer = replace(answer, decision="answer")
        waiter = self.waiters.get(approval_id)
        live = waiter is not None and not waiter.future.done()
        if not live and current.status == "pending" and not self.accepting():
            raise NotAccepting()  # recorded now, its turn could not be queued: the work would be lost
        decision = replace(
            current,
            status=answer.status,  # type: ignore[arg-type]
            decided_at=time.time(),
            decided_by=by,
            message=answer.message,
            answers=dict(answer.answers),
            always=answer.decision == "always",
            delivered=LIVE if live else RESUMED,
        )
        record, decided = await self.store.decide_approval(session_id, approval_id, decision)
        if not decided:
            if (record.status, record.always, record.answers) == (decision.status, decision.always, decision.answers):
                return record, True
            raise StaleAnswer(record)
        if record.always:
            await self.set_mode(record.tool_name, "allow")
        self.hub.publish(session_id, "approval.resolved", approval_event(record))
        if record.delivered == LIVE and waiter is not None and not waiter.future.done():
            waiter.future.set_result(_result(record, waiter.tool_input))
        elif self.resubmit is not None:
            await self.resubmit(session_id, await self._resume_prompt(record))
        return record, False

    async def stop_pending(self, session_id: str, turn_id: str) -> None:
        """The person stopped the turn: its waiting approvals are denied by that stop (not left open)."""
        for approval in self.release_turn(session_id, turn_id):
            decision = replace(
                approval,
                status="denied",
                decided_at=time.time(),
                decided_by=BY_PERSON,
                message="The person stopped the turn.",
                delivered=LIVE,
            )
            record, decided = await self.store.decide_approval(session_id, approval.id, decision)
            if decided:
                self.hub.publish(session_id, "approval.resolved", approval_event(record))

    async def _resume_prompt(self, approval: ApprovalRecord) -> str:
        """The prompt of the turn that carries a late answer in: the decision, and the request it
        belongs to, so Claude (resumed with its transcript) goes on without the person retyping it."""
        original = ""
        try:
            page = await self.store.list_messages(session_id=approval.session_id, limit=200, newest_first=True)
            original = next((m.text for m in page.items if m.role == "user" and m.turn_id == approval.turn_id), "")
        except NotFound:
            pass
        call = f"{approval.tool_name} {_short(approval.input_json)}"
        if approval.kind == "question":
            answers = "; ".join(f"{q} → {a}" for q, a in approval.answers.items()) or approval.message
            decision = f"The person answered your question ({call}): {answers}."
        elif approval.status == "allowed":
            decision = f"The person allowed your call {call}; make it again and it will run without asking."
        else:
            reason = f" ({approval.message})" if approval.message else ""
            decision = f"The person denied your call {call}{reason}; go on without it."
        note = f" Note from the person: {approval.message}" if approval.message and approval.kind != "tool" else ""
        text = (
            "[Blu] Blu stopped while your request for approval was waiting, so that turn ended. "
            f"{decision}{note} Continue the request from where you left off."
        )
        if original:
            text += f"\n\nThe request was:\n{original}"
        return text


def _result(approval: ApprovalRecord, tool_input: dict[str, Any]) -> PermissionResult:
    """The SDK's answer for a decided approval. A question's answers go to Claude in the tool's input
    (`answers`: question text -> answer), as the CLI's AskUserQuestion expects."""
    from claude_agent_sdk import PermissionResultAllow, PermissionResultDeny  # on use: the SDK loads late

    if approval.status == "denied":
        reason = f": {approval.message}" if approval.message else "."
        return PermissionResultDeny(message=f"Permission denied by the person{reason}")
    if approval.kind == "question":
        answers = dict(approval.answers)
        if not answers and approval.message:
            questions = tool_input.get("questions") or []
            first = questions[0].get("question") if questions and isinstance(questions[0], dict) else None
            answers = {str(first or "answer"): approval.message}
        return PermissionResultAllow(updated_input={**tool_input, "answers": answers})
    return PermissionResultAllow()


def _short(input_json: str, limit: int = 300) -> str:
    return input_json if len(input_json) <= limit else input_json[:limit] + "…"


def approval_event(approval: ApprovalRecord) -> dict[str, Any]:
    """An approval as the API and the events show it: the record, with the input parsed back."""
    data = to_plain(approval)
    try:
        data["input"] = json.loads(approval.input_json)
    except ValueError:  # cut to the field budget: show it as text
        data["input"] = {"text": approval.input_json}
    del data["input_json"]
    return data


_tasks: set[asyncio.Task[None]] = set()


def _background(work: Awaitable[None]) -> None:
    """Run `work` on its own; a failure is logged, never raised into the turn."""

    async def run() -> None:
        try:
            await work
        except Exception:
            log.warning("an approval listener failed", exc_info=True)

    task = asyncio.get_running_loop().create_task(run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
