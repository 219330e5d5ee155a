"""cdk-nag for the whole app: the AwsSolutions rule pack and every acknowledgment, with its reason."""

# cdk-nag 3 is a CDK validation plugin, not an Aspect: findings are reported at synth time in
# cdk.out/validation-report.json, and errors fail `cdk synth`. An acknowledgment suppresses one rule
# on one construct and everything below it; its id is "<plugin>::<rule>", e.g.
# "AwsSolutions::AwsSolutions-S1" (the report prints the exact id to use next to each finding).
# Fix a finding when it can be fixed; acknowledge it here only with a reason a reviewer can check.

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from stacks.api import ApiStack
from stacks.control import ControlStack
from stacks.data import DataStack
from stacks.service import IMAGE_BUILD_PROJECTS, TRIGGER_FUNCTION_ID, ServiceStack

ACK_PREFIX = "AwsSolutions::"
# Granular findings (IAM4/IAM5) name the policy or resource; these are the ones Blu acknowledges.
LAMBDA_BASIC_EXECUTION = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ECR_PUBLIC_READ = "arn:<AWS::Partition>:iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"
CDK_ASSETS_BUCKET = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>"
# The files bucket's ARN as the service stack reads it from the data stack (the logical id is pinned;
# DATA_STACK stands for the data stack's name, which follows the environment name).
DATA_STACK = "<data-stack>"
SCHEDULE_GROUP = "<schedule-group>"  # stands for the schedule group's name, which follows the environment name
FILES_BUCKET_ARN = (
    '{"Fn::GetStackOutput":{"StackName":"' + DATA_STACK + '","Region":{"Ref":"AWS::Region"},'
    '"OutputName":"PublishOutputFnGetAttBucketsFiles72356973Arn2ED2B8FF"}}'
)


BACKUPS_BUCKET_ARN = (
    '{"Fn::GetStackOutput":{"StackName":"' + DATA_STACK + '","Region":{"Ref":"AWS::Region"},'
    '"OutputName":"PublishOutputFnGetAttBucketsBackups18324FCDArn88554D86"}}'
)


def _image_build_acknowledgments(project: str) -> tuple[NagAcknowledgment, ...]:
    """cdklabs-deploy-time-build's CodeBuild project (one per platform), as the library defines it."""
    region_account = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"
    # The project's logical id as CDK makes it for a top-level construct: its id, then the first 8 hex
    # digits of the MD5 of its path below the stack (the findings name the project by it).
    logical_id = project + hashlib.md5(f"{project}/Resource".encode(), usedforsecurity=False).hexdigest()[:8].upper()
    logs_arn = region_account.format(service="logs") + f":log-group:/aws/codebuild/<{logical_id}>:*"
    reports_arn = region_account.format(service="codebuild") + f":report-group/<{logical_id}>-*"
    policy = f"{project}/Role/DefaultPolicy/Resource"
    iam5 = {
        "Resource::*": "ecr:GetAuthorizationToken (log in to ECR to push, and to ECR Public to pull base images) "
        "takes no resource; AWS requires '*'.",
        f"Resource::{logs_arn}": "CodeBuild's default grant on its own log group's streams; the project logs "
        "into Blu's build log group instead (stacks/service.py).",
        f"Resource::{reports_arn}": "CodeBuild's default grant on its own report groups (named after the project).",
        "Action::s3:GetBucket*": "Reading the build's source asset from the CDK assets bucket (Asset.grantRead).",
        "Action::s3:GetObject*": "Reading the build's source asset from the CDK assets bucket (Asset.grantRead).",
        "Action::s3:List*": "Reading the build's source asset from the CDK assets bucket (Asset.grantRead).",
        f"Resource::{CDK_ASSETS_BUCKET}/*": "The source asset's key is a content hash unknown until synth; the "
        "grant covers the CDK bootstrap assets bucket only.",
    }
    return (
        *(
            NagAcknowledgment(
                stack=ServiceStack,
                path=policy,
                rule=f"AwsSolutions::AwsSolutions-IAM5[{finding}]",
                reason=reason,
                optional=True,
            )
            for finding, reason in iam5.items()
        ),
        NagAcknowledgment(
            stack=ServiceStack,
            path=f"{project}/Role/Resource",
            rule=f"AwsSolutions::AwsSolutions-IAM4[Policy::{ECR_PUBLIC_READ}]",
            reason="Pulling the base images from ECR Public (read-only, public images only); AWS maintains it.",
            optional=True,
        ),
        NagAcknowledgment(
            stack=ServiceStack,
            path=f"{project}/Resource",
            rule="AwsSolutions::AwsSolutions-CB4",
            reason=(
                "The project produces no artifacts (it pushes to ECR, encrypted at rest by ECR) and its logs go "
                "to CloudWatch; its S3 settings use the AWS-managed key. A customer-managed key would add "
                "$1/month for nothing Blu stores."
            ),
            optional=True,
        ),
    )


