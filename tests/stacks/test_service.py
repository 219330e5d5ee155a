"""Service stack: Spot ARM64 Fargate at zero, EFS with TLS and IAM, secrets from the secret, Cloud Map SRV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from app import BACKUP_WRITE_ACTIONS, DOWNLOAD_ACTIONS, UPLOAD_ACTIONS, WAKE_SCHEDULE_ACTIONS
from runtime.settings import Settings
from stacks.data import SECRET_KEYS
from stacks.service import (
    PASS_THROUGH_SECRETS,
    RUNTIME_DEFAULTS,
    RUNTIME_SECRETS,
    STATE_PATH,
    STOP_TIMEOUT_SECONDS,
    WORKSPACE_PATH,
)
from tests.stacks.conftest import SynthesizedApp


def _one(template: Template, resource_type: str) -> dict[str, Any]:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {len(resources)}"
    return dict(next(iter(resources.values()))["Properties"])


SELF_STOP_ACTIONS = ("ecs:DescribeServices", "ecs:UpdateService")


def _container(template: Template) -> dict[str, Any]:
    containers = _one(template, "AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    assert len(containers) == 1
    return dict(containers[0])


def test_cluster_has_container_insights_off_and_fargate_providers(service_template: Template) -> None:
    cluster = _one(service_template, "AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "disabled"} in cluster["ClusterSettings"]
    providers = _one(service_template, "AWS::ECS::ClusterCapacityProviderAssociations")["CapacityProviders"]
    assert set(providers) >= {"FARGATE", "FARGATE_SPOT"}


def test_service_is_spot_at_zero_with_public_ip_and_the_app_security_group(
    service_template: Template, blu: SynthesizedApp
) -> None:
    service = _one(service_template, "AWS::ECS::Service")
    assert service["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert "LaunchType" not in service
    assert service["DesiredCount"] == 0
    assert service["PlatformVersion"] == "1.4.0"
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "ENABLED"
    assert len(network["SecurityGroups"]) == 1
    assert "AppSecurityGroup" in str(network["SecurityGroups"][0])
    assert service["DeploymentConfiguration"]["MaximumPercent"] == 100
    assert service["LoadBalancers"] == []


def test_task_is_arm64_linux_with_the_configured_size(service_template: Template, blu: SynthesizedApp) -> None:
    task = _one(service_template, "AWS::ECS::TaskDefinition")
    assert task["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["Cpu"] == str(blu.settings.cpu)
    assert task["Memory"] == str(blu.settings.memory)
    assert task["NetworkMode"] == "awsvpc"


def test_efs_volumes_use_transit_encryption_iam_and_the_access_points(service_template: Template) -> None:
    volumes = {
        v["Name"]: v["EFSVolumeConfiguration"] for v in _one(service_template, "AWS::ECS::TaskDefinition")["Volumes"]
    }
    assert set(volumes) == {"workspace", "state"}
    for name, config in volumes.items():
        assert config["TransitEncryption"] == "ENABLED"
        assert config["AuthorizationConfig"]["IAM"] == "ENABLED"
        access_point = str(config["AuthorizationConfig"]["AccessPointId"])
        assert ("Workspace" if name == "workspace" else "State") in access_point
    mounts = {m["ContainerPath"]: m["SourceVolume"] for m in _container(service_template)["MountPoints"]}
    assert mounts == {WORKSPACE_PATH: "workspace", STATE_PATH: "state"}


def test_task_role_may_mount_efs_use_the_table_and_scale_its_own_service_only(service_template: Template) -> None:
    policies = service_template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("TaskRole")}]}}
    )
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"} <= actions
    # ... and keep the schedules' wakes (tests/stacks/test_schedules.py checks their scope).
    wakes = (*WAKE_SCHEDULE_ACTIONS, "iam:PassRole")
    assert all(
        a.startswith(("dynamodb:", "elasticfilesystem:"))
        or a in SELF_STOP_ACTIONS + UPLOAD_ACTIONS + wakes + BACKUP_WRITE_ACTIONS + ("s3:ListBucket",)
        for a in actions
    )
    assert all(s["Resource"] != "*" for s in statements)
    # The files bucket: its two staging prefixes only, no listing, nothing else in the bucket.
    # (The backups bucket's snapshots/ prefix: tests/stacks/test_backups.py.)
    s3 = [s for s in statements if any(a.startswith("s3:") for a in s["Action"]) and "Backups" not in str(s)]
    scopes = {json.dumps(s["Resource"]).split('"/')[-1].rstrip('"]}'): set(s["Action"]) for s in s3}
    assert scopes == {"uploads/*": set(UPLOAD_ACTIONS), "downloads/*": set(DOWNLOAD_ACTIONS)}, scopes
    assert all("BucketsFiles" in json.dumps(s["Resource"]) for s in s3)
    (self_stop,) = [s for s in statements if s["Action"] == list(SELF_STOP_ACTIONS)]
    arn = json.dumps(self_stop["Resource"])
    # Exactly the service the task runs in, by its fixed names (not a wildcard).
    assert ":service/" in arn and "-cluster/blu" in arn and "*" not in arn


def test_task_knows_its_own_cluster_and_service_names(service_template: Template) -> None:
    environment = {e["Name"]: e["Value"] for e in _container(service_template)["Environment"]}
    cluster = _one(service_template, "AWS::ECS::Cluster")
    service = _one(service_template, "AWS::ECS::Service")
    assert environment["BLU_ECS_CLUSTER"] == cluster["ClusterName"]
    assert environment["BLU_ECS_SERVICE"] == service["ServiceName"] == "blu"


def test_task_is_told_the_files_bucket(service_template: Template) -> None:
    environment = {e["Name"]: e["Value"] for e in _container(service_template)["Environment"]}
    assert "BucketsFiles" in json.dumps(environment["BLU_FILES_BUCKET"])


def test_secrets_come_from_the_secret_and_never_from_plain_environment(service_template: Template) -> None:
    container = _container(service_template)
    secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
    assert set(secrets) == set(RUNTIME_SECRETS + PASS_THROUGH_SECRETS)
    assert set(secrets) <= set(SECRET_KEYS)
    for name, value_from in secrets.items():
        # ValueFrom is "<secret arn>:<json key>::" -- the field of the one JSON secret.
        assert value_from["Fn::Join"][1][-1] == f":{name}::"
    plain = {e["Name"] for e in container["Environment"]}
    assert not plain & set(SECRET_KEYS)
    assert not any(word in name for name in plain for word in ("SECRET", "TOKEN", "PASSWORD", "API_KEY"))


def test_task_environment_matches_the_runtime_settings_both_ways(service_template: Template) -> None:
    container = _container(service_template)
    plain = {e["Name"] for e in container["Environment"]}
    injected = {s["Name"] for s in container["Secrets"]}
    accepted = Settings.env_var_names()
    # Every variable the task sets, the runtime reads (pass-through secrets go to the voice worker/tools).
    assert plain <= accepted, f"the runtime ignores {sorted(plain - accepted)}"
    assert injected - set(PASS_THROUGH_SECRETS) <= accepted
    assert not set(PASS_THROUGH_SECRETS) & accepted
    # Every variable the runtime reads is either set by the task or deliberately left at its default.
    decided = plain | injected | set(RUNTIME_DEFAULTS)
    assert accepted <= decided, f"decide in stacks/service.py: {sorted(accepted - decided)}"
    assert not set(RUNTIME_DEFAULTS) & (plain | injected)


def test_container_saves_work_on_stop_and_logs_briefly(service_template: Template, blu: SynthesizedApp) -> None:
    container = _container(service_template)
    assert container["StopTimeout"] == STOP_TIMEOUT_SECONDS == 120
    assert container["PortMappings"] == [{"ContainerPort": 8000, "Protocol": "tcp"}]
    assert "/health" in " ".join(container["HealthCheck"]["Command"])
    # A wake is "Ready" at the first passing check: checked as often as ECS allows, answered well within.
    assert container["HealthCheck"]["Interval"] == 5 and container["HealthCheck"]["Timeout"] < 5
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    group_ref = container["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]
    log_group = service_template.to_json()["Resources"][group_ref]["Properties"]
    assert log_group["RetentionInDays"] == blu.settings.log_retention_days


def test_image_is_built_in_aws_natively_on_arm64_from_the_repository(
    blu: SynthesizedApp, service_template: Template
) -> None:
    # No Docker image asset: nothing for `cdk deploy` to build on the deployer's machine.
    assets = json.loads((blu.assembly_dir / "Blu-Service.assets.json").read_text())
    assert assets.get("dockerImages", {}) == {}
    build = _one(service_template, "Custom::CDKContainerImageBuild")
    command = build["buildCommand"]
    assert "--file container/Dockerfile" in command
    assert "--platform linux/arm64" in command
    assert "compression=zstd" in command
    project = _one(service_template, "AWS::CodeBuild::Project")
    assert "aarch64" in project["Environment"]["Image"]  # a Graviton host: native arm64, no emulation
    assert project["Environment"]["Type"] == "ARM_CONTAINER"
    # Build logs go to a log group with Blu's retention (not CodeBuild's default, kept forever).
    group_ref = project["LogsConfig"]["CloudWatchLogs"]["GroupName"]["Ref"]
    resources = service_template.to_json()["Resources"]
    assert resources[group_ref]["Properties"]["RetentionInDays"] == blu.settings.log_retention_days
    # The task runs the image the build pushed.
    image = json.dumps(_container(service_template)["Image"])
    assert "ImageTag" in image


def test_image_source_is_the_repository_filtered_by_dockerignore(blu: SynthesizedApp) -> None:
    assets = json.loads((blu.assembly_dir / "Blu-Service.assets.json").read_text())
    sources = [f["source"]["path"] for f in assets["files"].values() if f["source"].get("packaging") == "zip"]
    staged = [blu.assembly_dir / p for p in sources if (blu.assembly_dir / p / "container" / "Dockerfile").is_file()]
    assert len(staged) == 1
    source = staged[0]
    assert (source / "runtime").is_dir() and (source / "container" / "requirements.txt").is_file()
    for unwanted in (".venv", "node_modules", "cdk.out", ".git", "tests", "web/dist", ".cache", "lambdas"):
        assert not (source / unwanted).exists(), unwanted


def test_local_image_build_is_a_docker_asset(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from stacks.service import BluImage

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Local")
    image = BluImage(stack, "Image", build="local", use_arm64=True, log_retention=logs.RetentionDays.ONE_WEEK)
    assert image.build is None
    # The asset exists once a task definition uses the image.
    ecs.FargateTaskDefinition(stack, "Task").add_container("App", image=image.image)
    app.synth()
    assets = json.loads((tmp_path / "Local.assets.json").read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["dockerFile"] == "container/Dockerfile"
    assert image["source"]["platform"] == "linux/arm64"


def test_cloud_map_srv_service_for_the_vpc_link(service_template: Template) -> None:
    namespace = _one(service_template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    assert namespace["Name"] == "blu.internal"
    discovery = _one(service_template, "AWS::ServiceDiscovery::Service")
    assert discovery["DnsConfig"]["DnsRecords"] == [{"TTL": 10, "Type": "SRV"}]
    registry = _one(service_template, "AWS::ECS::Service")["ServiceRegistries"]
    assert registry[0]["ContainerPort"] == 8000 and registry[0]["ContainerName"] == "App"


def test_no_load_balancer_and_no_nat_anywhere(all_templates: dict[str, dict[str, Any]]) -> None:
    types = {r["Type"] for t in all_templates.values() for r in t.get("Resources", {}).values()}
    assert not {t for t in types if t.startswith("AWS::ElasticLoadBalancing")}
    assert "AWS::EC2::NatGateway" not in types


def test_start_on_deploy_and_on_demand_settings(tmp_path: Any) -> None:
    from aws_cdk import aws_ecs as ecs

    from app import build_app
    from stacks.settings import BluSettings
    from tests.stacks.conftest import make_app

    app = make_app(tmp_path, start_on_deploy=True, use_fargate_spot=False)
    stacks = build_app(app, BluSettings.from_context(app.node))
    # Read the L1 properties instead of synthesizing a second app (one synth per test session).
    cfn = stacks.service.service.node.default_child
    assert isinstance(cfn, ecs.CfnService)
    assert cfn.desired_count == 1
    strategy = cfn.capacity_provider_strategy
    assert isinstance(strategy, list) and len(strategy) == 1
    assert isinstance(strategy[0], ecs.CfnService.CapacityProviderStrategyItemProperty)
    assert strategy[0].capacity_provider == "FARGATE"
