"""The monthly cost estimate reads the synthesized templates: settings that change them change the estimate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacks.cost.estimate import Deployment, line_items, report
from stacks.cost.prices import PRICES
from tests.stacks.conftest import SynthesizedApp, make_app

FARGATE = "Fargate task (running hours incl. idle tail)"


def _synth(outdir: Path, **overrides: Any) -> Deployment:
    from app import build_app
    from stacks.settings import BluSettings

    # No bundling: the estimate reads only the templates.
    app = make_app(outdir, **{"aws:cdk:bundling-stacks": [], **overrides})
    build_app(app, BluSettings.from_context(app.node))
    return Deployment.from_assembly(Path(app.synth().directory))


def test_deployment_is_read_from_the_templates(blu: SynthesizedApp) -> None:
    d = Deployment.from_assembly(blu.assembly_dir)
    s = blu.settings
    assert (d.vcpu, d.memory_gb) == (s.cpu / 1024, s.memory / 1024)
    assert (d.arm64, d.spot, d.idle_timeout_minutes) == (s.use_arm64, s.use_fargate_spot, s.idle_timeout_minutes)
    assert d.public_ipv4 and d.image_built_in_aws
    assert d.hosted_zones == 1 and d.secrets == 1
    assert d.alarms >= 1 and d.dashboards == 2  # the main one and backups (CloudWatch's free tier: 3)


def test_idle_blu_pays_only_for_what_is_always_on(blu: SynthesizedApp) -> None:
    items = line_items(Deployment.from_assembly(blu.assembly_dir), 0.0, free_tier=False)
    assert items[FARGATE] == 0 and items["Public IPv4 while running"] == 0
    assert items["Cloud Map private hosted zone"] == PRICES["hosted_zone_month"].usd
    assert items["Secrets Manager"] == PRICES["secret_month"].usd
    assert items["EFS storage"] > 0 and items["ECR image storage"] > 0


def test_more_use_costs_more_and_the_free_tier_never_adds(blu: SynthesizedApp) -> None:
    d = Deployment.from_assembly(blu.assembly_dir)
    totals = [sum(line_items(d, h, free_tier=False).values()) for h in (0.0, 1.0, 3.0)]
    assert totals == sorted(totals) and totals[0] < totals[2]
    for h in (0.0, 1.0, 3.0):
        assert sum(line_items(d, h, free_tier=True).values()) <= sum(line_items(d, h, free_tier=False).values())
    # Every sitting leaves the task running for the idle tail.
    assert d.running_hours_per_month(1.0) > 1.0 * 365 / 12 + d.idle_timeout_minutes / 60 * 365 / 12 - 1e-9
    text = report(d)
    assert "Total with free tier" in text and "Total without free tier" in text


@pytest.mark.parametrize(
    "overrides",
    [
        {"cpu": 2048, "memory": 4096},
        {"memory": 4096},
        {"idle_timeout_minutes": 60},
        {"use_fargate_spot": False},
    ],
    ids=["cpu", "memory", "idle_timeout", "on_demand"],
)
def test_settings_change_the_estimate(blu: SynthesizedApp, tmp_path: Path, overrides: dict[str, Any]) -> None:
    base = line_items(Deployment.from_assembly(blu.assembly_dir), 1.0, free_tier=False)
    changed = line_items(_synth(tmp_path, **overrides), 1.0, free_tier=False)
    assert changed[FARGATE] > base[FARGATE]
