"""Data stack: Blu's single table, buckets, EFS file system and its one secret (stateful, all retained)."""

# Stateful stack: the construct ids below decide the CloudFormation logical ids. Never rename,
# move or re-parent these constructs once deployed -- CloudFormation would create new, empty
# resources and orphan the retained old ones (tests/stacks/test_data.py pins the logical ids).

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from core.secret_keys import SECRET_KEYS
from stacks.settings import BluSettings

# SESSION_SECRET is generated at deploy time; the user fills in the other keys (empty = not configured).
GENERATED_SECRET_KEY = "SESSION_SECRET"  # noqa: S105 -- a key name, not a value

RETAIN = cdk.RemovalPolicy.RETAIN
# Noncurrent backup versions only exist to undo an overwrite or delete; a month is enough.
BACKUP_NONCURRENT_DAYS = 30
# Large files pass between the browser and the task through these prefixes of the files bucket
# (runtime/transfers.py); what is left there is gone after a day.
TRANSFER_PREFIXES: tuple[str, ...] = ("uploads/", "downloads/")
TRANSFER_EXPIRY_DAYS = 1
API_ORIGINS = f"https://*.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"


class BluTable(Construct):
    """The single DynamoDB table (sessions, messages, artifacts, activity, login throttling)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            # On-demand: an idle assistant should cost nothing; provisioned capacity bills hourly.
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True,
            ),
            time_to_live_attribute="ttl",
            deletion_protection=True,
            removal_policy=RETAIN,
        )
        self.table.add_global_secondary_index(
            index_name="GSI1",
            partition_key=dynamodb.Attribute(name="GSI1PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="GSI1SK", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )


class BluBuckets(Construct):
    """The files and backups buckets, plus the bucket that receives their server access logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        files_expiry_days: int,
        backup_retention_days: int,
        access_log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        hardening: dict[str, Any] = {
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            "removal_policy": RETAIN,
        }
        abort_uploads = cdk.Duration.days(1)

        # Server access logs cannot go to a bucket encrypted with a customer KMS key, and a log
        # bucket logging to itself would loop; it is hardened like the others instead.
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            **hardening,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(access_log_retention_days),
                    abort_incomplete_multipart_upload_after=abort_uploads,
                ),
            ],
        )

        self.files_bucket = s3.Bucket(
            self,
            "Files",
            **hardening,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="files/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-files",
                    expiration=cdk.Duration.days(files_expiry_days),
                    noncurrent_version_expiration=cdk.Duration.days(files_expiry_days),
                    abort_incomplete_multipart_upload_after=abort_uploads,
                ),
                *(
                    s3.LifecycleRule(
                        id=f"expire-{prefix.rstrip('/')}",
                        prefix=prefix,
                        expiration=cdk.Duration.days(TRANSFER_EXPIRY_DAYS),
                        noncurrent_version_expiration=cdk.Duration.days(TRANSFER_EXPIRY_DAYS),
                        abort_incomplete_multipart_upload_after=abort_uploads,
                    )
                    for prefix in TRANSFER_PREFIXES
                ),
            ],
            # The browser posts large uploads straight to the bucket (a presigned form). The API's URL is
            # made in a later stack, so the origin is every HTTP API of this account's region: CORS only
            # lets a page read the answer; what may be written is decided by the presigned policy.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=[API_ORIGINS],
                    max_age=3600,
                )
            ],
        )

        self.backups_bucket = s3.Bucket(
            self,
            "Backups",
            **hardening,
            # Versioned so that a bad run (or a compromised task) cannot destroy earlier backups.
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="backups/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tier-and-expire-backups",
                    # Intelligent-Tiering from day 0: backups are rarely read, and it moves them to
                    # cheaper tiers by itself without retrieval fees.
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=cdk.Duration.days(0),
                        ),
                    ],
                    expiration=cdk.Duration.days(backup_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(BACKUP_NONCURRENT_DAYS),
                    abort_incomplete_multipart_upload_after=abort_uploads,
                ),
            ],
        )

        # The TLS-only (and log-delivery) policies must outlive a stack delete with their buckets.
        for bucket in (self.access_log_bucket, self.files_bucket, self.backups_bucket):
            assert bucket.policy is not None  # enforce_ssl always creates one
            bucket.policy.apply_removal_policy(RETAIN)


