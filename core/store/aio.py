"""An async face over a synchronous Store: each call runs in a worker thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from core.store.base import Store

P = ParamSpec("P")
R = TypeVar("R")


class _Threaded(Generic[P, R]):
    """One Store method, awaited: the signature comes from the Store protocol, so mypy checks every call
    (a misspelt method or a wrong argument is a type error, not a runtime surprise)."""

    def __init__(self, method: Callable[Concatenate[Any, P], R]) -> None:
        self.name = method.__name__

    def __get__(self, instance: AsyncStore, owner: type | None = None) -> Callable[P, Awaitable[R]]:
        method = getattr(instance.sync, self.name)

        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            result: R = await asyncio.to_thread(method, *args, **kwargs)
            return result

        call.__name__ = self.name
        return call


class _Collected(_Threaded[P, Any]):
    """A Store method that returns an iterator: collected into a list in the worker thread, so no
    store read ever happens on the event loop."""

    def __get__(self, instance: AsyncStore, owner: type | None = None) -> Callable[P, Awaitable[list[Any]]]:
        method = getattr(instance.sync, self.name)

        async def call(*args: P.args, **kwargs: P.kwargs) -> list[Any]:
            return await asyncio.to_thread(lambda: list(method(*args, **kwargs)))

        call.__name__ = self.name
        return call


class AsyncStore:
    """`await astore.get_session(...)` runs `store.get_session(...)` in a thread; `.sync` is the store itself.
    Every method of the Store protocol is listed once here (a test checks none is missing)."""

    def __init__(self, store: Store) -> None:
        self.sync = store

    async def batch(self, calls: Callable[[Store], R]) -> R:
        """`calls(store)` in one worker thread: several store calls for one trip to a thread (each trip
        costs the event loop a wake-up). On a store that offers `batch()` (the SQLite one) the writes are
        also one transaction; elsewhere (DynamoDB) each call is its own request, in order, as if awaited
        one by one: writes that must land together are one Store method (a turn's: accept_message,
        start_turn, end_turn), which each back-end makes one transaction."""

        def run() -> R:
            together = getattr(self.sync, "batch", None)
            if together is None:
                return calls(self.sync)
            with together():
                return calls(self.sync)

        return await asyncio.to_thread(run)

    create_session = _Threaded(Store.create_session)
    get_session = _Threaded(Store.get_session)
    update_session = _Threaded(Store.update_session)
    add_session_usage = _Threaded(Store.add_session_usage)
    list_sessions = _Threaded(Store.list_sessions)
    delete_session = _Threaded(Store.delete_session)
    sessions_with_running_turns = _Threaded(Store.sessions_with_running_turns)
    accept_message = _Threaded(Store.accept_message)
    start_turn = _Threaded(Store.start_turn)
    end_turn = _Threaded(Store.end_turn)
    put_message = _Threaded(Store.put_message)
    update_message = _Threaded(Store.update_message)
    get_message = _Threaded(Store.get_message)
    get_message_text = _Threaded(Store.get_message_text)
    list_messages = _Threaded(Store.list_messages)
    put_artifact = _Threaded(Store.put_artifact)
    list_artifacts = _Threaded(Store.list_artifacts)
    sessions_for_path = _Threaded(Store.sessions_for_path)
    search = _Threaded(Store.search)
    get_activity = _Threaded(Store.get_activity)
    record_user_action = _Threaded(Store.record_user_action)
    heartbeat = _Threaded(Store.heartbeat)
    record_logout = _Threaded(Store.record_logout)
    set_turn_running = _Threaded(Store.set_turn_running)
    set_voice_room = _Threaded(Store.set_voice_room)
    get_throttle = _Threaded(Store.get_throttle)
    record_login_failure = _Threaded(Store.record_login_failure)
    claim_login_attempt = _Threaded(Store.claim_login_attempt)
    lock_client = _Threaded(Store.lock_client)
    clear_throttle = _Threaded(Store.clear_throttle)
    claim_request = _Threaded(Store.claim_request)
    forget_request = _Threaded(Store.forget_request)
    put_push_subscription = _Threaded(Store.put_push_subscription)
    list_push_subscriptions = _Threaded(Store.list_push_subscriptions)
    delete_push_subscription = _Threaded(Store.delete_push_subscription)
    get_notification_preferences = _Threaded(Store.get_notification_preferences)
    set_notification_preferences = _Threaded(Store.set_notification_preferences)
    claim_vapid_keys = _Threaded(Store.claim_vapid_keys)
    create_schedule = _Threaded(Store.create_schedule)
    get_schedule = _Threaded(Store.get_schedule)
    update_schedule = _Threaded(Store.update_schedule)
    list_schedules = _Threaded(Store.list_schedules)
    delete_schedule = _Threaded(Store.delete_schedule)
    claim_schedule_run = _Threaded(Store.claim_schedule_run)
    put_schedule_run = _Threaded(Store.put_schedule_run)
    update_schedule_run = _Threaded(Store.update_schedule_run)
    get_schedule_run = _Threaded(Store.get_schedule_run)
    list_schedule_runs = _Threaded(Store.list_schedule_runs)
    running_schedule_runs = _Threaded(Store.running_schedule_runs)
    export_items = _Collected(Store.export_items)
    import_item = _Threaded(Store.import_item)
    clear_items = _Threaded(Store.clear_items)
    put_approval = _Threaded(Store.put_approval)
    get_approval = _Threaded(Store.get_approval)
    decide_approval = _Threaded(Store.decide_approval)
    mark_approval_delivered = _Threaded(Store.mark_approval_delivered)
    list_approvals = _Threaded(Store.list_approvals)
    pending_approvals = _Threaded(Store.pending_approvals)
    get_tool_policy = _Threaded(Store.get_tool_policy)
    set_tool_mode = _Threaded(Store.set_tool_mode)
    close = _Threaded(Store.close)
