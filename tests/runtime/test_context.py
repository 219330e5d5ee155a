"""The context meter: the session's figure is what the last request of its last turn sent the model."""

from __future__ import annotations

import re
import uuid

import pytest

from runtime.agent.context import DEFAULT_CONTEXT_WINDOW, context_window, reported_window
from runtime.standin import StandinServer
from runtime.standin.messages_api import LoggedRequest
from tests.support.server import BluClient


def _sent(usage: dict[str, int] | None) -> int:
    assert usage is not None
    return usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]


def _requests(model: StandinServer, marker: str) -> list[LoggedRequest]:
    """The turn's requests to the model (not the title's), in the order they were sent."""
    return [r for r in model.messages_requests() if r.prompt and marker in r.prompt and r.kind != "title"]


def test_the_meter_is_the_last_request_of_the_turn(api: BluClient, model: StandinServer) -> None:
    marker = uuid.uuid4().hex
    sid = api.new_session()
    prompt = f'{marker} [[usage cache_read=30000 cache_write=1200]] [[write path=ctx/{marker}.md content="hi"]]'
    status, _ = api.turn(sid, prompt)
    assert status["status"] == "complete"
    requests = _requests(model, marker)
    assert len(requests) == 2  # the tool call, then the answer after its result: two requests, one turn
    last = requests[-1]
    assert last.usage and last.usage["cache_read_input_tokens"] == 30000
    assert _sent(requests[0].usage) != _sent(last.usage)
    session = api.http.get(f"/api/sessions/{sid}").json()
    assert session["context_tokens"] == _sent(last.usage)  # not the turn's sum
    assert session["context_model"] == last.model
    assert session["context_window"] == context_window(last.model)
    api.cursors[sid] = 0  # the whole log: session.updated follows the turn's final status
    logged = api.read(sid, wait=5)["events"]
    updated = [e["data"]["session"] for e in logged if e["type"] == "session.updated"][-1]
    assert updated["context_tokens"] == session["context_tokens"]
    # The person's totals still count every request; the meter only the last.
    reply = api.messages(sid)[-1]
    assert reply["input_tokens"] == sum(_sent(r.usage) for r in requests)


def test_compact_is_claude_codes_own_and_shrinks_the_meter(api: BluClient, model: StandinServer) -> None:
    marker = uuid.uuid4().hex
    sid = api.new_session()
    api.turn(sid, f"{marker} [[usage cache_read=50000]] [[words n=40]]")
    before = api.http.get(f"/api/sessions/{sid}").json()["context_tokens"]
    seen = len(model.messages_requests())
    status, _ = api.turn(sid, "/compact")
    assert status["status"] == "complete"
    compaction = model.messages_requests()[seen:]
    assert any(marker in str(r.body) for r in compaction)  # the model was asked to summarise the conversation
    reply = api.messages(sid)[-1]
    found = re.fullmatch(r"Compacted the conversation: ([\d,]+) → ([\d,]+) tokens of context\.", reply["text"])
    assert found, reply["text"]
    after = api.http.get(f"/api/sessions/{sid}").json()
    assert after["context_tokens"] == int(found.group(2).replace(",", "")) < before
    # The next turn is measured from its own request again.
    api.turn(sid, f"{marker}-next [[recall]]")
    assert api.http.get(f"/api/sessions/{sid}").json()["context_tokens"] == _sent(
        _requests(model, f"{marker}-next")[-1].usage
    )


@pytest.mark.parametrize(
    ("model", "reported", "window"),
    [
        ("claude-opus-5-5", None, 1_000_000),
        ("claude-sonnet-4-5-20250929", None, 200_000),
        ("claude-sonnet-4-5-20250929[1m]", None, 1_000_000),
        ("claude-opus-4-6", None, 1_000_000),
        ("claude-haiku-4-5", None, 200_000),
        ("someone-elses-model", None, DEFAULT_CONTEXT_WINDOW),
        (None, None, DEFAULT_CONTEXT_WINDOW),
        ("claude-sonnet-4-5", 1_000_000, 1_000_000),  # what Claude Code reports wins
    ],
)
def test_context_windows(model: str | None, reported: int | None, window: int) -> None:
    assert context_window(model, reported) == window


def test_reported_window_reads_the_results_model_usage() -> None:
    usage = {"claude-opus-5-5": {"inputTokens": 1, "contextWindow": 1_000_000}}
    assert reported_window(usage, "claude-opus-5-5") == 1_000_000
    assert reported_window(usage, "claude-haiku-4-5") is None
    assert reported_window(None, "claude-opus-5-5") is None
