"""Python as the image runs it after container/prune.py: what the deps stage deletes cannot be imported.

`environment(tmp)` returns the variables for a child process (and all of its own children): a
`sitecustomize` on PYTHONPATH replaces the path finder with one that refuses any module whose file the
cuts delete, and hides the deleted distributions from importlib.metadata, in this test environment's
site-packages. Each process also records the standard-library modules it loaded, so a test can check
that none of them is left uncompiled by the image (the Dockerfile's `compileall -x`).

`python -m tests.support.pruned` exercises what the image runs, with the cuts in force: every module
of core/, runtime/ and the entrypoint, the voice worker's CLI, Silero's VAD on a second of audio,
LiveKit's end-of-turn model, the speech providers, and uvicorn's protocol implementations.
"""

from __future__ import annotations

import atexit
import importlib.machinery
import json
import os
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CUT_LIST = "IMAGE_PRUNE_CUT_LIST"  # not BLU_*: tests/support/server.py drops those from the server's environment
STDLIB_LOG = "IMAGE_PRUNE_STDLIB_LOG"

SITECUSTOMIZE = """\
from tests.support.pruned import install
install()
"""


def environment(tmp: Path, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment of a process (and its children) that runs with the image's cuts made."""
    from container import prune

    site = Path(sysconfig.get_paths()["purelib"])
    cuts = sorted(str(path) for path in prune.planned(site, extra=extra))
    (tmp / "cuts.json").write_text(json.dumps(cuts))
    (tmp / "site").mkdir(exist_ok=True)
    (tmp / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join([str(tmp / "site"), str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {
        **os.environ,
        "PYTHONPATH": path,
        CUT_LIST: str(tmp / "cuts.json"),
        STDLIB_LOG: str(tmp / "stdlib-modules.txt"),
    }


class PrunedPathFinder:
    """The standard path finder, except for what the image's cuts delete."""

    def __init__(self, cuts: Iterable[str]) -> None:
        self.cuts = frozenset(cuts)

    def is_cut(self, location: str) -> bool:
        path = Path(location)
        return str(path) in self.cuts or any(str(parent) in self.cuts for parent in path.parents)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None:
            return None
        locations = [spec.origin] if spec.has_location and spec.origin else list(spec.submodule_search_locations or [])
        if locations and all(self.is_cut(location) for location in locations):
            raise ModuleNotFoundError(f"No module named {name!r} (the image's deps stage deletes it)", name=name)
        return spec

    def find_distributions(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for dist in importlib.machinery.PathFinder.find_distributions(*args, **kwargs):
            if not self.is_cut(str(getattr(dist, "_path", ""))):
                yield dist

    def invalidate_caches(self) -> None:
        importlib.machinery.PathFinder.invalidate_caches()


def install() -> None:
    """Put the pruned finder in place of the path finder (from sitecustomize, before anything is imported)."""
    listing = os.environ.get(CUT_LIST)
    if not listing:
        return
    finder = PrunedPathFinder(json.loads(Path(listing).read_text()))
    sys.meta_path[:] = [finder if entry is importlib.machinery.PathFinder else entry for entry in sys.meta_path]
    for name in [n for n, m in sys.modules.items() if finder.is_cut(str(getattr(m, "__file__", None) or ""))]:
        del sys.modules[name]  # imported by site before this ran (.pth files): gone too
    log = os.environ.get(STDLIB_LOG)
    if log:
        atexit.register(_record_stdlib, Path(log))


def stdlib_modules() -> list[str]:
    """The loaded standard-library modules' files, relative to the library (site-packages not included)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).is_relative_to(stdlib) and "site-packages" not in Path(file).parts:
            found.add(str(Path(file).relative_to(stdlib)))
    return sorted(found)


def _record_stdlib(log: Path) -> None:
    with log.open("a") as handle:
        handle.writelines(f"{name}\n" for name in stdlib_modules())


def _import_everything() -> None:
    import importlib
    import pkgutil

    import core
    import runtime

    for package in (core, runtime):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    for name in ("container.entrypoint", "livekit.api", "livekit.agents.cli._legacy"):
        importlib.import_module(name)


async def _voice() -> None:
    import numpy as np
    from livekit import rtc

    from runtime.settings import Settings
    from runtime.voice import providers

    vad = providers.make_vad()
    stream = vad.stream()
    silence = np.zeros(160, dtype=np.int16).tobytes()
    for _ in range(100):  # a second of 16 kHz audio, through the ONNX model
        stream.push_frame(rtc.AudioFrame(silence, 16000, 1, 160))
    stream.end_input()
    events = [event async for event in stream]
    assert events, "the VAD produced nothing"
    await stream.aclose()
    detector = providers.make_turn_detector()
    assert detector.audio_model.model == "turn-detector-v1-mini"
    settings = Settings(OPENAI_API_KEY="sk-pruned-check", AWS_REGION="us-east-1")
    providers.make_stt(settings)
    providers.make_tts(settings)
    providers.PollyTTS(voice="Joanna", region="us-east-1")


def _web_server() -> None:
    import uvicorn

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    uvicorn.Config(app, log_config=None).load()  # imports the HTTP, WebSocket and lifespan implementations


def main() -> int:
    import asyncio

    _import_everything()
    asyncio.run(_voice())
    _web_server()
    print("pruned image: everything imported and ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
