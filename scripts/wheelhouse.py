"""Download the Lambda layer's locked wheels into .cache/wheels so `make synth` needs no network."""

# Usage: python -m scripts.wheelhouse   (run by `make deps`; re-run after `make lock` changes the lock)

from __future__ import annotations

import subprocess
import sys

from stacks.control import LAMBDA_TARGET, LAYER_LOCK, LOCAL_TARGET, WHEELHOUSE, PythonTarget


def download_command(target: PythonTarget) -> list[str]:
    """pip download of every locked wheel for ``target``, hashes checked."""
    return [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--require-hashes", "--no-deps", "--only-binary=:all:",
        "--requirement", str(LAYER_LOCK), "--dest", str(WHEELHOUSE), *target.pip_args(),
    ]  # fmt: skip


def main() -> None:
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    # The local target serves the tests, which import the handlers with the same lock on this machine.
    for target in (LAMBDA_TARGET, LOCAL_TARGET):
        subprocess.run(download_command(target), check=True)  # noqa: S603 -- fixed arguments, no shell


if __name__ == "__main__":
    main()
