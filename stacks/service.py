"""Service stack: the ECS cluster, Blu's Fargate (Spot, ARM64) task and service, and its Cloud Map name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as servicediscovery
from cdklabs.deploy_time_build import ContainerImageBuild
from constructs import Construct

from core.config import ENV_BACKUPS_BUCKET, ENV_ECS_CLUSTER, ENV_ECS_SERVICE, ENV_IDLE_TIMEOUT_MINUTES, ENV_TABLE
from stacks.network import APP_PORT
from stacks.settings import BluSettings

# The image is built from the repository root (runtime/, web/, container/); the root's .dockerignore
# keeps the context (and the source asset CodeBuild receives) small.
REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = "container/Dockerfile"

WORKSPACE_PATH = "/workspace"
STATE_PATH = "/state"
CLOUD_MAP_NAMESPACE = "blu.internal"
CLOUD_MAP_SERVICE = "app"
# Fargate's maximum: a Spot interruption gives two minutes, and the runtime needs ~90 s to save turns.
STOP_TIMEOUT_SECONDS = 120

# Keys of the secret that the runtime's settings read (injected under the same names).
RUNTIME_SECRETS: tuple[str, ...] = (
    "AUTH_PASSWORD_HASH",
    "SESSION_SECRET",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "OPENAI_API_KEY",
    # The runtime configures GitHub's and Notion's MCP servers from these (runtime/agent/mcp.py).
    "NOTION_API_KEY",
    "GITHUB_TOKEN",
)
# Keys read by the agent's tools, not by the runtime's settings (none at present).
PASS_THROUGH_SECRETS: tuple[str, ...] = ()
# Runtime settings the task deliberately leaves at their defaults (the test requires every setting
# the runtime reads to be either set here or listed here, so a new setting forces a decision).
RUNTIME_DEFAULTS: tuple[str, ...] = (
    "BLU_WEB_DIR",  # the image serves web/dist from its default place
    "BLU_AGENT_USER",  # the image sets it (container/Dockerfile)
    "ANTHROPIC_BASE_URL",  # only for the offline stand-in
    "ANTHROPIC_API_KEY",  # Blu authenticates with CLAUDE_CODE_OAUTH_TOKEN
    "BLU_COOKIE_MAX_AGE_HOURS",
    "BLU_MODEL",
    "BLU_TITLE_MODEL",
    "BLU_TITLE_MODE",
    "BLU_MAX_HOT_CLIENTS",
    "BLU_TURN_TIMEOUT_SECONDS",
    "BLU_WATCHDOG_SECONDS",
    "BLU_MAX_QUEUED_TURNS",
    "BLU_TASK_MEMORY_MIB",  # the runtime reads the container's memory limit from its cgroup
    "BLU_PERMISSION_MODE",
    "BLU_ALLOWED_TOOLS",
    "BLU_DISALLOWED_TOOLS",
    "BLU_ASK_TOOLS",
    "BLU_TOOL_DEFAULT",
    "BLU_APPROVAL_WAIT_MINUTES",
    "BLU_MAX_MESSAGE_CHARS",
    "BLU_MAX_UPLOAD_BYTES",
    "BLU_DIRECT_TRANSFER_BYTES",  # below API Gateway's 10 MB payload cap
    "BLU_SCHEDULE_MIN_INTERVAL_MINUTES",  # the cost guard's default: 15 minutes between runs
    "BLU_SCHEDULE_LATE_SECONDS",
    "BLU_VOICE_AGENT_NAME",
    "BLU_VOICE_TOKEN_TTL_SECONDS",
    "BLU_VOICE_STT_PROVIDER",
    "BLU_VOICE_STT_MODEL",
    "BLU_VOICE_TTS_PROVIDER",
    "BLU_VOICE_TTS_MODEL",
    "BLU_VOICE_TTS_VOICE",
    "OPENAI_BASE_URL",  # only for the offline speech stand-ins
    "BLU_LOG_LEVEL",
    "BLU_DAILY_BACKUPS",  # on whenever the backups bucket is set (runtime/settings.py)
)


def runtime_environment(
    *,
    table_name: str,
    files_bucket_name: str,
    region: str,
    idle_timeout_minutes: int,
    cluster_name: str,
    service_name: str,
    schedule_group: str,
    schedule_target_arn: str,
    schedule_role_arn: str,
    backups_bucket_name: str = "",
) -> dict[str, str]:
    """The task's plain environment: only names the runtime's settings accept, never a secret."""
    return {
        "HOST": "0.0.0.0",  # noqa: S104 -- inside the task; the security group admits the VPC only
        "PORT": str(APP_PORT),
        "BLU_DATA_DIR": STATE_PATH,
        "BLU_WORKSPACE_DIR": WORKSPACE_PATH,
        "CLAUDE_CONFIG_DIR": f"{STATE_PATH}/claude",
        ENV_TABLE: table_name,
        # Files too large for API Gateway pass through this bucket's uploads/ and downloads/ prefixes.
        "BLU_FILES_BUCKET": files_bucket_name,
        "AWS_REGION": region,
        # API Gateway's VPC link is the only way in: its last X-Forwarded-For hop is the browser.
        "BLU_TRUST_FORWARDED_FOR": "true",
        ENV_IDLE_TIMEOUT_MINUTES: str(idle_timeout_minutes),
        # The runtime scales its own service to 0 by the idle rule (names, not references: a task
        # definition that referenced its own service would be a circular dependency).
        ENV_ECS_CLUSTER: cluster_name,
        ENV_ECS_SERVICE: service_name,
        # The runtime keeps one EventBridge Scheduler wake per schedule in this group, invoking this
        # function with this role (fixed names: the control stack that makes them depends on this one).
        "BLU_SCHEDULE_GROUP": schedule_group,
        "BLU_SCHEDULE_TARGET_ARN": schedule_target_arn,
        "BLU_SCHEDULE_ROLE_ARN": schedule_role_arn,
        "CLAUDE_CODE_MAX_RETRIES": "2",
        # Never answer with the offline stand-in in AWS: a missing token must show as an error.
        "BLU_STANDIN": "off",
        # Daily snapshots (and one before sleep) go to the backups bucket's snapshots/ prefix.
        ENV_BACKUPS_BUCKET: backups_bucket_name,
    }


class BluImage(Construct):
    """Blu's container image, built in AWS at deploy time by CodeBuild on Graviton (``codebuild``, no
    Docker on the deployer's machine), or by the deployer's Docker as a CDK asset (``local``).

    ``codebuild`` uses cdklabs-deploy-time-build's ContainerImageBuild: the repository root, filtered by
    .dockerignore, goes to S3 as a file asset; a custom resource runs ``docker buildx`` in CodeBuild on
    an arm64 host (native, no emulation) and pushes a zstd-compressed image (Fargate decompresses zstd
    faster than gzip on every wake) to an ECR repository of this stack. Build logs keep ``log_retention``.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, build: str, use_arm64: bool, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        platform = ecr_assets.Platform.LINUX_ARM64 if use_arm64 else ecr_assets.Platform.LINUX_AMD64
        self.build: ContainerImageBuild | None = None
        self.build_log_group: logs.LogGroup | None = None
        if build == "local":
            self.image: ecs.ContainerImage = ecs.ContainerImage.from_asset(
                str(REPO_ROOT), file=DOCKERFILE, platform=platform
            )
            return
        self.build = ContainerImageBuild(
            self,
            "Build",
            directory=str(REPO_ROOT),
            file=DOCKERFILE,
            platform=platform,
            zstd_compression=True,
            # The library reads .dockerignore with glob rules; Docker's own rules (negations) are what it means.
            exclude=dockerignore_patterns(),
            ignore_mode=cdk.IgnoreMode.DOCKER,
        )
        self.image = self.build.to_ecs_docker_image_code()
        self._retain_build_logs(log_retention)

    def _retain_build_logs(self, retention: logs.RetentionDays) -> None:
        # The library's CodeBuild project and trigger function live at stack level (singletons).
        # CodeBuild logs to /aws/codebuild/<project> unless told otherwise, kept forever; the
        # function's CDK-managed log group keeps two years. Both log into one group of ours instead.
        group = logs.LogGroup(self, "BuildLogs", retention=retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        stack = cdk.Stack.of(self)
        for construct in stack.node.find_all():
            if isinstance(construct, codebuild.Project):
                project = construct.node.default_child
                assert isinstance(project, codebuild.CfnProject)
                project.add_property_override(
                    "LogsConfig", {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": group.log_group_name}}
                )
                group.grant_write(construct)
            elif isinstance(construct, lambda_.Function) and construct.node.id.startswith(TRIGGER_FUNCTION_PREFIX):
                function = construct.node.default_child
                assert isinstance(function, lambda_.CfnFunction)
                function.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
                group.grant_write(construct)
                managed = construct.node.try_find_child("LogGroup")
                if managed is not None:
                    construct.node.try_remove_child("LogGroup")
        self.build_log_group = group


# The construct ids cdklabs-deploy-time-build gives its stack-level singletons (stacks/nag.py names them).
TRIGGER_FUNCTION_PREFIX = "DeployTimeBuildCustomResourceHandler"
TRIGGER_FUNCTION_ID = f"{TRIGGER_FUNCTION_PREFIX}db740fd554364a848a09e6dfcd01f4f3"
IMAGE_BUILD_PROJECTS: tuple[str, ...] = tuple(
    f"ContainerImageBuild{arch}e83729feb1564e709bec452b15847a30amd64" for arch in ("Arm64", "Amd64")
)


def dockerignore_patterns() -> list[str]:
    """The root .dockerignore's patterns (comments and blank lines dropped)."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


class BluService(Construct):
    """Cluster, task definition and service for Blu's one container, reachable through Cloud Map only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        file_system: efs.IFileSystem,
        workspace_access_point: efs.IAccessPoint,
        state_access_point: efs.IAccessPoint,
        secret: secretsmanager.ISecret,
        table_name: str,
        files_bucket_name: str,
        backups_bucket_name: str,
        cpu: int,
        memory_mib: int,
        use_fargate_spot: bool,
        use_arm64: bool,
        image_build: str,
        desired_count: int,
        idle_timeout_minutes: int,
        log_retention: logs.RetentionDays,
        schedule_group: str,
        schedule_wake_name: str,
    ) -> None:
        super().__init__(scope, construct_id)

        # Fixed names (from the stack's name) so the task can be told its own service without a reference.
        self.cluster_name = f"{cdk.Stack.of(self).stack_name}-cluster"
        self.service_name = "blu"
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=self.cluster_name,
            vpc=vpc,
            # Container Insights bills per metric around the clock; Blu's own metrics suffice.
            container_insights_v2=ecs.ContainerInsights.DISABLED,
            enable_fargate_capacity_providers=True,
        )
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=CLOUD_MAP_NAMESPACE, vpc=vpc, description="Blu: names for API Gateway's VPC link"
        )

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        architecture = ecs.CpuArchitecture.ARM64 if use_arm64 else ecs.CpuArchitecture.X86_64
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=architecture, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        volumes = {"workspace": (workspace_access_point, WORKSPACE_PATH), "state": (state_access_point, STATE_PATH)}
        for name, (access_point, _) in volumes.items():
            self.task_definition.add_volume(
                name=name,
                efs_volume_configuration=ecs.EfsVolumeConfiguration(
                    file_system_id=file_system.file_system_id,
                    # The file system's policy denies unencrypted transport; IAM auth makes the task
                    # role, not the network alone, decide who mounts.
                    transit_encryption="ENABLED",
                    authorization_config=ecs.AuthorizationConfig(
                        access_point_id=access_point.access_point_id, iam="ENABLED"
                    ),
                ),
            )

        self.image_source = BluImage(self, "Image", build=image_build, use_arm64=use_arm64, log_retention=log_retention)
        self.image = self.image_source.image
        self.environment = runtime_environment(
            table_name=table_name,
            files_bucket_name=files_bucket_name,
            backups_bucket_name=backups_bucket_name,
            region=cdk.Aws.REGION,
            idle_timeout_minutes=idle_timeout_minutes,
            cluster_name=self.cluster_name,
            service_name=self.service_name,
            schedule_group=schedule_group,
            schedule_target_arn=cdk.Stack.of(self).format_arn(
                service="lambda",
                resource="function",
                resource_name=schedule_wake_name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            ),
            schedule_role_arn=cdk.Stack.of(self).format_arn(
                service="iam", region="", resource="role", resource_name=schedule_wake_name
            ),
        )
        self.secret_names = RUNTIME_SECRETS + PASS_THROUGH_SECRETS
        self.container = self.task_definition.add_container(
            "App",
            image=self.image,
            environment=self.environment,
            secrets={name: ecs.Secret.from_secrets_manager(secret, name) for name in self.secret_names},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="blu", log_group=self.log_group),
            port_mappings=[ecs.PortMapping(container_port=APP_PORT, protocol=ecs.Protocol.TCP)],
            health_check=ecs.HealthCheck(
                command=[
                    "CMD",
                    "python",
                    "-c",
                    f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{APP_PORT}/health', timeout=3)",
                ],
                # ECS's shortest interval: the task counts as healthy (the wake's "Ready") at the first
                # check after /health answers, and the first check comes one interval after the start.
                interval=cdk.Duration.seconds(5),
                timeout=cdk.Duration.seconds(4),
                retries=3,
                start_period=cdk.Duration.seconds(20),
            ),
            stop_timeout=cdk.Duration.seconds(STOP_TIMEOUT_SECONDS),
            readonly_root_filesystem=False,
            essential=True,
        )
        for name, (_, path) in volumes.items():
            self.container.add_mount_points(ecs.MountPoint(container_path=path, source_volume=name, read_only=False))

        capacity_provider = "FARGATE_SPOT" if use_fargate_spot else "FARGATE"
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            service_name=self.service_name,
            task_definition=self.task_definition,
            desired_count=desired_count,
            capacity_provider_strategies=[ecs.CapacityProviderStrategy(capacity_provider=capacity_provider, weight=1)],
            platform_version=ecs.FargatePlatformVersion.VERSION1_4,
            assign_public_ip=True,  # outbound internet without a NAT gateway
            security_groups=[security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            # One task at a time: two would share the sessions and workspace; a deploy stops the old
            # task before starting the new one.
            min_healthy_percent=0,
            max_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=False),
            health_check_grace_period=None,
            cloud_map_options=ecs.CloudMapOptions(
                cloud_map_namespace=self.namespace,
                name=CLOUD_MAP_SERVICE,
                # API Gateway's VPC link needs SRV records (address and port) for awsvpc tasks.
                dns_record_type=servicediscovery.DnsRecordType.SRV,
                dns_ttl=cdk.Duration.seconds(10),
                container=self.container,
                container_port=APP_PORT,
            ),
        )
        cloud_map_service = self.service.cloud_map_service
        assert cloud_map_service is not None
        self.cloud_map_service: servicediscovery.IService = cloud_map_service


