"""Keeping Blu's secrets from the agent: its own OS user, and Blu's processes closed to inspection."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pwd
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runtime.settings import Settings

log = logging.getLogger(__name__)
PR_SET_DUMPABLE = 4
# Read once into Settings, then taken out of the environment: nothing Blu starts afterwards inherits
# them. The task role's variables stay (boto3 reads them on every refresh) and are blanked for the CLI.
STARTUP_ONLY = ("AUTH_PASSWORD_HASH", "SESSION_SECRET", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "OPENAI_API_KEY")


class IsolationError(RuntimeError):
    """BLU_AGENT_USER is set but Blu cannot start the agent as that user."""


def close_to_inspection() -> bool:
    """PR_SET_DUMPABLE 0: processes of the same user can no longer read this process's
    /proc/<pid>/environ, mem or fd, nor ptrace it (root still can)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def scrub_environment() -> None:
    for key in STARTUP_ONLY:
        os.environ.pop(key, None)


@dataclass(frozen=True)
class AgentUser:
    name: str
    uid: int
    gid: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentUser | None:
        spec = settings.agent_user.strip()
        if not spec:
            return None
        try:
            entry = pwd.getpwuid(int(spec)) if spec.isdigit() else pwd.getpwnam(spec)
        except KeyError as exc:
            raise IsolationError(f"BLU_AGENT_USER={spec!r} is not a user on this system.") from exc
        if entry.pw_uid == 0:
            raise IsolationError("BLU_AGENT_USER must not be root: the agent would see everything.")
        if os.geteuid() != 0:
            raise IsolationError("BLU_AGENT_USER needs Blu to start as root, to start the agent as that user.")
        return cls(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid)


def prepare_agent_dirs(settings: Settings, user: AgentUser) -> Path:
    """Give the agent its folders and nothing else, and return the command that starts its CLI.

    The agent's folders belong to it and are setgid to its group; Blu writes there with umask 007, so
    files either side makes stay readable and writable by the other and by no one else. Blu's own data
    folder only lets the agent pass through (login.json and the local store stay Blu's)."""
    os.umask(0o007)
    home = settings.data_dir / "agent-home"
    for directory in (settings.workspace_dir, settings.claude_config_dir, settings.data_dir / "tmp", home):
        directory.mkdir(parents=True, exist_ok=True)
        try:
            os.chown(directory, user.uid, user.gid)
            os.chmod(directory, 0o2770)  # noqa: S103 -- shared with the agent through its group
        except OSError:  # EFS access points own every file as their POSIX user already
            log.warning("Could not hand %s to the agent's user", directory, exc_info=True)
    with contextlib.suppress(OSError):
        os.chmod(settings.data_dir, 0o711)  # noqa: S103 -- pass-through only, no listing
    return _agent_cli(user, home)


def bundled_cli() -> str:
    import claude_agent_sdk  # not at import time: the voice worker imports this module too

    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    found = str(bundled) if bundled.is_file() else shutil.which("claude")
    if not found:
        raise IsolationError("The Claude Code CLI was not found.")
    return found


def _agent_cli(user: AgentUser, home: Path) -> Path:
    """A wrapper that drops to the agent's user (no supplementary groups, no new privileges) and runs
    the CLI. It lives in a root-only folder outside every folder the agent can write."""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise IsolationError("BLU_AGENT_USER needs setpriv (util-linux) to start the agent as that user.")
    folder = Path(tempfile.mkdtemp(prefix="blu-agent-"))  # 0700, owned by root
    wrapper = folder / "claude"
    command = [setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--no-new-privs", "--"]
    wrapper.write_text(
        "#!/bin/sh\n"
        "umask 007\n"
        f"export HOME={shlex.quote(str(home))}\n"
        f'exec {shlex.join([*command, bundled_cli()])} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o700)
    return wrapper
