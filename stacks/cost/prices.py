"""The one price table the cost estimate uses: AWS list prices, us-east-1, USD, with sources and date."""

from __future__ import annotations

from dataclasses import dataclass

PRICES_CHECKED = "2026-11-29"
REGION = "us-east-1"
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24


@dataclass(frozen=True)
class Price:
    """One unit price (USD) with the monthly free tier that applies to it (in the same unit) and its source."""

    usd: float
    unit: str
    source: str
    free_per_month: float = 0.0


PRICES: dict[str, Price] = {
    # Fargate, Linux. Spot floats with capacity; the figure is the typical ~70% discount.
    "fargate_arm64_vcpu_hour": Price(0.03238, "vCPU-hour", "https://aws.amazon.com/fargate/pricing/"),
    "fargate_arm64_gb_hour": Price(0.00356, "GB-hour", "https://aws.amazon.com/fargate/pricing/"),
    "fargate_x86_vcpu_hour": Price(0.04048, "vCPU-hour", "https://aws.amazon.com/fargate/pricing/"),
    "fargate_x86_gb_hour": Price(0.004445, "GB-hour", "https://aws.amazon.com/fargate/pricing/"),
    "fargate_spot_factor": Price(0.30, "x on-demand", "https://aws.amazon.com/fargate/pricing/ (Fargate Spot)"),
    "public_ipv4_hour": Price(0.005, "IPv4-hour", "https://aws.amazon.com/vpc/pricing/ (public IPv4 addresses)"),
    "hosted_zone_month": Price(0.50, "zone-month", "https://aws.amazon.com/route53/pricing/ (Cloud Map's zone)"),
    "secret_month": Price(0.40, "secret-month", "https://aws.amazon.com/secrets-manager/pricing/"),
    "secret_10k_calls": Price(0.05, "10,000 API calls", "https://aws.amazon.com/secrets-manager/pricing/"),
    "efs_standard_gb_month": Price(0.30, "GB-month", "https://aws.amazon.com/efs/pricing/"),
    "backup_efs_gb_month": Price(0.05, "GB-month", "https://aws.amazon.com/backup/pricing/ (EFS warm)"),
    "dynamodb_pitr_gb_month": Price(0.20, "GB-month", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_gb_month": Price(0.25, "GB-month", "https://aws.amazon.com/dynamodb/pricing/on-demand/", 25.0),
    "dynamodb_million_writes": Price(0.625, "million WRU", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_million_reads": Price(0.125, "million RRU", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "ecr_gb_month": Price(0.10, "GB-month", "https://aws.amazon.com/ecr/pricing/"),
    "codebuild_arm_small_minute": Price(
        0.0034, "build-minute", "https://aws.amazon.com/codebuild/pricing/ (arm1.small)", 100.0
    ),
    "lambda_arm_gb_second": Price(0.0000133334, "GB-second", "https://aws.amazon.com/lambda/pricing/", 400_000.0),
    "lambda_million_requests": Price(0.20, "million requests", "https://aws.amazon.com/lambda/pricing/", 1.0),
    "http_api_million_requests": Price(1.00, "million requests", "https://aws.amazon.com/api-gateway/pricing/"),
    "cloudwatch_logs_ingest_gb": Price(0.50, "GB ingested", "https://aws.amazon.com/cloudwatch/pricing/", 5.0),
    "cloudwatch_logs_store_gb_month": Price(0.03, "GB-month", "https://aws.amazon.com/cloudwatch/pricing/", 5.0),
    "cloudwatch_alarm_month": Price(0.10, "alarm-month", "https://aws.amazon.com/cloudwatch/pricing/", 10.0),
    "cloudwatch_dashboard_month": Price(3.00, "dashboard-month", "https://aws.amazon.com/cloudwatch/pricing/", 3.0),
    "cloudwatch_metric_month": Price(0.30, "metric-month", "https://aws.amazon.com/cloudwatch/pricing/", 10.0),
    "s3_gb_month": Price(0.023, "GB-month", "https://aws.amazon.com/s3/pricing/", 5.0),
    "kms_key_month": Price(1.00, "key-month", "https://aws.amazon.com/kms/pricing/"),
}

# Usage assumptions (not prices): what one person's Blu typically stores and does.
ASSUMPTIONS: dict[str, float] = {
    "sitting_hours": 1.0,  # one wake per hour of use; each sitting is followed by the idle tail
    "wake_minutes": 2.0,  # image pull and start before the first answer
    "efs_gb": 2.0,  # workspace + Claude state
    "dynamodb_gb": 0.2,
    "dynamodb_million_writes_per_used_hour": 0.0005,
    "dynamodb_million_reads_per_used_hour": 0.002,
    "image_gb": 0.7,  # compressed image in ECR: Blu's layers 0.39 GB (bench/image_size.py) + the base, plus a margin
    "image_builds_per_month": 4.0,
    "image_build_minutes": 8.0,
    "http_million_requests_per_used_hour": 0.0005,
    "log_gb_per_running_hour": 0.002,
    "s3_gb": 1.0,
    "secret_calls_per_wake": 2.0,
    "idle_checker_seconds": 0.3,
    "launcher_million_requests_per_used_hour": 0.0002,
    "launcher_seconds": 0.3,
}
