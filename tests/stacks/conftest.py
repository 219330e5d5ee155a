"""Synthesizes the Blu app once per test session, offline, with the same context the CLI uses."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from app import BluStacks
    from stacks.settings import BluSettings

# Node 20's end-of-life banner from the jsii runtime is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO = Path(__file__).resolve().parents[2]

# What the tests add to cdk.json's context: what the CLI passes to the app (path and asset metadata
# on, version reporting off as cdk.json says), and nag errors land in the report instead of raising,
# so a finding fails the nag test with the full list rather than every test at fixture setup.
# Bundling runs for real (local, no Docker): tests/stacks/test_assets.py looks inside the assets.
TEST_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": False,
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` block of cdk.json: feature flags and Blu's settings."""
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return context


def make_app(outdir: Path, **overrides: Any) -> cdk.App:
    """A ``cdk.App`` configured like ``cdk synth`` would configure it (plus TEST_CONTEXT)."""
    import aws_cdk as cdk

    return cdk.App(context={**cdk_json_context(), **TEST_CONTEXT, **overrides}, outdir=str(outdir))


@dataclass(frozen=True)
class SynthesizedApp:
    """The app built exactly as app.py builds it, synthesized once."""

    app: cdk.App
    settings: BluSettings
    stacks: BluStacks
    assembly_dir: Path
    templates: dict[str, Template]
    synth_seconds: float

    def template_json(self, name: str) -> dict[str, Any]:
        return dict(self.templates[name].to_json())


@pytest.fixture(scope="session")
def blu(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    from aws_cdk.assertions import Template

    from app import build_app
    from stacks.nag import apply_nag
    from stacks.settings import BluSettings

    started = time.perf_counter()
    app = make_app(tmp_path_factory.mktemp("cdk.out"))
    settings = BluSettings.from_context(app.node)
    stacks = build_app(app, settings)
    apply_nag(app)
    assembly = app.synth()
    # Template.from_stack reuses the assembly synthesized above.
    templates = {f.name: Template.from_stack(getattr(stacks, f.name)) for f in fields(stacks)}
    return SynthesizedApp(
        app=app,
        settings=settings,
        stacks=stacks,
        assembly_dir=Path(assembly.directory),
        templates=templates,
        synth_seconds=time.perf_counter() - started,
    )


@pytest.fixture(scope="session")
def network_template(blu: SynthesizedApp) -> Template:
    return blu.templates["network"]


@pytest.fixture(scope="session")
def data_template(blu: SynthesizedApp) -> Template:
    return blu.templates["data"]


@pytest.fixture(scope="session")
def service_template(blu: SynthesizedApp) -> Template:
    return blu.templates["service"]


@pytest.fixture(scope="session")
def control_template(blu: SynthesizedApp) -> Template:
    return blu.templates["control"]


@pytest.fixture(scope="session")
def api_template(blu: SynthesizedApp) -> Template:
    return blu.templates["api"]


@pytest.fixture(scope="session")
def all_templates(blu: SynthesizedApp) -> dict[str, dict[str, Any]]:
    """Every stack's template as JSON, by BluStacks field name; grows as stacks are added."""
    return {name: blu.template_json(name) for name in blu.templates}
