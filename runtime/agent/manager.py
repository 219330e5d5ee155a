"""The session manager: hot/warm/cold Claude clients, per-session queues, recovery and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import statistics
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from core.store.aio import AsyncStore
from core.store.base import KeyClaimed, NotFound
from core.store.models import (
    AcceptedRequest,
    ArtifactRecord,
    Channel,
    MessageRecord,
    Sender,
    SessionRecord,
    new_id,
    new_message_id,
    output_partial,
    reply_id_for,
    to_plain,
)
from runtime.agent.approvals import Approvals
from runtime.agent.capacity import CliSlots, cli_limit, hot_cap
from runtime.agent.events import EventHub
from runtime.agent.mcp import ServerStatus, wait_for_status
from runtime.agent.options import ClaudeEndpoint, agent_options, transcript_path
from runtime.agent.title import fallback_title, generate_title
from runtime.agent.turns import RunningTurn, Tier, TurnRequest
from runtime.memory import MEMORY_FILE, Change, Memory
from runtime.settings import Settings

if TYPE_CHECKING:
    # The worker brings the Claude Agent SDK (~0.5 s of imports): the web server imports it after it
    # answers /health (runtime/app.py warms it up), or at the first turn, whichever comes first.
    from runtime.agent.client import ClientFactory
    from runtime.agent.worker import SessionWorker

log = logging.getLogger(__name__)


NOT_ANSWERED_STOP = "Blu stopped before this message was answered. Send it again."
NOT_ANSWERED_RESTART = "Blu restarted before this message was answered. Send it again."
CUT_BY_RESTART = "Blu restarted while this turn was running; the reply above is what was saved."
CUT_BEFORE_SAVED = "Blu restarted while this turn was running, before any of its reply was saved."
NOT_ANSWERED_CANCELLED = "Cancelled before it ran."
NOT_ANSWERED = (NOT_ANSWERED_STOP, NOT_ANSWERED_RESTART)  # a reply that says its turn never ran


class ShuttingDown(Exception):
    """Blu is stopping and takes no new turns."""


class QueueFull(Exception):
    """Too many turns are waiting in this session."""


class TurnRunning(Exception):
    """The operation needs the session to be idle."""


class CannotRegenerate(Exception):
    """The message is not a reply Regenerate can answer again; the text says why, in a person's words."""


# How long deleting a session waits for its running turn to stop (the worker's own grace period is 10 s).
DELETE_STOP_SECONDS = 30.0


CONTEXT_LOST = (
    "Claude's memory of the conversation above could not be carried into this fork: from here on Claude "
    "starts afresh and knows only what is said in this fork."
)
REWIND_LOST = (
    "Claude's memory of the conversation above could not be rewound for the new version of this reply: from "
    "here on Claude starts afresh and knows only what is said after this note."
)


@dataclass(frozen=True)
class Regeneration:
    """A reply answered again: the new turn (its `reply_id` is the new reply's id) and the reply it replaces,
    as stored now (an earlier version: `superseded_by` set)."""

    request: TurnRequest
    position: int
    earlier: MessageRecord


@dataclass(frozen=True)
class ClaudeCut:
    """Claude's side of a fork: its transcript, and where each copied message is in it."""

    claude_session_id: str | None
    uuids: dict[str, str]  # a copied message's claude_message_uuid -> its entry in the fork's transcript
    lost: bool = False  # the copied history held things Claude knew, and the fork's Claude does not


def _transcript_entries(path: Path) -> dict[str, str]:
    """Each uuid a copied message may carry -> the entry of this transcript it names: the entry's own
    uuid, and the uuid it had in the transcript it was forked from (messages a fork copied before
    their uuids were carried over still name the source's entries)."""
    entries: dict[str, str] = {}
    origins: dict[str, str] = {}
    for entry in _transcript_lines(path):
        uuid_ = entry.get("uuid")
        if not isinstance(uuid_, str) or entry.get("isSidechain"):
            continue
        entries[uuid_] = uuid_
        origin = entry.get("forkedFrom")
        if isinstance(origin, dict) and isinstance(origin.get("messageUuid"), str):
            origins[origin["messageUuid"]] = uuid_
    return {**origins, **entries}


def _fork_origins(path: Path) -> dict[str, str]:
    """A fork's transcript: the source entry each of its entries was copied from -> the copy."""
    copied: dict[str, str] = {}
    for entry in _transcript_lines(path):
        origin = entry.get("forkedFrom")
        if isinstance(origin, dict) and isinstance(entry.get("uuid"), str):
            copied[str(origin.get("messageUuid"))] = entry["uuid"]
    return copied


