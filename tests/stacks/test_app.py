"""app.py: stack names and order, settings read once from cdk.json, clean errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

import app as blu_app
from stacks.settings import BluSettings
from tests.stacks.conftest import SynthesizedApp, make_app


def test_stacks_in_deployment_order_with_prefixed_names(blu: SynthesizedApp) -> None:
    assert [stack.stack_name for stack in blu.stacks.all()] == [
        "Blu-Network",
        "Blu-Data",
        "Blu-Service",
        "Blu-Control",
        "Blu-Api",
        "Blu-Monitoring",
    ]
    assert blu.stacks.all() == (
        blu.stacks.network,
        blu.stacks.data,
        blu.stacks.service,
        blu.stacks.control,
        blu.stacks.api,
        blu.stacks.monitoring,
    )


def test_settings_come_from_cdk_json(blu: SynthesizedApp) -> None:
    assert blu.settings == BluSettings()


def test_environment_name_prefixes_the_stacks(tmp_path: Path) -> None:
    app = make_app(tmp_path, environment_name="dev-blu")
    stacks = blu_app.build_app(app, BluSettings.from_context(app.node))
    assert [stack.stack_name for stack in stacks.all()][:2] == ["Dev-Blu-Network", "Dev-Blu-Data"]
    assert all(stack.stack_name.startswith("Dev-Blu-") for stack in stacks.all())


def test_resources_are_tagged_with_the_environment(blu: SynthesizedApp) -> None:
    tags = blu.template_json("data")["Resources"]["Table710B521B"]["Properties"]["Tags"]
    assert {"Key": "blu:environment", "Value": "blu"} in tags


def test_main_reports_a_bad_setting_without_a_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_app = cdk.App
    monkeypatch.setattr(blu_app.cdk, "App", lambda: real_app(context={"cpu": "300"}, outdir=str(tmp_path)))
    with pytest.raises(SystemExit, match=r"^Blu: Invalid setting cpu=300: one of the Fargate sizes"):
        blu_app.main()
