"""The image definition: multi-stage, arm64-ready, the agent as the EFS user, runtime deps only, health check."""

from __future__ import annotations

import re
from pathlib import Path

from stacks.settings import BluSettings

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "container" / "Dockerfile").read_text()


def test_multi_stage_with_the_web_ui_built_inside() -> None:
    stages = re.findall(r"^FROM .+$", DOCKERFILE, flags=re.MULTILINE)
    assert len(stages) == 3
    assert "npm run --silent build:web" in DOCKERFILE
    assert "COPY --from=web /src/web/dist ./web/dist" in DOCKERFILE


def test_the_agent_runs_as_the_efs_access_points_user() -> None:
    """Blu starts as root (no USER line) to start the agent as `blu`, the EFS access points' owner."""
    settings = BluSettings()
    assert f"ARG BLU_UID={settings.container_uid}" in DOCKERFILE
    assert f"ARG BLU_GID={settings.container_gid}" in DOCKERFILE
    assert not re.search(r"^USER ", DOCKERFILE, flags=re.MULTILINE)
    assert re.search(r"^ENV BLU_AGENT_USER=blu\b", DOCKERFILE, flags=re.MULTILINE)


def test_runtime_dependencies_only() -> None:
    excluded = re.search(r"grep -vE '\^\(([^)]+)\)=='", DOCKERFILE)
    assert excluded
    assert set(excluded.group(1).split("|")) == {
        "aws-cdk-lib",
        "constructs",
        "cdk-nag",
        "mangum",
    }
    requirements = (REPO / "requirements.txt").read_text()
    for name in excluded.group(1).split("|"):
        assert re.search(rf"^{re.escape(name)}==", requirements, flags=re.MULTILINE), name


def test_health_check_and_supervisor_entrypoint() -> None:
    assert "HEALTHCHECK" in DOCKERFILE and "/health" in DOCKERFILE
    assert 'ENTRYPOINT ["python", "/app/container/entrypoint.py"]' in DOCKERFILE


def test_dockerignore_sends_only_what_the_image_needs() -> None:
    lines = [ln for ln in (REPO / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*"
    included = {ln[1:] for ln in lines if ln.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE, flags=re.MULTILINE)) | {
        "package-lock.json",
        "container/Dockerfile",
    }
    assert {c.rstrip("/") for c in copied} <= included | {"package.json"}
    assert "web/dist" in lines
