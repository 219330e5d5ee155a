"""How many Claude Code processes the task's memory allows, and the slots turns and titles wait for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import psutil

from runtime.settings import Settings

# Resident size of one Claude Code CLI (the claude-agent-sdk 0.2.184 bundle) after a few turns with
# tools: 207-230 MiB RSS (127-150 MiB of it its own), measured through psutil on this machine
# (2026-11-29); the blueprint's earlier figure was ~220 MB. The larger value is the budget.
CLI_MEMORY_MIB = 230
# The runtime itself (~100 MiB RSS), the voice worker and headroom for tools the agent runs.
RESERVED_MEMORY_MIB = 512
CGROUP_MEMORY_MAX = Path("/sys/fs/cgroup/memory.max")


def task_memory_mib(settings: Settings) -> int:
    """The memory Blu may use: BLU_TASK_MEMORY_MIB, else the container's cgroup limit, else the machine's."""
    if settings.task_memory_mib:
        return settings.task_memory_mib
    try:
        raw = CGROUP_MEMORY_MAX.read_text().strip()
        if raw.isdigit():
            return int(raw) // 2**20
    except OSError:
        pass
    return int(psutil.virtual_memory().total // 2**20)


def cli_limit(settings: Settings) -> int:
    """Claude Code processes that fit: at least one, so Blu can always answer."""
    return max(1, (task_memory_mib(settings) - RESERVED_MEMORY_MIB) // CLI_MEMORY_MIB)


def hot_cap(settings: Settings) -> int:
    """Connected Claude clients kept between turns: BLU_MAX_HOT_CLIENTS, else what the memory allows.

    Each hot client is a running CLI, so they share the CLI limit; one slot stays free for what starts a
    process without a turn's client (a session title) or a new session's first turn, so neither has to
    demote a hot client first. 2 GB task: 6 CLIs, 5 hot; 4 GB: 15, 14; 1 GB: 2, 1.
    """
    if settings.max_hot_clients:
        return settings.max_hot_clients
    return max(1, cli_limit(settings) - 1)


class CliSlots:
    """Counts running CLI processes against the limit. `acquire` waits for a slot, asking `free_one` to
    release an idle one (an idle hot client is demoted) and calling `waiting` once if it must wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self.waiting = 0
        self._changed = asyncio.Condition()

    async def acquire(
        self,
        *,
        free_one: Callable[[], bool],
        waiting: Callable[[], None] | None = None,
        given_up: Callable[[], bool] = lambda: False,
    ) -> bool:
        """True with a slot taken; False when `given_up()` turned true while waiting (a stopped turn)."""
        async with self._changed:
            told = False
            while self.running >= self.limit:
                if given_up():
                    return False
                if not free_one() and not told and waiting is not None:
                    waiting()
                    told = True
                self.waiting += 1
                try:
                    await self._changed.wait()
                finally:
                    self.waiting -= 1
            self.running += 1
            return True

    async def release(self) -> None:
        async with self._changed:
            self.running -= 1
            self._changed.notify_all()

    async def recheck(self) -> None:
        """Wake the waiters to look again (a client went idle and can be let go)."""
        async with self._changed:
            self._changed.notify_all()
