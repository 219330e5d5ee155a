"""The notifications API on a real server, with the local push stand-in as every browser's push service."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.push_standin import PushStandin
from tests.support.server import BluClient, BluServer


@pytest.fixture
def push() -> Iterator[PushStandin]:
    with PushStandin() as standin:
        yield standin


@pytest.fixture
def server(model: StandinServer, tmp_path: Path) -> Iterator[BluServer]:
    running = BluServer(tmp_path / "data", env=model_env(model)).start()
    yield running
    running.stop()


def state(api: BluClient) -> dict[str, Any]:
    response = api.http.get("/api/notifications")
    assert response.status_code == 200, response.text
    return dict(response.json())


def subscribe(api: BluClient, body: dict[str, Any]) -> httpx.Response:
    return api.http.post("/api/notifications/subscriptions", json=body, headers={"User-Agent": "Phone Browser"})


def look(api: BluClient, session_id: str, *, visible: bool, page: str = "0123456789abcdef") -> None:
    """What the page does: read the session's events, and say whether it is visible."""
    api.read(session_id, wait=0)
    response = api.http.post(
        "/api/notifications/presence", json={"page": page, "session_id": session_id, "visible": visible}
    )
    assert response.status_code == 204, response.text


def test_everything_needs_the_login(server: BluServer) -> None:
    anonymous = server.client(login=False)
    assert anonymous.http.get("/api/notifications").status_code == 401
    assert anonymous.http.post("/api/notifications/test").status_code == 401


def test_state_offers_the_public_key_and_every_kind(server: BluServer) -> None:
    api = server.client()
    first = state(api)
    assert len(first["public_key"]) == 87  # a 65-byte P-256 point, base64url
    assert [k["kind"] for k in first["kinds"]] == [
        "turn_finished",
        "schedule_finished",
        "schedule_failed",
        "approval_waiting",
    ]
    assert all(k["enabled"] and k["label"] for k in first["kinds"])
    assert first["devices"] == []
    server.restart()
    assert state(server.client())["public_key"] == first["public_key"]  # generated once, kept


