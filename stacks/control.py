"""Control stack: the launcher, idle-checker, schedule-wake and restore-drill Lambdas, their packaging and
schedules, and the EventBridge Scheduler group the runtime puts its wakes in."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from core.config import (
    ENV_BACKUPS_BUCKET,
    ENV_ECS_CLUSTER,
    ENV_ECS_SERVICE,
    ENV_IDLE_TIMEOUT_MINUTES,
    ENV_SECRET_ARN,
    ENV_TABLE,
    IDLE_CHECK_MINUTES,
)
from stacks.settings import BluSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
# The functions' code, relative to the repository: the Lambdas, the core they share with the container
# (core/: login, store, observability, idle rule, wake/sleep log, setting names) and the built web UI
# the launcher serves. Nothing from runtime/ (the container's application) belongs here; a test imports
# both handlers from a copy of exactly these paths.
CODE_PATHS: tuple[str, ...] = ("lambdas", "core", "web/dist")
# The layer's inputs: requirements.in (direct needs) and requirements.lock (every package pinned with
# its hashes, from `make lock`). Its own directory, so the layer's asset source differs from the code's.
LAYER_DIR = REPO_ROOT / "lambdas" / "layer"
LAYER_LOCK = LAYER_DIR / "requirements.lock"
# Wheels downloaded by `make deps` (scripts/wheelhouse.py): with it, synth needs no network.
WHEELHOUSE = REPO_ROOT / ".cache" / "wheels"
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
# The restore drill: 04:17 UTC on the 1st of every month (a quiet hour; off the round minute).
DRILL_SCHEDULE = {"minute": "17", "hour": "4", "day": "1", "month": "*", "year": "*"}
# The drill restores a whole snapshot into the function's /tmp: room for the archive and its unpacked copy.
DRILL_EPHEMERAL_MIB = 4096


@dataclass(frozen=True)
class PythonTarget:
    """Where pip installs wheels for: ``platforms`` empty means the Python running the synth."""

    name: str
    platforms: tuple[str, ...] = ()
    python_version: str = ""

    def pip_args(self) -> list[str]:
        if not self.platforms:
            return []
        platforms = [arg for platform in self.platforms for arg in ("--platform", platform)]
        return [*platforms, "--implementation", "cp", "--python-version", self.python_version]


# Lambda's arm64 Amazon Linux 2023 (glibc 2.34) and Python 3.14.
LAMBDA_TARGET = PythonTarget(
    name="lambda-arm64-py3.14",
    platforms=("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64"),
    python_version="3.14",
)
# The machine running the synth: tests install the same lock for it to import the handlers.
LOCAL_TARGET = PythonTarget(name="local")

# Bundling runs on the deployer's machine; this image is only named because CDK requires one and is
# never pulled (local bundling always succeeds or fails the synth).
_UNUSED_IMAGE = cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.14")


@jsii.implements(cdk.ILocalBundling)
class CopyCode:
    """Copies the functions' code (CODE_PATHS) into the asset directory: no Docker needed."""

    name = "blu-lambda-code"

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        out = Path(output_dir)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "layer")
        for relative in CODE_PATHS:
            source = REPO_ROOT / relative
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
            elif source.is_file():
                shutil.copy2(source, target)
            else:
                raise FileNotFoundError(f"{source} is missing (for web/dist: run `make web` first)")
        return True


def pip_install_command(target: PythonTarget, destination: Path, *, wheelhouse: Path = WHEELHOUSE) -> list[str]:
    """The pip command that installs the lock into ``destination``: hashes checked, binary wheels only,
    no dependency resolution (the lock is complete), no bytecode (Lambda compiles for its own Python);
    from the local wheelhouse when `make deps` filled it, else from the package index."""
    source = ["--no-index", "--find-links", str(wheelhouse)] if any(wheelhouse.glob("*.whl")) else []
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--require-hashes", "--no-deps", "--only-binary=:all:", "--no-compile",
        "--requirement", str(LAYER_LOCK),
        "--target", str(destination),
        *target.pip_args(), *source,
    ]  # fmt: skip


def make_reproducible(site: Path) -> None:
    """Drop what depends on the machine that ran pip: console scripts (their shebang names that
    machine's Python) and their lines in the RECORD files; the functions never run them."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../../bin/")))


@jsii.implements(cdk.ILocalBundling)
class PipLayer:
    """Installs the layer's locked dependencies under ``python/`` for ``target`` with pip: binary
    wheels only, so no Docker and no compiler are needed on the deployer's machine."""

    def __init__(self, target: PythonTarget = LAMBDA_TARGET) -> None:
        self.target = target
        self.name = f"blu-lambda-layer-{target.name}"

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        site = Path(output_dir) / "python"
        subprocess.run(pip_install_command(self.target, site), check=True, cwd=REPO_ROOT)  # noqa: S603 -- no shell
        make_reproducible(site)
        return True


def _bundled(source: Path, local: CopyCode | PipLayer) -> lambda_.Code:
    # CDK's staging cache keys on source path + bundling options, and a local bundler serializes
    # alike whatever it does: the command names the bundler so two different bundles never share a
    # staged asset. asset_hash_type OUTPUT hashes what the bundler produced (byte-stable: see PipLayer).
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(image=_UNUSED_IMAGE, local=local, command=[local.name]),
    )


