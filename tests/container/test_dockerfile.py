"""The image definition: multi-stage, arm64-ready, the agent as the EFS user, runtime deps only, health check."""

from __future__ import annotations

import re
from pathlib import Path

from stacks.settings import BluSettings

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "container" / "Dockerfile").read_text()


def test_multi_stage_with_the_web_ui_built_inside() -> None:
    stages = re.findall(r"^FROM .+$", DOCKERFILE, flags=re.MULTILINE)
    assert len(stages) == 4  # web UI, Notion's MCP server (Node), Python requirements, the image
    assert "npm run --silent build:web" in DOCKERFILE
    assert "COPY --from=web /src/web/dist ./web/dist" in DOCKERFILE


def test_the_image_carries_notions_mcp_server_on_the_path() -> None:
    from runtime.agent.mcp import NOTION_MCP_COMMAND

    assert "@notionhq/notion-mcp-server@" in DOCKERFILE
    assert f"/opt/notion-mcp/node_modules/.bin/{NOTION_MCP_COMMAND}" in DOCKERFILE
    assert "COPY --from=notion-mcp /usr/local/bin/node /usr/local/bin/node" in DOCKERFILE
    assert re.search(r"PATH=\S*/opt/notion-mcp/node_modules/\.bin", DOCKERFILE)


def test_the_agent_runs_as_the_efs_access_points_user() -> None:
    """Blu starts as root (no USER line) to start the agent as `blu`, the EFS access points' owner."""
    settings = BluSettings()
    assert f"ARG BLU_UID={settings.container_uid}" in DOCKERFILE
    assert f"ARG BLU_GID={settings.container_gid}" in DOCKERFILE
    assert not re.search(r"^USER ", DOCKERFILE, flags=re.MULTILINE)
    assert re.search(r"^ENV BLU_AGENT_USER=blu\b", DOCKERFILE, flags=re.MULTILINE)


def test_installs_exactly_the_image_requirement_set_and_keeps_bytecode() -> None:
    assert "COPY container/requirements.txt /tmp/requirements.txt" in DOCKERFILE
    assert "--requirement /tmp/requirements.txt" in DOCKERFILE
    assert "requirements.txt /" not in DOCKERFILE.replace("container/requirements.txt /", "")
    # The root requirements include the image's set, so the tests run against the same pins.
    assert "-r container/requirements.txt" in (REPO / "requirements.txt").read_text().splitlines()
    # A wake must not recompile Python: nothing deletes bytecode, and Blu's own code is compiled.
    assert "__pycache__" not in DOCKERFILE
    assert "compileall" in DOCKERFILE


def test_base_images_come_from_ecr_public() -> None:
    images = re.findall(r"^FROM (?:--platform=\S+ )?(\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert images
    assert all(image.startswith("public.ecr.aws/docker/library/") for image in images), images


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
