"""Blu's deploy-time settings, read once from CDK context into a typed, validated, frozen object.

Scheme: every setting is a plain context key named exactly like the field below, so it can be set
in ``cdk.json`` under ``"context"`` (JSON-typed) or on the command line (always a string)::

    npx cdk deploy -c cpu=512 -c memory=1024 -c use_fargate_spot=false -c alarm_email=me@example.com

Command-line values override ``cdk.json``. Booleans accept true/false (also yes/no, 1/0), integers
accept decimal digits. A bad value raises ``SettingsError`` naming the key, the value and what is
allowed. Context also carries CDK's own keys (feature flags, ``aws:cdk:...``), so unknown keys are
not rejected wholesale; an unknown key that looks like a misspelt setting (``cpus``,
``idle-timeout-minutes``) is rejected so that a typo does not silently deploy the default.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from core.config import DEFAULT_IDLE_TIMEOUT_MINUTES

if TYPE_CHECKING:
    from aws_cdk import aws_logs
    from constructs import Node

# Valid Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# The retention periods CloudWatch Logs accepts, with their aws_logs.RetentionDays member names
# (never-expire is deliberately not offered).
_RETENTION_NAMES: dict[int, str] = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}
CLOUDWATCH_RETENTION_DAYS: tuple[int, ...] = tuple(_RETENTION_NAMES)

IMAGE_BUILDS: tuple[str, ...] = ("codebuild", "local")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{1,20}$")
# Deliberately simple: catches obvious mistakes; SNS confirms the address anyway.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


class SettingsError(ValueError):
    """A context value that Blu cannot deploy with; the message names the key, value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        super().__init__(f"Invalid setting {key}={value!r}: {allowed}")
        self.key = key
        self.value = value
        self.allowed = allowed


