#!/usr/bin/env python3
"""The Blu CDK app: reads settings once from context, builds the stacks, wires them, runs cdk-nag."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from stacks.data import DataStack
from stacks.nag import apply_nag
from stacks.network import NetworkStack
from stacks.settings import BluSettings, SettingsError


@dataclass(frozen=True)
class BluStacks:
    """Every stack of one Blu deployment, in deployment order."""

    network: NetworkStack
    data: DataStack

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
    cdk.Tags.of(app).add("blu:environment", settings.environment_name)
    return BluStacks(network=network, data=data)


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
