"""One long-lived task per session that owns its Claude client and runs the session's turns in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from claude_agent_sdk import (
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    ToolPermissionContext,
)

from core.observability.logs import log_context, request_id_var
from core.observability.metrics import record_error, record_turn
from core.store.aio import AsyncStore
from core.store.base import Store
from core.store.models import ApprovalRecord, MessageRecord, SessionRecord, output_partial, reply_id_for, to_plain
from runtime.agent.approvals import BY_POLICY, Approvals
from runtime.agent.attachments import prompt_content
from runtime.agent.capacity import CliSlots
from runtime.agent.client import AgentClient, ClientFactory
from runtime.agent.context import context_window
from runtime.agent.events import EventHub
from runtime.agent.options import ClaudeEndpoint, agent_options, transcript_cost, transcript_exists
from runtime.agent.translate import ClaudeConnection, TurnTranslator
from runtime.agent.turns import RunningTurn, Tier, TurnRequest
from runtime.settings import Settings
from runtime.workspace import Workspace

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 90.0
INTERRUPT_GRACE_SECONDS = 10.0

_STOP = object()
_DEMOTE = object()


class WorkerHost(Protocol):
    """What a worker needs from its manager."""

    settings: Settings
    endpoint: ClaudeEndpoint
    store: AsyncStore
    hub: EventHub
    cli_slots: CliSlots
    client_factory: ClientFactory
    approvals: Approvals

    async def make_room(self, requester: SessionWorker | None) -> None: ...

    async def acquire_cli(
        self,
        requester: SessionWorker | None,
        waiting: Callable[[], None] | None = None,
        given_up: Callable[[], bool] = lambda: False,
    ) -> bool: ...

    async def release_cli(self) -> None: ...

    def admission(self, session_id: str) -> asyncio.Lock: ...

    def client_options_key(self) -> tuple[object, ...]: ...

    async def turn_finished(self, worker: SessionWorker, turn: RunningTurn) -> None: ...


class SessionWorker:
    """Feeds a session's queued turns to its client, one at a time, from one task.

    The SDK's client must be used from the task that connected it, so connecting, querying,
    receiving and disconnecting all happen in `run`; other tasks only enqueue or interrupt. The client
    comes from the host's `client_factory`; what its messages mean is `TurnTranslator`'s business.
    """

    def __init__(self, session_id: str, host: WorkerHost) -> None:
        self.session_id = session_id
        self.host = host
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.client: AgentClient | None = None
        self.current: RunningTurn | None = None
        self.last_used = time.monotonic()
        self.queued_turn_ids: deque[str] = deque()
        self._stderr: deque[str] = deque(maxlen=20)
        self.connection = ClaudeConnection()
        self.translator: TurnTranslator | None = None
        self._timer: asyncio.Timeout | None = None
        self._next_deadline: Callable[[], float] | None = None
        self._recorded: asyncio.Future[SessionRecord | None] | None = None  # the running turn's start writes
        self._options_key: tuple[object, ...] = ()  # the host's client_options_key when the client connected
        self._saving: asyncio.Future[None] | None = None  # a checkpoint as a wait for a person starts
        self.task = asyncio.create_task(self.run(), name=f"session-{session_id}")

    # -- called from other tasks ----------------------------------------------------------
    @property
    def is_hot(self) -> bool:
        return self.client is not None

    @property
    def is_idle(self) -> bool:
        return self.current is None and self.queue.empty()

    @property
    def queue_length(self) -> int:
        return len(self.queued_turn_ids)

    def enqueue(self, request: TurnRequest) -> int:
        """Queue a turn; returns how many turns run before it (0: it starts now)."""
        position = len(self.queued_turn_ids) + (1 if self.current else 0)
        self.queued_turn_ids.append(request.turn_id)
        self.queue.put_nowait(request)
        return position

    def demote(self) -> None:
        """Disconnect the client when idle (hot → warm), to free a hot slot."""
        self.queue.put_nowait(_DEMOTE)

    def stop(self) -> None:
        self.queue.put_nowait(_STOP)

    async def interrupt(self, reason: str = "interrupted", message: str = "Stopped on request.") -> bool:
        """Stop the running turn; returns False when nothing was running."""
        turn, client = self.current, self.client
        if turn is None:
            return False
        turn.stop_reason = turn.stop_reason or reason
        turn.error = turn.error or message
        if reason == "interrupted":  # the person's stop also answers what the turn waited for: no
            await self.host.approvals.stop_pending(self.session_id, turn.request.turn_id)
        else:  # shutdown: the approvals stay pending, and an answer after the restart resumes the work
            self.host.approvals.release_turn(self.session_id, turn.request.turn_id)
        if client is None:
            await self.host.cli_slots.recheck()  # a turn waiting for a process gives up at once
        else:
            try:
                await asyncio.wait_for(client.interrupt(), timeout=5)
            except Exception:  # the watchdog and the grace period below still end the turn
                log.warning("interrupt failed", extra={"session_id": self.session_id}, exc_info=True)
        return True

    def cancel_queued(self, turn_id: str) -> TurnRequest | None:
        """Take one queued turn off the queue before it runs; None when it is not queued (running or done)."""
        if turn_id not in self.queued_turn_ids:
            return None
        found: TurnRequest | None = None
        items: list[Any] = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        for item in items:
            if found is None and isinstance(item, TurnRequest) and item.turn_id == turn_id:
                found = item
            else:
                self.queue.put_nowait(item)
        if found is not None:
            self.queued_turn_ids.remove(turn_id)
        return found

    def drain_queue(self) -> list[TurnRequest]:
        """Take every queued turn off the queue (on shutdown) and return them."""
        taken: list[TurnRequest] = []
        kept: list[Any] = []
        while not self.queue.empty():
            item = self.queue.get_nowait()
            (taken if isinstance(item, TurnRequest) else kept).append(item)
        for item in kept:
            self.queue.put_nowait(item)
        for request in taken:
            with contextlib.suppress(ValueError):
                self.queued_turn_ids.remove(request.turn_id)
        return taken

    # -- the worker task ------------------------------------------------------------------
    async def run(self) -> None:
        # The task inherited the context of the request that created it; its lines belong to turns.
        request_id_var.set(None)
        try:
            while True:
                item = await self.queue.get()
                if item is _STOP:
                    break
                if item is _DEMOTE:
                    if self.queue.empty():
                        await self._drop_client()
                    continue
                with contextlib.suppress(ValueError):
                    self.queued_turn_ids.remove(item.turn_id)
                with log_context(session_id=self.session_id, turn_id=item.turn_id):
                    await self._run_turn(item)
        finally:
            await self._drop_client()

    async def _run_turn(self, request: TurnRequest) -> None:
        store, hub, sid = self.host.store, self.host.hub, self.session_id
        # Chosen when the prompt was queued (manager.submit: it lists right under its prompt).
        turn = RunningTurn(
            request=request, assistant_message_id=request.reply_id or reply_id_for(request.user_message_id)
        )
        self.current = turn
        translator = TurnTranslator(
            session_id=sid,
            turn=turn,
            connection=self.connection,
            hub=hub,
            store=store,
            workspace=self.host.settings.workspace_dir,
        )
        self.translator = translator
        try:
            reply = MessageRecord(
                session_id=sid,
                id=turn.assistant_message_id,
                role="assistant",
                channel=request.channel,
                turn_id=request.turn_id,
                state="running",
            )
            if self.client is not None and self._options_key != self.host.client_options_key():
                await self._drop_client()  # started with tools or servers changed since: resumed with today's
            # The reply's record and the running marks, in one trip to the store's thread (one transaction). A new
            # client needs the session to connect (read after them); a hot one is sent the prompt first, and they are
            # written while Claude starts (`running` goes out at once: readers follow the events, and the record is
            # there before any output).
            cold = self.client is None
            self._recorded = recorded = asyncio.ensure_future(store.batch(lambda s: _turn_started(s, reply, cold)))
            session = await asyncio.shield(recorded) if cold else None
            if turn.stop_reason is None:
                await self._ensure_client(turn, session)
            if turn.stop_reason is None:  # an interrupt may have come while the client connected
                hub.publish(sid, "turn.status", self._status(turn, "running"))
                await self._converse(turn, translator, recorded)
        except asyncio.CancelledError:
            turn.stop_reason = turn.stop_reason or "shutdown"
            turn.error = turn.error or "Blu stopped while this turn was running."
            await asyncio.shield(self._finish(turn, translator))
            raise
        except Exception as exc:
            log.exception("turn failed", extra={"session_id": sid, "turn_id": request.turn_id})
            turn.error = turn.error or _describe_exception(exc, self._stderr)
            turn.error_kind = turn.error_kind or "internal"
            await self._drop_client()
        await asyncio.shield(self._finish(turn, translator))

    async def _ensure_client(self, turn: RunningTurn, session: SessionRecord | None) -> None:
        started = time.monotonic()
        if self.client is not None:
            turn.tier = Tier.HOT
            return
        assert session is not None  # read before connecting (a hot client needs none)
        await self.host.make_room(self)
        acquired = await self.host.acquire_cli(
            self, waiting=lambda: self._publish_waiting(turn), given_up=lambda: turn.stop_reason is not None
        )
        if not acquired:
            return  # stopped while waiting for a process: the turn ends as interrupted, unanswered
        try:
            await self._connect(turn, session)
        except BaseException:
            await self.host.release_cli()
            raise
        turn.connect_seconds = time.monotonic() - started

    def _publish_waiting(self, turn: RunningTurn) -> None:
        """The turn waits for a free Claude Code process (the task's memory allows no more)."""
        slots = self.host.cli_slots
        self.host.hub.publish(
            self.session_id,
            "turn.status",
            {
                **self._status(turn, "waiting"),
                "reason": "capacity",
                "running_clis": slots.running,
                "max_clis": slots.limit,
            },
        )

    async def _connect(self, turn: RunningTurn, session: SessionRecord) -> None:
        claude_id = session.claude_session_id
        resume = claude_id if claude_id and transcript_exists(self.host.settings, claude_id) else None
        turn.tier = Tier.WARM if resume else Tier.COLD
        # A resumed transcript's running total goes on from the cost the CLI saved in it (none in a cut one).
        self.connection.cost_baseline = (
            await asyncio.to_thread(transcript_cost, self.host.settings, resume) if resume else 0.0
        )
        options_key = self.host.client_options_key()
        client = self.host.client_factory(
            agent_options(
                self.host.settings,
                self.host.endpoint,
                resume=resume,
                stderr=self._stderr.append,
                can_use_tool=self._can_use_tool,
                pre_tool_use=_ask_blu,
                disallowed_tools=self.host.approvals.policy.denied(),
            )
        )
        await asyncio.wait_for(client.connect(), timeout=CONNECT_TIMEOUT_SECONDS)
        self.client, self._options_key = client, options_key

    async def _converse(self, turn: RunningTurn, translator: TurnTranslator, recorded: Awaitable[Any]) -> None:
        assert self.client is not None
        settings = self.host.settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        wait_limit = settings.approval_wait_minutes * 60

        def turn_deadline() -> float:
            # Time spent waiting for a person is not running time: it moves the turn's limit.
            return started + settings.turn_timeout_seconds + turn.waited(time.monotonic())

        waiting_deadline = [False]  # whether the deadline last set is the wait for a person's answer

        def next_deadline() -> float:
            waiting_deadline[0] = turn.waiting_for_person
            if turn.waiting_for_person:  # a paused turn is not stalled: only the (long) wait limit applies
                return loop.time() + wait_limit - (time.monotonic() - min(turn.waiting_since.values()))
            # While a tool runs (a build, a test run) silence is its work; the turn limit still bounds it.
            deadline = turn_deadline()
            return deadline if turn.tool_pending else min(deadline, loop.time() + settings.watchdog_seconds)

        content: str | list[dict[str, Any]] = turn.request.text  # without attachments: nothing to read
        if turn.request.attachments:
            content = await asyncio.to_thread(
                prompt_content, Workspace(settings.workspace_dir), turn.request.text, turn.request.attachments
            )
        await self.client.query(_prompt_message(turn.request, content))
        await asyncio.shield(recorded)  # the reply's record exists before any of Claude's output is handled
        try:
            async with asyncio.timeout(next_deadline()) as timer:
                self._timer, self._next_deadline = timer, next_deadline
                async for message in self._own_messages(turn):
                    await translator.handle(message)
                    timer.reschedule(next_deadline())
        except TimeoutError:
            if waiting_deadline[0]:
                reason = "unanswered"
                explanation = (
                    f"Nobody answered within {settings.approval_wait_minutes:g} min, so Blu ended this turn. "
                    "The request is still open: answering it continues the work."
                )
                self.host.approvals.release_turn(self.session_id, turn.request.turn_id)
            elif loop.time() >= turn_deadline() - 0.05:
                reason = "timeout"
                explanation = f"The turn ran longer than {settings.turn_timeout_seconds:g} s and Blu stopped it."
            else:
                reason = "stalled"
                explanation = f"Claude sent nothing for {settings.watchdog_seconds:g} s, so Blu stopped the turn."
            turn.stop_reason, turn.error = reason, explanation
            await self._recover(turn, translator)
        finally:
            self._timer = self._next_deadline = None

    async def _own_messages(self, turn: RunningTurn) -> AsyncIterator[Message]:
        """The client's messages that belong to this turn, up to and including its result.

        One connection also carries turns the CLI starts by itself (a background command's end) and
        what a previous turn left behind; those end in results that are not this turn's and are
        skipped with everything before them, so replies never shift by a turn. The CLI marks the
        stream events and the result of the turn that took in our prompt's uuid: from the mark on,
        messages stream live; before it they are held until a result says whose they were (a
        request the CLI retried without streaming has no stream events to carry the mark)."""
        assert self.client is not None
        mine = turn.request.prompt_uuid
        taken_in = False
        held: list[Message] = []
        async for message in self.client.receive_messages():
            if isinstance(message, StreamEvent) and (message.user_message_uuid or message.user_message_uuids):
                taken_in = mine in [*(message.user_message_uuids or []), message.user_message_uuid]
                if taken_in:
                    for earlier in held:
                        yield earlier
                    held.clear()
            if isinstance(message, ResultMessage):
                if _result_is_for(message, mine):
                    for earlier in held:
                        yield earlier
                    yield message
                    return
                log.info("skipped a turn the CLI ran by itself", extra={"origin": str(message.origin)})
                taken_in = False
                held.clear()
            elif taken_in or isinstance(message, SystemMessage):
                yield message
            else:
                held.append(message)

    async def _recover(self, turn: RunningTurn, translator: TurnTranslator) -> None:
        """After a stalled or overlong turn: interrupt, drain briefly, else drop the client."""
        client = self.client
        if client is None:
            return
        try:
            await asyncio.wait_for(client.interrupt(), timeout=5)
            async with asyncio.timeout(INTERRUPT_GRACE_SECONDS):
                async for message in self._own_messages(turn):
                    await translator.handle(message)
        except Exception:
            await self._drop_client()

    async def _finish(self, turn: RunningTurn, translator: TurnTranslator) -> None:
        """Persist the assistant message and usage, clear the running marks, tell every reader."""
        store, hub, sid = self.host.store, self.host.hub, self.session_id
        self.host.approvals.release_turn(sid, turn.request.turn_id)
        self.translator = None
        if self._recorded is not None:  # the reply's record may still be on its way (a turn stopped early)
            recorded, self._recorded = self._recorded, None
            with contextlib.suppress(Exception):
                await recorded
        # The last text (and stopped tools) reach a waiting reader with the reply's end, after the write.
        with hub.log(sid).holding():
            translator.flush()
            if turn.stop_reason:
                translator.stop_pending_tools()
            # A turn still queued keeps the session marked, so a crash before it starts is found on start. A
            # message being admitted meanwhile is first queued (or refused): else its store write, made while the
            # running mark was this turn's, would leave it untouched, and this write would then clear it.
            async with self.host.admission(sid):
                following = self.queued_turn_ids[0] if self.queued_turn_ids else None
                try:
                    message, session = await store.batch(lambda s: _turn_ended(s, sid, turn, following))
                finally:
                    self.current = None
                    self.last_used = time.monotonic()
        hub.publish(sid, "message.complete", {"turn_id": turn.request.turn_id, "message": to_plain(message)})
        if turn.error and turn.state == "error":
            hub.publish(
                sid,
                "error",
                {"turn_id": turn.request.turn_id, "kind": turn.error_kind or "claude", "message": turn.error},
            )
        hub.publish(sid, "turn.status", self._status(turn, turn.state))
        hub.publish(sid, "session.updated", {"session": to_plain(session)})
        ended = time.monotonic()
        # Its first wait (a thread) lets the readers' answers go out before the metrics and the log line.
        await self.host.turn_finished(self, turn)
        _record_metrics(turn, ended)

    def _status(self, turn: RunningTurn, status: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "turn_id": turn.request.turn_id,
            "status": status,
            "message_id": turn.assistant_message_id,
            "user_message_id": turn.request.user_message_id,
            "tier": turn.tier.value if turn.tier else None,
        }
        if status != "running":
            data["reason"] = turn.stop_reason
            data["duration_ms"] = int((time.monotonic() - turn.started_at) * 1000)
            first = turn.first_token_seconds()
            data["first_token_ms"] = None if first is None else int(first * 1000)
        return data

    async def _can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        """Blu's tool policy for every call (the PreToolUse hook sends each one here): allow or deny at
        once, or hold the call until a person answers (runtime/agent/approvals.py)."""
        turn = self.current
        if turn is None:  # a call of a turn the CLI runs by itself, with nobody's turn to pause
            mode = self.host.approvals.policy.mode_for(tool_name).mode
            if mode == "allow":
                return PermissionResultAllow()
            if mode == "deny":
                return PermissionResultDeny(
                    message=f"Permission denied: {tool_name} is not allowed by Blu's tool policy."
                )
            return PermissionResultDeny(message=f"Permission denied: {tool_name} needs a person's approval.")
        return await self.host.approvals.decide(
            session_id=self.session_id,
            turn_id=turn.request.turn_id,
            tool_name=tool_name,
            tool_input=tool_input,
            tool_use_id=context.tool_use_id or "",
            record=lambda tool_use_id, decision: self._record_decision(turn, tool_use_id, decision),
            waiting=lambda approval: self._waiting_for_person(turn, approval),
        )

    def _record_decision(self, turn: RunningTurn, tool_use_id: str, decision: str) -> None:
        call = turn.decide_tool(tool_use_id, decision)
        # The record always gets the decision (and tool.result carries it); a call the policy simply let
        # through is not announced again, so each call makes one tool.call unless a person or a rule decided.
        if decision == f"allowed by {BY_POLICY}":
            return
        if call is not None and self.translator is not None and self.translator.turn is turn:
            self.translator.publish_tool("tool.call", call)

    def _waiting_for_person(self, turn: RunningTurn, approval: ApprovalRecord | None) -> None:
        """A call of this turn starts waiting for a person (approval) or stops waiting (None): the
        watchdog holds, and every reader sees `waiting` (reason `approval`) then `running` again."""
        now = time.monotonic()
        if approval is not None:
            turn.waiting_since[approval.id] = now
            if self.translator is not None and self.translator.turn is turn:  # saved as it is: waits may be long
                self._saving = asyncio.ensure_future(self.translator.checkpoint(force=True))
            self.host.hub.publish(
                self.session_id,
                "turn.status",
                {**self._status(turn, "waiting"), "reason": "approval", "approval_id": approval.id},
            )
        else:
            if len(turn.waiting_since) == 1:
                turn.waited_seconds += now - next(iter(turn.waiting_since.values()))
            turn.waiting_since = {k: v for k, v in turn.waiting_since.items() if k in self._open_approvals()}
            if not turn.waiting_since and turn.stop_reason is None:
                self.host.hub.publish(self.session_id, "turn.status", self._status(turn, "running"))
        if self._timer is not None and self._next_deadline is not None and not self._timer.expired():
            self._timer.reschedule(self._next_deadline())

    def _open_approvals(self) -> set[str]:
        return {a.id for a in self.host.approvals.waiting_in(self.session_id)}

    async def _drop_client(self) -> None:
        client, self.client = self.client, None
        self.connection.claude_session_id = None
        if client is None:
            return
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), timeout=10)
        finally:
            await self.host.release_cli()


