#!/usr/bin/env python3
"""The Blu CDK app: reads settings once from context, builds the stacks, wires them, runs cdk-nag."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from stacks.api import ApiStack
from stacks.control import ControlStack
from stacks.data import DataStack
from stacks.log_retention import retain_provider_logs
from stacks.monitoring import MonitoringStack
from stacks.nag import apply_nag
from stacks.network import NetworkStack
from stacks.service import ServiceStack
from stacks.settings import BluSettings, SettingsError


@dataclass(frozen=True)
class BluStacks:
    """Every stack of one Blu deployment, in deployment order."""

    network: NetworkStack
    data: DataStack
    service: ServiceStack
    control: ControlStack
    api: ApiStack
    monitoring: MonitoringStack

    def all(self) -> tuple[cdk.Stack, ...]:
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)


def build_app(app: cdk.App, settings: BluSettings) -> BluStacks:
    """Build Blu's stacks into ``app``; tests call this with the same settings the CLI would use.

    Stacks are environment-agnostic (no ``env``): synth needs no account, region or lookups, and
    the deploy-time credentials choose where Blu lands. To add a stack: construct it here with the
    attributes it needs from earlier stacks, do the grants, and add it as a field of ``BluStacks``.
    """
    network = NetworkStack(
        app,
        settings.stack_name("Network"),
        settings=settings,
        description="Blu: VPC, security groups and flow logs (stateless)",
    )
    data = DataStack(
        app,
        settings.stack_name("Data"),
        settings=settings,
        vpc=network.vpc,
        efs_security_group=network.efs_security_group,
        description="Blu: table, buckets, file system and secret (stateful, retained)",
    )
    service = ServiceStack(
        app,
        settings.stack_name("Service"),
        settings=settings,
        vpc=network.vpc,
        app_security_group=network.app_security_group,
        file_system=data.file_system,
        workspace_access_point=data.workspace_access_point,
        state_access_point=data.state_access_point,
        secret=data.secret,
        table_name=data.table.table_name,
        files_bucket_name=data.files_bucket.bucket_name,
        backups_bucket_name=data.backups_bucket.bucket_name,
        description="Blu: ECS cluster, Fargate Spot ARM64 task and service, Cloud Map name (stateless)",
    )
    control = ControlStack(
        app,
        settings.stack_name("Control"),
        settings=settings,
        cluster_name=service.cluster.cluster_name,
        service_name=service.service.service_name,
        table_name=data.table.table_name,
        secret_arn=data.secret.secret_arn,
        backups_bucket_name=data.backups_bucket.bucket_name,
        description="Blu: launcher, idle-checker, schedule-wake and restore-drill Lambdas, their schedules (stateless)",
    )
    api = ApiStack(
        app,
        settings.stack_name("Api"),
        settings=settings,
        vpc=network.vpc,
        vpc_link_security_group=network.vpc_link_security_group,
        cloud_map_service=service.cloud_map_service,
        launcher=control.launcher,
        description="Blu: HTTP API, VPC link and access logs (stateless)",
    )

    # Grants: the task reads and writes the table and mounts EFS with IAM auth (the secret reaches it
    # through the execution role, which ecs.Secret grants); each function gets exactly its service,
    # its table and, for the launcher only, the secret.
    grant_table_and_index(service.task_role, data.table)
    data.file_system.grant_read_write(service.task_role)
    grant_self_stop(service.task_role, service=service)
    grant_transfer_staging(service.task_role, data.files_bucket)
    grant_backups(service.task_role, data.backups_bucket)
    grant_backup_reads(control.restore_drill, data.backups_bucket)
    for function in (control.launcher, control.idle_checker, control.schedule_wake):
        grant_service_control(function, cluster=service.cluster, service=service.service)
        grant_table_items(function, data.table)
    grant_wake_schedules(service.task_role, service=service, settings=settings)
    data.secret.grant_read(control.launcher)

    monitoring = MonitoringStack(
        app,
        settings.stack_name("Monitoring"),
        settings=settings,
        table=data.table,
        file_system=data.file_system,
        api=api.api,
        launcher=control.launcher,
        idle_checker=control.idle_checker,
        restore_drill=control.restore_drill,
        cluster_name=service.cluster_name,
        service_name=service.service_name,
        description="Blu: dashboard, alarms and the alarm topic (stateless)",
    )

    retain_provider_logs(app, settings.log_retention)
    cdk.Tags.of(app).add("blu:environment", settings.environment_name)
    return BluStacks(network=network, data=data, service=service, control=control, api=api, monitoring=monitoring)


# The item-level calls the Lambdas make (PowerLog, DynamoStore's activity and throttle items);
# no scans, no index, no batch or table-level actions.
TABLE_INDEX = "GSI1"
TABLE_ITEM_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
)


def grant_table_items(grantee: iam.IGrantable, table: dynamodb.ITable) -> None:
    """Item reads and writes on the table itself (not its indexes)."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(TABLE_ITEM_ACTIONS), resources=[table.table_arn])
    )


