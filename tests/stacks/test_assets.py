"""The Lambda assets as synthesized with real (local) bundling: each carries its code, imports, and is byte-stable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.control import LAMBDA_TARGET, LOCAL_TARGET, PipLayer
from tests.stacks.conftest import REPO, TEST_CONTEXT, SynthesizedApp, cdk_json_context


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _asset_dir(blu: SynthesizedApp, resource: dict[str, Any]) -> Path:
    # With asset metadata on (as the CLI sets it), every asset-backed resource names its staged directory.
    path = blu.assembly_dir / resource["Metadata"]["aws:asset:path"]
    assert path.is_dir(), path
    return path


def _functions(blu: SynthesizedApp) -> dict[str, dict[str, Any]]:
    return _resources(blu.template_json("control"), "AWS::Lambda::Function")


def _layer_dir(blu: SynthesizedApp) -> Path:
    (layer,) = _resources(blu.template_json("control"), "AWS::Lambda::LayerVersion").values()
    return _asset_dir(blu, layer)


@pytest.fixture(scope="session")
def local_layer(blu: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same lock installed by the same bundler for this machine's Python (the real layer is arm64/3.14)."""
    out = tmp_path_factory.mktemp("local-layer")
    PipLayer(LOCAL_TARGET).try_bundle(str(out), image=None)  # type: ignore[arg-type]
    return out / "python"


def _distributions(site: Path) -> set[str]:
    return {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}


def test_each_function_asset_holds_its_handler_module(blu: SynthesizedApp) -> None:
    functions = _functions(blu)
    assert len(functions) == 4  # launcher, idle checker, schedule wake, restore drill
    for resource in functions.values():
        module, _, _ = resource["Properties"]["Handler"].rpartition(".")
        asset = _asset_dir(blu, resource)
        assert (asset / (module.replace(".", "/") + ".py")).is_file(), (module, sorted(os.listdir(asset)))
        # Exactly CODE_PATHS: the Lambdas, the shared core and the built UI; never the container's runtime/.
        assert sorted(os.listdir(asset)) == ["core", "lambdas", "web"], sorted(os.listdir(asset))
        assert not (asset / "python").exists(), "the layer's packages ended up in a function's code"


def test_layer_holds_the_locked_packages_for_lambda_without_bytecode(blu: SynthesizedApp, local_layer: Path) -> None:
    site = _layer_dir(blu) / "python"
    assert not (_layer_dir(blu) / "lambdas").exists(), "the functions' code ended up in the layer"
    assert {"fastapi", "mangum", "pydantic_core", "bcrypt", "pynamodb"} <= _distributions(site)
    # The local twin stands for the real layer only if both hold the same distributions.
    assert _distributions(site) == _distributions(local_layer)
    assert not list(site.rglob("*.pyc"))
    assert not (site / "bin").exists()
    native = [p.name for p in site.rglob("*.so")]
    assert native
    assert all("aarch64" in name or "abi3" in name for name in native), native
    assert any(f"cpython-{LAMBDA_TARGET.python_version.replace('.', '')}" in name for name in native), native


def test_handlers_import_with_only_their_asset_and_the_layer(blu: SynthesizedApp, local_layer: Path) -> None:
    for resource in _functions(blu).values():
        props = resource["Properties"]
        module, _, attribute = props["Handler"].rpartition(".")
        env = {name: "blu-test" for name in props["Environment"]["Variables"]}
        paths = [str(_asset_dir(blu, resource)), str(local_layer)]
        # -I: no PYTHONPATH, no user site, not the current directory; -S: no site-packages (the venv stays invisible).
        code = (
            "import importlib, json, sys; sys.path[:0] = " + json.dumps(paths) + "; "
            f"m = importlib.import_module({module!r}); assert callable(getattr(m, {attribute!r})); "
            "import sysconfig as c; roots = (*sys.path[:2], c.get_path('stdlib'), c.get_path('platstdlib')); "
            "print(json.dumps([f for m in list(sys.modules.values()) "
            "if (f := getattr(m, '__file__', None)) and not f.startswith(roots)]))"
        )
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code],
            env={**env, "AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ.get("PATH", "")},
            capture_output=True,
            text=True,
            cwd=local_layer,
        )
        assert result.returncode == 0, (module, result.stderr[-3000:])
        # Everything it loaded came from the asset, the layer or the standard library.
        assert json.loads(result.stdout) == [], module


def test_no_two_different_bundles_share_an_asset(blu: SynthesizedApp) -> None:
    code_assets = {_asset_dir(blu, r).name for r in _functions(blu).values()}
    layer_asset = _layer_dir(blu).name
    # Both functions run the same copied code (one bundle); the layer is another bundle.
    assert len(code_assets) == 1
    assert layer_asset not in code_assets


def _asset_hashes(assembly: Path) -> dict[str, list[str]]:
    hashes: dict[str, list[str]] = {}
    for manifest in sorted(assembly.glob("*.assets.json")):
        data = json.loads(manifest.read_text())
        hashes[manifest.name] = sorted([*data.get("files", {}), *data.get("dockerImages", {})])
    return hashes


def test_two_synths_give_identical_asset_hashes(blu: SynthesizedApp, tmp_path: Path) -> None:
    # A second synth in a fresh process (CDK caches staged assets per process), as `cdk synth` runs app.py.
    context = {**cdk_json_context(), **TEST_CONTEXT}
    subprocess.run(
        [sys.executable, "app.py"],
        env={**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(context)},
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    first, second = _asset_hashes(blu.assembly_dir), _asset_hashes(tmp_path)
    assert first
    assert any(first.values())
    assert first == second