def _turn_started(store: Store, reply: MessageRecord, read_session: bool) -> SessionRecord | None:
    """The turn's writes before it runs, in one trip to the store's thread and one transaction (Store.start_turn):
    the reply's record (running; checkpoints update it), and the marks that find the turn after a crash. Then
    the session, read when a client must connect (its Claude session id)."""
    store.start_turn(reply)
    return store.get_session(reply.session_id) if read_session else None


def _turn_ended(
    store: Store, sid: str, turn: RunningTurn, following: str | None
) -> tuple[MessageRecord, SessionRecord]:
    """The turn's writes at its end, one transaction (Store.end_turn; on SQLite synced, as the reply is final):
    the reply, the session's counters and the running marks are saved together or not at all, so a crash
    never leaves a reply saved but uncounted."""
    return store.end_turn(
        sid,
        turn.assistant_message_id,
        reply={
            "text": turn.text,
            "state": turn.state,
            "tool_calls": turn.tool_calls(),
            "input_tokens": turn.input_tokens,
            "output_tokens": turn.output_tokens,
            "cost_usd": turn.cost_usd,
            "error": turn.error,
            "claude_message_uuid": turn.claude_message_uuid,
        },
        usage={
            "messages": 1,
            "input_tokens": turn.input_tokens,
            "output_tokens": turn.output_tokens,
            "cost_usd": turn.cost_usd,
            "stopped_replies": int(output_partial(turn.state, turn.input_tokens, turn.output_tokens)),
        },
        session={"running_turn_id": following, **_context_changes(turn)},
        at=time.time(),
    )