class BluFunctions(Construct):
    """The launcher (FastAPI + Mangum, behind API Gateway) and the idle checker (every 5 minutes)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        schedule_wake_name: str,
        backups_bucket_name: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.code = _bundled(REPO_ROOT / "lambdas", CopyCode())
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=_bundled(LAYER_DIR, PipLayer()),
            compatible_runtimes=[LAMBDA_RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="Blu Lambdas: FastAPI, Mangum, Powertools, PynamoDB, bcrypt (locked arm64 wheels)",
        )
        common: dict[str, Any] = {
            "runtime": LAMBDA_RUNTIME,
            "architecture": lambda_.Architecture.ARM_64,
            "code": self.code,
            "layers": [self.dependencies],
            "tracing": lambda_.Tracing.ACTIVE,
        }

        self.launcher = lambda_.Function(
            self,
            "Launcher",
            description="Blu launcher: login page, waking overlay, status, wake and shutdown",
            handler="lambdas.launcher.handler.lambda_handler",
            # bcrypt at cost 12 is CPU-bound: 512 MB gets enough CPU for a ~0.3 s check.
            memory_size=512,
            timeout=cdk.Duration.seconds(15),
            environment={**environment, "POWERTOOLS_SERVICE_NAME": "blu-launcher"},
            log_group=self._log_group("LauncherLogs", log_retention),
            **common,
        )
        self.idle_checker = lambda_.Function(
            self,
            "IdleChecker",
            description="Blu idle checker: scale the service to 0 when nobody and nothing is active",
            handler="lambdas.idle_checker.handler.lambda_handler",
            memory_size=256,
            timeout=cdk.Duration.seconds(30),
            environment={**environment, "POWERTOOLS_SERVICE_NAME": "blu-idle-checker"},
            log_group=self._log_group("IdleCheckerLogs", log_retention),
            **common,
        )
        self.schedule_wake = lambda_.Function(
            self,
            "ScheduleWake",
            # A fixed name: the runtime's task is told it without a reference (see ServiceStack).
            function_name=schedule_wake_name,
            description="Blu schedule wake: EventBridge Scheduler wakes Blu from zero for a scheduled run",
            handler="lambdas.schedule_wake.handler.lambda_handler",
            memory_size=256,
            timeout=cdk.Duration.seconds(30),
            environment={**environment, "POWERTOOLS_SERVICE_NAME": "blu-schedule-wake"},
            log_group=self._log_group("ScheduleWakeLogs", log_retention),
            **common,
        )
        self.schedule = events.Rule(
            self,
            "IdleSchedule",
            description="Blu: check every few minutes whether Blu may go back to sleep",
            schedule=events.Schedule.rate(cdk.Duration.minutes(IDLE_CHECK_MINUTES)),
            targets=[targets.LambdaFunction(self.idle_checker, retry_attempts=0)],
        )

        # The restore drill reads the backups bucket only (app.py grant_backup_reads); no table, no service.
        self.restore_drill = lambda_.Function(
            self,
            "RestoreDrill",
            description="Blu restore drill: restore the newest snapshot into /tmp and verify it against its manifest",
            handler="lambdas.restore_drill.handler.lambda_handler",
            memory_size=512,
            timeout=cdk.Duration.minutes(10),
            ephemeral_storage_size=cdk.Size.mebibytes(DRILL_EPHEMERAL_MIB),
            environment={ENV_BACKUPS_BUCKET: backups_bucket_name, "POWERTOOLS_SERVICE_NAME": "blu-restore-drill"},
            log_group=self._log_group("RestoreDrillLogs", log_retention),
            **common,
        )
        self.drill_schedule = events.Rule(
            self,
            "DrillSchedule",
            description="Blu: the monthly restore drill of the newest backup",
            schedule=events.Schedule.cron(**DRILL_SCHEDULE),
            targets=[targets.LambdaFunction(self.restore_drill, retry_attempts=0)],
        )

    def _log_group(self, construct_id: str, retention: logs.RetentionDays) -> logs.LogGroup:
        return logs.LogGroup(self, construct_id, retention=retention, removal_policy=cdk.RemovalPolicy.DESTROY)


class ControlStack(cdk.Stack):
    """The functions that wake Blu and put it to sleep; the app grants them exactly what they touch."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BluSettings,
        cluster_name: str,
        service_name: str,
        table_name: str,
        secret_arn: str,
        backups_bucket_name: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        functions = BluFunctions(
            self,
            "Functions",
            schedule_wake_name=settings.schedule_wake_name,
            environment={
                ENV_ECS_CLUSTER: cluster_name,
                ENV_ECS_SERVICE: service_name,
                ENV_TABLE: table_name,
                ENV_SECRET_ARN: secret_arn,
                ENV_IDLE_TIMEOUT_MINUTES: str(settings.idle_timeout_minutes),
            },
            log_retention=settings.log_retention,
            backups_bucket_name=backups_bucket_name,
        )
        self.launcher = functions.launcher
        self.restore_drill = functions.restore_drill
        self.drill_schedule = functions.drill_schedule
        self.idle_checker = functions.idle_checker
        self.schedule = functions.schedule
        self.schedule_wake = functions.schedule_wake
        self.wake_schedules = WakeSchedules(
            self,
            "WakeSchedules",
            group_name=settings.schedule_group_name,
            role_name=settings.schedule_wake_name,
            target=functions.schedule_wake,
        )


class WakeSchedules(Construct):
    """The schedule group the runtime keeps one `blu-<id>` wake in per Blu schedule, and the role
    EventBridge Scheduler invokes the schedule-wake function with: that one function, for schedules of
    that one group in this account (the confused-deputy conditions AWS recommends)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, group_name: str, role_name: str, target: lambda_.IFunction
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=group_name)
        self.group_arn = stack.format_arn(service="scheduler", resource="schedule-group", resource_name=group_name)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Blu: EventBridge Scheduler invokes the schedule-wake function",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": self.group_arn},
                },
            ),
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[target.function_arn]))
