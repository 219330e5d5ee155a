"""Push subscriptions, notification preferences and the VAPID keys: one contract on both back-ends."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from core.store import Store
from core.store.models import NotificationPreferences, PushSubscriptionRecord, VapidKeys

T0 = 1_760_000_000.0


def subscription(n: int, **fields: object) -> PushSubscriptionRecord:
    values: dict[str, object] = {
        "id": f"sub{n:02d}",
        "endpoint": f"https://push.example/{n}",
        "p256dh": f"key{n}",
        "auth": f"auth{n}",
        "created_at": T0 + n,
        "user_agent": f"Browser {n}",
    }
    return PushSubscriptionRecord(**(values | fields))  # type: ignore[arg-type]


def test_subscriptions_round_trip_oldest_first(store: Store) -> None:
    assert store.list_push_subscriptions() == []
    for n in (3, 1, 2):
        store.put_push_subscription(subscription(n))
    assert [s.id for s in store.list_push_subscriptions()] == ["sub01", "sub02", "sub03"]
    assert store.list_push_subscriptions()[0] == subscription(1)


def test_a_subscription_with_the_same_id_replaces_the_old_one(store: Store) -> None:
    store.put_push_subscription(subscription(1))
    renewed = subscription(1, p256dh="new-key", auth="new-auth", created_at=T0 + 50)
    store.put_push_subscription(renewed)
    assert store.list_push_subscriptions() == [renewed]


def test_deleting_a_subscription_says_whether_there_was_one(store: Store) -> None:
    store.put_push_subscription(subscription(1))
    store.put_push_subscription(subscription(2))
    assert store.delete_push_subscription("sub01") is True
    assert store.delete_push_subscription("sub01") is False
    assert [s.id for s in store.list_push_subscriptions()] == ["sub02"]


def test_invalid_subscriptions_are_refused_alike(store: Store) -> None:
    with pytest.raises(ValueError):
        store.put_push_subscription(subscription(1, endpoint=""))
    with pytest.raises(TypeError):
        store.put_push_subscription(subscription(1, created_at="yesterday"))
    assert store.list_push_subscriptions() == []


def test_preferences_default_to_every_kind_and_are_replaced(store: Store) -> None:
    assert store.get_notification_preferences() == NotificationPreferences()
    assert store.get_notification_preferences().wants("turn_finished")
    chosen = NotificationPreferences(kinds={"turn_finished": False, "approval_waiting": True})
    store.set_notification_preferences(chosen)
    assert store.get_notification_preferences() == chosen
    assert not store.get_notification_preferences().wants("turn_finished")
    store.set_notification_preferences(NotificationPreferences(kinds={"schedule_failed": False}))
    assert store.get_notification_preferences().kinds == {"schedule_failed": False}


def test_vapid_keys_are_claimed_once(store: Store) -> None:
    first = VapidKeys(public_key="pub-1", private_key="priv-1", created_at=T0)
    assert store.claim_vapid_keys(first) == first
    assert store.claim_vapid_keys(replace(first, public_key="pub-2", private_key="priv-2")) == first


def test_racing_first_starts_all_get_the_same_keys(store: Store) -> None:
    barrier = threading.Barrier(4)
    got: list[VapidKeys] = []

    def claim(n: int) -> None:
        barrier.wait()
        got.append(store.claim_vapid_keys(VapidKeys(public_key=f"pub-{n}", private_key=f"priv-{n}")))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 4 and len({keys.public_key for keys in got}) == 1


def test_the_private_key_stays_out_of_repr() -> None:
    assert "secret-scalar" not in repr(VapidKeys(public_key="pub", private_key="secret-scalar"))
