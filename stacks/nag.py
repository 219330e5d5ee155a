"""cdk-nag for the whole app: the AwsSolutions rule pack and every acknowledgment, with its reason."""

# cdk-nag 3 is a CDK validation plugin, not an Aspect: findings are reported at synth time in
# cdk.out/validation-report.json, and errors fail `cdk synth`. An acknowledgment suppresses one rule
# on one construct and everything below it; its id is "<plugin>::<rule>", e.g.
# "AwsSolutions::AwsSolutions-S1" (the report prints the exact id to use next to each finding).
# Fix a finding when it can be fixed; acknowledge it here only with a reason a reviewer can check.

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from stacks.data import DataStack

ACK_PREFIX = "AwsSolutions::"


@dataclass(frozen=True)
class NagAcknowledgment:
    """One acknowledged finding: which stack type, which construct path inside it, which rule, and why."""

    stack: type[cdk.Stack]
    path: str
    rule: str
    reason: str


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
)


class AcknowledgmentError(LookupError):
    """An acknowledgment that points at no construct (stale after a refactor) or has a malformed id."""


def apply_nag(app: cdk.App, acknowledgments: tuple[NagAcknowledgment, ...] = ACKNOWLEDGMENTS) -> None:
    """Run AwsSolutions checks on every stack at synth and attach the acknowledgments to their constructs."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    stacks = [child for child in app.node.children if cdk.Stack.is_stack(child)]
    for ack in acknowledgments:
        if not ack.rule.startswith(ACK_PREFIX) or not ack.reason.strip():
            raise AcknowledgmentError(f"{ack.rule!r}: ids start with {ACK_PREFIX!r} and need a reason")
        for stack in stacks:
            if isinstance(stack, ack.stack):
                target = _find(stack, ack.path)
                cdk.Validations.of(target).acknowledge(cdk.Acknowledgment(id=ack.rule, reason=ack.reason))


def _find(stack: cdk.Stack, path: str) -> IConstruct:
    node: IConstruct = stack
    for part in path.split("/"):
        child = node.node.try_find_child(part)
        if child is None:
            raise AcknowledgmentError(f"acknowledgment path {stack.node.path}/{path} matches no construct")
        node = child
    return node
