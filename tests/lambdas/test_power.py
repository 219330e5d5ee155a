"""The wake/sleep log: one record per wake and sleep, durations, concurrent wakes recorded once."""

from __future__ import annotations

from tests.lambdas.conftest import Aws

NOW = 1_800_000_000.0


def test_a_full_cycle(aws: Aws) -> None:
    log = aws.power
    assert log.record_wake(at=NOW, reason="user") is True
    assert log.record_wake(at=NOW + 1, reason="user") is False  # a second launcher, same wake
    assert log.mark_ready(ready_at=NOW + 50) == 50
    assert log.mark_ready(ready_at=NOW + 60) is None
    assert log.record_sleep(at=NOW + 50 + 1800, reason="idle") is True
    assert log.record_sleep(at=NOW + 50 + 1900, reason="idle") is False
    events = log.recent()
    assert [(e.kind, e.reason, e.duration_seconds) for e in events] == [("sleep", "idle", 1800), ("wake", "user", 50)]
    assert log.current()["state"] == "asleep"


def test_events_expire_and_keep_newest_first(aws: Aws) -> None:
    log = aws.power
    for i in range(3):
        log.record_wake(at=NOW + i * 100, reason=f"r{i}")
        log.record_sleep(at=NOW + i * 100 + 50, reason="user")
    assert [e.at for e in log.recent(limit=2)] == [NOW + 250, NOW + 200]
    item = aws.dynamodb.query(
        TableName="blu-table",
        KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": {"S": "SYSTEM"}, ":p": {"S": "POWER#"}},
    )["Items"][0]
    assert "ttl" in item
