"""Monthly cost per line item at given hours of use a day, read from a synthesized cloud assembly."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import DEFAULT_IDLE_TIMEOUT_MINUTES, ENV_IDLE_TIMEOUT_MINUTES
from stacks.cost.prices import ASSUMPTIONS, DAYS_PER_MONTH, HOURS_PER_MONTH, PRICES, PRICES_CHECKED, REGION

USAGE_HOURS: tuple[float, ...] = (0.0, 1.0, 3.0)


def _resources(templates: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for t in templates for r in t.get("Resources", {}).values() if r["Type"] == kind]


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """What the templates commit to: task size, capacity, idle rule and the always-on resources."""

    vcpu: float
    memory_gb: float
    arm64: bool
    spot: bool
    public_ipv4: bool
    idle_timeout_minutes: int
    idle_check_minutes: int
    hosted_zones: int
    secrets: int
    kms_keys: int
    alarms: int
    dashboards: int
    custom_metrics: int
    image_built_in_aws: bool
    efs_backed_up: bool
    table_pitr: bool
    idle_checker_memory_gb: float
    launcher_memory_gb: float

    @classmethod
    def from_assembly(cls, assembly: Path) -> Deployment:
        templates = [json.loads(p.read_text()) for p in sorted(assembly.glob("*.template.json"))]
        (task,) = _resources(templates, "AWS::ECS::TaskDefinition")
        (service,) = _resources(templates, "AWS::ECS::Service")
        (container,) = task["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
        strategy = service.get("CapacityProviderStrategy", [{}])
        network = service.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        rules = [r.get("ScheduleExpression", "") for r in _resources(templates, "AWS::Events::Rule")]
        rates = [int(m.group(1)) for r in rules if (m := re.fullmatch(r"rate\((\d+) minutes?\)", r))]
        functions = {
            f["Handler"].split(".")[1]: f.get("MemorySize", 128) / 1024
            for f in _resources(templates, "AWS::Lambda::Function")
            if f.get("Handler", "").startswith("lambdas.")
        }
        alarms = _resources(templates, "AWS::CloudWatch::Alarm")
        custom = {
            (a["Namespace"], a["MetricName"])
            for a in alarms
            if "Namespace" in a and not a["Namespace"].startswith("AWS/")
        }
        return cls(
            vcpu=int(task["Cpu"]) / 1024,
            memory_gb=int(task["Memory"]) / 1024,
            arm64=task.get("RuntimePlatform", {}).get("CpuArchitecture") == "ARM64",
            spot=strategy[0].get("CapacityProvider") == "FARGATE_SPOT",
            public_ipv4=network.get("AssignPublicIp") == "ENABLED",
            idle_timeout_minutes=int(env.get(ENV_IDLE_TIMEOUT_MINUTES, DEFAULT_IDLE_TIMEOUT_MINUTES)),
            idle_check_minutes=min(rates) if rates else 5,
            hosted_zones=len(_resources(templates, "AWS::ServiceDiscovery::PrivateDnsNamespace")),
            secrets=len(_resources(templates, "AWS::SecretsManager::Secret")),
            kms_keys=len(_resources(templates, "AWS::KMS::Key")),
            alarms=len(alarms),
            dashboards=len(_resources(templates, "AWS::CloudWatch::Dashboard")),
            custom_metrics=len(custom),
            image_built_in_aws=bool(_resources(templates, "Custom::CDKContainerImageBuild")),
            efs_backed_up=bool(_resources(templates, "AWS::Backup::BackupPlan")),
            table_pitr=any(
                t.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
                for t in _resources(templates, "AWS::DynamoDB::Table")
                + _resources(templates, "AWS::DynamoDB::GlobalTable")
            ),
            idle_checker_memory_gb=functions.get("idle_checker", 0.25),
            launcher_memory_gb=functions.get("launcher", 0.5),
        )

    def running_hours_per_month(self, hours_per_day: float) -> float:
        """Task hours: the use itself, plus for every sitting the wake and the idle tail (timeout plus on
        average half a check interval before the checker sees it)."""
        if hours_per_day <= 0:
            return 0.0
        sittings = max(1, math.ceil(hours_per_day / ASSUMPTIONS["sitting_hours"]))
        tail_minutes = self.idle_timeout_minutes + self.idle_check_minutes / 2 + ASSUMPTIONS["wake_minutes"]
        return (hours_per_day + sittings * tail_minutes / 60) * DAYS_PER_MONTH


def _cost(key: str, quantity: float, *, free_tier: bool) -> float:
    price = PRICES[key]
    billable = max(0.0, quantity - price.free_per_month) if free_tier else quantity
    return billable * price.usd


def line_items(d: Deployment, hours_per_day: float, *, free_tier: bool) -> dict[str, float]:
    """USD per month for each line item."""
    a = ASSUMPTIONS
    running = d.running_hours_per_month(hours_per_day)
    used = hours_per_day * DAYS_PER_MONTH
    arch = "arm64" if d.arm64 else "x86"
    spot = PRICES["fargate_spot_factor"].usd if d.spot else 1.0
    fargate = running * (
        d.vcpu * PRICES[f"fargate_{arch}_vcpu_hour"].usd + d.memory_gb * PRICES[f"fargate_{arch}_gb_hour"].usd
    )
    wakes = (max(1, math.ceil(hours_per_day / a["sitting_hours"])) if hours_per_day > 0 else 0) * DAYS_PER_MONTH
    checks = HOURS_PER_MONTH * 60 / d.idle_check_minutes
    launcher_requests = used * a["launcher_million_requests_per_used_hour"]
    lambda_gb_seconds = checks * a["idle_checker_seconds"] * d.idle_checker_memory_gb + (
        launcher_requests * 1e6 * a["launcher_seconds"] * d.launcher_memory_gb
    )
    logs_gb = running * a["log_gb_per_running_hour"]
    f = free_tier
    items = {
        "Fargate task (running hours incl. idle tail)": fargate * spot,
        "Public IPv4 while running": running * PRICES["public_ipv4_hour"].usd if d.public_ipv4 else 0.0,
        "Cloud Map private hosted zone": d.hosted_zones * PRICES["hosted_zone_month"].usd,
        "Secrets Manager": d.secrets * PRICES["secret_month"].usd
        + wakes * a["secret_calls_per_wake"] / 10_000 * PRICES["secret_10k_calls"].usd,
        "EFS storage": a["efs_gb"] * PRICES["efs_standard_gb_month"].usd,
        "EFS backup (AWS Backup)": a["efs_gb"] * PRICES["backup_efs_gb_month"].usd if d.efs_backed_up else 0.0,
        "DynamoDB (on-demand)": _cost("dynamodb_gb_month", a["dynamodb_gb"], free_tier=f)
        + used * a["dynamodb_million_writes_per_used_hour"] * PRICES["dynamodb_million_writes"].usd
        + used * a["dynamodb_million_reads_per_used_hour"] * PRICES["dynamodb_million_reads"].usd
        + (a["dynamodb_gb"] * PRICES["dynamodb_pitr_gb_month"].usd if d.table_pitr else 0.0),
        "ECR image storage": a["image_gb"] * PRICES["ecr_gb_month"].usd,
        "Image builds (CodeBuild)": _cost(
            "codebuild_arm_small_minute", a["image_builds_per_month"] * a["image_build_minutes"], free_tier=f
        )
        if d.image_built_in_aws
        else 0.0,
        "Lambda (launcher, idle checker, restore drill)": _cost("lambda_arm_gb_second", lambda_gb_seconds, free_tier=f)
        + _cost("lambda_million_requests", checks / 1e6 + launcher_requests, free_tier=f),
        "API Gateway HTTP API": used
        * a["http_million_requests_per_used_hour"]
        * PRICES["http_api_million_requests"].usd,
        "CloudWatch logs": _cost("cloudwatch_logs_ingest_gb", logs_gb, free_tier=f)
        + _cost("cloudwatch_logs_store_gb_month", logs_gb, free_tier=f),
        "CloudWatch alarms, dashboard, metrics": _cost("cloudwatch_alarm_month", d.alarms, free_tier=f)
        + _cost("cloudwatch_dashboard_month", d.dashboards, free_tier=f)
        + _cost("cloudwatch_metric_month", d.custom_metrics, free_tier=f),
        "S3 (files, access logs)": _cost("s3_gb_month", a["s3_gb"], free_tier=f),
        "KMS keys": d.kms_keys * PRICES["kms_key_month"].usd,
    }
    return {name: round(usd, 2) for name, usd in items.items()}


def report(d: Deployment, hours: tuple[float, ...] = USAGE_HOURS) -> str:
    """The estimate as a plain-text table: one column per hours of use a day, totals with and without free tiers."""
    without = {h: line_items(d, h, free_tier=False) for h in hours}
    with_free = {h: line_items(d, h, free_tier=True) for h in hours}
    names = list(without[hours[0]])
    width = max(len(n) for n in names) + 2
    head = "".join(f"{f'{h:g} h/day':>10}" for h in hours)
    lines = [
        f"Blu monthly cost estimate (USD, {REGION} list prices checked {PRICES_CHECKED}; stacks/cost/prices.py)",
        f"Task: {d.vcpu:g} vCPU, {d.memory_gb:g} GB, {'arm64' if d.arm64 else 'x86_64'}, "
        f"{'Fargate Spot' if d.spot else 'Fargate'}; idle timeout {d.idle_timeout_minutes} min, "
        f"checked every {d.idle_check_minutes} min",
        "",
        f"{'Line item (without free tier)':<{width}}{head}",
    ]
    lines += [f"{n:<{width}}" + "".join(f"{without[h][n]:>10.2f}" for h in hours) for n in names]
    lines.append(f"{'Total without free tier':<{width}}" + "".join(f"{sum(without[h].values()):>10.2f}" for h in hours))
    lines.append(f"{'Total with free tier':<{width}}" + "".join(f"{sum(with_free[h].values()):>10.2f}" for h in hours))
    lines.append(
        f"{'Task hours per month':<{width}}" + "".join(f"{d.running_hours_per_month(h):>10.1f}" for h in hours)
    )
    return "\n".join(lines)
