"""Log retention for the functions CDK adds by itself (custom resource providers), which would log forever."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct


def retain_provider_logs(scope: IConstruct, retention: logs.RetentionDays) -> list[logs.LogGroup]:
    """Give every raw Lambda function under ``scope`` (CDK's custom resource providers) a log group of
    its own with ``retention``; the functions Blu declares set theirs (stacks/control.py).

    Without it Lambda creates ``/aws/lambda/<name>`` on first run, kept forever. The function refers
    to its group, so the group exists before the provider first runs.
    """
    groups = []
    for construct in scope.node.find_all():
        if (
            isinstance(construct, cdk.CfnResource)
            and not isinstance(construct, lambda_.CfnFunction)
            and construct.cfn_resource_type == "AWS::Lambda::Function"
        ):
            parent = construct.node.scope
            assert isinstance(parent, Construct)
            group = logs.LogGroup(parent, "Logs", retention=retention, removal_policy=cdk.RemovalPolicy.DESTROY)
            construct.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
            groups.append(group)
    return groups