class BluFileSystem(Construct):
    """EFS with two access points: /workspace (the agent's files) and /state (Claude's config and transcripts)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        uid: int,
        gid: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.file_system = efs.FileSystem(
            self,
            "FileSystem",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=security_group,
            encrypted=True,
            performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
            # Elastic, not Bursting: Bursting's baseline scales with stored size, and with files
            # moving to IA a small file system would drain its credits and crawl; Elastic bills
            # per GB transferred, which is pennies for one person and never throttles.
            throughput_mode=efs.ThroughputMode.ELASTIC,
            lifecycle_policy=efs.LifecyclePolicy.AFTER_30_DAYS,
            out_of_infrequent_access_policy=efs.OutOfInfrequentAccessPolicy.AFTER_1_ACCESS,
            # AWS Backup's daily default plan: a file system of personal work is small, so this
            # costs cents and undoes an agent that deleted the wrong directory.
            enable_automatic_backups=True,
            # Mount targets are the one exception to RETAIN (they keep CDK's default, delete): they
            # hold no data, and retained ones would keep ENIs in the network stack's subnets and
            # block deleting or replacing that stack.
            removal_policy=RETAIN,
        )
        self.file_system.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyUnencryptedTransport",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["*"],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )

        owner = efs.Acl(owner_uid=str(uid), owner_gid=str(gid), permissions="750")
        user = efs.PosixUser(uid=str(uid), gid=str(gid))
        self.workspace_access_point = self.file_system.add_access_point(
            "Workspace", path="/workspace", create_acl=owner, posix_user=user
        )
        self.state_access_point = self.file_system.add_access_point(
            "State", path="/state", create_acl=owner, posix_user=user
        )
        for access_point in (self.workspace_access_point, self.state_access_point):
            access_point.apply_removal_policy(RETAIN)


class BluSecrets(Construct):
    """One JSON secret for every credential Blu needs; no value ever appears in a template."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Never change what this generates: CloudFormation would regenerate the secret and wipe every stored
        # value (tests/stacks/test_data.py pins it). A new credential goes elsewhere (docs/architecture.md).
        template = {key: "" for key in SECRET_KEYS if key != GENERATED_SECRET_KEY}
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Blu credentials (JSON). SESSION_SECRET is generated; fill in the others.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(template, sort_keys=True),
                generate_string_key=GENERATED_SECRET_KEY,
                password_length=64,
                exclude_punctuation=True,
            ),
            removal_policy=RETAIN,
        )


class DataStack(cdk.Stack):
    """Stateful resources; everything is retained on delete and logical ids never change."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BluSettings,
        vpc: ec2.IVpc,
        efs_security_group: ec2.ISecurityGroup,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.table = BluTable(self, "Table").table

        buckets = BluBuckets(
            self,
            "Buckets",
            files_expiry_days=settings.files_expiry_days,
            backup_retention_days=settings.backup_retention_days,
            access_log_retention_days=settings.log_retention_days,
        )
        self.files_bucket = buckets.files_bucket
        self.backups_bucket = buckets.backups_bucket
        self.access_log_bucket = buckets.access_log_bucket

        storage = BluFileSystem(
            self,
            "Storage",
            vpc=vpc,
            security_group=efs_security_group,
            uid=settings.container_uid,
            gid=settings.container_gid,
        )
        self.file_system = storage.file_system
        self.workspace_access_point = storage.workspace_access_point
        self.state_access_point = storage.state_access_point

        self.secret = BluSecrets(self, "Secrets").secret
