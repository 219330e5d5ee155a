"""The container's supervisor: which programs run, restart with backoff, SIGTERM forwarded to each."""

from __future__ import annotations

import itertools
import signal
import sys
import threading
from pathlib import Path

from container.entrypoint import VOICE_MODULE, Program, Supervisor, isolate_agent, programs_for


def test_web_only_without_livekit() -> None:
    assert [p.name for p in programs_for({})] == ["web"]
    assert [p.name for p in programs_for({"LIVEKIT_URL": "  "})] == ["web"]


def test_voice_worker_when_livekit_is_configured() -> None:
    programs = programs_for({"LIVEKIT_URL": "wss://blu.livekit.cloud"}, module_exists=lambda name: True)
    assert [p.name for p in programs] == ["web", "voice"]
    assert VOICE_MODULE in programs[1].command


def test_no_voice_worker_when_the_image_lacks_it() -> None:
    programs = programs_for({"LIVEKIT_URL": "wss://blu.livekit.cloud"}, module_exists=lambda name: False)
    assert [p.name for p in programs] == ["web"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_crashed_program_restarts_with_doubling_backoff() -> None:
    clock = FakeClock()
    crasher = Program("voice", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor = Supervisor([crasher], clock=clock, sleep=lambda s: None, min_backoff=1, max_backoff=4, healthy_run=60)
    starts = []
    for _ in range(5):
        supervisor.step()  # starts it (backoff passed)
        assert crasher.process is not None
        starts.append(clock.now)
        crasher.process.wait()
        supervisor.step()  # reaps it and schedules the restart
        assert crasher.process is None
        clock.now = crasher.next_start
    assert crasher.exit_codes == [3] * 5
    assert [b - a for a, b in itertools.pairwise(starts)] == [1, 2, 4, 4]


def test_backoff_resets_after_a_healthy_run() -> None:
    clock = FakeClock()
    program = Program("web", [sys.executable, "-c", "pass"])
    supervisor = Supervisor([program], clock=clock, sleep=lambda s: None, min_backoff=1, max_backoff=30, healthy_run=60)
    program.backoff = 16
    supervisor.step()
    assert program.process is not None
    program.process.wait()
    clock.now = 120
    supervisor.step()
    assert program.next_start == 121


def test_sigterm_is_forwarded_and_waited_for(tmp_path: Path) -> None:
    marker = tmp_path / "saved"
    # A child that, like the runtime, saves its work on SIGTERM before exiting.
    child = (
        "import signal, sys, time, pathlib\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "def stop(*_):\n"
        "    time.sleep(0.2); p.write_text('saved'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(0.05)\n"
    )
    web = Program("web", [sys.executable, "-c", child])
    supervisor = Supervisor([web], stop_grace=30)
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(supervisor.run()))
    thread.start()
    while web.process is None:
        threading.Event().wait(0.02)
    threading.Event().wait(0.3)  # let the child install its handler
    supervisor.request_stop(signal.SIGTERM)
    thread.join(timeout=30)
    assert done == [0]
    assert marker.read_text() == "saved"


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    stubborn = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('x', flush=True)\n"
        "while True: time.sleep(0.05)\n"
    )
    web = Program("web", [sys.executable, "-c", stubborn])
    supervisor = Supervisor([web], stop_grace=0.5)
    supervisor.step()
    threading.Event().wait(0.3)
    supervisor.request_stop(signal.SIGTERM)
    code = supervisor.shutdown()
    assert web.process is not None and web.process.returncode == -signal.SIGKILL
    assert code == -signal.SIGKILL


def test_the_agent_user_is_dropped_with_a_warning_when_not_root(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    env = {"BLU_AGENT_USER": "blu"}
    monkeypatch.setattr("os.geteuid", lambda: 0)
    isolate_agent(env)
    assert env["BLU_AGENT_USER"] == "blu"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    isolate_agent(env)
    assert env["BLU_AGENT_USER"] == "" and "can read what Blu can read" in caplog.text