def test_malformed_and_oversized_subscriptions_are_refused_clearly(server: BluServer, push: PushStandin) -> None:
    api = server.client()
    good = push.subscribe(state(api)["public_key"]).to_json()
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "endpoint": "http://push.example/x"}, "https://"),
        ({**good, "endpoint": "https://10.0.0.8/x"}, "private network"),
        ({**good, "endpoint": "https://push.example/" + "x" * 3000}, "2048"),
        ({**good, "keys": {**good["keys"], "p256dh": "A" * 87}}, "P-256"),
        ({**good, "keys": {**good["keys"], "auth": "A" * 23}}, "auth"),
        ({**good, "keys": {"auth": good["keys"]["auth"]}}, "Field required"),
        ({**good, "extra": 1}, "Extra inputs"),
    ]
    for body, why in cases:
        response = subscribe(api, body)
        assert response.status_code == 422, body
        assert why in str(response.json()["detail"]), (why, response.json())
    huge = api.http.post(
        "/api/notifications/subscriptions",
        content=b'{"endpoint":"' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert state(api)["devices"] == []


def test_one_subscription_per_endpoint_and_preferences(server: BluServer, push: PushStandin) -> None:
    api = server.client()
    browser = push.subscribe(state(api)["public_key"])
    first = subscribe(api, browser.to_json())
    assert first.status_code == 201, first.text
    renewed = browser.to_json()
    renewed["keys"]["auth"] = "B" * 22
    assert subscribe(api, renewed).json()["id"] == first.json()["id"]
    (device,) = state(api)["devices"]
    assert device == {
        "id": first.json()["id"],
        "push_service": "127.0.0.1",
        "user_agent": "Phone Browser",
        "created_at": device["created_at"],
    }

    response = api.http.put("/api/notifications/preferences", json={"kinds": {"turn_finished": False}})
    assert response.status_code == 200, response.text
    assert {k["kind"]: k["enabled"] for k in response.json()["kinds"]}["turn_finished"] is False
    assert api.http.put("/api/notifications/preferences", json={"kinds": {"nope": True}}).status_code == 422

    assert api.http.post("/api/notifications/unsubscribe", json={"endpoint": browser.endpoint}).status_code == 204
    assert state(api)["devices"] == []
    assert api.http.delete(f"/api/notifications/subscriptions/{first.json()['id']}").status_code == 404


def test_at_most_twenty_browsers_the_oldest_makes_room(server: BluServer, push: PushStandin) -> None:
    api = server.client()
    key = state(api)["public_key"]
    ids = [subscribe(api, push.subscribe(key).to_json()).json()["id"] for _ in range(21)]
    assert [device["id"] for device in state(api)["devices"]] == ids[1:]


def test_a_turn_that_ends_after_the_person_left_is_pushed(server: BluServer, push: PushStandin) -> None:
    api = server.client()
    browser = push.subscribe(state(api)["public_key"])
    assert subscribe(api, browser.to_json()).status_code == 201

    watched, left = api.new_session(), api.new_session()
    look(api, watched, visible=True)
    final, _ = api.turn(watched, "still here")  # read to the end by a visible page: no notification
    assert final["status"] == "complete"

    look(api, left, visible=True, page="fedcba9876543210")
    look(api, left, visible=False, page="fedcba9876543210")  # the tab went to the background
    accepted = api.send(left, "tell me when you're done")
    (received,) = push.wait(1)  # pushes go out in order: had the watched turn been notified, it came first
    assert received.status == 201, received.problem
    payload = received.json()
    reply = next(m for m in api.messages(left) if m["turn_id"] == accepted["turn_id"] and m["role"] == "assistant")
    assert payload["kind"] == "turn_finished"
    assert payload["url"] == f"/#/s/{left}"
    assert payload["body"] == reply["text"]
    assert payload["title"].endswith("reply ready")


def test_a_subscription_answered_410_is_dropped(server: BluServer, push: PushStandin) -> None:
    api = server.client()
    key = state(api)["public_key"]
    gone, kept = push.subscribe(key), push.subscribe(key)
    for browser in (gone, kept):
        assert subscribe(api, browser.to_json()).status_code == 201
    push.answer(gone, 410)
    response = api.http.post("/api/notifications/test")
    assert response.status_code == 200, response.text
    assert response.json() == {"sent": 1, "dropped": 1, "retrying": 0, "failed": 0}
    (device,) = state(api)["devices"]
    assert device["id"] == subscribe(api, kept.to_json()).json()["id"]
    assert {r.json()["title"] for r in push.wait(2)} == {"Blu"}


def test_the_private_key_stays_on_the_server(server: BluServer, push: PushStandin) -> None:
    api = server.client()
    browser = push.subscribe(state(api)["public_key"])
    subscribe(api, browser.to_json())
    seen = [api.http.get("/api/notifications").text, api.http.post("/api/notifications/test").text]
    with sqlite3.connect(server.data_dir / "blu.sqlite3") as db:
        (body,) = db.execute("SELECT body FROM singletons WHERE name = 'vapid_keys'").fetchone()
    private = json.loads(body)["private_key"]
    assert len(private) == 43
    for text in [*seen, server.log()]:
        assert private not in text


def test_a_slow_push_service_does_not_hold_up_turns(server: BluServer, push: PushStandin) -> None:
    api = server.client()
    browser = push.subscribe(state(api)["public_key"])
    assert subscribe(api, browser.to_json()).status_code == 201
    session = api.new_session()
    push.hold()
    api.send(session, "nobody is watching")  # and nobody reads the events
    push.wait_arrived(1)  # the turn ended and its notification waits at the push service, unanswered
    # Meanwhile the session takes its next turn: the notification is not on the turn's path.
    second = api.send(session, "and another one")
    deadline = time.monotonic() + 60
    while not any(m["turn_id"] == second["turn_id"] and m["state"] == "complete" for m in replies(api, session)):
        assert time.monotonic() < deadline, replies(api, session)
        time.sleep(0.2)
    push.release()
    received = push.wait(2)
    assert [r.json()["url"] for r in received] == [f"/#/s/{session}"] * 2


def replies(api: BluClient, session: str) -> list[dict[str, Any]]:
    return [m for m in api.messages(session) if m["role"] == "assistant"]
