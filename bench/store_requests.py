"""DynamoDB requests on a hot turn's path, counted on moto: each is a network round trip in AWS."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

STEPS = ("before the prompt reaches the CLI", "turn start, while the CLI works", "before `complete`")


@dataclass(frozen=True)
class Step:
    """One step of a turn: how many requests it sends one after another, by DynamoDB operation."""

    name: str
    requests: Counter[str]

    @property
    def count(self) -> int:
        return sum(self.requests.values())


def run() -> list[Step]:
    """The store writes of one hot turn with an Idempotency-Key, as the runtime makes them (`submit`'s
    Store.accept_message, `_turn_started`, `_turn_ended`), on a DynamoStore over moto's in-process DynamoDB."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
    )
    import boto3
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    from core.store.dynamo import DynamoStore
    from core.store.models import SessionRecord
    from tests.support.dynamo import create_table

    seen: list[str] = []
    process_request = BotocoreStubber.process_request

    def counted(self: BotocoreStubber, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        seen.append((target.decode() if isinstance(target, bytes) else str(target)).rsplit(".", 1)[-1])
        return process_request(self, request)

    BotocoreStubber.process_request = counted  # type: ignore[method-assign]
    try:
        with mock_aws():
            create_table(boto3.client("dynamodb", region_name="us-east-1"), "blu-bench")
            store = DynamoStore("blu-bench")
            store.create_session(SessionRecord(id="s1", name="bench", status="active"))
            steps: list[Step] = []
            for number in range(2):  # the second turn is the hot one: the session has a name and a history
                steps = _one_turn(store, number, seen)
            return steps
    finally:
        BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def _one_turn(store: Any, number: int, seen: list[str]) -> list[Step]:
    from core.store.models import AcceptedRequest, MessageRecord, new_message_id, reply_id_for
    from runtime.agent.turns import RunningTurn, TurnRequest
    from runtime.agent.worker import _turn_ended, _turn_started

    at, turn_id = time.time(), f"t{number}"
    prompt = MessageRecord(
        session_id="s1",
        id=new_message_id(at),
        role="user",
        text="hello",
        channel="text",
        turn_id=turn_id,
        state="complete",
        created_at=at,
    )
    claim = AcceptedRequest("s1", f"k{number}", turn_id=turn_id, message_id=prompt.id, expires_at=at + 60)
    reply_id = reply_id_for(prompt.id)
    reply = MessageRecord(
        session_id="s1", id=reply_id, role="assistant", channel="text", turn_id=turn_id, state="running"
    )
    turn = RunningTurn(
        request=TurnRequest("s1", turn_id, prompt.id, "hello", "text", reply_id=reply_id),
        assistant_message_id=reply_id,
    )
    calls = (
        lambda: store.accept_message(prompt, name=lambda: "hello", claim=claim, check=lambda: None),
        lambda: _turn_started(store, reply, False),
        lambda: _turn_ended(store, "s1", turn, None),
    )
    steps = []
    for name, call in zip(STEPS, calls, strict=True):
        seen.clear()
        call()
        steps.append(Step(name, Counter(seen)))
    return steps
