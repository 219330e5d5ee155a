"""The container's supervisor: runs the web server and (with LiveKit configured) the voice worker."""

# Each program runs as its own process. One that exits is started again after a backoff that
# doubles from 1 s to 30 s (and resets once it has run for a minute). SIGTERM or SIGINT is forwarded
# to every process; the supervisor waits for them (the runtime saves running turns in ~90 s; ECS
# allows 120 s) and kills what is left just before that.

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("blu.supervisor")

WEB_COMMAND: tuple[str, ...] = (sys.executable, "-m", "runtime")
VOICE_MODULE = "runtime.voice"
VOICE_COMMAND: tuple[str, ...] = (sys.executable, "-m", VOICE_MODULE, "start")
STOP_GRACE_SECONDS = 110.0
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
HEALTHY_RUN_SECONDS = 60.0
POLL_SECONDS = 0.2


@dataclass
class Program:
    """One supervised process and its restart bookkeeping."""

    name: str
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = MIN_BACKOFF_SECONDS
    next_start: float = 0.0
    exit_codes: list[int] = field(default_factory=list)


def programs_for(env: Mapping[str, str], *, module_exists: Callable[[str], bool] | None = None) -> list[Program]:
    """The web server always; the voice worker only when LIVEKIT_URL is set and the worker is installed."""
    exists = module_exists or _module_exists
    programs = [Program("web", WEB_COMMAND)]
    if env.get("LIVEKIT_URL", "").strip():
        if exists(VOICE_MODULE):
            programs.append(Program("voice", VOICE_COMMAND))
        else:
            log.warning("LIVEKIT_URL is set but %s is not in this image: no voice worker", VOICE_MODULE)
    else:
        log.info("LIVEKIT_URL is not set: voice is off")
    return programs


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is not importable from here
        return False


class Supervisor:
    def __init__(
        self,
        programs: list[Program],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_backoff: float = MIN_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        healthy_run: float = HEALTHY_RUN_SECONDS,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.programs = programs
        self._clock = clock
        self._sleep = sleep
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._healthy_run = healthy_run
        self._stop_grace = stop_grace
        self.stopping = False
        self.stop_signal = signal.SIGTERM

    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        if not self.stopping:
            log.info("Received signal %s: stopping %s", signum, ", ".join(p.name for p in self.programs))
        self.stopping = True
        self.stop_signal = signal.Signals(signum)

    def _start(self, program: Program) -> None:
        program.process = subprocess.Popen(list(program.command))  # noqa: S603 -- fixed commands
        program.started_at = self._clock()
        log.info("Started %s (pid %s)", program.name, program.process.pid)

    def _reap(self, program: Program) -> None:
        assert program.process is not None
        code = program.process.returncode
        program.exit_codes.append(code)
        ran = self._clock() - program.started_at
        program.process = None
        if ran >= self._healthy_run:
            program.backoff = self._min_backoff
        program.restarts += 1
        program.next_start = self._clock() + program.backoff
        log.warning("%s exited with %s after %.0f s; restarting in %.0f s", program.name, code, ran, program.backoff)
        program.backoff = min(self._max_backoff, program.backoff * 2)

    def step(self) -> None:
        """One round: reap exited processes and start those whose backoff has passed."""
        now = self._clock()
        for program in self.programs:
            if program.process is not None and program.process.poll() is not None:
                self._reap(program)
            if program.process is None and not self.stopping and now >= program.next_start:
                self._start(program)

    def shutdown(self) -> int:
        """Forward the stop signal, wait for every process, kill stragglers; the web server's exit code."""
        running = [p for p in self.programs if p.process is not None and p.process.poll() is None]
        for program in running:
            assert program.process is not None
            program.process.send_signal(self.stop_signal)
        deadline = self._clock() + self._stop_grace
        while any(p.process.poll() is None for p in running if p.process) and self._clock() < deadline:
            self._sleep(POLL_SECONDS)
        for program in running:
            if program.process is not None and program.process.poll() is None:
                log.error("%s did not stop within %.0f s: killing it", program.name, self._stop_grace)
                program.process.kill()
                program.process.wait()
        web = next((p for p in self.programs if p.name == "web"), None)
        code = web.process.returncode if web is not None and web.process is not None else 0
        return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code

    def run(self) -> int:
        while not self.stopping:
            self.step()
            self._sleep(POLL_SECONDS)
        return self.shutdown()


def isolate_agent(env: dict[str, str]) -> None:
    """The agent's own user needs Blu to start as root; anything else runs the agent as Blu's user,
    which the logs say plainly (docs/architecture.md, "Secrets and the agent")."""
    if env.get("BLU_AGENT_USER", "").strip() and os.geteuid() != 0:
        log.warning("Not started as root: the agent runs as Blu's own user and can read what Blu can read")
        env["BLU_AGENT_USER"] = ""


def close_to_inspection() -> None:
    """PR_SET_DUMPABLE 0 (the runtime's processes do the same for themselves)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    close_to_inspection()
    isolate_agent(os.environ)  # type: ignore[arg-type]  # os.environ writes through to the children
    supervisor = Supervisor(programs_for(os.environ))
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
