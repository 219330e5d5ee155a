"""DataStack: table, buckets, EFS and the secret, retained, hardened, with stable logical ids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_efs as efs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Match, Template
from constructs import IConstruct

from stacks.data import SECRET_KEYS
from tests.stacks.conftest import SynthesizedApp

# Renaming any of these would make CloudFormation create a new, empty resource and orphan the
# retained one. If this test fails, the construct ids in stacks/data.py changed: change them back.
STATEFUL_LOGICAL_IDS = {
    "Table710B521B": "AWS::DynamoDB::Table",
    "BucketsAccessLogsA5F88218": "AWS::S3::Bucket",
    "BucketsAccessLogsPolicy7A0117B8": "AWS::S3::BucketPolicy",
    "BucketsFiles72356973": "AWS::S3::Bucket",
    "BucketsFilesPolicy4D0CE585": "AWS::S3::BucketPolicy",
    "BucketsBackups18324FCD": "AWS::S3::Bucket",
    "BucketsBackupsPolicyB65BC6B2": "AWS::S3::BucketPolicy",
    "StorageFileSystemFFD87EE1": "AWS::EFS::FileSystem",
    "StorageFileSystemWorkspace51E810FE": "AWS::EFS::AccessPoint",
    "StorageFileSystemStateC6A058E1": "AWS::EFS::AccessPoint",
    "SecretsSecret9A9454FE": "AWS::SecretsManager::Secret",
}
FILES, BACKUPS, ACCESS_LOGS = "BucketsFiles72356973", "BucketsBackups18324FCD", "BucketsAccessLogsA5F88218"


def resources(template: Mapping[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def logical_id(construct: IConstruct) -> str:
    stack = cdk.Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(cast(cdk.CfnElement, construct.node.default_child))))


def walk(node: Any) -> Any:
    """Every (key, value) pair at any depth of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def test_stateful_logical_ids_never_change(data_template: Template) -> None:
    template = data_template.to_json()
    for logical_id, type_ in STATEFUL_LOGICAL_IDS.items():
        assert template["Resources"].get(logical_id, {}).get("Type") == type_, logical_id


def test_every_resource_is_retained_except_mount_targets(data_template: Template) -> None:
    for logical_id, resource in data_template.to_json()["Resources"].items():
        if resource["Type"] == "AWS::EFS::MountTarget":
            # Deliberate: no data, and retained ones would pin ENIs in the network stack's subnets.
            assert "DeletionPolicy" not in resource, logical_id
            continue
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def test_table(data_template: Template) -> None:
    data_template.resource_count_is("AWS::DynamoDB::Table", 1)
    data_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "PK", "AttributeType": "S"},
                    {"AttributeName": "SK", "AttributeType": "S"},
                    {"AttributeName": "GSI1PK", "AttributeType": "S"},
                    {"AttributeName": "GSI1SK", "AttributeType": "S"},
                ]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "GSI1",
                    "KeySchema": [
                        {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                        {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            # SSEEnabled true = the AWS-managed KMS key (aws/dynamodb).
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": True,
        },
    )


def test_all_buckets_are_encrypted_private_and_tls_only(data_template: Template) -> None:
    template = data_template.to_json()
    buckets = resources(template, "AWS::S3::Bucket")
    assert set(buckets) == {FILES, BACKUPS, ACCESS_LOGS}
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
    }
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        }
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        arn = {"Fn::GetAtt": [logical_id, "Arn"]}
        deny_plain_http = {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}],
        }
        assert deny_plain_http in policies[logical_id], logical_id
        assert any(
            s.get("Condition") == {"NumericLessThan": {"s3:TlsVersion": 1.2}} and s["Effect"] == "Deny"
            for s in policies[logical_id]
        ), logical_id


def test_files_bucket_is_versioned_expires_and_logs(data_template: Template) -> None:
    props = data_template.to_json()["Resources"][FILES]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "expire-files",
            "Status": "Enabled",
            "ExpirationInDays": 30,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        *(
            {
                "Id": f"expire-{prefix}",
                "Prefix": f"{prefix}/",
                "Status": "Enabled",
                "ExpirationInDays": 1,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
            for prefix in ("uploads", "downloads")
        ),
    ]
    assert props["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": ACCESS_LOGS}, "LogFilePrefix": "files/"}


def test_files_bucket_admits_the_browsers_upload_form_from_this_regions_apis_only(data_template: Template) -> None:
    resources = data_template.to_json()["Resources"]
    (rule,) = resources[FILES]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]  # downloads are navigations, which need no CORS
    (origin,) = rule["AllowedOrigins"]
    assert origin == {
        "Fn::Join": ["", ["https://*.execute-api.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]
    }
    assert "AllowedHeaders" not in rule and "ExposedHeaders" not in rule
    for bucket in (BACKUPS, ACCESS_LOGS):
        assert "CorsConfiguration" not in resources[bucket]["Properties"]


def test_backups_bucket_tiers_expires_and_logs(data_template: Template) -> None:
    props = data_template.to_json()["Resources"][BACKUPS]["Properties"]
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    assert rule["ExpirationInDays"] == 365
    assert rule["Status"] == "Enabled"
    assert props["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": ACCESS_LOGS}, "LogFilePrefix": "backups/"}


def test_access_log_bucket_expires_and_admits_only_log_delivery(data_template: Template) -> None:
    template = data_template.to_json()
    props = template["Resources"][ACCESS_LOGS]["Properties"]
    assert "LoggingConfiguration" not in props  # a log bucket logging to itself would loop
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 14
    statements = template["Resources"]["BucketsAccessLogsPolicy7A0117B8"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows and all(s["Principal"] == {"Service": "logging.s3.amazonaws.com"} for s in allows)


def test_file_system(data_template: Template) -> None:
    data_template.resource_count_is("AWS::EFS::FileSystem", 1)
    data_template.has_resource_properties(
        "AWS::EFS::FileSystem",
        {
            "Encrypted": True,
            "PerformanceMode": "generalPurpose",
            "ThroughputMode": "elastic",
            "LifecyclePolicies": [
                {"TransitionToIA": "AFTER_30_DAYS"},
                {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"},
            ],
            "BackupPolicy": {"Status": "ENABLED"},
            "FileSystemPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "DenyUnencryptedTransport",
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ]
                ),
                "Version": "2012-10-17",
            },
        },
    )


