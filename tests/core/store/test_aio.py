"""The async store is typed from the Store protocol: every method is there, and mypy catches misuse."""

from __future__ import annotations

import inspect
import threading
from pathlib import Path

from mypy import api as mypy_api

from core.store.aio import AsyncStore, _Threaded
from core.store.base import Store
from core.store.models import MessageRecord, SessionRecord

REPO = Path(__file__).resolve().parents[3]
MISUSE = """
from core.store.aio import AsyncStore


async def misuse(store: AsyncStore) -> None:
    await store.get_sesion("x")
    await store.get_session("x", bogus=1)
    await store.get_session(42)
    record = await store.get_session("x")
    record.no_such_field
"""


def test_every_store_method_is_awaitable_on_the_async_store() -> None:
    protocol = {name for name, _ in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")}
    delegated = {name for name, value in vars(AsyncStore).items() if isinstance(value, _Threaded)}
    assert protocol == delegated


def test_mypy_catches_a_misspelt_method_and_wrong_arguments(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(MISUSE)
    out, _, status = mypy_api.run(["--config-file", str(REPO / "pyproject.toml"), str(planted)])
    assert status == 1, out
    assert 'has no attribute "get_sesion"' in out
    assert 'Unexpected keyword argument "bogus"' in out
    assert 'incompatible type "int"; expected "str"' in out
    assert 'has no attribute "no_such_field"' in out


async def test_a_batch_runs_its_calls_in_order_in_one_worker_thread(store: Store) -> None:
    """`batch` is one trip to a thread on every back-end (each call as if awaited one by one on DynamoDB;
    one transaction on SQLite, tests/core/store/test_local.py)."""
    astore = AsyncStore(store)
    threads: set[int] = set()

    def calls(sync: Store) -> SessionRecord:
        threads.add(threading.get_ident())
        sync.create_session(SessionRecord(id="s1"))
        sync.put_message(MessageRecord(session_id="s1", id="m1", role="user", text="hi"))
        threads.add(threading.get_ident())
        return sync.add_session_usage("s1", messages=1)

    session = await astore.batch(calls)
    assert session.message_count == 1
    assert [m.text for m in (await astore.list_messages("s1")).items] == ["hi"]
    assert len(threads) == 1 and threading.get_ident() not in threads  # never on the event loop
