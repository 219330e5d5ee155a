"""Monitoring stack: Blu's dashboard (status and cost, speed, errors), its alarms and their SNS topic."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from core.observability import metrics as m
from stacks.settings import BluSettings

FIVE_MINUTES = cdk.Duration.minutes(5)
FIFTEEN_MINUTES = cdk.Duration.minutes(15)
ONE_HOUR = cdk.Duration.hours(1)
ONE_DAY = cdk.Duration.days(1)
# Alarm thresholds (docs/observability.md says what to do when each fires).
ERRORS_PER_15_MINUTES = 3
FUNCTION_ERRORS_PER_15_MINUTES = 2
SERVER_ERRORS_PER_15_MINUTES = 5
LOGIN_ATTEMPTS_PER_15_MINUTES = 10
# Hours a due snapshot may wait while Blu runs (for a moment without a turn, a retry after a failure);
# beyond this the daily backup is missing.
BACKUP_PENDING_HOURS_ALARM = 2


def blu(name: str, *, statistic: str = "Sum", period: cdk.Duration = FIVE_MINUTES, label: str | None = None,
        **dimensions: str) -> cw.Metric:  # fmt: skip
    """One of Blu's own metrics (core/observability/metrics.py)."""
    return cw.Metric(
        namespace=m.NAMESPACE,
        metric_name=name,
        dimensions_map=dimensions or None,
        statistic=statistic,
        period=period,
        label=label,
    )


def by_tier(name: str, statistic: str, period: cdk.Duration = FIVE_MINUTES) -> list[cw.IMetric]:
    return [blu(name, statistic=statistic, period=period, label=tier, Tier=tier) for tier in m.TIERS]


