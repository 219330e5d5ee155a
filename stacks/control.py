"""Control stack: the launcher and idle-checker Lambdas, their packaging and the idle schedule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.common.config import IDLE_CHECK_MINUTES
from stacks.settings import BluSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
# What the functions import, relative to the repository: the Lambdas, the login core and the store
# they share with the container, the idle rule and wake/sleep log, and the built web UI the launcher serves.
CODE_PATHS: tuple[str, ...] = (
    "lambdas",
    "runtime/__init__.py",
    "runtime/auth",
    "runtime/store",
    "runtime/idle.py",
    "runtime/power.py",
    "runtime/observability",
    "web/dist",
)
LAYER_REQUIREMENTS = REPO_ROOT / "lambdas" / "requirements.txt"
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
# Wheels pip may choose for Lambda's arm64 Amazon Linux 2023 (glibc 2.34).
PIP_PLATFORMS: tuple[str, ...] = (
    "manylinux2014_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_34_aarch64",
)
# Bundling runs on the deployer's machine; this image is only named because CDK requires one and is
# never pulled (local bundling always succeeds or fails the synth).
_UNUSED_IMAGE = cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.14")


@jsii.implements(cdk.ILocalBundling)
class CopyCode:
    """Copies the functions' code (CODE_PATHS) into the asset directory: no Docker needed."""

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        out = Path(output_dir)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt")
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


@jsii.implements(cdk.ILocalBundling)
class PipLayer:
    """Installs the functions' dependencies for Lambda's arm64 Python with pip: binary wheels only,
    so no Docker and no compiler are needed on the deployer's machine."""

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        platforms = [arg for platform in PIP_PLATFORMS for arg in ("--platform", platform)]
        subprocess.run(  # noqa: S603 -- fixed arguments, no shell
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--requirement", str(LAYER_REQUIREMENTS),
                "--target", str(Path(output_dir) / "python"),
                *platforms,
                "--implementation", "cp", "--python-version", PYTHON_VERSION,
                "--only-binary=:all:", "--upgrade",
            ],
            check=True,
            cwd=REPO_ROOT,
        )  # fmt: skip
        return True


def _bundled(local: CopyCode | PipLayer) -> lambda_.Code:
    # asset_hash_type OUTPUT: when bundling is skipped (tests, other stacks), the asset gets a
    # placeholder hash instead of fingerprinting the repository.
    return lambda_.Code.from_asset(
        str(REPO_ROOT / "lambdas"),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(image=_UNUSED_IMAGE, local=local, command=["false"]),
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
    ) -> None:
        super().__init__(scope, construct_id)
        self.code = _bundled(CopyCode())
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=_bundled(PipLayer()),
            compatible_runtimes=[LAMBDA_RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="Blu Lambdas: FastAPI, Mangum, Powertools, PynamoDB, bcrypt (pip, arm64 wheels)",
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
        self.schedule = events.Rule(
            self,
            "IdleSchedule",
            description="Blu: check every few minutes whether Blu may go back to sleep",
            schedule=events.Schedule.rate(cdk.Duration.minutes(IDLE_CHECK_MINUTES)),
            targets=[targets.LambdaFunction(self.idle_checker, retry_attempts=0)],
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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        functions = BluFunctions(
            self,
            "Functions",
            environment={
                "BLU_CLUSTER_NAME": cluster_name,
                "BLU_SERVICE_NAME": service_name,
                "DYNAMODB_TABLE": table_name,
                "BLU_SECRET_ARN": secret_arn,
                "BLU_IDLE_TIMEOUT_MINUTES": str(settings.idle_timeout_minutes),
            },
            log_retention=settings.log_retention,
        )
        self.launcher = functions.launcher
        self.idle_checker = functions.idle_checker
        self.schedule = functions.schedule
