"""Topic access policies: the default document AWS writes, and AddPermission's edits."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from herald.errors import InvalidParameter

MAX_POLICY_BYTES = 30_720
_ACCOUNT = re.compile(r"[0-9]{12}")
DEFAULT_ACTIONS = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
]

# The actions AddPermission may grant (SNS API reference, AddPermission: "Any Amazon SNS
# action name").
GRANTABLE_ACTIONS = frozenset(
    {
        "AddPermission",
        "ConfirmSubscription",
        "CreateTopic",
        "DeleteTopic",
        "GetDataProtectionPolicy",
        "GetSubscriptionAttributes",
        "GetTopicAttributes",
        "ListSubscriptions",
        "ListSubscriptionsByTopic",
        "ListTagsForResource",
        "ListTopics",
        "Publish",
        "PutDataProtectionPolicy",
        "Receive",
        "RemovePermission",
        "SetSubscriptionAttributes",
        "SetTopicAttributes",
        "Subscribe",
        "TagResource",
        "Unsubscribe",
        "UntagResource",
    }
)


def default_policy(topic_arn: str, account_id: str) -> str:
    document = {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": DEFAULT_ACTIONS,
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
            }
        ],
    }
    return json.dumps(document, separators=(",", ":"))


def add_permission(
    policy: str,
    topic_arn: str,
    label: str,
    account_ids: Sequence[str],
    actions: Sequence[str],
) -> str:
    """Return ``policy`` with a statement ``label`` allowing ``actions`` to the accounts."""
    if not account_ids:
        raise InvalidParameter("Invalid parameter: AWSAccountId")
    if not actions:
        raise InvalidParameter("Invalid parameter: ActionName")
    for action in actions:
        if action not in GRANTABLE_ACTIONS:
            raise InvalidParameter(
                "Invalid parameter: Policy statement action out of service scope!"
            )
    for account in account_ids:
        if not _ACCOUNT.fullmatch(account) and account != "*":
            raise InvalidParameter("Invalid parameter: A provided account ID is not valid")
    document = _load(policy)
    statements = _statements(document)
    if any(s.get("Sid") == label for s in statements):
        raise InvalidParameter("Invalid parameter: Statement already exists")
    principals = [a if a == "*" else f"arn:aws:iam::{a}:root" for a in account_ids]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": [f"SNS:{a}" for a in actions] if len(actions) > 1 else f"SNS:{actions[0]}",
            "Resource": topic_arn,
        }
    )
    document["Statement"] = statements
    result = json.dumps(document, separators=(",", ":"))
    if len(result) > MAX_POLICY_BYTES:
        raise InvalidParameter(
            f"Invalid parameter: Policy Reason: the policy would be over {MAX_POLICY_BYTES} bytes"
        )
    return result


def remove_permission(policy: str, label: str) -> str:
    """Return ``policy`` without the statement ``label``."""
    document = _load(policy)
    statements = _statements(document)
    # Removing a label that is not there is not an error in SNS.
    document["Statement"] = [s for s in statements if s.get("Sid") != label]
    return json.dumps(document, separators=(",", ":"))


def _load(policy: str) -> dict[str, Any]:
    document = json.loads(policy)
    if not isinstance(document, dict):
        raise InvalidParameter("Invalid parameter: Policy")
    return document


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict)]