@dataclass(frozen=True)
class NagAcknowledgment:
    """One acknowledged finding: which stack type, which construct path inside it, which rule, and why."""

    stack: type[cdk.Stack]
    path: str
    rule: str
    reason: str
    # For constructs that exist only with some settings (the image build with image_build=codebuild).
    optional: bool = False

    def rule_in(self, data_stack: str, schedule_group: str = "") -> str:
        """The id as the findings name it in an app whose data stack and schedule group have these names."""
        return self.rule.replace(DATA_STACK, data_stack).replace(SCHEDULE_GROUP, schedule_group)


ACKNOWLEDGMENTS: tuple[NagAcknowledgment, ...] = (
    NagAcknowledgment(
        stack=DataStack,
        path="Secrets/Secret",
        rule="AwsSolutions::AwsSolutions-SMG4",
        reason=(
            "The secret holds credentials that third parties issue and the user pastes in (Claude "
            "OAuth token, LiveKit, OpenAI, Notion and GitHub keys, the login password hash); Secrets "
            "Manager cannot rotate those without each provider's cooperation. The only generated "
            "value, SESSION_SECRET, signs login cookies: rotating it on a schedule would only log the "
            "user out. The user rotates values by editing the secret."
        ),
    ),
    NagAcknowledgment(
        stack=ServiceStack,
        path="Blu/Cluster/Resource",
        rule="AwsSolutions::AwsSolutions-ECS4",
        reason=(
            "Container Insights bills custom metrics for every task and cluster around the clock; for one "
            "task that sleeps most of the day it would cost more than the task. The service's CPU and memory "
            "metrics (free) and Blu's own metrics cover what the dashboard needs."
        ),
    ),
    NagAcknowledgment(
        stack=ServiceStack,
        path="Blu/Task/Resource",
        rule="AwsSolutions::AwsSolutions-ECS2",
        reason=(
            "The plain environment holds only non-secret settings (paths, port, table name, region, idle "
            "timeout); every credential is injected from Secrets Manager (tests/stacks/test_service.py "
            "asserts that no secret key appears in the plain environment)."
        ),
    ),
    *(
        NagAcknowledgment(
            stack=ServiceStack,
            path="Blu/Task/TaskRole/DefaultPolicy/Resource",
            rule=f"AwsSolutions::AwsSolutions-IAM5[Resource::{FILES_BUCKET_ARN}/{prefix}/*]",
            reason=(
                f"Large files pass through the files bucket's {prefix}/ prefix under keys the runtime makes up per "
                "transfer (32 random hex digits), so no fixed ARN can name them; the grant covers that one prefix "
                "of that one bucket, with no listing (app.py grant_transfer_staging)."
            ),
        )
        for prefix in ("uploads", "downloads")
    ),
    NagAcknowledgment(
        stack=ServiceStack,
        path="Blu/Task/TaskRole/DefaultPolicy/Resource",
        rule="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:"
        "<AWS::AccountId>:schedule/<schedule-group>/blu-*]",
        reason=(
            "The runtime keeps one EventBridge Scheduler wake per Blu schedule, named blu-<schedule id> after ids "
            "it makes up when a person creates a schedule, so no fixed ARN can name them; the grant covers only "
            "blu-* schedules in Blu's own schedule group, and only create, update and delete (app.py "
            "grant_wake_schedules)."
        ),
    ),
    NagAcknowledgment(
        stack=ServiceStack,
        path="Blu/Task/TaskRole/DefaultPolicy/Resource",
        rule=f"AwsSolutions::AwsSolutions-IAM5[Resource::{BACKUPS_BUCKET_ARN}/snapshots/*]",
        reason=(
            "Snapshots are named by time and a random suffix (runtime/backup), so no fixed ARN can name "
            "them; the grant covers the snapshots/ prefix of the backups bucket, without delete "
            "(app.py grant_backups)."
        ),
    ),
    NagAcknowledgment(
        stack=ControlStack,
        path="Functions/RestoreDrill/ServiceRole/DefaultPolicy/Resource",
        rule=f"AwsSolutions::AwsSolutions-IAM5[Resource::{BACKUPS_BUCKET_ARN}/snapshots/*]",
        reason=(
            "The drill reads the newest snapshot, whose name it learns by listing; the grant is GetObject on "
            "the snapshots/ prefix of the backups bucket only (app.py grant_backup_reads)."
        ),
    ),
    NagAcknowledgment(
        stack=ServiceStack,
        path="Blu/Task/ExecutionRole/DefaultPolicy/Resource",
        rule="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        reason=(
            "ecr:GetAuthorizationToken has no resource-level permissions (AWS requires '*'); the image pull "
            "actions themselves are scoped to the CDK assets repository."
        ),
    ),
    *(
        NagAcknowledgment(
            stack=ControlStack,
            path=f"Functions/{function}/ServiceRole/DefaultPolicy/Resource",
            rule="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason=(
                "xray:PutTraceSegments/PutTelemetryRecords (tracing) take no resource. ecs:ListTasks takes "
                "none either, and ecs:DescribeTasks needs task ARNs that ECS invents at every start: both "
                "are pinned to Blu's cluster by the ecs:cluster condition. Everything else names this "
                "service, this table and this secret (or, for the restore drill, the backups bucket)."
            ),
        )
        for function in ("Launcher", "IdleChecker", "ScheduleWake", "RestoreDrill")
    ),
    *(
        NagAcknowledgment(
            stack=ControlStack,
            path=f"Functions/{function}/ServiceRole/Resource",
            rule=f"AwsSolutions::AwsSolutions-IAM4[Policy::{LAMBDA_BASIC_EXECUTION}]",
            reason=(
                "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup, CreateLogStream and PutLogEvents, "
                "the minimum for a function to log; AWS maintains it."
            ),
        )
        for function in ("Launcher", "IdleChecker", "ScheduleWake", "RestoreDrill")
    ),
    *(ack for project in IMAGE_BUILD_PROJECTS for ack in _image_build_acknowledgments(project)),
    NagAcknowledgment(
        stack=ServiceStack,
        path=f"{TRIGGER_FUNCTION_ID}/ServiceRole/Resource",
        rule=f"AwsSolutions::AwsSolutions-IAM4[Policy::{LAMBDA_BASIC_EXECUTION}]",
        reason=(
            "The image build's trigger function (cdklabs-deploy-time-build): AWSLambdaBasicExecutionRole grants "
            "only the log writes a function needs; AWS maintains it."
        ),
        optional=True,
    ),
    NagAcknowledgment(
        stack=ServiceStack,
        path=f"{TRIGGER_FUNCTION_ID}/Resource",
        rule="AwsSolutions::AwsSolutions-L1",
        reason=(
            "The image build's trigger function runs the Node.js runtime its library was tested with "
            "(cdklabs-deploy-time-build pins nodejs22.x, supported by Lambda); it only starts a CodeBuild build."
        ),
        optional=True,
    ),
    NagAcknowledgment(
        stack=ApiStack,
        path="Http/Api",
        rule="AwsSolutions::AwsSolutions-APIG4",
        reason=(
            "Both backends authorize every request themselves with the same signed login cookie "
            "(core/auth): the launcher refuses /status, /wake and /shutdown without it and the runtime "
            "every /api route. The open routes are the login page, its assets, /login and /logout. An API "
            "Gateway authorizer would add a Lambda invocation to every request and could not serve the "
            "login page to a logged-out browser."
        ),
    ),
)


