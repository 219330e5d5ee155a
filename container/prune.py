"""What the image's deps stage deletes from the virtualenv once container/requirements.txt is installed.

`python prune.py /opt/venv` (the Dockerfile, before compiling) removes, and prints what it freed:

- whole distributions that pip installs as dependencies but that nothing on Blu's code paths imports
  (each with the reason below);
- sub-packages of kept distributions that only tools or a GPU set-up use;
- every `tests`/`test` directory inside a package and every type stub (`*.pyi`): never imported;
- botocore's models of the AWS services Blu's code never calls (a client needs its service's model).

tests/container/test_prune.py proves the cuts: Blu's modules, the voice pipeline and a spoken turn run
with all of this hidden, and a cut of something needed fails there. bench/image_size.py measures them.
Standard library only: it runs in the deps stage with the base image's Python.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path

# Distribution -> why the image does not need it. Names as pip normalizes them.
UNUSED_DISTRIBUTIONS: dict[str, str] = {
    "pillow": "livekit-agents[images] (asked by livekit-plugins-openai) encodes video frames for a vision LLM; "
    "Blu's calls are audio only and its LLM is the runtime",
    "grpcio": "the gRPC half of opentelemetry-exporter-otlp; LiveKit exports telemetry over HTTP only",
    "opentelemetry-exporter-otlp-proto-grpc": "the same gRPC exporter",
    "types-protobuf": "type stubs",
    "pip": "nothing is installed at run time (the agent's user cannot write the venv)",
}

# Directories (relative to site-packages) of kept distributions that nothing at run time imports.
UNUSED_SUBPACKAGES: dict[str, str] = {
    "onnxruntime/transformers": "model conversion and benchmarking tools (Silero's VAD only runs a session)",
    "onnxruntime/quantization": "model quantization tools",
    "onnxruntime/tools": "model conversion tools",
}

# botocore's service models Blu's code uses: a client of any other service would fail with
# UnknownServiceError. tests/container/test_prune.py checks every boto3 client in the image's code is here.
BOTOCORE_SERVICES: frozenset[str] = frozenset(
    {
        "dynamodb",  # the store (PynamoDB) and the power log
        "ecs",  # the task stops itself when idle
        "polly",  # text-to-speech with the task's role
        "s3",  # uploads, downloads and backups
        "scheduler",  # schedules wake Blu through EventBridge Scheduler
        # what botocore's own credential providers may call (assumed roles, SSO, web identity)
        "sts",
        "sso",
        "sso-oidc",
    }
)

TEST_DIRECTORIES = frozenset({"tests", "test"})


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise SystemExit(f"prune: expected one site-packages under {venv}, found {found}")
    return found[0]


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _distribution_files(site: Path, names: set[str]) -> dict[str, list[Path]]:
    """Distribution -> the files its RECORD lists (the venv's bin/ scripts included), for the named ones."""
    found: dict[str, list[Path]] = {}
    for info in sorted(site.glob("*.dist-info")):
        name = _normalize(info.name[: -len(".dist-info")].rsplit("-", 1)[0])
        record = info / "RECORD"
        if name not in names or not record.is_file():
            continue
        with record.open(newline="") as handle:
            paths = [os.path.normpath(site / row[0]) for row in csv.reader(handle) if row]
        venv = os.path.normpath(site.parents[2])
        found[name] = [Path(p) for p in paths if p.startswith(venv + os.sep)] + [info]
    return found


def planned(site: Path, extra: tuple[str, ...] = ()) -> dict[Path, str]:
    """Every file or directory to delete under `site` (and the venv's scripts of removed distributions) -> why.

    `extra` names more distributions to cut (the tests use it to show a needed one is caught)."""
    cuts: dict[Path, str] = {}
    reasons = {**UNUSED_DISTRIBUTIONS, **{_normalize(e): "cut on request" for e in extra}}
    for name, files in _distribution_files(site, set(reasons)).items():
        for path in files:
            if path.exists() or path.is_symlink():
                cuts[path] = f"distribution {name}: {reasons[name]}"
    for relative, why in UNUSED_SUBPACKAGES.items():
        if (site / relative).is_dir():
            cuts[site / relative] = why
    data = site / "botocore" / "data"
    if data.is_dir():
        for service in data.iterdir():
            if service.is_dir() and service.name not in BOTOCORE_SERVICES:
                cuts[service] = "an AWS service Blu does not call"
    for directory, subdirs, filenames in os.walk(site):
        here = Path(directory)
        if here != site:
            for sub in subdirs:
                if sub in TEST_DIRECTORIES:
                    cuts.setdefault(here / sub, "a package's tests")
        subdirs[:] = [s for s in subdirs if s not in TEST_DIRECTORIES and here / s not in cuts]
        for filename in filenames:
            if filename.endswith(".pyi"):
                cuts.setdefault(here / filename, "a type stub")
    # Nothing inside a directory already cut.
    directories = {p for p in cuts if p.is_dir() and not p.is_symlink()}
    return {p: why for p, why in cuts.items() if not any(parent in directories for parent in p.parents)}


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum((Path(d) / f).lstat().st_size for d, _, files in os.walk(path) for f in files)


def prune(venv: Path) -> int:
    """Delete the planned cuts, then the directories they leave empty (an empty `PIL/` would still import as
    a namespace package); the bytes freed."""
    freed = 0
    emptied: set[Path] = set()
    for path in planned(site_packages(venv)):
        freed += _size(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        emptied.add(path.parent)
    for directory in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        while directory != venv and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent
    return freed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python prune.py VENV", file=sys.stderr)
        return 2
    freed = prune(Path(argv[0]))
    print(f"prune: {freed / 1e6:.1f} MB removed from {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
