"""The Notifier against the local push stand-in: encrypted, VAPID-signed pushes; dead subscriptions dropped;
throttled ones retried; preferences honoured; and who counts as looking at a session (Presence)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.observability.logs import scrubber
from core.store.aio import AsyncStore
from core.store.local import LocalStore
from core.store.models import NotificationPreferences, PushSubscriptionRecord
from runtime.api.notifications import subscription_id
from runtime.notify import Notice, Notifier, Presence
from runtime.notify.notifier import MAX_PAYLOAD_BYTES
from runtime.notify.presence import READER_GRACE_SECONDS
from tests.support.push_standin import BrowserSubscription, PushStandin


@pytest.fixture
def push() -> Iterator[PushStandin]:
    with PushStandin() as standin:
        yield standin


@pytest.fixture
async def notifier(tmp_path: Path) -> AsyncIterator[Notifier]:
    store = AsyncStore(LocalStore(tmp_path / "blu.sqlite3"))
    sender = Notifier(store, retry_delays=(0.01, 0.01))
    sender.start()
    yield sender
    await sender.close()
    store.sync.close()


async def subscribe(notifier: Notifier, push: PushStandin) -> BrowserSubscription:
    browser = push.subscribe(await notifier.public_key())
    body = browser.to_json()
    await notifier.store.put_push_subscription(
        PushSubscriptionRecord(
            id=subscription_id(browser.endpoint),
            endpoint=browser.endpoint,
            p256dh=body["keys"]["p256dh"],
            auth=body["keys"]["auth"],
        )
    )
    return browser


async def settled(notifier: Notifier, push: PushStandin, count: int) -> None:
    """Wait (in a thread, the stand-in blocks) for `count` pushes, then for the notifier to handle the answers."""
    await asyncio.to_thread(push.wait, count)
    await notifier.idle()


async def test_a_notice_arrives_signed_encrypted_and_whole(notifier: Notifier, push: PushStandin) -> None:
    await subscribe(notifier, push)
    assert await notifier.notify("turn_finished", "Plans: reply ready", "Here is the plan.", "/#/s/" + "a" * 24)
    await settled(notifier, push, 1)
    (received,) = push.received
    assert received.status == 201, received.problem
    assert received.claims["sub"].startswith("mailto:")
    assert received.headers["content-encoding"] == "aes128gcm"
    payload = received.json()
    assert payload["kind"] == "turn_finished"
    assert payload["title"] == "Plans: reply ready"
    assert payload["body"] == "Here is the plan."
    assert payload["url"] == "/#/s/" + "a" * 24


@pytest.mark.parametrize("status", [404, 410])
async def test_a_subscription_the_push_service_rejects_is_dropped(
    notifier: Notifier, push: PushStandin, status: int
) -> None:
    gone = await subscribe(notifier, push)
    kept = await subscribe(notifier, push)
    push.answer(gone, status)
    report = await notifier.send_now(Notice("test", "Blu", "Test"))
    assert report.dropped == [subscription_id(gone.endpoint)]
    assert report.sent == [subscription_id(kept.endpoint)]
    assert [s.endpoint for s in await notifier.store.list_push_subscriptions()] == [kept.endpoint]


async def test_a_throttled_push_is_retried_until_it_is_taken(notifier: Notifier, push: PushStandin) -> None:
    browser = await subscribe(notifier, push)
    push.answer(browser, 429, 503)
    await notifier.notify("schedule_finished", "Morning run", "Done.")
    await settled(notifier, push, 3)
    assert [r.status for r in push.received] == [429, 503, 201]
    assert push.received[2].json()["title"] == "Morning run"
    assert len(await notifier.store.list_push_subscriptions()) == 1


async def test_retries_give_up_and_keep_the_subscription(notifier: Notifier, push: PushStandin) -> None:
    browser = await subscribe(notifier, push)
    push.answer(browser, 500, 500, 500, 500)
    report = await notifier.send_now(Notice("test", "Blu", "Test"))
    assert report.retrying == [subscription_id(browser.endpoint)]
    await settled(notifier, push, 3)  # the first try and two retries (retry_delays has two)
    await asyncio.sleep(0.1)
    await notifier.idle()
    assert [r.status for r in push.received] == [500, 500, 500]
    assert len(await notifier.store.list_push_subscriptions()) == 1


async def test_a_push_service_that_does_not_answer_fails_nothing(notifier: Notifier) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    keys = (await notifier.keys()).public_key  # any valid point will do as the browser's key
    await notifier.store.put_push_subscription(
        PushSubscriptionRecord(id="x" * 32, endpoint=f"http://127.0.0.1:{port}/push/x", p256dh=keys, auth="A" * 22)
    )
    report = await notifier.send_now(Notice("test", "Blu", "Test"))
    assert report.retrying == ["x" * 32]


async def test_kinds_switched_off_are_not_sent(notifier: Notifier, push: PushStandin) -> None:
    await subscribe(notifier, push)
    await notifier.store.set_notification_preferences(NotificationPreferences(kinds={"turn_finished": False}))
    assert not await notifier.notify("turn_finished", "Off", "Not sent")
    assert not await notifier.notify("no_such_kind", "Unknown", "Not sent")
    assert await notifier.notify("approval_waiting", "On", "Sent")
    await settled(notifier, push, 1)
    assert [r.json()["title"] for r in push.received] == ["On"]
    assert push.received[0].headers["urgency"] == "high"


async def test_the_vapid_pair_is_made_once_and_the_private_key_is_scrubbed(notifier: Notifier, tmp_path: Path) -> None:
    keys = await notifier.keys()
    again = Notifier(AsyncStore(LocalStore(tmp_path / "blu.sqlite3")))
    assert await again.keys() == keys
    await again.close()
    assert keys.private_key not in scrubber.scrub(f"leaked {keys.private_key}")


def test_a_long_notice_still_fits_one_push() -> None:
    payload = Notice("turn_finished", "T" * 5000, "B" * 50_000, "/#/s/" + "x" * 5000, tag="t" * 5000).payload()
    assert len(payload) <= MAX_PAYLOAD_BYTES
    assert json.loads(payload)["url"] == "/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_presence_follows_readers_and_what_pages_report() -> None:
    clock = Clock()
    presence = Presence(clock)
    assert not presence.watching("s1")  # nobody ever read it
    with presence.reading("s1"):
        clock.now += 60  # a long-poll in flight counts however long it waits
        assert presence.watching("s1")
    assert presence.watching("s1")  # the page asks again at once
    clock.now += READER_GRACE_SECONDS + 1
    assert not presence.watching("s1")  # the tab was closed, or the phone locked

    with presence.reading("s1"):
        presence.report("page-a", "s1", visible=False)  # a background tab still long-polls
        assert not presence.watching("s1")
        presence.report("page-b", "s1", visible=True)  # another tab shows it
        assert presence.watching("s1")
        presence.report("page-b", "s2", visible=True)  # ... and moves to another session
        assert not presence.watching("s1")
