"""The image's cuts are safe: what the deps stage deletes (container/prune.py) and what the final stage leaves
uncompiled are never needed by what the image runs; and cutting something needed is caught."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from container import prune
from tests.support import pruned

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "container" / "Dockerfile").read_text()
IMAGE_CODE: tuple[Path, ...] = (REPO / "core", REPO / "runtime", REPO / "container" / "entrypoint.py")


def _exercise(tmp_path: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.pruned"],
        cwd=REPO,
        env=pruned.environment(tmp_path, extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_deps_stage_runs_the_cuts_before_compiling() -> None:
    assert "COPY container/prune.py /tmp/prune.py" in DOCKERFILE
    run = re.sub(r"\\\n\s*", " ", DOCKERFILE.split("AS deps", 1)[1].split("\nFROM ", 1)[0])
    install, cut, compile_ = (run.index(s) for s in ("pip install", "python /tmp/prune.py /opt/venv", "compileall"))
    assert install < cut < compile_  # no bytecode is written for what is deleted


@pytest.fixture(scope="module")
def exercised(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """One run of `python -m tests.support.pruned` with the cuts, and the standard library it loaded."""
    tmp = tmp_path_factory.mktemp("pruned")
    result = _exercise(tmp)
    log = tmp / "stdlib-modules.txt"
    return result, set(log.read_text().split()) if log.exists() else set()


def test_the_image_code_and_the_voice_pipeline_run_without_what_is_cut(
    exercised: tuple[subprocess.CompletedProcess[str], set[str]],
) -> None:
    result, _ = exercised
    assert result.returncode == 0, result.stderr[-3000:]
    assert "everything imported and ran" in result.stdout


@pytest.mark.parametrize("needed", ["onnxruntime", "av"])
def test_cutting_a_distribution_the_image_needs_fails(tmp_path: Path, needed: str) -> None:
    # Silero's VAD runs on onnxruntime (with numpy); livekit-agents imports PyAV when it loads.
    result = _exercise(tmp_path, extra=(needed,))
    assert result.returncode != 0
    assert f"No module named '{needed}' (the image's deps stage deletes it)" in result.stderr


def test_a_spoken_turn_runs_through_the_real_runtime_without_what_is_cut(tmp_path: Path) -> None:
    """The whole loop (VAD, end of turn, speech stand-ins, `python -m runtime` and the Claude CLI), with
    the cuts in force in the test's process and in the server it starts."""
    test = (
        "tests/runtime/voice/test_voice_turns.py::test_a_spoken_question_comes_back_as_audio_and_lands_in_the_history"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=REPO,
        env=pruned.environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
    # ... and nothing either process imported from the standard library is left uncompiled in the image.
    loaded = set((tmp_path / "stdlib-modules.txt").read_text().split())
    assert "asyncio/base_events.py" in loaded  # the log holds what was loaded
    assert uncompiled(loaded) == []


def uncompiled(stdlib_files: set[str], exclude: str | None = None) -> list[str]:
    """Of these standard-library files (relative to the library), those the final stage does not compile."""
    pattern = exclude or re.search(r"-x '([^']+)'[\s\\]*/usr/local/lib/python3\.12", DOCKERFILE)[1]  # type: ignore[index]
    return sorted(f for f in stdlib_files if re.search(pattern, f"/usr/local/lib/python3.12/{f}"))


def test_the_standard_library_left_uncompiled_is_nothing_blu_runs(
    exercised: tuple[subprocess.CompletedProcess[str], set[str]],
) -> None:
    result, loaded = exercised
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"asyncio/events.py", "email/utils.py", "json/decoder.py"} <= loaded
    assert uncompiled(loaded) == []
    # An exclusion that reached a module Blu imports would be caught.
    assert uncompiled(loaded, exclude=r"/(idlelib|asyncio)/") != []


# ---- botocore's service models


def services_called(paths: list[Path]) -> dict[str, Path]:
    """AWS service -> a file of the image's code that makes a client of it (PynamoDB: DynamoDB)."""
    found: dict[str, Path] = {}
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("client", "resource")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, path)
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m.split(".")[0] == "pynamodb" for m in modules):
                    found.setdefault("dynamodb", path)
    return found


def _image_sources() -> list[Path]:
    return [p for root in IMAGE_CODE for p in ([root] if root.is_file() else sorted(root.rglob("*.py")))]


def test_every_aws_service_the_image_code_calls_keeps_its_model() -> None:
    called = services_called(_image_sources())
    assert {"s3", "dynamodb", "polly"} <= set(called)  # the scan finds clients
    assert set(called) <= prune.BOTOCORE_SERVICES, {s: str(p) for s, p in called.items()}


def test_a_client_of_a_service_whose_model_is_cut_is_caught(tmp_path: Path) -> None:
    code = tmp_path / "uses_sqs.py"
    code.write_text('import boto3\n\nqueue = boto3.client("sqs", region_name="us-east-1")\n')
    assert set(services_called([code])) - prune.BOTOCORE_SERVICES == {"sqs"}


# ---- what prune.py deletes, on a small venv made here


def _venv(tmp_path: Path) -> Path:
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    files = {
        "PIL/__init__.py": "",
        "PIL/Image.py": "",
        "pillow-13.0.0.dist-info/METADATA": "Name: pillow\n",
        "pip/__init__.py": "",
        "numpy/__init__.py": "",
        "numpy/_core/tests/test_x.py": "",
        "numpy/__init__.pyi": "",
        "onnxruntime/__init__.py": "",
        "onnxruntime/tools/convert.py": "",
        "botocore/data/endpoints.json": "{}",
        "botocore/data/s3/2006-03-01/service-2.json.gz": "",
        "botocore/data/ec2/2016-11-15/service-2.json.gz": "",
    }
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    (site / "pillow-13.0.0.dist-info/RECORD").write_text(
        "PIL/__init__.py,,\nPIL/Image.py,,\npillow-13.0.0.dist-info/METADATA,,\npillow-13.0.0.dist-info/RECORD,,\n"
    )
    (site / "pip-25.0.dist-info").mkdir()
    (site / "pip-25.0.dist-info/RECORD").write_text("pip/__init__.py,,\n../../../bin/pip,,\n")
    (tmp_path / "venv" / "bin").mkdir()
    (tmp_path / "venv" / "bin" / "pip").write_text("#!/bin/sh\n")
    return tmp_path / "venv"


def test_prune_deletes_the_planned_cuts_and_the_directories_they_empty(tmp_path: Path) -> None:
    venv = _venv(tmp_path)
    site = prune.site_packages(venv)
    assert prune.prune(venv) >= 0
    left = sorted(str(p.relative_to(venv)) for p in venv.rglob("*") if p.is_file())
    assert left == [
        "lib/python3.12/site-packages/botocore/data/endpoints.json",
        "lib/python3.12/site-packages/botocore/data/s3/2006-03-01/service-2.json.gz",
        "lib/python3.12/site-packages/numpy/__init__.py",
        "lib/python3.12/site-packages/onnxruntime/__init__.py",
    ]
    assert not (site / "PIL").exists() and not (site / "pip-25.0.dist-info").exists()


def test_prune_runs_as_a_script_with_the_base_images_python(tmp_path: Path) -> None:
    venv = _venv(tmp_path)
    result = subprocess.run(
        [sys.executable, "-I", str(REPO / "container" / "prune.py"), str(venv)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("prune: ")