class ServiceStack(cdk.Stack):
    """Stateless compute: destroy and redeploy freely (state lives in the data stack)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BluSettings,
        vpc: ec2.IVpc,
        app_security_group: ec2.ISecurityGroup,
        file_system: efs.IFileSystem,
        workspace_access_point: efs.IAccessPoint,
        state_access_point: efs.IAccessPoint,
        secret: secretsmanager.ISecret,
        table_name: str,
        files_bucket_name: str,
        backups_bucket_name: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        blu = BluService(
            self,
            "Blu",
            vpc=vpc,
            security_group=app_security_group,
            file_system=file_system,
            workspace_access_point=workspace_access_point,
            state_access_point=state_access_point,
            secret=secret,
            table_name=table_name,
            files_bucket_name=files_bucket_name,
            backups_bucket_name=backups_bucket_name,
            cpu=settings.cpu,
            memory_mib=settings.memory,
            use_fargate_spot=settings.use_fargate_spot,
            use_arm64=settings.use_arm64,
            image_build=settings.image_build,
            desired_count=1 if settings.start_on_deploy else 0,
            idle_timeout_minutes=settings.idle_timeout_minutes,
            log_retention=settings.log_retention,
            schedule_group=settings.schedule_group_name,
            schedule_wake_name=settings.schedule_wake_name,
        )
        self.cluster = blu.cluster
        self.cluster_name = blu.cluster_name
        self.service_name = blu.service_name
        self.service = blu.service
        self.task_definition = blu.task_definition
        self.container = blu.container
        self.cloud_map_service = blu.cloud_map_service
        self.log_group = blu.log_group
        self.task_role = blu.task_definition.task_role
