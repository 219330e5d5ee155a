"""The async store is typed from the Store protocol: every method is there, and mypy catches misuse."""

from __future__ import annotations

import inspect
from pathlib import Path

from mypy import api as mypy_api

from core.store.aio import AsyncStore, _Threaded
from core.store.base import Store

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