def _transcript_lines(path: Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", errors="replace") as transcript:
        for line in transcript:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                lines.append(entry)
    return lines


@dataclass
class TierStats:
    """Recent turn timings of one tier (seconds)."""

    turns: int = 0
    connect: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    first_token: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    total: deque[float] = field(default_factory=lambda: deque(maxlen=200))

    def summary(self) -> dict[str, Any]:
        def median_ms(values: deque[float]) -> float | None:
            return round(statistics.median(values) * 1000, 1) if values else None

        return {
            "turns": self.turns,
            "connect_ms_median": median_ms(self.connect),
            "first_token_ms_median": median_ms(self.first_token),
            "total_ms_median": median_ms(self.total),
        }


class SessionManager:
    """Owns every SessionWorker. At most `max_hot` (capacity.hot_cap) stay connected; the least recently used
    idle one is demoted to warm (its transcript stays on disk for `resume`)."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        hub: EventHub,
        endpoint: ClaudeEndpoint,
        client_factory: ClientFactory,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.endpoint = endpoint
        self.client_factory = client_factory  # every worker's Claude client comes from it
        self.workers: dict[str, SessionWorker] = {}
        self.tier_stats = {tier: TierStats() for tier in Tier}
        self.turn_errors = 0
        self.accepting = True
        self.started_at = time.time()
        self._background: set[asyncio.Task[Any]] = set()
        self._room_lock = asyncio.Lock()
        # Per session: held while a turn is being admitted (a message stored and queued, or a reply's
        # regeneration prepared), so a regeneration never interleaves with a message arriving meanwhile.
        self._admissions: dict[str, asyncio.Lock] = {}
        # Sessions being deleted (their turn is being stopped): no new message; set once the delete ended.
        self._deleting: dict[str, asyncio.Event] = {}
        # Per session: the reply id reserved for the newest prompt; the next prompt's id must sort after it.
        self._reserved_reply: dict[str, str] = {}
        # (session id, Idempotency-Key) -> done once the POST that holds the key was accepted or refused.
        self.pending_keys: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.cli_slots = CliSlots(cli_limit(settings))
        # Called (each in a task of its own, off the turn's path) after a turn was saved and published.
        self.on_turn_finished: list[Callable[[str, RunningTurn], Awaitable[None]]] = []
        self.memory = memory_of(settings)
        self.mcp_status: tuple[float, list[ServerStatus]] | None = None  # (time.time(), statuses) of the last check
        self._mcp_version = 0  # counts MCP configuration changes (client_options_key)
        self._mcp_check = asyncio.Lock()
        self.max_hot = hot_cap(settings)
        # The tool policy and the approvals waiting for a person; a late answer comes back as a turn.
        self.approvals = Approvals(settings, store, hub)
        self.approvals.resubmit = self._carry_answer_in
        self.approvals.accepting = lambda: self.accepting

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> list[str]:
        """After the previous process died: mark the turns it was running as interrupted, and answer the
        person's messages it had queued (or not yet started) as not answered, each with Retry."""
        await self.approvals.load()
        recovered: list[str] = []
        for session in await self.store.sessions_with_running_turns():
            page = await self.store.list_messages(session.id, limit=200, newest_first=True)
            # An earlier version (Regenerate) answers nothing: its prompt waits for the version that replaced it.
            answered = {m.turn_id for m in page.items if m.role == "assistant" and not m.superseded_by}
            regenerated = {m.turn_id for m in page.items if m.role == "assistant" and m.superseded_by}
            for message in page.items:
                if message.role == "assistant" and message.state == "running":
                    saved = await self.store.update_message(
                        session.id,
                        message.id,
                        state="interrupted",
                        error=CUT_BY_RESTART if message.text or message.tool_calls else CUT_BEFORE_SAVED,
                        # A call that was running (or waiting for a person) was cut with the process.
                        tool_calls=[
                            replace(call, outcome="stopped") if call.outcome == "pending" else call
                            for call in message.tool_calls
                        ],
                    )
                    # The turn never reached _finish: count the reply and what its checkpoints saved.
                    await self.store.add_session_usage(
                        session.id,
                        messages=1,
                        input_tokens=saved.input_tokens,
                        output_tokens=saved.output_tokens,
                        cost_usd=saved.cost_usd,
                        stopped_replies=int(output_partial(saved.state, saved.input_tokens, saved.output_tokens)),
                    )
            for message in reversed(page.items):
                # A fork's copied messages are older than the fork, and one it was cut at stays unanswered.
                unanswered = message.role == "user" and message.turn_id not in answered
                if unanswered and message.turn_id and message.created_at >= session.created_at:
                    # Under its prompt; after its earlier versions (a regenerated prompt is the newest message).
                    reply_id = new_message_id() if message.turn_id in regenerated else reply_id_for(message.id)
                    await self._record_not_run(
                        session.id, message.turn_id, message.channel, NOT_ANSWERED_RESTART, reply_id=reply_id
                    )
            await self.store.update_session(session.id, running_turn_id=None)
            await self.store.set_turn_running(session.id, None)
            recovered.append(session.id)
        if recovered:
            log.warning("marked interrupted turns after a restart", extra={"sessions": recovered})
        return recovered

    async def shutdown(self, *, grace_seconds: float = 60.0) -> None:
        """Stop taking turns, end running ones (saved as interrupted), disconnect every client."""
        self.accepting = False
        for worker in list(self.workers.values()):
            for request in worker.drain_queue():
                await self._record_not_run(
                    request.session_id,
                    request.turn_id,
                    request.channel,
                    NOT_ANSWERED_STOP,
                    reply_id=request.reply_id or new_message_id(),
                )
        running = [w for w in self.workers.values() if w.current is not None]
        await asyncio.gather(
            *(w.interrupt("shutdown", "Blu stopped while this turn was running.") for w in running),
            return_exceptions=True,
        )
        for worker in self.workers.values():
            worker.stop()
        tasks = [w.task for w in self.workers.values()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=10)
        for task in list(self._background):
            task.cancel()
        self.hub.close()

    # -- turns ----------------------------------------------------------------------------
    def _worker(self, session_id: str) -> SessionWorker:
        worker = self.workers.get(session_id)
        if worker is None or worker.task.done():
            from runtime.agent.worker import SessionWorker

            worker = self.workers[session_id] = SessionWorker(session_id, self)
        return worker

    def admission(self, session_id: str) -> asyncio.Lock:
        """Held while a message or a regeneration of the session is admitted (stored, then queued), and by a
        worker while it writes a turn's end (which decides whether the session stays marked running)."""
        lock = self._admissions.get(session_id)
        if lock is None:
            lock = self._admissions[session_id] = asyncio.Lock()
        return lock

    async def submit(
        self,
        session_id: str,
        text: str,
        channel: Channel,
        *,
        turn_id: str | None = None,
        message_id: str | None = None,
        user_action: bool = True,
        attachments: dict[str, str] | None = None,
        claim: AcceptedRequest | None = None,
        sent_by: Sender = "person",
    ) -> tuple[TurnRequest, int, MessageRecord]:
        """Store the person's message first, then queue its turn. Returns the turn, its position and the
        message. `turn_id` and `message_id` are given when an idempotency key already names them.
        `user_action` False (a scheduled run) leaves the idle rule's last user action alone: the running
        turn keeps Blu awake, and Blu may sleep once it ends. `claim` (an Idempotency-Key's, naming
        `turn_id` and `message_id`) is taken in the same trip to the store as the message; raises
        KeyClaimed, having written nothing, when an earlier request holds the key. `sent_by` says who sent
        the message ("blu": a late approval answer carried in; "schedule": a scheduled run)."""
        async with self.admission(session_id):
            return await self._submit(
                session_id,
                text,
                channel,
                turn_id=turn_id,
                message_id=message_id,
                user_action=user_action,
                attachments=attachments,
                claim=claim,
                sent_by=sent_by,
            )

    async def _submit(
        self,
        session_id: str,
        text: str,
        channel: Channel,
        *,
        turn_id: str | None,
        message_id: str | None,
        user_action: bool,
        attachments: dict[str, str] | None,
        claim: AcceptedRequest | None,
        sent_by: Sender,
    ) -> tuple[TurnRequest, int, MessageRecord]:

        def refuse() -> None:
            if not self.accepting:
                raise ShuttingDown()
            if session_id in self._deleting:
                raise NotFound(f"session {session_id} is being deleted")
            waiting = self.workers.get(session_id)  # no worker yet, or a stopped one: no turn waits
            limit = self.settings.max_queued_turns
            if waiting is not None and not waiting.task.done() and waiting.queue_length >= limit:
                raise QueueFull()

        if claim is None:  # refused before a trip to the store; with a key, only once it is known to be new
            refuse()
        at = time.time()
        turn_id = turn_id or new_id()
        prompt_uuid = str(uuid.uuid4())
        message = MessageRecord(
            session_id=session_id,
            id=message_id or _after(new_message_id(at), self._reserved_reply.get(session_id)),
            role="user",
            text=text,
            channel=channel,
            turn_id=turn_id,
            state="complete",
            created_at=at,
            claude_message_uuid=prompt_uuid,  # the prompt's entry in Claude's transcript once its turn runs
            attachments=dict(attachments or {}),
            sent_by=sent_by,
        )
        # One trip to the store's thread (each trip costs the turn's start a wake-up) and one transaction: the key
        # is claimed (a retry of an accepted message replays even when new ones are refused) and the session read
        # (a held key, a refusal or an unknown session raises before anything is written), then the message and
        # what it changes (Store.accept_message).
        session = await self.store.accept_message(
            message, name=lambda: fallback_title(text), claim=claim, check=refuse, user_action=user_action
        )
        worker = self._worker(session_id)
        assert message.turn_id is not None
        request = TurnRequest(
            session_id,
            message.turn_id,
            message.id,
            text,
            channel,
            prompt_uuid=prompt_uuid,
            user_action=user_action,
            attachments=message.attachments,
            reply_id=reply_id_for(message.id),
        )
        assert request.reply_id is not None
        self._reserved_reply[session_id] = max(request.reply_id, self._reserved_reply.get(session_id, ""))
        position = worker.enqueue(request)
        self.hub.publish(session_id, "message.complete", {"turn_id": request.turn_id, "message": to_plain(message)})
        self.hub.publish(
            session_id,
            "turn.status",
            {
                "turn_id": request.turn_id,
                "status": "queued",
                "position": position,
                "user_message_id": message.id,
            },
        )
        self.hub.publish(session_id, "session.updated", {"session": to_plain(session)})
        for path in message.attachments:  # attached files are the session's artifacts too
            artifact = ArtifactRecord(path=path, session_id=session_id, operation="create", tool="Attach")
            await self.store.put_artifact(artifact)
            self.hub.publish(session_id, "artifact.changed", {"turn_id": request.turn_id, **to_plain(artifact)})
        # Let the worker take the turn before the POST is answered: on a hot client it publishes `running`
        # at once, so a reader's first read gets it with the events above (one long-poll round trip less).
        await asyncio.sleep(0)
        return request, position, message

    async def _carry_answer_in(self, session_id: str, text: str) -> None:
        """An answer to an approval whose turn has ended (restart, sleep, wait limit): a new turn, on the
        session's resumed Claude session (warm), tells Claude the decision and asks it to go on."""
        await self.submit(session_id, text, "text", sent_by="blu")  # Blu's prompt, not the person's words

    def position(self, session_id: str, turn_id: str) -> int:
        """How many turns run before this one now (0: running or done)."""
        worker = self.workers.get(session_id)
        if worker is None or turn_id not in worker.queued_turn_ids:
            return 0
        return list(worker.queued_turn_ids).index(turn_id) + (1 if worker.current else 0)

    async def interrupt(self, session_id: str) -> bool:
        worker = self.workers.get(session_id)
        return bool(worker) and await worker.interrupt()  # type: ignore[union-attr]

    async def make_room(self, requester: SessionWorker | None) -> None:
        """Demote least recently used idle hot workers so that, with `requester` connecting, the hot
        count fits the cap. When every hot worker is busy the cap is exceeded for a while, and the
        excess is demoted as their turns end (see turn_finished)."""
        async with self._room_lock:
            hot = [w for w in self.workers.values() if w.is_hot and w is not requester]
            excess = len(hot) + (1 if requester else 0) - self.max_hot
            for worker in sorted((w for w in hot if w.is_idle), key=lambda w: w.last_used)[: max(0, excess)]:
                worker.demote()

    async def acquire_cli(
        self,
        requester: SessionWorker | None,
        waiting: Callable[[], None] | None = None,
        given_up: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Wait for room to start one more Claude Code process, demoting idle hot clients to make it.
        False when `given_up()` became true meanwhile (nothing was taken)."""

        def free_one() -> bool:
            idle = [w for w in self.workers.values() if w.is_hot and w.is_idle and w is not requester]
            if not idle:
                return False
            min(idle, key=lambda w: w.last_used).demote()
            return True

        return await self.cli_slots.acquire(free_one=free_one, waiting=waiting, given_up=given_up)

    async def release_cli(self) -> None:
        await self.cli_slots.release()

    async def turn_finished(self, worker: SessionWorker, turn: RunningTurn) -> None:
        await self._note_memory_change(worker.session_id, turn)
        await self.make_room(None)
        await self.cli_slots.recheck()
        if turn.tier is not None:
            stats = self.tier_stats[turn.tier]
            stats.turns += 1
            stats.connect.append(turn.connect_seconds)
            stats.total.append(time.monotonic() - turn.started_at)
            first = turn.first_token_seconds()
            if first is not None:
                stats.first_token.append(first)
        if turn.state == "error":
            self.turn_errors += 1
        for listener in self.on_turn_finished:
            self._spawn(listener(worker.session_id, turn))
        if turn.state == "complete" and self.settings.title_mode == "model":
            self._spawn(self._title_after_first_exchange(worker.session_id, turn))

    async def _note_memory_change(self, session_id: str, turn: RunningTurn) -> None:
        """After a turn: when the memory file changed, keep the new version (Claude's) and, when this turn
        made the change, show it in this session's chat (`memory.changed`: the diff, and the version to
        restore for Revert). While another session's turn runs, a change this turn's tool calls do not
        name is left unreported here, for that turn's end (it is kept as a version either way)."""
        try:
            change = await asyncio.to_thread(self.memory.observe, session_id=session_id, turn_id=turn.request.turn_id)
        except OSError:
            log.warning("Could not read Claude's memory after a turn", exc_info=True)
            return
        if change is None:
            return
        others_running = any(w.current is not None and w.session_id != session_id for w in self.workers.values())
        if others_running and not _touches_memory(turn, self.memory):
            return  # left for the turn that made it
        self.memory.claim(change)
        self.hub.publish(session_id, "memory.changed", memory_change_event(turn.request.turn_id, change))

    async def _title_after_first_exchange(self, session_id: str, turn: RunningTurn) -> None:
        """Title the session after its first complete reply (earlier turns may have failed), unless
        the person named it meanwhile or it is a fork."""
        session = await self.store.get_session(session_id)
        if session.forked_from:
            return
        page = await self.store.list_messages(session_id, limit=200)
        first_prompt = next((m for m in page.items if m.role == "user"), None)
        first_reply = next(
            (m for m in page.items if m.role == "assistant" and m.state == "complete" and not m.superseded_by), None
        )
        if first_reply is None or first_reply.id != turn.assistant_message_id:
            return
        if first_prompt is None or session.name != fallback_title(first_prompt.text):
            return
        await self.acquire_cli(None)  # the title model runs a CLI of its own
        try:
            title = await generate_title(self.settings, self.endpoint, turn.request.text, turn.text)
        finally:
            await self.release_cli()
        if not title:
            return
        session = await self.store.update_session(session_id, name=title)
        self.hub.publish(session_id, "session.updated", {"session": to_plain(session)})

    async def cancel(self, session_id: str, turn_id: str) -> bool:
        """Cancel a queued turn before it runs: its prompt stays, answered by an interrupted reply that says
        so (with Retry, like a turn Blu never ran). False when the turn is not queued (running or done)."""
        worker = self.workers.get(session_id)
        request = worker.cancel_queued(turn_id) if worker is not None else None
        if request is None:
            return False
        await self._record_not_run(
            session_id,
            turn_id,
            request.channel,
            NOT_ANSWERED_CANCELLED,
            reply_id=request.reply_id or new_message_id(),
            reason="cancelled",
        )
        return True

    async def _record_not_run(
        self, session_id: str, turn_id: str, channel: Channel, error: str, *, reply_id: str, reason: str = "shutdown"
    ) -> None:
        message = MessageRecord(
            session_id=session_id,
            id=reply_id,
            role="assistant",
            channel=channel,
            turn_id=turn_id,
            state="interrupted",
            error=error,
        )
        if await self.store.put_message(message):
            await self.store.add_session_usage(session_id, messages=1)
        self.hub.publish(session_id, "message.complete", {"turn_id": turn_id, "message": to_plain(message)})
        self.hub.publish(
            session_id,
            "turn.status",
            {"turn_id": turn_id, "status": "interrupted", "reason": reason, "message_id": message.id},
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- sessions -------------------------------------------------------------------------
    async def fork(self, session_id: str, message_id: str) -> SessionRecord:
        """A new session with the history up to and including `message_id`, and Claude's context
        sliced at the same message (Claude's fork_session): the fork shows what Claude knows."""
        source = await self.store.get_session(session_id)
        await self.store.get_message(session_id, message_id)
        history = await self._history(session_id, through=message_id)
        cut = await self._fork_claude_context(source, history)
        fork = SessionRecord(
            id=new_id(),
            name=f"{source.name or 'Session'} (fork)"[:80],
            status="active",
            claude_session_id=cut.claude_session_id,
            forked_from=source.id,
        )
        await self.store.create_session(fork)
        for message in history:
            state = "interrupted" if message.state == "running" else message.state
            # A record that holds its text cut is copied with the whole text, which the store keeps beside it.
            text = await self.store.get_message_text(session_id, message.id) if message.truncated else message.text
            await self.store.put_message(
                MessageRecord(
                    **{
                        **to_plain(message),
                        "session_id": fork.id,
                        "text": text,
                        "state": state,
                        "tool_calls": message.tool_calls,
                        # The fork's transcript has entries of its own: a later fork of the fork cuts there.
                        "claude_message_uuid": cut.uuids.get(message.claude_message_uuid or ""),
                    }
                )
            )
        notices = 0
        if cut.lost:
            await self.store.put_message(
                MessageRecord(session_id=fork.id, id=new_message_id(), role="system", text=CONTEXT_LOST)
            )
            notices = 1
        # The fork's totals are the sum of the messages it shows, as for any session.
        return await self.store.add_session_usage(
            fork.id,
            messages=len(history) + notices,
            input_tokens=sum(m.input_tokens for m in history),
            output_tokens=sum(m.output_tokens for m in history),
            cost_usd=sum(m.cost_usd for m in history),
            # A reply still running when forked is copied as interrupted.
            stopped_replies=sum(
                output_partial("interrupted" if m.state == "running" else m.state, m.input_tokens, m.output_tokens)
                for m in history
            ),
            at=time.time(),
        )

    async def _history(self, session_id: str, *, through: str) -> list[MessageRecord]:
        """The session's messages in order, up to and including the message `through`."""
        history: list[MessageRecord] = []
        cursor: str | None = None
        while True:
            page = await self.store.list_messages(session_id, limit=200, cursor=cursor)
            history.extend(m for m in page.items if m.id <= through)
            if page.next is None or (page.items and page.items[-1].id > through):
                return history
            cursor = page.next

    async def regenerate(self, session_id: str, message_id: str) -> Regeneration:
        """Answer the newest reply's prompt again, in the same session. Claude's context is rewound to just
        before the prompt: its transcript is cut there as a fork's is (`_fork_claude_context`), the session
        resumes the cut, and the worker that held the old context is let go (its hot client too). The reply
        is kept as an earlier version (`superseded_by`: the new reply's id), and a new turn of the prompt's
        own turn id takes the stored prompt again without storing a second copy. Raises NotFound,
        TurnRunning (a turn runs or waits), CannotRegenerate (not the newest reply) or ShuttingDown."""
        async with self.admission(session_id):
            if not self.accepting:
                raise ShuttingDown()
            if session_id in self._deleting:
                raise NotFound(f"session {session_id} is being deleted")
            session = await self.store.get_session(session_id)
            reply = await self.store.get_message(session_id, message_id)
            worker = self.workers.get(session_id)
            if reply.state == "running" or (worker is not None and not worker.is_idle):
                raise TurnRunning()
            history = await self._history(session_id, through=reply.id)
            prompt = await self._regenerable(session_id, reply, history)
            # Claude's context from before the prompt: its transcript cut at the last of these messages it holds
            # (the previous reply's last entry), or none at all when Claude knew none of them.
            before = [m for m in history if m.id < prompt.id and not m.superseded_by]
            knew = any(m.claude_message_uuid for m in before)
            cut = await self._fork_claude_context(session, before) if knew else ClaudeCut(None, {})
            text = await self.store.get_message_text(session_id, prompt.id) if prompt.truncated else prompt.text
            old_context = session.claude_session_id
            stale = (
                transcript_path(self.settings, old_context)
                if old_context and old_context != cut.claude_session_id
                else None
            )
            at = time.time()
            notice = (
                MessageRecord(session_id=session_id, id=new_message_id(at), role="system", text=REWIND_LOST)
                if cut.lost
                else None
            )
            assert prompt.turn_id is not None
            request = TurnRequest(
                session_id,
                prompt.turn_id,
                prompt.id,
                text,
                prompt.channel,
                attachments=dict(prompt.attachments),
                reply_id=new_message_id(at + 0.001),  # after the notice
            )
            # The hot or warm client holds the old context: its worker goes, and the turn starts a client that
            # resumes the cut transcript. Marked running first, so a crash from here on is found on start.
            if worker is not None:
                self.workers.pop(session_id, None)
                worker.stop()
            await self.store.update_session(session_id, running_turn_id=request.turn_id)
            earlier = await self.store.update_message(session_id, reply.id, superseded_by=request.reply_id)
            await self.store.update_message(session_id, prompt.id, claude_message_uuid=request.prompt_uuid)
            for message in before:  # the earlier messages name their entries in the cut transcript now
                entry = cut.uuids.get(message.claude_message_uuid or "")
                if entry is not None and entry != message.claude_message_uuid:
                    await self.store.update_message(session_id, message.id, claude_message_uuid=entry)
            if notice is not None and await self.store.put_message(notice):
                await self.store.add_session_usage(session_id, messages=1)
            session = await self.store.update_session(session_id, claude_session_id=cut.claude_session_id)
            position = self._worker(session_id).enqueue(request)
        self.hub.publish(session_id, "message.updated", {"turn_id": request.turn_id, "message": to_plain(earlier)})
        if notice is not None:
            self.hub.publish(session_id, "message.complete", {"turn_id": request.turn_id, "message": to_plain(notice)})
        self.hub.publish(
            session_id,
            "turn.status",
            {"turn_id": request.turn_id, "status": "queued", "position": position, "user_message_id": prompt.id},
        )
        self.hub.publish(session_id, "session.updated", {"session": to_plain(session)})
        # The old transcript is no session's context now (a fork has a transcript of its own): once the old
        # worker's client has let go of it, it goes, as a deleted session's does.
        self._spawn(self._retire(worker, stale))
        return Regeneration(request, position, earlier)

    async def _regenerable(self, session_id: str, reply: MessageRecord, history: list[MessageRecord]) -> MessageRecord:
        """The prompt of `reply` when Regenerate may answer it again: `reply` is Blu's newest reply (nothing
        but notes after it) and its prompt is in the session. Raises CannotRegenerate with the reason."""
        if reply.role != "assistant":
            raise CannotRegenerate("Only Blu's replies can be regenerated; edit and resend your own message instead.")
        if reply.superseded_by:
            raise CannotRegenerate("This reply is an earlier version already; regenerate the newest one.")
        newer = await self.store.list_messages(session_id, limit=50, newest_first=True)
        for message in newer.items:
            if message.id <= reply.id:
                break
            if message.role == "user" or (message.role == "assistant" and not message.superseded_by):
                raise CannotRegenerate("Only the newest reply can be regenerated.")
        else:
            if newer.next is not None:  # fifty notes after it: not the newest reply in any sense that matters
                raise CannotRegenerate("Only the newest reply can be regenerated.")
        prompt = next((m for m in reversed(history) if m.role == "user" and m.turn_id == reply.turn_id), None)
        if prompt is None or reply.turn_id is None:
            raise CannotRegenerate("This reply's message is not in this session, so there is nothing to send again.")
        return prompt

    async def _retire(self, worker: SessionWorker | None, stale: Path | None) -> None:
        """After a regeneration: wait for the worker it let go to disconnect, then delete the transcript
        that held the old context."""
        if worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(worker.task), timeout=30)
            if not worker.task.done():
                return  # still attached to the transcript: leave it
        if stale is not None:
            stale.unlink(missing_ok=True)

    async def _fork_claude_context(self, source: SessionRecord, history: list[MessageRecord]) -> ClaudeCut:
        """Claude's transcript cut at the last copied message it holds (a prompt's own entry or a reply's
        last one); a prompt whose turn never ran is not in it, so the one before is tried."""
        knew = any(m.role == "assistant" and m.claude_message_uuid for m in history)
        path = transcript_path(self.settings, source.claude_session_id) if source.claude_session_id else None
        if source.claude_session_id and path is not None:
            from claude_agent_sdk import fork_session

            entries = await asyncio.to_thread(_transcript_entries, path)
            for message in reversed(history):
                entry = entries.get(message.claude_message_uuid or "")
                if entry is None:
                    continue  # not in the transcript
                try:
                    result = await asyncio.to_thread(
                        fork_session,
                        source.claude_session_id,
                        directory=str(self.settings.workspace_dir),
                        up_to_message_id=entry,
                    )
                except ValueError:
                    continue
                except FileNotFoundError:
                    break
                forked = transcript_path(self.settings, result.session_id)
                copied = await asyncio.to_thread(_fork_origins, forked) if forked else {}
                uuids = {
                    message.claude_message_uuid: copied[entries[message.claude_message_uuid]]
                    for message in history
                    if message.claude_message_uuid and entries.get(message.claude_message_uuid) in copied
                }
                return ClaudeCut(result.session_id, uuids)
        if knew or source.claude_session_id:
            log.warning(
                "Claude's transcript could not be cut at the fork; the fork starts a new context",
                extra={"session_id": source.id, "claude_session_id": source.claude_session_id},
            )
            return ClaudeCut(None, {}, lost=True)
        return ClaudeCut(None, {})

    async def delete(self, session_id: str) -> None:
        """Delete a session, its messages and Claude's transcript. A running turn is stopped first (as Stop
        does: its approvals are answered no) and its queued turns are dropped; meanwhile the session takes
        no new message. Every reader of its event stream is told (`session.deleted`), and the stream then
        answers 404. Raises NotFound, and TurnRunning when the turn does not end in time."""
        while (other := self._deleting.get(session_id)) is not None:  # another delete of it is under way
            await other.wait()  # its outcome decides: gone (NotFound below), or still here
        session = await self.store.get_session(session_id)
        done = self._deleting[session_id] = asyncio.Event()
        try:
            async with self.admission(session_id):  # a message or a regeneration being admitted goes first
                worker = self.workers.get(session_id)
            if worker is not None:
                worker.drain_queue()  # the session goes: nothing queued in it is answered
                if worker.current is not None:
                    await worker.interrupt("interrupted", "The session was deleted while this turn was running.")
                    deadline = time.monotonic() + DELETE_STOP_SECONDS
                    while worker.current is not None:
                        if time.monotonic() > deadline:
                            raise TurnRunning()
                        await asyncio.sleep(0.05)
                    session = await self.store.get_session(session_id)  # the turn may have named Claude's session
            await self.store.delete_session(session_id)
            if worker is not None:
                worker.stop()
                self.workers.pop(session_id, None)
        finally:
            del self._deleting[session_id]
            self._admissions.pop(session_id, None)
            self._reserved_reply.pop(session_id, None)
            done.set()
        # Claude's transcript goes too (a fork has a transcript of its own, so no other session needs it).
        path = transcript_path(self.settings, session.claude_session_id) if session.claude_session_id else None
        if path is not None:
            path.unlink(missing_ok=True)
        self.hub.end(session_id, "session.deleted", {"session_id": session_id})

    # -- MCP servers ----------------------------------------------------------------------
    def mcp_changed(self) -> None:
        """The MCP configuration changed: forget the last status and disconnect idle clients, so each
        session's next turn starts Claude Code with the new servers (a running turn keeps its own, and its
        client is let go before the session's next turn: client_options_key)."""
        self.mcp_status = None
        self._mcp_version += 1
        for worker in self.workers.values():
            if worker.is_hot and worker.is_idle:
                worker.demote()

    def client_options_key(self) -> tuple[object, ...]:
        """What a session's Claude Code process is started with that can change while Blu runs: the tools the
        policy denies (given as disallowed tools, so Claude does not see them: a tool allowed again must
        reappear) and the MCP configuration. A hot client started under another key is let go before its next
        turn, which resumes the session with the options of now (warm)."""
        return (tuple(self.approvals.policy.denied()), self._mcp_version)

    async def check_mcp(self, *, connect_timeout_s: float = 60.0) -> list[ServerStatus]:
        """Each configured server's status from Claude Code itself: a short-lived CLI started with the
        same options as a session's (same servers, environment, user), asked `get_mcp_status` until no
        server is pending, then closed. It takes a CLI slot like any client; no model call is made."""
        async with self._mcp_check:
            await self.acquire_cli(None)
            try:
                from claude_agent_sdk import ClaudeSDKClient  # imported on use: the web process starts without it

                client = ClaudeSDKClient(
                    agent_options(self.settings, self.endpoint, disallowed_tools=self.approvals.policy.denied())
                )
                await asyncio.wait_for(client.connect(), timeout=connect_timeout_s)
                try:
                    statuses = await wait_for_status(client)
                finally:
                    try:
                        await asyncio.wait_for(client.disconnect(), timeout=10)
                    except Exception:
                        log.warning("Could not close the MCP status check's client", exc_info=True)
            finally:
                await self.release_cli()
            self.mcp_status = (time.time(), statuses)
            return statuses

    # -- reporting ------------------------------------------------------------------------
    def busy(self) -> bool:
        return any(not w.is_idle for w in self.workers.values())

    def stats(self) -> dict[str, Any]:
        process = psutil.Process(os.getpid())
        children = process.children(recursive=True)
        child_rss = 0
        for child in children:
            try:
                child_rss += child.memory_info().rss
            except psutil.Error:
                continue
        hot = sum(1 for w in self.workers.values() if w.is_hot)
        return {
            "model": "standin" if self.endpoint.standin else "claude",
            "accepting_turns": self.accepting,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "clients": {
                "hot": hot,
                "max_hot": self.max_hot,
                "warm": sum(1 for w in self.workers.values() if not w.is_hot),
            },
            "turns": {tier.value: self.tier_stats[tier].summary() for tier in Tier},
            "turn_errors": self.turn_errors,
            "queues": {sid: w.queue_length for sid, w in self.workers.items() if w.queue_length},
            "clis": {
                "running": self.cli_slots.running,
                "limit": self.cli_slots.limit,
                "waiting": self.cli_slots.waiting,
            },
            "running_turns": sum(1 for w in self.workers.values() if w.current is not None),
            "memory": {
                "rss_mb": round(process.memory_info().rss / 2**20, 1),
                "children_rss_mb": round(child_rss / 2**20, 1),
                "claude_processes": len(children),
            },
        }


def _after(message_id: str, reserved: str | None) -> str:
    """`message_id`, or one in the next millisecond when it would not sort after the reserved reply id (a prompt
    sent within a millisecond of the previous prompt's reply id lists after that reply)."""
    if reserved is None or message_id > reserved:
        return message_id
    return reply_id_for(reserved)


def memory_of(settings: Settings) -> Memory:
    """The memory every session reads: Claude Code's user-level CLAUDE.md (see runtime/memory.py)."""
    return Memory(settings.claude_config_dir / MEMORY_FILE, settings.data_dir / "memory")


def _touches_memory(turn: RunningTurn, memory: Memory) -> bool:
    """Whether a tool call of the turn names the memory file (Write/Edit by path, or a shell command)."""
    named = (str(memory.path), MEMORY_FILE)
    return any(
        any(name in json.dumps(arguments, ensure_ascii=False) for name in named)
        for arguments in turn.tool_inputs.values()
    )


def memory_change_event(turn_id: str | None, change: Change) -> dict[str, Any]:
    """The `memory.changed` event's data (docs/protocol.md)."""

    def version(v: Any) -> dict[str, Any] | None:
        return None if v is None else {"id": v.id, "etag": v.sha, "at": v.at, "author": v.author, "size": v.size}

    return {
        "turn_id": turn_id,
        "version": version(change.current),
        "previous": version(change.previous),
        "diff": change.diff,
        "diff_truncated": change.diff_truncated,
    }


__all__ = [
    "CannotRegenerate",
    "KeyClaimed",
    "NotFound",
    "QueueFull",
    "Regeneration",
    "SessionManager",
    "ShuttingDown",
    "TurnRunning",
]
