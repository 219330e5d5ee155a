"""BluSettings: defaults, context overrides as the CLI sends them, and clear errors for bad values."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stacks.settings import CLOUDWATCH_RETENTION_DAYS, FARGATE_SIZES, BluSettings, SettingsError
from tests.stacks.conftest import cdk_json_context

DEFAULTS: dict[str, Any] = {
    "environment_name": "blu",
    "cpu": 1024,
    "memory": 2048,
    "use_fargate_spot": True,
    "use_arm64": True,
    "idle_timeout_minutes": 30,
    "start_on_deploy": False,
    "log_retention_days": 14,
    "backup_retention_days": 365,
    "files_expiry_days": 30,
    "vpc_cidr": "10.20.0.0/16",
    "alarm_email": "",
    "max_running_hours_per_day": 4,
    "container_uid": 1000,
    "container_gid": 1000,
    "image_build": "codebuild",
}


def test_defaults() -> None:
    assert dataclasses.asdict(BluSettings()) == DEFAULTS
    assert BluSettings.context_keys() == tuple(DEFAULTS)


def test_cdk_json_carries_every_setting_with_its_default() -> None:
    context = cdk_json_context()
    assert {key: context[key] for key in BluSettings.context_keys()} == DEFAULTS
    assert BluSettings.from_mapping(context) == BluSettings()


def test_empty_context_gives_defaults() -> None:
    assert BluSettings.from_mapping({}) == BluSettings()


def test_cli_strings_are_parsed() -> None:
    # `cdk deploy -c key=value` delivers every value as a string.
    settings = BluSettings.from_mapping(
        {
            "environment_name": "dev-blu",
            "cpu": "512",
            "memory": "1024",
            "use_fargate_spot": "false",
            "use_arm64": "False",
            "start_on_deploy": "true",
            "idle_timeout_minutes": "60",
            "log_retention_days": "30",
            "backup_retention_days": "90",
            "files_expiry_days": "7",
            "vpc_cidr": "10.99.0.0/20",
            "alarm_email": "me@example.com",
            "max_running_hours_per_day": "8",
            "container_uid": "1001",
            "container_gid": "1002",
        }
    )
    assert settings == BluSettings(
        environment_name="dev-blu",
        cpu=512,
        memory=1024,
        use_fargate_spot=False,
        use_arm64=False,
        start_on_deploy=True,
        idle_timeout_minutes=60,
        log_retention_days=30,
        backup_retention_days=90,
        files_expiry_days=7,
        vpc_cidr="10.99.0.0/20",
        alarm_email="me@example.com",
        max_running_hours_per_day=8,
        container_uid=1001,
        container_gid=1002,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("YES", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("0", False),
        (True, True),
        (False, False),
    ],
)
def test_boolean_spellings(raw: object, expected: bool) -> None:
    assert BluSettings.from_mapping({"use_fargate_spot": raw}).use_fargate_spot is expected


def test_json_typed_values_from_cdk_json() -> None:
    assert BluSettings.from_mapping({"cpu": 2048, "memory": 4096, "use_arm64": False}).cpu == 2048


def test_from_context_reads_app_context() -> None:
    import aws_cdk as cdk

    app = cdk.App(context={"cpu": "512", "memory": "1024", "alarm_email": "a@b.co"})
    settings = BluSettings.from_context(app.node)
    assert (settings.cpu, settings.memory, settings.alarm_email) == (512, 1024, "a@b.co")


def test_every_fargate_size_is_accepted() -> None:
    for cpu, memories in FARGATE_SIZES.items():
        for memory in memories:
            BluSettings(cpu=cpu, memory=memory)


def test_every_cloudwatch_retention_maps_to_the_cdk_enum() -> None:
    from aws_cdk import aws_logs

    for days in CLOUDWATCH_RETENTION_DAYS:
        assert isinstance(BluSettings(log_retention_days=days).log_retention, aws_logs.RetentionDays)
    assert BluSettings(log_retention_days=14).log_retention == aws_logs.RetentionDays.TWO_WEEKS
    assert BluSettings(log_retention_days=365).log_retention == aws_logs.RetentionDays.ONE_YEAR
    assert BluSettings(log_retention_days=3653).log_retention == aws_logs.RetentionDays.TEN_YEARS


BAD_VALUES: list[tuple[str, object, str]] = [
    ("environment_name", "Blu", "lowercase"),
    ("environment_name", "b", "2-21 characters"),
    ("environment_name", "1blu", "lowercase letter"),
    ("environment_name", "blu_prod", "lowercase"),
    ("environment_name", "a" * 22, "2-21 characters"),
    ("cpu", "300", "Fargate sizes"),
    ("cpu", "lots", "whole number"),
    ("memory", "1000", "Fargate allows 2048..8192"),
    ("memory", "16384", "for cpu=1024"),
    ("use_fargate_spot", "maybe", "true or false"),
    ("use_arm64", 1, "true or false"),
    ("start_on_deploy", "", "true or false"),
    ("idle_timeout_minutes", "4", "from 5 to 1440"),
    ("idle_timeout_minutes", "1441", "from 5 to 1440"),
    ("idle_timeout_minutes", "30.5", "whole number"),
    ("idle_timeout_minutes", True, "whole number"),
    ("log_retention_days", "10", "CloudWatch Logs retention period"),
    ("log_retention_days", "0", "CloudWatch Logs retention period"),
    ("backup_retention_days", "0", "from 1 to 3650"),
    ("files_expiry_days", "-1", "from 1 to 3650"),
    ("vpc_cidr", "10.20.0.0/8", "between /16 and /24"),
    ("vpc_cidr", "10.20.0.0/25", "between /16 and /24"),
    ("vpc_cidr", "10.20.0.1/16", "network address"),
    ("vpc_cidr", "8.8.0.0/16", "private"),
    ("vpc_cidr", "not-a-cidr", "private IPv4 network"),
    ("alarm_email", "nobody", "e-mail address"),
    ("image_build", "docker", "one of codebuild, local"),
    ("max_running_hours_per_day", "0", "from 1 to 24"),
    ("max_running_hours_per_day", "25", "from 1 to 24"),
    ("container_uid", "0", "non-root user id"),
    ("container_gid", "0", "non-root group id"),
    ("container_uid", "70000", "from 1 to 65535"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_bad_value_names_key_value_and_what_is_allowed(key: str, value: object, allowed: str) -> None:
    with pytest.raises(SettingsError) as raised:
        BluSettings.from_mapping({key: value})
    message = str(raised.value)
    assert raised.value.key == key
    assert message.startswith(f"Invalid setting {key}=")
    assert str(value).strip() in message
    assert allowed in message


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("cpus", "cpu"),
        ("idle-timeout-minutes", "idle_timeout_minutes"),
        ("log_retention", "log_retention_days"),
        ("Memory", "memory"),
        ("use_fargate_spots", "use_fargate_spot"),
    ],
)
def test_misspelt_setting_is_rejected_with_a_suggestion(typo: str, meant: str) -> None:
    with pytest.raises(SettingsError, match=f"unknown setting; did you mean '{meant}'"):
        BluSettings.from_mapping({typo: "1"})


def test_cdk_and_unrelated_context_keys_are_ignored() -> None:
    context = {
        "@aws-cdk/core:target-partitions": ["aws"],
        "aws:cdk:bundling-stacks": [],
        "acknowledged-issue-numbers": [1],
        "some_other_tool_setting": "x",
    }
    assert BluSettings.from_mapping(context) == BluSettings()


def test_settings_are_frozen_and_revalidated_on_replace() -> None:
    settings = BluSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.cpu = 512  # type: ignore[misc]
    with pytest.raises(SettingsError):
        dataclasses.replace(settings, memory=512)


def test_derived_names() -> None:
    assert BluSettings().stack_name("Network") == "Blu-Network"
    assert BluSettings(environment_name="dev-blu").stack_name("Data") == "Dev-Blu-Data"
    assert BluSettings().dns_resolver_ip == "10.20.0.2"
    assert BluSettings(vpc_cidr="192.168.4.0/22").dns_resolver_ip == "192.168.4.2"