def _context_changes(turn: RunningTurn) -> dict[str, Any]:
    """The session's context meter after this turn: nothing when no request reported its usage; the
    tokens alone after a compaction (no request of its own, so the model and window stay)."""
    if turn.context_tokens is None:
        return {}
    if turn.context_model is None:
        return {"context_tokens": turn.context_tokens}
    return {
        "context_tokens": turn.context_tokens,
        "context_model": turn.context_model,
        "context_window": context_window(turn.context_model, turn.context_window),
    }


def _record_metrics(turn: RunningTurn, ended: float) -> None:
    first = turn.first_token_seconds()
    calls = turn.tool_calls()
    record_turn(
        tier=turn.tier.value if turn.tier else None,
        first_token_ms=None if first is None else first * 1000,
        duration_ms=(ended - turn.started_at) * 1000,
        input_tokens=turn.input_tokens,
        output_tokens=turn.output_tokens,
        cost_usd=turn.cost_usd,
        tool_calls=len(calls),
        tool_errors=sum(1 for call in calls if call.outcome == "error"),
    )
    if turn.stop_reason in ("timeout", "stalled"):
        record_error(kind="timeout")
    elif turn.state == "error":
        record_error(kind=turn.error_kind or "claude")
    log.info(
        "turn finished",
        extra={"tier": turn.tier.value if turn.tier else None, "state": turn.state, "stop_reason": turn.stop_reason},
    )


