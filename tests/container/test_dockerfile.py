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


def test_the_notion_server_loses_only_files_node_never_loads_and_must_still_answer() -> None:
    """Source maps, TypeScript and Markdown go; the build fails unless the server answers MCP's initialize."""
    stage = _run_lines("AS notion-mcp")
    deleted = re.findall(r"-name '([^']+)'", stage)
    assert deleted and set(deleted) <= {"*.map", "*.ts", "*.mts", "*.cts", "*.md", "*.markdown"}
    assert "find /opt/notion-mcp/node_modules -type f" in stage and "-delete" in stage
    assert stage.index("-delete") < stage.index('"method":"initialize"')
    assert re.search(
        r"\| NOTION_TOKEN=\S+ timeout \d+ /opt/notion-mcp/node_modules/\.bin/notion-mcp-server \| grep -q", stage
    )


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
    assert "__pycache__" not in DOCKERFILE and not re.search(r"-name '?\*?\.py[co]", DOCKERFILE)
    assert "compileall" in DOCKERFILE


def _run_lines(stage: str) -> str:
    """The RUN commands of one stage, continuation lines joined."""
    body = DOCKERFILE.split(stage, 1)[1].split("\nFROM ", 1)[0]
    return re.sub(r"\\\n\s*", " ", body)


def test_everything_the_image_runs_is_compiled_once_at_build() -> None:
    """The venv, the standard library (the base image deletes its bytecode) and Blu's code; the image runs
    with PYTHONDONTWRITEBYTECODE, so anything left uncompiled would be compiled again at every start."""
    assert re.search(r"^\s*PYTHONDONTWRITEBYTECODE=1", DOCKERFILE, flags=re.MULTILINE)
    deps = _run_lines("AS deps")
    image = _run_lines("FROM public.ecr.aws/docker/library/python:3.12-slim-bookworm\n")
    compiled = re.findall(r"python -m compileall ([^&]+)", deps + image)
    targets = " ".join(compiled)
    for path in ("/opt/venv/lib", "/usr/local/lib/python3.12", "/app/core", "/app/runtime", "/app/container"):
        assert path in targets, path
    # A .pyc must not depend on file times, which layers may rewrite: checked against nothing, used as is.
    assert all("--invalidation-mode unchecked-hash" in command for command in compiled)
    # The venv is compiled where it is installed and copied whole; nothing compiles as another user.
    assert "COPY --from=deps /opt/venv /opt/venv" in DOCKERFILE
    assert "umask" not in DOCKERFILE and "chmod" not in DOCKERFILE


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
