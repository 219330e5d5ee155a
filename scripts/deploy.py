"""Guided deploy (``make deploy``): prerequisites, every stack, password and token once, then URL and cost."""

# Safe to re-run: the bootstrap and the service-linked role are created only when missing, the
# secret is asked for only the keys it does not hold yet, and `cdk deploy` changes only what changed.
# Every step takes its AWS clients as arguments (tests/scripts/test_deploy.py runs them against moto).

from __future__ import annotations

import argparse
import getpass
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.set_secret import SetSecretError, ask_password, find_secret_arn, update_secret

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAP_STACK = "CDKToolkit"
ECS_SERVICE = "ecs.amazonaws.com"
OUTPUTS_FILE = REPO / "cdk.out" / "deploy-outputs.json"
TOKEN_KEY = "CLAUDE_CODE_OAUTH_TOKEN"  # noqa: S105 -- a key name
PASSWORD_KEY = "AUTH_PASSWORD_HASH"  # noqa: S105 -- a key name


class DeployError(RuntimeError):
    """A prerequisite the person must fix; the message says how."""


@dataclass(frozen=True)
class Account:
    account_id: str
    region: str


def check_credentials(sts: Any, region: str | None) -> Account:
    """Who deploys where; fails with a hint when there are no usable credentials or no region."""
    if not region:
        raise DeployError("no AWS region: set AWS_REGION (or a region in your AWS profile)")
    try:
        identity = sts.get_caller_identity()
    except Exception as error:  # botocore raises several unrelated types for missing/expired credentials
        raise DeployError(f"no usable AWS credentials ({error}); run `aws configure` or `aws sso login`") from None
    return Account(account_id=str(identity["Account"]), region=region)


def is_bootstrapped(cloudformation: Any) -> bool:
    """The CDK bootstrap stack exists and is usable in this account and region."""
    try:
        stacks = cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
    except cloudformation.exceptions.ClientError:
        return False
    return (
        bool(stacks)
        and str(stacks[0]["StackStatus"]).endswith("_COMPLETE")
        and "ROLLBACK" not in str(stacks[0]["StackStatus"])
    )


def ensure_ecs_service_linked_role(iam: Any) -> bool:
    """Create ECS's service-linked role when missing (a brand-new account can otherwise fail
    CreateCluster/CreateService); True when this call created it."""
    # Found by its path (/aws-service-role/<service>/), which AWS fixes for every service-linked role.
    if iam.list_roles(PathPrefix=f"/aws-service-role/{ECS_SERVICE}/")["Roles"]:
        return False
    try:
        iam.create_service_linked_role(AWSServiceName=ECS_SERVICE)
    except iam.exceptions.InvalidInputException as error:
        # Created meanwhile by ECS itself ("has been taken in this account"): nothing to do.
        if "taken" not in str(error):
            raise
        return False
    return True


def missing_secret_updates(secretsmanager: Any, secret_id: str, prompt: Callable[[str], str]) -> dict[str, str]:
    """Ask only for what the secret lacks: the login password (stored as its hash) and the Claude token."""
    current = json.loads(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"] or "{}")
    updates: dict[str, str] = {}
    if not current.get(PASSWORD_KEY):
        updates[PASSWORD_KEY] = ask_password(prompt)
    if not current.get(TOKEN_KEY):
        token = prompt("Claude Code OAuth token (from `claude setup-token`; input hidden, empty skips): ").strip()
        if token:
            updates[TOKEN_KEY] = token
    return updates


def store_secrets(secretsmanager: Any, secret_id: str, prompt: Callable[[str], str]) -> list[str]:
    """Fill the missing keys of Blu's secret; returns the keys stored (never values)."""
    updates = missing_secret_updates(secretsmanager, secret_id, prompt)
    return update_secret(secretsmanager, secret_id, updates) if updates else []


def stack_output(cloudformation: Any, stack: str, key: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"].startswith(key):
            return str(output["OutputValue"])
    raise DeployError(f"stack {stack} has no output {key}")


def start_service(ecs: Any, cluster: str, service: str) -> None:
    """start_on_deploy: the service was deployed at 0 (no password yet); start it now that the secret is complete."""
    ecs.update_service(cluster=cluster, service=service, desiredCount=1)


def _run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)  # noqa: S603 -- fixed arguments, no shell


def _context(key: str) -> Any:
    return json.loads((REPO / "cdk.json").read_text())["context"][key]


def main(argv: Sequence[str] | None = None, *, prompt: Callable[[str], str] = getpass.getpass) -> int:
    parser = argparse.ArgumentParser(prog="make deploy", description=__doc__)
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.session.Session(region_name=args.region)
    prefix = "-".join(part.capitalize() for part in str(_context("environment_name")).split("-"))
    start_on_deploy = bool(_context("start_on_deploy"))
    try:
        account = check_credentials(session.client("sts"), session.region_name)
        print(f"Deploying Blu into account {account.account_id}, region {account.region}.")
        if not is_bootstrapped(session.client("cloudformation")):
            _run(["npx", "cdk", "bootstrap", f"aws://{account.account_id}/{account.region}"])
        if ensure_ecs_service_linked_role(session.client("iam")):
            print("Created ECS's service-linked role.")
        # The service starts at 0 so no task runs before the password is stored (then started below).
        _run(
            [
                "npx", "cdk", "deploy", "--all", "--require-approval", "never",
                "--outputs-file", str(OUTPUTS_FILE), "-c", "start_on_deploy=false",
            ]
        )  # fmt: skip
        cloudformation = session.client("cloudformation")
        secret_id = find_secret_arn(cloudformation, f"{prefix}-Data")
        stored = store_secrets(session.client("secretsmanager"), secret_id, prompt)
        print(f"Stored {', '.join(stored)} in Blu's secret." if stored else "Blu's secret already holds its keys.")
        if start_on_deploy:
            start_service(session.client("ecs"), f"{prefix}-Service-cluster", "blu")
            print("Started Blu (start_on_deploy=true).")
        url = stack_output(cloudformation, f"{prefix}-Api", "Url")
    except (DeployError, SetSecretError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(
            f"deploy: {' '.join(error.cmd[:3])} failed (exit {error.returncode}); see docs/deploy.md", file=sys.stderr
        )
        return 1
    from stacks.cost.estimate import Deployment, report

    print(f"\nBlu is at {url}\n")
    print(report(Deployment.from_assembly(REPO / "cdk.out")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
