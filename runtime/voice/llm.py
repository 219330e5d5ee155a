"""The voice pipeline's LLM: hands the person's words to the runtime's Claude session and speaks its reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from livekit.agents import APIConnectOptions, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

from runtime.voice.bridge import UNREACHABLE, BridgeError, ReplyEvent, RuntimeBridge
from runtime.voice.speech import SpeechShaper

log = logging.getLogger(__name__)

# A chunk with this id carries no text: it tells the agent to end the spoken segment here, so a short
# acknowledgement is heard at once instead of waiting for the next sentence to complete it.
FLUSH_CHUNK_ID = "blu-flush"
ACK_DELAY_SECONDS = 1.5
ACK_REPEAT_SECONDS = 12.0
ACKNOWLEDGEMENTS = ("One moment, I'm working on it.", "Still working on it.", "Almost there, thanks for waiting.")


@dataclass
class TurnTiming:
    """When each step of one voice turn happened (time.perf_counter seconds), for metrics and benchmarks."""

    started: float = 0.0
    submitted: float | None = None
    first_text: float | None = None
    ended: float | None = None
    turn_id: str = ""
    acknowledgements: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def handoff_ms(self) -> float | None:
        return None if self.submitted is None else (self.submitted - self.started) * 1000


class RuntimeLLM(llm.LLM):
    """An LLM whose model is Blu's own Claude session, reached through the runtime's API."""

    def __init__(self, bridge: RuntimeBridge, *, ack_delay: float = ACK_DELAY_SECONDS) -> None:
        super().__init__()
        self.bridge = bridge
        self.ack_delay = ack_delay
        self.timings: list[TurnTiming] = []

    @property
    def model(self) -> str:
        return "blu-session"

    @property
    def provider(self) -> str:
        return "blu"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> RuntimeLLMStream:
        return RuntimeLLMStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class RuntimeLLMStream(llm.LLMStream):
    def __init__(
        self,
        runtime_llm: RuntimeLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(runtime_llm, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._runtime_llm = runtime_llm
        # A turn has side effects (files written, commands run): never send it twice.
        self._retry_on_chunk_sent = False

    async def _run(self) -> None:
        owner = self._runtime_llm
        timing = TurnTiming(started=time.perf_counter())
        owner.timings.append(timing)
        message = _last_user_message(self._chat_ctx)
        if message is None or not (message.text_content or "").strip():
            return
        turn_id: str | None = None
        try:
            turn_id = await owner.bridge.submit(
                (message.text_content or "").strip(), idempotency_key=f"voice-{message.id}"
            )
            timing.submitted, timing.turn_id = time.perf_counter(), turn_id
            await self._speak_reply(turn_id, timing)
        except asyncio.CancelledError:
            # Barge-in: the person spoke over the reply, so stop the Claude turn too.
            timing.interrupted = True
            if turn_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(owner.bridge.interrupt())
            raise
        except BridgeError as error:
            self._say(str(error))
        except httpx.HTTPError as error:
            log.warning("voice turn could not reach the runtime: %s", error.__class__.__name__)
            self._say(UNREACHABLE)
        finally:
            timing.ended = time.perf_counter()

    async def _speak_reply(self, turn_id: str, timing: TurnTiming) -> None:
        owner = self._runtime_llm
        events: asyncio.Queue[ReplyEvent | BaseException] = asyncio.Queue()

        async def read() -> None:
            try:
                async for event in owner.bridge.reply(turn_id):
                    events.put_nowait(event)
            except BaseException as error:  # handed to the speaking loop, which re-raises it
                events.put_nowait(error)

        reader = asyncio.create_task(read(), name="voice-reply-reader")
        shaper = SpeechShaper()
        tools_running = 0
        last_spoken = time.perf_counter()
        last_ack = 0.0
        try:
            while True:
                timeout = owner.ack_delay if tools_running else None
                try:
                    event = await asyncio.wait_for(events.get(), timeout)
                except TimeoutError:
                    now = time.perf_counter()
                    if now - last_spoken >= owner.ack_delay and now - last_ack >= ACK_REPEAT_SECONDS:
                        phrase = ACKNOWLEDGEMENTS[min(len(timing.acknowledgements), len(ACKNOWLEDGEMENTS) - 1)]
                        timing.acknowledgements.append(phrase)
                        self._say(phrase)
                        last_ack = last_spoken = now
                    continue
                if isinstance(event, BaseException):
                    raise event
                if event.kind == "text":
                    if timing.first_text is None:
                        timing.first_text = time.perf_counter()
                    spoken = shaper.feed(event.text)
                    if spoken.strip():
                        self._send(spoken)
                        last_spoken = time.perf_counter()
                elif event.kind == "tool":
                    tools_running += 1
                elif event.kind == "tool_done":
                    tools_running = max(0, tools_running - 1)
                elif event.kind == "error":
                    self._say(event.text)
                elif event.kind == "end":
                    self._send(shaper.finish())
                    return
        finally:
            await _cancel(reader)

    def _send(self, text: str) -> None:
        if text:
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=self._runtime_llm.bridge.session_id, delta=llm.ChoiceDelta(role="assistant", content=text)
                )
            )

    def _say(self, sentence: str) -> None:
        """A sentence of its own, spoken at once (not held back to join the next one)."""
        self._send(f" {sentence} ")
        self._event_ch.send_nowait(llm.ChatChunk(id=FLUSH_CHUNK_ID))


def _last_user_message(chat_ctx: llm.ChatContext) -> llm.ChatMessage | None:
    for item in reversed(chat_ctx.items):
        if item.type == "message" and item.role == "user":
            return item
    return None


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