def grant_table_and_index(grantee: iam.IGrantable, table: dynamodb.ITable) -> None:
    """What the runtime's DynamoStore does: item reads and writes, batch deletes and GSI1 queries,
    on this table and its one index by name (no index wildcard)."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[*TABLE_ITEM_ACTIONS, "dynamodb:BatchWriteItem"],
            resources=[table.table_arn, f"{table.table_arn}/index/{TABLE_INDEX}"],
        )
    )


def grant_service_control(grantee: iam.IGrantable, *, cluster: ecs.ICluster, service: ecs.IBaseService) -> None:
    """Read and scale this one ECS service, and read its cluster's tasks."""
    principal = grantee.grant_principal
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["ecs:DescribeServices", "ecs:UpdateService"], resources=[service.service_arn])
    )
    # ListTasks takes no resource and DescribeTasks needs ARNs ECS invents per task: the condition
    # pins both to Blu's cluster.
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ecs:ListTasks", "ecs:DescribeTasks"],
            resources=["*"],
            conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
        )
    )


def grant_self_stop(grantee: iam.IGrantable, *, service: ServiceStack) -> None:
    """Let the runtime scale its own service (and only it) to 0 when idle.

    The ARN is built from the fixed names: the service's own ARN would make the task role's policy
    wait for the service, which waits for the task definition.
    """
    arn = service.format_arn(
        service="ecs", resource="service", resource_name=f"{service.cluster_name}/{service.service_name}"
    )
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["ecs:DescribeServices", "ecs:UpdateService"], resources=[arn])
    )


# What runtime/schedules/wake.py does: one wake per Blu schedule, named blu-<id>, in Blu's group.
WAKE_SCHEDULE_ACTIONS: tuple[str, ...] = (
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
)


def grant_wake_schedules(grantee: iam.IGrantable, *, service: ServiceStack, settings: BluSettings) -> None:
    """Create, move and delete the `blu-*` schedules of Blu's schedule group, and hand EventBridge
    Scheduler the wake role (to it only). ARNs from the fixed names: the control stack that makes the
    group and the role depends on the service stack."""
    principal = grantee.grant_principal
    schedules = service.format_arn(
        service="scheduler", resource="schedule", resource_name=f"{settings.schedule_group_name}/blu-*"
    )
    principal.add_to_principal_policy(iam.PolicyStatement(actions=list(WAKE_SCHEDULE_ACTIONS), resources=[schedules]))
    role = service.format_arn(service="iam", region="", resource="role", resource_name=settings.schedule_wake_name)
    principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[role],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        )
    )


# What runtime/transfers.py does in the files bucket, and nothing else: no listing, no other prefix.
UPLOAD_ACTIONS: tuple[str, ...] = ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
DOWNLOAD_ACTIONS: tuple[str, ...] = ("s3:PutObject", "s3:GetObject")


def grant_transfer_staging(grantee: iam.IGrantable, bucket: s3.IBucket) -> None:
    """Large files through the files bucket: the task signs the browser's upload form (PutObject on
    uploads/, which S3 checks against the signer), reads and deletes what arrived; it copies large
    downloads to downloads/ and signs the browser's GET."""
    principal = grantee.grant_principal
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(UPLOAD_ACTIONS), resources=[bucket.arn_for_objects("uploads/*")])
    )
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(DOWNLOAD_ACTIONS), resources=[bucket.arn_for_objects("downloads/*")])
    )


# Snapshots live under one prefix of the backups bucket (runtime/backup/repository.py). The task writes
# and reads them; nobody but the bucket's lifecycle deletes one (it is versioned besides).
BACKUP_PREFIX = "snapshots/"
BACKUP_WRITE_ACTIONS: tuple[str, ...] = ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload")


def _list_snapshots(bucket: s3.IBucket) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [BACKUP_PREFIX + "*"]}},
    )


def grant_backups(grantee: iam.IGrantable, bucket: s3.IBucket) -> None:
    """The runtime's snapshots: list the snapshots/ prefix, write and read its objects; no delete."""
    principal = grantee.grant_principal
    principal.add_to_principal_policy(_list_snapshots(bucket))
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(BACKUP_WRITE_ACTIONS), resources=[bucket.arn_for_objects(BACKUP_PREFIX + "*")])
    )


def grant_backup_reads(grantee: iam.IGrantable, bucket: s3.IBucket) -> None:
    """The restore drill: list and read snapshots, nothing else."""
    principal = grantee.grant_principal
    principal.add_to_principal_policy(_list_snapshots(bucket))
    principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(BACKUP_PREFIX + "*")])
    )


def main() -> None:
    app = cdk.App()
    try:
        settings = BluSettings.from_context(app.node)
    except SettingsError as error:
        raise SystemExit(f"Blu: {error}") from None
    build_app(app, settings)
    apply_nag(app)
    app.synth()


if __name__ == "__main__":
    main()
