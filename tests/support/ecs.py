"""Blu's ECS cluster, task definition and service, created in moto for tests that scale it."""

from __future__ import annotations

from typing import Any


def create_service(ecs: Any, *, cluster: str, service: str, desired_count: int) -> None:
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family="blu",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[{"name": "App", "image": "blu", "essential": True}],
    )
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition="blu", desiredCount=desired_count)
