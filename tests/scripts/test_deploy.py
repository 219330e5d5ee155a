"""The guided deploy's steps against moto: prerequisites found or created once, secrets asked once, never printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.auth import verify_password
from scripts.deploy import (
    BOOTSTRAP_STACK,
    DeployError,
    check_credentials,
    ensure_ecs_service_linked_role,
    is_bootstrapped,
    stack_output,
    start_service,
    store_secrets,
)
from tests.scripts.conftest import REGION
from tests.support.ecs import create_service

PASSWORD = "a long enough password"
TOKEN = "sk-ant-oat01-not-a-real-token"


def prompts(*answers: str) -> Any:
    queue = list(answers)

    def ask(prompt: str) -> str:
        assert queue, f"asked more than expected: {prompt}"
        return queue.pop(0)

    return ask


def _secret(session: Any) -> str:
    # As CloudFormation creates it: the generated session key, the other keys empty.
    initial = {"SESSION_SECRET": "x" * 64, "AUTH_PASSWORD_HASH": "", "CLAUDE_CODE_OAUTH_TOKEN": ""}
    return str(session.client("secretsmanager").create_secret(Name="blu", SecretString=json.dumps(initial))["ARN"])


def test_credentials_and_region_are_checked(session: Any) -> None:
    account = check_credentials(session.client("sts"), REGION)
    assert account.account_id.isdigit() and account.region == REGION
    with pytest.raises(DeployError, match="region"):
        check_credentials(session.client("sts"), None)


def test_bootstrap_is_detected(session: Any) -> None:
    cloudformation = session.client("cloudformation")
    assert not is_bootstrapped(cloudformation)
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}
    cloudformation.create_stack(StackName=BOOTSTRAP_STACK, TemplateBody=json.dumps(template))
    assert is_bootstrapped(cloudformation)


def test_ecs_service_linked_role_is_created_once(session: Any) -> None:
    iam = session.client("iam")
    assert ensure_ecs_service_linked_role(iam) is True
    roles = iam.list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]
    assert len(roles) == 1
    assert ensure_ecs_service_linked_role(iam) is False


def test_password_and_token_are_asked_once_and_never_printed(session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    arn = _secret(session)
    secrets = session.client("secretsmanager")
    stored = store_secrets(secrets, arn, prompts(PASSWORD, PASSWORD, TOKEN))
    assert stored == ["AUTH_PASSWORD_HASH", "CLAUDE_CODE_OAUTH_TOKEN"]
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert verify_password(PASSWORD, value["AUTH_PASSWORD_HASH"])
    assert value["CLAUDE_CODE_OAUTH_TOKEN"] == TOKEN and value["SESSION_SECRET"] == "x" * 64
    # A re-run asks nothing (prompts() fails on any question) and changes nothing.
    assert store_secrets(secrets, arn, prompts()) == []
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err and TOKEN not in out.out + out.err


def test_url_output_and_start(session: Any) -> None:
    cloudformation = session.client("cloudformation")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"UrlABC123": {"Value": "https://example.execute-api.eu-west-1.amazonaws.com/"}},
    }
    cloudformation.create_stack(StackName="Blu-Api", TemplateBody=json.dumps(template))
    assert stack_output(cloudformation, "Blu-Api", "Url").startswith("https://")
    with pytest.raises(DeployError):
        stack_output(cloudformation, "Blu-Api", "Missing")
    ecs = session.client("ecs")
    create_service(ecs, cluster="Blu-Service-cluster", service="blu", desired_count=0)
    start_service(ecs, "Blu-Service-cluster", "blu")
    assert ecs.describe_services(cluster="Blu-Service-cluster", services=["blu"])["services"][0]["desiredCount"] == 1