def test_mount_targets_in_both_public_subnets_behind_the_efs_group(blu: SynthesizedApp) -> None:
    network, template = blu.stacks.network, blu.template_json("data")
    targets = resources(template, "AWS::EFS::MountTarget")
    assert len(targets) == 2
    subnet_outputs = {t["Properties"]["SubnetId"]["Fn::GetStackOutput"]["OutputName"] for t in targets.values()}
    subnet_ids = {logical_id(subnet) for subnet in network.vpc.public_subnets}
    assert len(subnet_outputs) == 2 and all(any(i in o for i in subnet_ids) for o in subnet_outputs)
    efs_sg = logical_id(network.efs_security_group)
    for target in targets.values():
        (group,) = target["Properties"]["SecurityGroups"]
        assert efs_sg in group["Fn::GetStackOutput"]["OutputName"]


def test_access_points_run_as_the_container_user(data_template: Template) -> None:
    points = {
        p["Properties"]["RootDirectory"]["Path"]: p["Properties"]
        for p in resources(data_template.to_json(), "AWS::EFS::AccessPoint").values()
    }
    assert set(points) == {"/workspace", "/state"}
    for props in points.values():
        assert props["PosixUser"] == {"Uid": "1000", "Gid": "1000"}
        assert props["RootDirectory"]["CreationInfo"] == {"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "750"}
        assert props["FileSystemId"] == {"Ref": "StorageFileSystemFFD87EE1"}


def test_secret_is_generated_from_a_template_of_all_keys(data_template: Template) -> None:
    (secret,) = resources(data_template.to_json(), "AWS::SecretsManager::Secret").values()
    props = secret["Properties"]
    assert "SecretString" not in props
    generator = props["GenerateSecretString"]
    template = json.loads(generator["SecretStringTemplate"])
    assert set(template) | {generator["GenerateStringKey"]} == set(SECRET_KEYS)
    assert generator["GenerateStringKey"] == "SESSION_SECRET" and "SESSION_SECRET" not in template
    assert set(template.values()) == {""}
    assert generator["PasswordLength"] == 64 and generator["ExcludePunctuation"] is True


# The secret's GenerateSecretString exactly as first deployed. CloudFormation regenerates the whole secret
# when any of it changes, and the new value holds only the template's empty keys and a new SESSION_SECRET:
# the password hash, tokens and API keys the person stored would be gone, and every login cookie with them.
# New credentials (e.g. the VAPID keys of runtime/notify) live elsewhere; see docs/architecture.md.
PINNED_SECRET_GENERATOR = {
    "SecretStringTemplate": (
        '{"AUTH_PASSWORD_HASH": "", "CLAUDE_CODE_OAUTH_TOKEN": "", "GITHUB_TOKEN": "", "LIVEKIT_API_KEY": "", '
        '"LIVEKIT_API_SECRET": "", "LIVEKIT_URL": "", "NOTION_API_KEY": "", "OPENAI_API_KEY": ""}'
    ),
    "GenerateStringKey": "SESSION_SECRET",
    "PasswordLength": 64,
    "ExcludePunctuation": True,
}


def test_the_secrets_generated_template_never_changes(data_template: Template) -> None:
    (secret,) = resources(data_template.to_json(), "AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["GenerateSecretString"] == PINNED_SECRET_GENERATOR


def test_secret_keys_are_the_documented_set() -> None:
    assert SECRET_KEYS == (
        "CLAUDE_CODE_OAUTH_TOKEN",
        "AUTH_PASSWORD_HASH",
        "SESSION_SECRET",
        "LIVEKIT_URL",
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
        "OPENAI_API_KEY",
        "NOTION_API_KEY",
        "GITHUB_TOKEN",
    )


def test_no_plaintext_secret_in_any_template(all_templates: dict[str, dict[str, Any]]) -> None:
    for name, template in all_templates.items():
        for key, value in walk(template):
            assert key != "SecretString", f"{name}: a SecretString puts the value in the template"
            if key == "SecretStringTemplate":
                assert set(json.loads(value).values()) <= {""}, f"{name}: a secret template carries a value"
        # No NoEcho parameter defaults either: those would be secrets in the template, too.
        for parameter in template.get("Parameters", {}).values():
            assert not (parameter.get("NoEcho") and "Default" in parameter), name


def test_stack_exposes_what_other_stacks_need(blu: SynthesizedApp) -> None:
    data = blu.stacks.data
    assert isinstance(data.table, dynamodb.Table)
    for bucket in (data.files_bucket, data.backups_bucket, data.access_log_bucket):
        assert isinstance(bucket, s3.Bucket)
    assert isinstance(data.file_system, efs.FileSystem)
    assert isinstance(data.workspace_access_point, efs.AccessPoint)
    assert isinstance(data.state_access_point, efs.AccessPoint)
    assert isinstance(data.secret, secretsmanager.Secret)
    assert blu.stacks.network in data.dependencies
