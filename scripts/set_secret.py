"""Put the login password's hash and API keys into Blu's secret (the password never leaves this machine)."""

# Usage (after `cdk deploy`, with the same AWS credentials):
#   python -m scripts.set_secret --password                 # prompts twice, stores only the bcrypt hash
#   python -m scripts.set_secret --set CLAUDE_CODE_OAUTH_TOKEN --set LIVEKIT_API_KEY   # prompts for each value
#   python -m scripts.set_secret --rotate-session-secret    # logs every browser out
# Values are read with getpass (never echoed, never in shell history) and never printed.

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import Any

from core.auth import PasswordError, hash_password
from core.secret_keys import SECRET_KEYS

SECRET_RESOURCE_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105 -- a resource type


class SetSecretError(RuntimeError):
    """Something the person can fix: a wrong key, mismatched passwords, a missing stack."""


def find_secret_arn(cloudformation: Any, stack_name: str) -> str:
    """The secret of the data stack (there is exactly one)."""
    try:
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    except cloudformation.exceptions.ClientError as error:
        raise SetSecretError(f"cannot read stack {stack_name}: deploy Blu first ({error})") from None
    arns = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == SECRET_RESOURCE_TYPE]
    if len(arns) != 1:
        raise SetSecretError(f"stack {stack_name} has {len(arns)} secrets; pass --secret-id")
    return str(arns[0])


def update_secret(client: Any, secret_id: str, updates: dict[str, str]) -> list[str]:
    """Merge `updates` into the JSON secret; returns the keys changed (never the values)."""
    unknown = sorted(set(updates) - set(SECRET_KEYS))
    if unknown:
        raise SetSecretError(f"unknown keys {unknown}; Blu reads {', '.join(SECRET_KEYS)}")
    current = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"] or "{}")
    if not isinstance(current, dict):
        raise SetSecretError("the secret is not a JSON object")
    client.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**current, **updates}, sort_keys=True))
    return sorted(updates)


def ask_password(prompt: Callable[[str], str]) -> str:
    first = prompt("New Blu password: ")
    if len(first) < 12:
        raise SetSecretError("use at least 12 characters")
    if prompt("Repeat it: ") != first:
        raise SetSecretError("the passwords differ")
    try:
        return hash_password(first)
    except PasswordError as error:
        raise SetSecretError(str(error)) from None


def collect_updates(args: argparse.Namespace, prompt: Callable[[str], str]) -> dict[str, str]:
    updates: dict[str, str] = {}
    if args.password:
        updates["AUTH_PASSWORD_HASH"] = ask_password(prompt)
    for key in args.set or []:
        if key in ("AUTH_PASSWORD_HASH", "SESSION_SECRET"):
            raise SetSecretError(f"{key} is set with --password / --rotate-session-secret")
        updates[key] = prompt(f"{key} (input hidden; empty clears it): ").strip()
    if args.rotate_session_secret:
        updates["SESSION_SECRET"] = secrets.token_urlsafe(48)
    if not updates:
        raise SetSecretError("nothing to do: pass --password, --set KEY or --rotate-session-secret")
    return updates


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.set_secret", description=__doc__)
    parser.add_argument("--password", action="store_true", help="set the login password (stores its bcrypt hash)")
    parser.add_argument("--set", action="append", metavar="KEY", choices=SECRET_KEYS, help="set one key (repeatable)")
    parser.add_argument("--rotate-session-secret", action="store_true", help="new cookie key: logs everyone out")
    parser.add_argument("--stack", default="Blu-Data", help="the data stack's name (default: Blu-Data)")
    parser.add_argument("--secret-id", help="the secret's ARN or name, instead of finding it in --stack")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    prompt: Callable[[str], str] = getpass.getpass,
    session: Any = None,
) -> int:
    args = parse_args(argv)
    try:
        updates = collect_updates(args, prompt)
        if session is None:
            import boto3

            session = boto3.session.Session(region_name=args.region)
        secret_id = args.secret_id or find_secret_arn(session.client("cloudformation"), args.stack)
        changed = update_secret(session.client("secretsmanager"), secret_id, updates)
    except SetSecretError as error:
        print(f"set_secret: {error}", file=sys.stderr)
        return 2
    print(f"Updated {', '.join(changed)} in {secret_id}.")
    print("The launcher picks changes up within 5 minutes; a running Blu task reads them when it next starts.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