@dataclass(frozen=True, kw_only=True)
class BluSettings:
    """Everything a deployment can tune; defaults are the product's recommended configuration."""

    environment_name: str = "blu"
    cpu: int = 1024
    memory: int = 2048
    use_fargate_spot: bool = True
    use_arm64: bool = True
    idle_timeout_minutes: int = DEFAULT_IDLE_TIMEOUT_MINUTES
    start_on_deploy: bool = False
    log_retention_days: int = 14
    backup_retention_days: int = 365
    files_expiry_days: int = 30
    vpc_cidr: str = "10.20.0.0/16"
    alarm_email: str = ""
    max_running_hours_per_day: int = 4
    container_uid: int = 1000
    container_gid: int = 1000
    # Where the container image is built: "codebuild" (in AWS at deploy time, no local Docker) or "local".
    image_build: str = "codebuild"

    # Close-match threshold for typo detection on unknown context keys.
    _TYPO_CUTOFF: ClassVar[float] = 0.8

    def __post_init__(self) -> None:
        self._validate()

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def context_keys(cls) -> tuple[str, ...]:
        """The context keys Blu reads, one per field."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_context(cls, node: Node) -> BluSettings:
        """Read every setting from a construct node's context (cdk.json plus ``-c`` overrides)."""
        return cls.from_mapping(node.get_all_context() or {})

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> BluSettings:
        """Parse settings from a context-like mapping; values may be JSON-typed or CLI strings."""
        cls._reject_typos(context)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name not in context or context[field.name] is None:
                continue
            raw = context[field.name]
            if field.type == "bool":
                values[field.name] = _parse_bool(field.name, raw)
            elif field.type == "int":
                values[field.name] = _parse_int(field.name, raw)
            else:
                values[field.name] = _parse_str(field.name, raw)
        return cls(**values)

    @classmethod
    def _reject_typos(cls, context: Mapping[str, Any]) -> None:
        known = cls.context_keys()
        for key in context:
            # CDK's own keys are namespaced (":" or "@" or "/"); only bare words can be typos of ours.
            if key in known or not isinstance(key, str) or any(c in key for c in ":@/"):
                continue
            normalized = key.strip().lower().replace("-", "_")
            guess = difflib.get_close_matches(normalized, known, n=1, cutoff=cls._TYPO_CUTOFF)
            if guess:
                raise SettingsError(key, context[key], f"unknown setting; did you mean {guess[0]!r}?")

    # ---- validation ---------------------------------------------------------------------------

    def _validate(self) -> None:
        if not _ENV_NAME.match(self.environment_name):
            raise SettingsError(
                "environment_name",
                self.environment_name,
                "2-21 characters: a lowercase letter, then lowercase letters, digits or '-'",
            )
        if self.cpu not in FARGATE_SIZES:
            raise SettingsError("cpu", self.cpu, f"one of the Fargate sizes {sorted(FARGATE_SIZES)}")
        if self.memory not in FARGATE_SIZES[self.cpu]:
            allowed = FARGATE_SIZES[self.cpu]
            raise SettingsError(
                "memory",
                self.memory,
                f"for cpu={self.cpu}, Fargate allows {allowed[0]}..{allowed[-1]} MiB in the steps "
                f"{', '.join(map(str, allowed))}",
            )
        _check_range("idle_timeout_minutes", self.idle_timeout_minutes, 5, 1440)
        if self.log_retention_days not in CLOUDWATCH_RETENTION_DAYS:
            raise SettingsError(
                "log_retention_days",
                self.log_retention_days,
                f"a CloudWatch Logs retention period, one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}",
            )
        _check_range("backup_retention_days", self.backup_retention_days, 1, 3650)
        _check_range("files_expiry_days", self.files_expiry_days, 1, 3650)
        _check_range("max_running_hours_per_day", self.max_running_hours_per_day, 1, 24)
        _check_range("container_uid", self.container_uid, 1, 65535, "a non-root user id")
        _check_range("container_gid", self.container_gid, 1, 65535, "a non-root group id")
        self._validate_cidr()
        if self.image_build not in IMAGE_BUILDS:
            raise SettingsError("image_build", self.image_build, f"one of {', '.join(IMAGE_BUILDS)}")
        if self.alarm_email and not _EMAIL.match(self.alarm_email):
            raise SettingsError("alarm_email", self.alarm_email, "an e-mail address, or empty for no alarm e-mails")

    def _validate_cidr(self) -> None:
        allowed = "a private IPv4 network between /16 and /24, written as its network address (e.g. 10.20.0.0/16)"
        try:
            net = ipaddress.IPv4Network(self.vpc_cidr, strict=True)
        except ValueError:
            raise SettingsError("vpc_cidr", self.vpc_cidr, allowed) from None
        if not (16 <= net.prefixlen <= 24 and net.is_private):
            raise SettingsError("vpc_cidr", self.vpc_cidr, allowed)

    # ---- derived values -----------------------------------------------------------------------

    @property
    def stack_prefix(self) -> str:
        """Capitalised environment name for stack names: ``blu`` -> ``Blu``, ``dev-blu`` -> ``Dev-Blu``."""
        return "-".join(part.capitalize() for part in self.environment_name.split("-"))

    def stack_name(self, suffix: str) -> str:
        """The CloudFormation stack name for one of Blu's stacks, e.g. ``Blu-Network``."""
        return f"{self.stack_prefix}-{suffix}"

    @property
    def schedule_group_name(self) -> str:
        """The EventBridge Scheduler group holding one wake per Blu schedule (names, not references: the
        service's task gets them without depending on the control stack, which depends on the service)."""
        return f"{self.environment_name}-schedules"

    @property
    def schedule_wake_name(self) -> str:
        """The schedule-wake Lambda's name, and of the role EventBridge Scheduler invokes it with."""
        return f"{self.environment_name}-schedule-wake"

    @property
    def dns_resolver_ip(self) -> str:
        """The Amazon-provided DNS server of the VPC: the network address plus two."""
        return str(ipaddress.IPv4Network(self.vpc_cidr).network_address + 2)

    @property
    def log_retention(self) -> aws_logs.RetentionDays:
        """``log_retention_days`` as the CDK enum (imported lazily: parsing settings needs no CDK)."""
        from aws_cdk import aws_logs

        return aws_logs.RetentionDays[_RETENTION_NAMES[self.log_retention_days]]


def _check_range(key: str, value: int, low: int, high: int, what: str = "an integer") -> None:
    if not low <= value <= high:
        raise SettingsError(key, value, f"{what} from {low} to {high}")


def _parse_bool(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise SettingsError(key, raw, "true or false")


def _parse_int(key: str, raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        return int(raw)
    raise SettingsError(key, raw, "a whole number")


def _parse_str(key: str, raw: Any) -> str:
    if isinstance(raw, str):
        return raw.strip()
    raise SettingsError(key, raw, "a string")
