"""A real server's output: EMF records of real turns and logins, and JSON log lines that name the turn."""

from __future__ import annotations

import json

from tests.support.emf import parse_emf, with_metric
from tests.support.server import BluServer


def test_real_turns_emit_tier_latency_usage_and_json_logs(fresh_server: BluServer) -> None:
    server = fresh_server.start()
    client = server.client()
    assert client.http.post("/api/login", json={"password": "not it"}).status_code == 401
    sid = client.new_session()
    first, _ = client.turn(sid, '[[write path=notes/metrics.md content="# Metrics"]]')
    second, _ = client.turn(sid, "and now without tools")
    replies = [msg for msg in client.messages(sid) if msg["role"] == "assistant"]
    client.http.close()
    server.stop()
    assert server.log_path is not None
    output = server.log_path.read_text()
    records = parse_emf(output)

    turns = with_metric(records, "Turns")
    assert [r.dimensions for r in turns] == [{"Tier": "cold"}, {"Tier": "hot"}]
    for record, status in zip(turns, (first, second), strict=True):
        assert status["status"] == "complete"
        assert record.units == {"Turns": "Count", "TurnDurationMs": "Milliseconds", "TurnFirstTokenMs": "Milliseconds"}
        # Both come from the same instants; the event rounds down to whole milliseconds.
        assert int(record.value("TurnFirstTokenMs")) == status["first_token_ms"]
        assert record.value("TurnDurationMs") >= status["duration_ms"] >= status["first_token_ms"]

    usage = with_metric(records, "TurnCostUSD")
    assert len(usage) == 2 and all(r.dimension_sets == [[]] for r in usage)
    for record, reply in zip(usage, replies, strict=True):
        assert reply["input_tokens"] > 0 and reply["output_tokens"] > 0
        assert record.value("TurnInputTokens") == reply["input_tokens"]
        assert record.value("TurnOutputTokens") == reply["output_tokens"]
        assert record.value("TurnCostUSD") == reply["cost_usd"]
    assert [(r.value("ToolCalls"), r.value("ToolErrors")) for r in usage] == [(1, 0), (0, 0)]
    assert [r.values for r in with_metric(records, "LoginFailures")] == [{"LoginFailures": [1.0]}]
    assert with_metric(records, "Errors") == []

    logs = [json.loads(line) for line in output.splitlines() if line.strip()]
    finished = [entry for entry in logs if entry.get("message") == "turn finished"]
    assert [(e["session_id"], e["turn_id"], e["tier"]) for e in finished] == [
        (sid, first["turn_id"], "cold"),
        (sid, second["turn_id"], "hot"),
    ]
    assert all("level" in entry or "_aws" in entry for entry in logs)