class BluAlarms(Construct):
    """The alarm topic (SSL only; e-mail when configured) and the four alarms that need a person."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str,
        max_running_hours_per_day: int,
        api: apigwv2.IHttpApi,
        functions: tuple[lambda_.IFunction, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="Blu alarms", enforce_ssl=True)
        # A topic policy replaces SNS's default one: let CloudWatch alarms of this account publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        self.errors = self._alarm(
            "Errors",
            blu(m.ERRORS, period=FIFTEEN_MINUTES),
            threshold=ERRORS_PER_15_MINUTES,
            description=f"Blu: {ERRORS_PER_15_MINUTES} or more failed turns, requests or calls in 15 minutes",
        )
        self.backend_errors = self._alarm(
            "BackendErrors",
            cw.MathExpression(
                expression="FILL(api, 0) + " + " + ".join(f"FILL(f{i}, 0)" for i in range(len(functions))),
                using_metrics={
                    "api": api.metric_server_error(period=FIFTEEN_MINUTES, statistic="Sum"),
                    **{
                        f"f{i}": function.metric_errors(period=FIFTEEN_MINUTES, statistic="Sum")
                        for i, function in enumerate(functions)
                    },
                },
                label="5xx answers and function errors",
                period=FIFTEEN_MINUTES,
            ),
            threshold=FUNCTION_ERRORS_PER_15_MINUTES,
            description="Blu: the API answers 5xx or the launcher/idle checker fails (Blu may not wake or sleep)",
        )
        self.login_attack = self._alarm(
            "LoginAttack",
            cw.MathExpression(
                expression="FILL(failures, 0) + FILL(throttled, 0)",
                using_metrics={
                    "failures": blu(m.LOGIN_FAILURES, period=FIFTEEN_MINUTES),
                    "throttled": blu(m.LOGIN_THROTTLED, period=FIFTEEN_MINUTES),
                },
                label="wrong and refused logins",
                period=FIFTEEN_MINUTES,
            ),
            threshold=LOGIN_ATTEMPTS_PER_15_MINUTES,
            description=f"Blu: {LOGIN_ATTEMPTS_PER_15_MINUTES} or more wrong or refused logins in 15 minutes",
        )
        # The idle checker reports RunningMinutes every few minutes while the service runs; over a
        # sliding day they add up to how long Blu ran, which is what Fargate bills.
        self.cost_guard = self._alarm(
            "CostGuard",
            blu(m.RUNNING_MINUTES, period=ONE_DAY),
            threshold=max_running_hours_per_day * 60,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=f"Blu ran more than {max_running_hours_per_day} h in the last day (cost guard)",
        )
        # A failed snapshot, or a due one that has waited BACKUP_PENDING_HOURS_ALARM hours while Blu ran.
        self.backup = self._alarm(
            "Backup",
            cw.MathExpression(
                expression=f"FILL(failed, 0) + IF(FILL(pending, 0) > {BACKUP_PENDING_HOURS_ALARM}, 1, 0)",
                using_metrics={
                    "failed": blu(m.BACKUPS, period=ONE_HOUR, Outcome="failed"),
                    "pending": blu(m.BACKUP_PENDING_HOURS, statistic="Maximum", period=ONE_HOUR),
                },
                label="failed backups, or a daily backup missing",
                period=ONE_HOUR,
            ),
            threshold=1,
            description="Blu: a backup failed, or a due daily backup has not been written for hours (docs/backups.md)",
        )
        self.restore_drill = self._alarm(
            "RestoreDrill",
            blu(m.RESTORE_DRILLS, period=ONE_DAY, Outcome="failed"),
            threshold=1,
            description="Blu: the monthly restore drill found the newest backup unusable (docs/backups.md)",
        )
        self.alarms: tuple[cw.Alarm, ...] = (
            self.errors,
            self.backend_errors,
            self.login_attack,
            self.cost_guard,
            self.backup,
            self.restore_drill,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cw.Metric | cw.MathExpression,
        *,
        threshold: float,
        description: str,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cw.Alarm:
        alarm = metric.create_alarm(
            self,
            construct_id,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            # Blu sleeps most of the day and its metrics are then silent: no data is good news.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        return alarm


class BluDashboard(Construct):
    """One dashboard, read top to bottom: status and cost, then speed and use, then errors.

    At most 50 metrics, the free tier's allowance per dashboard (a test counts them).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        alarms: tuple[cw.Alarm, ...],
        max_running_hours_per_day: int,
        table: dynamodb.ITable,
        file_system: efs.IFileSystem,
        api: apigwv2.IHttpApi,
        launcher: lambda_.IFunction,
        idle_checker: lambda_.IFunction,
        cluster_name: str,
        service_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=cdk.Duration.days(7)
        )
        functions = (("launcher", launcher), ("idle checker", idle_checker))

        def graph(title: str, left: list[cw.IMetric], width: int = 8, height: int = 6, **kwargs: Any) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=left, width=width, height=height, **kwargs)

        def aws(namespace: str, name: str, label: str, statistic: str, period: cdk.Duration, **dims: str) -> cw.Metric:
            return cw.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=dims,
                statistic=statistic,
                period=period,
                label=label,
            )

        self.dashboard.add_widgets(cw.TextWidget(markdown="## Status and cost", width=24, height=1))
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=6, height=6),
            cw.SingleValueWidget(
                title="Now",
                metrics=[
                    blu(m.RUNNING_TASKS, statistic="Maximum", period=FIFTEEN_MINUTES, label="tasks running (15 min)"),
                    blu(m.ERRORS, period=ONE_DAY, label="errors (24 h)"),
                ],
                width=18,
                height=3,
            ),
            graph(
                "Minutes running and Claude USD per day",
                [blu(m.RUNNING_MINUTES, period=ONE_DAY, label="minutes running")],
                right=[blu(m.TURN_COST_USD, period=ONE_DAY, label="Claude USD")],
                left_annotations=[cw.HorizontalAnnotation(value=max_running_hours_per_day * 60, label="cost guard")],
                width=9,
                height=3,
            ),
            graph(
                "Wakes and sleeps (by reason)",
                [
                    blu(m.WAKES, period=ONE_HOUR, label="wakes"),
                    *(blu(m.SLEEPS, period=ONE_HOUR, label=f"sleep: {r}", Reason=r) for r in m.SLEEP_REASONS),
                ],
                stacked=True,
                width=9,
                height=3,
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Tokens per hour",
                [
                    blu(m.TURN_INPUT_TOKENS, period=ONE_HOUR, label="input"),
                    blu(m.TURN_OUTPUT_TOKENS, period=ONE_HOUR, label="output"),
                ],
                height=5,
            ),
            graph(
                "Files on EFS (bytes)",
                [
                    aws(
                        "AWS/EFS",
                        "StorageBytes",
                        "total",
                        "Average",
                        ONE_HOUR,
                        FileSystemId=file_system.file_system_id,
                        StorageClass="Total",
                    )
                ],
                height=5,
            ),
            graph(
                "Task memory (%, max; ~220 MB per hot Claude client)",
                [
                    aws(
                        "AWS/ECS",
                        "MemoryUtilization",
                        "memory",
                        "Maximum",
                        FIVE_MINUTES,
                        ClusterName=cluster_name,
                        ServiceName=service_name,
                    )
                ],
                height=5,
            ),
        )

        self.dashboard.add_widgets(cw.TextWidget(markdown="## Speed and use", width=24, height=1))
        self.dashboard.add_widgets(
            graph("Turn: first token (ms, p50)", by_tier(m.TURN_FIRST_TOKEN_MS, "p50")),
            graph("Turn: duration (ms, p50)", by_tier(m.TURN_DURATION_MS, "p50")),
            graph(
                "Voice: end of speech to first audio (ms, p90)",
                [blu(m.VOICE_FIRST_AUDIO_MS, statistic="p90", label="p90")],
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Wake to ready (s, slowest per hour)",
                [blu(m.WAKE_DURATION_SECONDS, statistic="Maximum", period=ONE_HOUR, label="wake to ready")],
            ),
            graph("API Gateway latency (ms, p90)", [api.metric_latency(statistic="p90", period=FIVE_MINUTES)]),
            graph(
                "Launcher duration (ms, p90): login, status, wake",
                [launcher.metric_duration(statistic="p90", period=FIVE_MINUTES, label="launcher")],
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Turns by tier, tool calls",
                by_tier(m.TURNS, "Sum", ONE_HOUR),
                right=[blu(m.TOOL_CALLS, period=ONE_HOUR, label="tool calls")],
                stacked=True,
            ),
            graph(
                "Voice calls and minutes",
                [blu(m.VOICE_CALLS, period=ONE_HOUR, label="calls")],
                right=[blu(m.VOICE_MINUTES, period=ONE_HOUR, label="minutes")],
            ),
        )

        self.dashboard.add_widgets(cw.TextWidget(markdown="## Errors", width=24, height=1))
        self.dashboard.add_widgets(
            graph(
                "Blu errors by kind",
                [blu(m.ERRORS, label=kind, Kind=kind) for kind in m.ERROR_KINDS],
                stacked=True,
            ),
            graph(
                "Tool errors and logins",
                [
                    blu(m.TOOL_ERRORS, label="tool errors"),
                    blu(m.LOGIN_FAILURES, label="wrong passwords"),
                    blu(m.LOGIN_THROTTLED, label="refused (locked out)"),
                ],
            ),
            graph(
                "API Gateway 4xx and 5xx",
                [
                    api.metric_client_error(statistic="Sum", period=FIVE_MINUTES, label="4xx"),
                    api.metric_server_error(statistic="Sum", period=FIVE_MINUTES, label="5xx"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Lambda errors",
                [f.metric_errors(statistic="Sum", period=FIVE_MINUTES, label=name) for name, f in functions],
                width=12,
            ),
            graph(
                "DynamoDB throttles",
                [
                    aws("AWS/DynamoDB", name, label, "Sum", FIVE_MINUTES, TableName=table.table_name)
                    for name, label in (("ReadThrottleEvents", "reads"), ("WriteThrottleEvents", "writes"))
                ],
                width=12,
            ),
        )


class BluBackupDashboard(Construct):
    """Backups and the restore drill on a dashboard of their own: the main one holds the free tier's 50
    metrics already, and the free tier covers three dashboards."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        alarms: tuple[cw.Alarm, ...],
        restore_drill: lambda_.IFunction | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=cdk.Duration.days(35)
        )

        def graph(title: str, left: list[cw.IMetric], **kwargs: Any) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=left, width=kwargs.pop("width", 9), height=6, **kwargs)

        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Backup alarms", alarms=list(alarms), width=6, height=6),
            graph(
                "Backups by outcome (per day), size (bytes)",
                [blu(m.BACKUPS, period=ONE_DAY, label=o, Outcome=o) for o in m.OUTCOMES],
                right=[blu(m.BACKUP_BYTES, statistic="Maximum", period=ONE_DAY, label="size")],
            ),
            graph(
                "Backup duration (s), hours a due backup has waited",
                [blu(m.BACKUP_DURATION_SECONDS, statistic="Maximum", period=ONE_DAY, label="duration")],
                right=[blu(m.BACKUP_PENDING_HOURS, statistic="Maximum", period=ONE_HOUR, label="pending hours")],
            ),
        )
        drill_metrics: list[cw.IMetric] = [
            blu(m.RESTORE_DRILLS, period=ONE_DAY, label=f"drill {o}", Outcome=o) for o in m.OUTCOMES
        ]
        if restore_drill is not None:
            drill_metrics.append(restore_drill.metric_errors(statistic="Sum", period=ONE_DAY, label="function errors"))
        self.dashboard.add_widgets(
            graph("Restore drill: outcome", drill_metrics, width=12),
            graph(
                "Restore drill: age of the newest good backup (h)",
                [blu(m.NEWEST_GOOD_BACKUP_AGE_HOURS, statistic="Maximum", period=ONE_DAY, label="age")],
                width=12,
            ),
        )


class MonitoringStack(cdk.Stack):
    """Reads every other stack; nothing depends on it, so it can be changed or removed freely."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BluSettings,
        table: dynamodb.ITable,
        file_system: efs.IFileSystem,
        api: apigwv2.IHttpApi,
        launcher: lambda_.IFunction,
        idle_checker: lambda_.IFunction,
        cluster_name: str,
        service_name: str,
        restore_drill: lambda_.IFunction | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        alarms = BluAlarms(
            self,
            "Alarms",
            alarm_email=settings.alarm_email,
            max_running_hours_per_day=settings.max_running_hours_per_day,
            api=api,
            functions=(launcher, idle_checker),
        )
        dashboard = BluDashboard(
            self,
            "Dashboard",
            dashboard_name=settings.stack_name("Dashboard"),
            alarms=alarms.alarms,
            max_running_hours_per_day=settings.max_running_hours_per_day,
            table=table,
            file_system=file_system,
            api=api,
            launcher=launcher,
            idle_checker=idle_checker,
            cluster_name=cluster_name,
            service_name=service_name,
        )
        backups = BluBackupDashboard(
            self,
            "BackupDashboard",
            dashboard_name=settings.stack_name("Backups"),
            alarms=(alarms.backup, alarms.restore_drill),
            restore_drill=restore_drill,
        )
        self.topic = alarms.topic
        self.alarms = alarms.alarms
        self.cost_guard = alarms.cost_guard
        self.backup_alarm = alarms.backup
        self.restore_drill_alarm = alarms.restore_drill
        self.dashboard = dashboard.dashboard
        self.backup_dashboard = backups.dashboard
