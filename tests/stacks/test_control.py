"""Control stack: ARM64 Lambdas packaged without Docker, the idle schedule, least-privilege IAM."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from lambdas.common.config import ENV_NAMES
from stacks.control import CODE_PATHS, IDLE_CHECK_MINUTES, REPO_ROOT
from tests.stacks.conftest import SynthesizedApp


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    return {
        props["Handler"].split(".")[1]: props
        for props in (r["Properties"] for r in template.find_resources("AWS::Lambda::Function").values())
    }


def test_four_arm64_python_functions_with_powertools_and_tracing(control_template: Template) -> None:
    functions = _functions(control_template)
    assert set(functions) == {"launcher", "idle_checker", "schedule_wake", "restore_drill"}
    for name, props in functions.items():
        assert props["Architectures"] == ["arm64"]
        assert props["Runtime"].startswith("python3.")
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 1
        env = props["Environment"]["Variables"]
        if name == "restore_drill":  # tests/stacks/test_backups.py: the backups bucket only
            continue
        assert set(env) == set(ENV_NAMES) | {"POWERTOOLS_SERVICE_NAME"}
    assert functions["launcher"]["MemorySize"] <= 512


def test_idle_checker_runs_on_a_schedule(control_template: Template) -> None:
    rules = [r["Properties"] for r in control_template.find_resources("AWS::Events::Rule").values()]
    rules = [r for r in rules if "RestoreDrill" not in str(r["Targets"])]  # tests/stacks/test_backups.py
    assert len(rules) == 1
    assert rules[0]["ScheduleExpression"] == f"rate({IDLE_CHECK_MINUTES} minutes)"
    assert "IdleChecker" in str(rules[0]["Targets"])


def test_code_paths_exist_so_bundling_finds_them() -> None:
    for relative in CODE_PATHS:
        if relative != "web/dist":  # built by `make web`; the bundler says so when it is missing
            assert (REPO_ROOT / relative).exists(), relative


def _statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [
        s
        for p in policies.values()
        if role_fragment in str(p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_functions_touch_only_this_service_table_and_secret(control_template: Template) -> None:
    for role, may_read_secret in (("Launcher", True), ("IdleChecker", False)):  # the drill: test_backups.py
        statements = _statements(control_template, role)
        assert statements
        for statement in statements:
            actions = _actions(statement)
            resource = statement["Resource"]
            service = {a.split(":")[0] for a in actions}
            assert len(service) == 1
            if resource == "*":
                # Only what AWS offers no resource for, and the ECS reads pinned to Blu's cluster.
                if service == {"ecs"}:
                    assert set(actions) == {"ecs:ListTasks", "ecs:DescribeTasks"}
                    assert "BluCluster" in str(statement["Condition"]["ArnEquals"]["ecs:cluster"])
                else:
                    assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
                continue
            text = str(resource)
            if service == {"ecs"}:
                assert set(actions) == {"ecs:DescribeServices", "ecs:UpdateService"}
                assert "BluService" in text
            elif service == {"dynamodb"}:
                assert "Table" in text and "index" not in text and "*" not in text
                assert not {"dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:BatchWriteItem"} & set(actions)
            elif service == {"secretsmanager"}:
                assert may_read_secret
                assert set(actions) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
                assert "Secret" in text
            else:
                raise AssertionError(f"unexpected statement {statement}")


def test_lambda_assets_skip_bundling_in_tests(blu: SynthesizedApp) -> None:
    import json

    assets = json.loads((blu.assembly_dir / "Blu-Control.assets.json").read_text())
    # Bundling skipped: the assets point at the source directory, nothing was pip-installed.
    assert assets["files"]
