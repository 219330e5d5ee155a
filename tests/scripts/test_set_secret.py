"""set_secret: the hash is computed locally, values merge into the JSON secret, nothing secret is printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.auth import verify_password
from scripts.set_secret import SECRET_KEYS, main
from stacks.data import SECRET_KEYS as STACK_SECRET_KEYS

PASSWORD = "a long enough password"


def prompts(*answers: str) -> Any:
    queue = list(answers)
    return lambda _prompt: queue.pop(0)


def create_secret(session: Any) -> str:
    initial = {key: "" for key in SECRET_KEYS} | {"SESSION_SECRET": "x" * 64}
    return str(session.client("secretsmanager").create_secret(Name="blu", SecretString=json.dumps(initial))["ARN"])


def stored(session: Any, arn: str) -> dict[str, str]:
    return dict(json.loads(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]))


def test_keys_match_the_data_stack() -> None:
    assert SECRET_KEYS == STACK_SECRET_KEYS


def test_password_is_stored_as_a_hash_and_never_printed(session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    arn = create_secret(session)
    assert main(["--password", "--secret-id", arn], prompt=prompts(PASSWORD, PASSWORD), session=session) == 0
    value = stored(session, arn)
    assert value["AUTH_PASSWORD_HASH"].startswith("$2b$")
    assert verify_password(PASSWORD, value["AUTH_PASSWORD_HASH"])
    assert value["SESSION_SECRET"] == "x" * 64  # other keys kept
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    assert value["AUTH_PASSWORD_HASH"] not in out.out + out.err


def test_set_keys_and_rotate(session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    arn = create_secret(session)
    code = main(
        ["--set", "CLAUDE_CODE_OAUTH_TOKEN", "--rotate-session-secret", "--secret-id", arn],
        prompt=prompts("tok-123"),
        session=session,
    )
    assert code == 0
    value = stored(session, arn)
    assert value["CLAUDE_CODE_OAUTH_TOKEN"] == "tok-123"
    assert value["SESSION_SECRET"] != "x" * 64 and len(value["SESSION_SECRET"]) >= 48
    assert "tok-123" not in capsys.readouterr().out


def test_mismatched_passwords_change_nothing(session: Any) -> None:
    arn = create_secret(session)
    assert main(["--password", "--secret-id", arn], prompt=prompts(PASSWORD, PASSWORD + "!"), session=session) == 2
    assert stored(session, arn)["AUTH_PASSWORD_HASH"] == ""


def test_finds_the_secret_in_the_data_stack(session: Any) -> None:
    arn = create_secret(session)

    class FakeCloudFormation:
        exceptions = session.client("cloudformation").exceptions

        def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
            assert StackName == "Blu-Data"
            return {"StackResources": [{"ResourceType": "AWS::SecretsManager::Secret", "PhysicalResourceId": arn}]}

    class Session:
        def client(self, name: str) -> Any:
            return FakeCloudFormation() if name == "cloudformation" else session.client(name)

    assert main(["--password"], prompt=prompts(PASSWORD, PASSWORD), session=Session()) == 0
    assert stored(session, arn)["AUTH_PASSWORD_HASH"].startswith("$2b$")