async def _ask_blu(hook_input: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
    """PreToolUse: send every call to `can_use_tool`, where Blu's policy (changeable at run time) decides."""
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "ask"}}


def _prompt_message(request: TurnRequest, content: str | list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """The prompt as the SDK's message dict (text, or a content list with images), carrying the turn's uuid."""

    async def one() -> AsyncIterator[dict[str, Any]]:
        yield {
            "type": "user",
            "message": {"role": "user", "content": content},
            "parent_tool_use_id": None,
            "uuid": request.prompt_uuid,
        }

    return one()


def _result_is_for(result: ResultMessage, prompt_uuid: str) -> bool:
    """Whether a result ends the turn that took in this prompt. A CLI that marks no result at all
    (older versions) has its results taken as they come."""
    if result.user_message_uuid == prompt_uuid or prompt_uuid in (result.user_message_uuids or []):
        return True
    return result.user_message_uuid is None and not result.user_message_uuids and result.origin is None


def _describe_exception(exc: BaseException, stderr: deque[str]) -> str:
    """Blu's explanation for a turn the SDK or CLI broke off; the raw details go to the log only."""
    detail = " ".join(list(stderr)[-3:]).strip()
    log.warning("Claude Code failed", extra={"error": f"{type(exc).__name__}: {exc}"[:2000], "stderr": detail[:2000]})
    if isinstance(exc, TimeoutError):
        return "Claude Code did not start in time, so this reply was not written. Retry in a minute."
    return "Blu lost its connection to Claude Code during this reply. Retry; Blu starts Claude Code again."
