"""Start-up: what a wake waits for, each process measured from its start (medians of several starts).

- importing the web app (`runtime.app`) and the launcher Lambda's handler, in a fresh interpreter;
- `python -m runtime` from process start to `GET /health` answering 200;
- the voice worker (`python -m runtime.voice start`) from process start to registering with LiveKit,
  which it does once its idle job runner has warmed up (LiveKit's worker waits for it; Blu's runs
  calls as threads of the worker): a stand-in LiveKit server answers the registration on its websocket.

Each figure is taken in fresh processes with the bytecode already on disk, as in the image. `repo`
measures another checkout with the same virtualenv (before/after comparisons, interleaved).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from tests.support.livekit_standin import API_KEY, API_SECRET, LiveKitStandin
from tests.support.server import PASSWORD_HASH, REPO, SESSION_SECRET, free_port

LAUNCHER_ENV = {
    # What the control stack gives the function (lambdas/common/config.py), none of it reached at import.
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "blu-launcher",
    "DYNAMODB_TABLE": "blu",
    "BLU_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:blu",
    "BLU_ECS_CLUSTER": "blu",
    "BLU_ECS_SERVICE": "blu",
}


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "CLAUDE_", "BLU_", "AUTH_", "SESSION_", "LIVEKIT_", "OPENAI_"))
    }
    env.update(extra or {})
    return env


Sample = tuple[float, float]  # (wall seconds, CPU seconds): CPU time barely moves with the machine's load


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    process = psutil.Process(pid)
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        try:
            times = each.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def import_seconds(module: str, *, repo: Path = REPO, env: dict[str, str] | None = None) -> Sample:
    """Wall and CPU seconds to import `module` in a fresh interpreter (interpreter start not counted)."""
    code = (
        "import time, sys; w, c = time.perf_counter(), time.process_time(); "
        f"import {module}; sys.stdout.write(f'{{time.perf_counter() - w}} {{time.process_time() - c}}')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=_clean_env(env), capture_output=True, text=True, check=True
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def health_seconds(root: Path, *, repo: Path = REPO) -> Sample:
    """Seconds from starting `python -m runtime` to its first 200 on /health."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="data-", dir=root))
    env = _clean_env(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "BLU_DATA_DIR": str(data),
            "AUTH_PASSWORD_HASH": PASSWORD_HASH,
            "SESSION_SECRET": SESSION_SECRET,
            # As in AWS: a Claude key and no stand-in (nothing is contacted before the first turn).
            "ANTHROPIC_API_KEY": "bench",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        }
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime"], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(timeout=1) as http:
            while process.poll() is None:
                try:
                    if http.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        return time.perf_counter() - started, cpu_seconds(process.pid)
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
                if time.perf_counter() - started > 60:
                    break
        raise RuntimeError(f"Blu did not become healthy (exit {process.poll()})")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def voice_ready_seconds(*, repo: Path = REPO) -> Sample:
    """Seconds from starting the voice worker to its registration (its idle job runner warmed up first)."""
    with LiveKitStandin() as livekit:
        env = _clean_env(
            {
                "LIVEKIT_URL": livekit.url,
                "LIVEKIT_API_KEY": API_KEY,
                "LIVEKIT_API_SECRET": API_SECRET,
                "OPENAI_API_KEY": "sk-bench",
                "BLU_DATA_DIR": tempfile.mkdtemp(prefix="blu-bench-voice-"),
                "SESSION_SECRET": SESSION_SECRET,
                "AUTH_PASSWORD_HASH": PASSWORD_HASH,
                "LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE": "0",  # as the image sets it
            }
        )
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime.voice", "start"],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # anything the worker starts goes with it
        )
        try:
            if not livekit.registered.wait(90):
                raise RuntimeError(f"the voice worker did not register (exit {process.poll()})")
            return time.perf_counter() - started, cpu_seconds(process.pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def measure(*, starts: int, repo: Path = REPO) -> dict[str, Sample]:
    """Median wall and CPU seconds of each start-up figure over `starts` fresh processes (each kind in turn)."""
    samples: dict[str, list[Sample]] = {"web_import": [], "health": [], "launcher_import": [], "voice_ready": []}
    with tempfile.TemporaryDirectory(prefix="blu-bench-start-") as tmp:
        import_seconds("runtime.app", repo=repo)  # the first run writes any missing bytecode
        import_seconds("lambdas.launcher.handler", repo=repo, env=LAUNCHER_ENV)
        for _ in range(starts):
            samples["web_import"].append(import_seconds("runtime.app", repo=repo))
            samples["launcher_import"].append(import_seconds("lambdas.launcher.handler", repo=repo, env=LAUNCHER_ENV))
            samples["health"].append(health_seconds(Path(tmp), repo=repo))
            samples["voice_ready"].append(voice_ready_seconds(repo=repo))
    return {
        key: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for key, values in samples.items()
    }


LABELS = {
    "web_import": "import runtime.app (web process)",
    "health": "python -m runtime start → /health 200",
    "voice_ready": "voice worker start → registered, idle runner warm",
    "launcher_import": "launcher Lambda handler import",
}
TARGETS = {"web_import": None, "health": 3.0, "voice_ready": 5.0, "launcher_import": 0.4}


def run(*, starts: int) -> dict[str, Sample]:
    figures = measure(starts=starts)
    print(f"\nStart-up: medians of {starts} fresh processes each (CPU: user + system, children included)")
    print(f"{'figure':<56}{'wall':>10}{'CPU':>10}{'target':>10}")
    for key, label in LABELS.items():
        target = TARGETS[key]
        wall, cpu = figures[key]
        goal = "" if target is None else f"{target * 1000:>7.0f} ms"
        print(f"{label:<56}{wall * 1000:>7.0f} ms{cpu * 1000:>7.0f} ms{goal}")
    return figures


if __name__ == "__main__":
    run(starts=int(sys.argv[1]) if len(sys.argv) > 1 else 5)
