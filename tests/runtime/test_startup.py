"""What the web process loads before it answers /health: no voice, no Claude SDK, no CDK; those come after."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.server import REPO

HEAVY = ("livekit", "aiohttp", "claude_agent_sdk", "mcp", "aws_cdk", "constructs", "stacks", "runtime.voice")


def loaded_after(code: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def heavy_in(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(f"{h}.") for h in heavy)}


def test_the_web_app_imports_neither_voice_nor_the_sdk_nor_cdk() -> None:
    modules = loaded_after("import runtime.__main__, runtime.app")
    assert "fastapi" in modules and "runtime.agent.manager" in modules
    assert heavy_in(modules) == set()


def test_the_warm_up_loads_what_the_first_turn_and_a_call_need() -> None:
    code = (
        "from runtime.app import warm_imports\n"
        "from runtime.settings import Settings\n"
        "settings = Settings(LIVEKIT_URL='wss://x', LIVEKIT_API_KEY='key-1', LIVEKIT_API_SECRET='secret-2')\n"
        "warm_imports(settings).join()"
    )
    modules = loaded_after(code)
    assert {"runtime.agent.worker", "claude_agent_sdk", "livekit.api"} <= modules
    assert "runtime.voice" not in modules  # the worker's own package stays in its process


def test_the_launcher_imports_no_aws_sdk_and_no_x_ray_until_a_request_needs_them() -> None:
    modules = loaded_after("import lambdas.launcher.handler")
    assert "fastapi" in modules and "mangum" in modules
    # (Powertools reads botocore's version from its package: the package, none of its modules.)
    assert heavy_in(modules, ("boto3", "aws_xray_sdk", "pynamodb", "botocore.session", "botocore.client")) == set()
