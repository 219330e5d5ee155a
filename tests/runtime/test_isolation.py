"""The agent's own processes try every route to Blu's secrets and come back with nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.isolation import bundled_cli
from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.server import BluClient, BluServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starting the agent as its own user needs root")

SERVICE_SECRETS = {
    "OPENAI_API_KEY": "sk-openai-test-0f9e8d7c6b5a",
    "LIVEKIT_API_KEY": "lk-key-test-1a2b3c4d",
    "LIVEKIT_API_SECRET": "lk-secret-test-5e6f7a8b9c",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/3f2c9a7e-test-guid",
}
AGENT_KEYS = {"GITHUB_TOKEN": "ghp-agent-may-see-this-4242"}  # a key the agent's tools are meant to use
# Each route's output is cut down to the lines that could carry a secret, so the tool's output limit
# never hides a leak.
PROBE = """
keep() { grep -aE 'SECRET|PASSWORD|OPENAI|LIVEKIT|AWS_|GITHUB|ANTHROPIC_API|password_hash|session_secret'; }
echo "uid=$(id -u)"
env | keep
for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f" | keep; done
for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" | keep; done
cat {data}/login.json {data}/*.db {data}/*.sqlite* {data}/*/*.db | keep
echo "creds-uri=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
true
"""


def reachable_by_others(path: Path) -> bool:
    """Whether a user with no rights of its own can reach and run `path` (every folder on it: o+x)."""
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


@pytest.fixture
def isolated(model: StandinServer) -> Iterator[BluServer]:
    """A Blu that starts its agent as `nobody`, in a folder `nobody` can reach (pytest's tmp is 0700)."""
    cli = Path(bundled_cli()).resolve()
    if not reachable_by_others(cli):  # e.g. a checkout under /root: the agent's user could not start it
        pytest.skip(f"the Claude Code CLI at {cli} cannot be run by another user")
    base = Path(tempfile.mkdtemp(prefix="blu-isolation-"))
    base.chmod(0o711)
    env = {**model_env(model), **SERVICE_SECRETS, **AGENT_KEYS, "BLU_AGENT_USER": "nobody"}
    env.update({"AUTH_PASSWORD_HASH": "", "SESSION_SECRET": ""})  # generated, kept in login.json
    server = BluServer(base / "data", env=env)
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_the_agent_cannot_reach_blus_secrets(isolated: BluServer) -> None:
    isolated.start()
    password = re.search(r"shown once, only its hash is kept\): (\S+)", isolated.log())
    assert password
    login = json.loads((isolated.data_dir / "login.json").read_text())
    secrets = {login["password_hash"], login["session_secret"], password.group(1), *SERVICE_SECRETS.values()}

    api = BluClient(httpx.Client(base_url=isolated.url, timeout=40))
    api.login(password.group(1))
    workspace = isolated.data_dir / "workspace"
    (workspace / "probe.sh").write_text(PROBE.replace("{data}", str(isolated.data_dir)))
    session = api.new_session()
    status, events = api.turn(session, '[[bash cmd="sh probe.sh"]]')
    assert status["status"] == "complete", status

    transcripts = "\n".join(p.read_text(errors="replace") for p in (isolated.data_dir / "claude").rglob("*.jsonl"))
    seen = {
        "reply and events": json.dumps(events),
        "store": json.dumps(api.messages(session)),
        "transcript": transcripts,
        "files": api.http.get("/api/files/content", params={"path": "probe.sh"}).text,
    }
    assert "uid=65534" in transcripts  # the probe ran, as the agent's own user
    assert AGENT_KEYS["GITHUB_TOKEN"] in transcripts and "test-key" in transcripts  # it keeps what it needs
    for place, text in seen.items():
        leaked = [s[:6] + "…" for s in secrets if s in text]
        assert not leaked, f"secrets in the {place}: {leaked}"
