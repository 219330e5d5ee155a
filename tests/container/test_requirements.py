"""Every module the image's code imports is installed by the image's requirement set (container/requirements.txt)
and left in place by the deps stage's cuts (container/prune.py)."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement

from container.prune import UNUSED_DISTRIBUTIONS

REPO = Path(__file__).resolve().parents[2]
# What the Dockerfile copies into the image and runs: the core, the runtime (with the voice worker) and the entrypoint.
IMAGE_CODE: tuple[Path, ...] = (REPO / "core", REPO / "runtime", REPO / "container" / "entrypoint.py")
OWN_PACKAGES = frozenset({"core", "runtime", "container"})


def _sources() -> list[Path]:
    return [p for root in IMAGE_CODE for p in ([root] if root.is_file() else sorted(root.rglob("*.py")))]


def imported_top_level(paths: list[Path]) -> dict[str, Path]:
    """Top-level module name -> first file importing it (absolute imports only; relative ones stay inside)."""
    found: dict[str, Path] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path)
    return found


def _requirement_names(path: Path) -> list[str]:
    lines = (ln.split("#")[0].strip() for ln in path.read_text().splitlines())
    return [Requirement(ln).name for ln in lines if ln and not ln.startswith("-")]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_closure(names: list[str]) -> set[str]:
    """The distributions pip installs for ``names`` on this Python: the names plus their dependencies, recursively."""
    seen: set[str] = set()
    pending = [_normalize(n) for n in names]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(_normalize(requirement.name))
    return seen


def modules_outside(requirements: Path, cut: Iterable[str] = UNUSED_DISTRIBUTIONS) -> dict[str, str]:
    """Imported module -> why it is not covered (empty when the image installs, and keeps, everything imported)."""
    closure = installed_closure(_requirement_names(requirements)) - {_normalize(name) for name in cut}
    providers = metadata.packages_distributions()
    missing: dict[str, str] = {}
    for module, where in imported_top_level(_sources()).items():
        if module in OWN_PACKAGES or module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = {_normalize(d) for d in providers.get(module, [])}
        if not dists & closure:
            missing[module] = (
                f"{where.relative_to(REPO)} imports it; provided by {sorted(dists) or 'nothing installed'}"
            )
    return missing


def test_every_import_of_the_image_code_is_in_its_requirement_set() -> None:
    assert len(_sources()) > 20
    assert modules_outside(REPO / "container" / "requirements.txt") == {}


def test_a_requirement_left_out_is_caught(tmp_path: Path) -> None:
    # The same check against the set without one package only the runtime imports (nothing else pulls it in).
    reduced = tmp_path / "requirements.txt"
    lines = (REPO / "container" / "requirements.txt").read_text().splitlines()
    reduced.write_text("\n".join(ln for ln in lines if not ln.startswith("bcrypt==")))
    assert "bcrypt" in modules_outside(reduced)


def test_a_distribution_the_image_code_imports_is_not_cut() -> None:
    # The same check with one more distribution deleted after install: psutil, which the runtime imports.
    requirements = REPO / "container" / "requirements.txt"
    assert "psutil" in modules_outside(requirements, cut=[*UNUSED_DISTRIBUTIONS, "psutil"])
