"""cdk-nag: the app has no unacknowledged findings, every acknowledgment is used, and the check can fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stacks.nag import ACKNOWLEDGMENTS, AcknowledgmentError, NagAcknowledgment, apply_nag
from tests.stacks.conftest import SynthesizedApp, make_app

Finding = tuple[str, str, str, str]  # plugin, rule, severity, construct path


def report(assembly_dir: Path) -> dict[str, Any]:
    path = assembly_dir / "validation-report.json"
    assert path.exists(), "no validation report: is apply_nag() wired into the app?"
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def findings(assembly_dir: Path) -> list[Finding]:
    """Every unacknowledged finding of every validation plugin (cdk-nag, CloudFormation checks, annotations)."""
    return [
        (plugin["pluginName"], violation["ruleName"], violation["severity"], construct["constructPath"])
        for plugin in report(assembly_dir)["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


def suppressed(assembly_dir: Path) -> list[dict[str, Any]]:
    return [s for plugin in report(assembly_dir)["pluginReports"] for s in plugin.get("suppressedViolations", [])]


def test_blu_has_no_unacknowledged_findings(blu: SynthesizedApp) -> None:
    assert findings(blu.assembly_dir) == []
    assert "AwsSolutions" in {p["pluginName"] for p in report(blu.assembly_dir)["pluginReports"]}


def test_every_acknowledgment_suppresses_a_real_finding(blu: SynthesizedApp) -> None:
    used = suppressed(blu.assembly_dir)
    for ack in ACKNOWLEDGMENTS:
        stack = next(st for st in blu.stacks.all() if isinstance(st, ack.stack))
        if ack.optional and stack.node.try_find_child(ack.path.split("/")[0]) is None:
            continue  # the construct exists only with other settings
        rule = ack.rule_in(blu.stacks.data.stack_name, blu.settings.schedule_group_name)
        matches = [s for s in used if s["acknowledgedId"] == rule and s["acknowledgedAt"].endswith(f"/{ack.path}")]
        assert matches, f"stale acknowledgment {ack.rule} on {ack.path}: remove it"
        assert all(s["reason"] == ack.reason for s in matches)


def test_nag_reports_a_noncompliant_bucket_and_honours_acknowledgments(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    stack = cdk.Stack(app, "Throwaway")
    s3.Bucket(stack, "Open")
    apply_nag(
        app,
        (NagAcknowledgment(stack=cdk.Stack, path="Open", rule="AwsSolutions::AwsSolutions-S1", reason="test"),),
    )
    app.synth()
    rules = {(rule, severity, path) for plugin, rule, severity, path in findings(tmp_path) if plugin == "AwsSolutions"}
    assert ("AwsSolutions-S10", "error", "Throwaway/Open/Resource") in rules  # no TLS-only policy
    assert not any(rule == "AwsSolutions-S1" for rule, _, _ in rules)  # acknowledged above
    assert [s["ruleName"] for s in suppressed(tmp_path)] == ["AwsSolutions-S1"]


def test_nag_errors_fail_synth_as_they_do_for_the_cli(tmp_path: Path) -> None:
    app = make_app(tmp_path, **{"@aws-cdk/core:failSynthOnValidationErrors": True})
    s3.Bucket(cdk.Stack(app, "Throwaway"), "Open")
    apply_nag(app, ())
    with pytest.raises(Exception, match=r"ValidationFailed(.|\n)*AwsSolutions::AwsSolutions-S10"):
        app.synth()


def test_acknowledgment_for_a_missing_construct_is_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    cdk.Stack(app, "Throwaway")
    stale = NagAcknowledgment(stack=cdk.Stack, path="Gone", rule="AwsSolutions::AwsSolutions-S1", reason="x")
    with pytest.raises(AcknowledgmentError, match="Throwaway/Gone matches no construct"):
        apply_nag(app, (stale,))


@pytest.mark.parametrize(("rule", "reason"), [("AwsSolutions-S1", "no prefix"), ("AwsSolutions::AwsSolutions-S1", " ")])
def test_acknowledgment_needs_the_plugin_prefix_and_a_reason(tmp_path: Path, rule: str, reason: str) -> None:
    app = make_app(tmp_path)
    with pytest.raises(AcknowledgmentError):
        apply_nag(app, (NagAcknowledgment(stack=cdk.Stack, path="x", rule=rule, reason=reason),))


def test_x86_image_build_in_another_environment_is_nag_clean_too(tmp_path: Path) -> None:
    # The image build's CodeBuild project is another singleton on x86; its acknowledgments must match it.
    # Another environment renames the stacks, which the files bucket's grant names (through the data stack).
    from app import build_app
    from stacks.settings import BluSettings

    app = make_app(tmp_path, **{"aws:cdk:bundling-stacks": [], "use_arm64": False, "environment_name": "dev-blu"})
    build_app(app, BluSettings.from_context(app.node))
    apply_nag(app)
    app.synth()
    assert findings(tmp_path) == []
