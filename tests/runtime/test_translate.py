"""TurnTranslator alone: each SDK message type's effect on the turn, the events and the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from claude_agent_sdk import RateLimitEvent, RateLimitInfo

from core.store.aio import AsyncStore
from core.store.local import LocalStore
from core.store.models import MessageRecord, SessionRecord
from runtime.agent.events import EventHub
from runtime.agent.translate import ClaudeConnection, TurnTranslator
from runtime.agent.turns import RunningTurn, TurnRequest
from tests.runtime.fake_claude import CLAUDE_SESSION, init, interrupted, model_call, result, said

SID, PROMPT = "s1", "prompt-uuid"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AsyncStore]:
    local = LocalStore(tmp_path / "blu.db")
    local.create_session(SessionRecord(id=SID))
    local.put_message(MessageRecord(session_id=SID, id="m1", role="assistant", turn_id="t1", state="running"))
    yield AsyncStore(local)
    local.close()


def translator(store: AsyncStore, tmp_path: Path, connection: ClaudeConnection | None = None) -> TurnTranslator:
    turn = RunningTurn(
        request=TurnRequest(SID, "t1", "u1", "hi", "text", prompt_uuid=PROMPT), assistant_message_id="m1"
    )
    return TurnTranslator(
        session_id=SID,
        turn=turn,
        connection=connection or ClaudeConnection(),
        hub=EventHub(),
        store=store,
        workspace=tmp_path / "workspace",
    )


async def test_text_blocks_of_several_calls_are_paragraphs_and_usage_adds_up(store: AsyncStore, tmp_path: Path) -> None:
    t = translator(store, tmp_path)
    for message in [
        *model_call(PROMPT, "One", input_tokens=10, cached_tokens=90, output_tokens=3),
        *model_call(PROMPT, "Two", input_tokens=5, output_tokens=4),
    ]:
        await t.handle(message)
    t.flush()
    assert t.turn.streamed_text == "One\n\nTwo"
    assert "".join(e.data["text"] for e in t.hub.log(SID)._after(0)) == "One\n\nTwo"
    assert (t.turn.input_tokens, t.turn.output_tokens) == (105, 7)
    assert t.turn.first_token_at is not None


async def test_the_claude_session_id_is_stored_once_per_connection(store: AsyncStore, tmp_path: Path) -> None:
    connection = ClaudeConnection()
    t = translator(store, tmp_path, connection)
    await t.handle(init())
    assert (await store.get_session(SID)).claude_session_id == CLAUDE_SESSION
    await store.update_session(SID, claude_session_id="changed elsewhere")
    await t.handle(said("hello"))  # the same id again: not written again
    assert (await store.get_session(SID)).claude_session_id == "changed elsewhere"
    await t.handle(said("hello", session_id="another"))
    assert (await store.get_session(SID)).claude_session_id == connection.claude_session_id == "another"


async def test_a_result_costs_the_difference_of_running_totals_and_explains_a_failure(
    store: AsyncStore, tmp_path: Path
) -> None:
    connection = ClaudeConnection(cost_baseline=0.5)  # a resumed transcript's earlier turns
    t = translator(store, tmp_path, connection)
    await t.handle(result(PROMPT, 0.75, is_error=True, api_error_status=529))
    assert t.turn.cost_usd == pytest.approx(0.25) and connection.cost_baseline == 0.75
    assert t.turn.error_kind == "overloaded" and t.turn.state == "error"

    stopped = translator(store, tmp_path, connection)
    stopped.turn.stop_reason, stopped.turn.error = "interrupted", "Stopped on request."
    await stopped.handle(interrupted(PROMPT, 0.75))  # a stopped turn's error result is the stop, no failure
    assert (stopped.turn.cost_usd, stopped.turn.error_kind, stopped.turn.state) == (0.0, None, "interrupted")


async def test_messages_blu_has_no_use_for_change_nothing(store: AsyncStore, tmp_path: Path) -> None:
    t = translator(store, tmp_path)
    info = RateLimitInfo(status="allowed_warning", utilization=0.9)
    await t.handle(RateLimitEvent(rate_limit_info=info, uuid="r1", session_id=CLAUDE_SESSION))
    await t.handle(said("an error text", error="server_error"))
    t.flush()
    assert t.hub.log(SID)._after(0) == [] and t.turn.text == "" and t.turn.tools == {}
    assert (await store.get_session(SID)).claude_session_id == CLAUDE_SESSION