class AcknowledgmentError(LookupError):
    """An acknowledgment that points at no construct (stale after a refactor) or has a malformed id."""


def apply_nag(app: cdk.App, acknowledgments: tuple[NagAcknowledgment, ...] = ACKNOWLEDGMENTS) -> None:
    """Run AwsSolutions checks on every stack at synth and attach the acknowledgments to their constructs."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    stacks = [child for child in app.node.children if cdk.Stack.is_stack(child)]
    data_stacks = [stack.stack_name for stack in stacks if isinstance(stack, DataStack)]
    groups = [str(stack.wake_schedules.group.name) for stack in stacks if isinstance(stack, ControlStack)]
    for ack in acknowledgments:
        if not ack.rule.startswith(ACK_PREFIX) or not ack.reason.strip():
            raise AcknowledgmentError(f"{ack.rule!r}: ids start with {ACK_PREFIX!r} and need a reason")
        rule = ack.rule_in(data_stacks[0], groups[0] if groups else "") if data_stacks else ack.rule
        for stack in stacks:
            if isinstance(stack, ack.stack):
                if ack.optional and stack.node.try_find_child(ack.path.split("/")[0]) is None:
                    continue
                target = _find(stack, ack.path)
                cdk.Validations.of(target).acknowledge(cdk.Acknowledgment(id=rule, reason=ack.reason))


def _find(stack: cdk.Stack, path: str) -> IConstruct:
    node: IConstruct = stack
    for part in path.split("/"):
        child = node.node.try_find_child(part)
        if child is None:
            raise AcknowledgmentError(f"acknowledgment path {stack.node.path}/{path} matches no construct")
        node = child
    return node
