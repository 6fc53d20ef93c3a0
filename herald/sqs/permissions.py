"""AddPermission and RemovePermission: statements in a queue's Policy, one per label (SQS
API Reference, AddPermission). Each allows "SQS:<action>" on the queue to the accounts'
root principals, at most seven actions a statement; the policy is the queue's, made on the
first permission (Version 2008-10-17, Id "<queue ARN>/SQSDefaultPolicy"), and goes once
its last statement does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from herald.errors import InvalidParameter, LimitExceeded

# Every SQS action, as AWS takes them in AddPermission ("the name of any action or *").
ACTIONS = frozenset({
    "*", "AddPermission", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
    "CreateQueue", "DeleteMessage", "DeleteMessageBatch", "DeleteQueue", "GetQueueAttributes",
    "GetQueueUrl", "ListDeadLetterSourceQueues", "ListQueueTags", "ListQueues",
    "PurgeQueue", "ReceiveMessage", "RemovePermission", "SendMessage", "SendMessageBatch",
    "SetQueueAttributes", "TagQueue", "UntagQueue", "CancelMessageMoveTask",
    "ListMessageMoveTasks", "StartMessageMoveTask",
})  # fmt: skip
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT = re.compile(r"[0-9]{12}")
# "An Amazon SQS policy can have a maximum of seven actions per statement" (AddPermission).
MAX_ACTIONS = 7


class TooManyActions(LimitExceeded):
    """More actions than a statement may have (SQS answers OverLimit, 403)."""


def _invalid(value: str, name: str, reason: str) -> InvalidParameter:
    return InvalidParameter(f"Value {value} for parameter {name} is invalid. Reason: {reason}")


def checked_label(label: str) -> str:
    if not _LABEL.fullmatch(label):
        raise _invalid(
            label,
            "Label",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.",
        )
    return label


def _statements(policy: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    document = json.loads(policy) if policy else {}
    statements = document.get("Statement", [])
    return document, statements if isinstance(statements, list) else [statements]


def added(
    policy: str, queue_arn: str, label: str, account_ids: Sequence[str], actions: Sequence[str]
) -> str:
    """``policy`` with a statement ``label`` allowing ``actions`` to the accounts; raises
    InvalidParameter for a label in use, an unknown action or a malformed account, and
    TooManyActions past MAX_ACTIONS (counted as given)."""
    if len(actions) > MAX_ACTIONS:
        raise TooManyActions(
            f"{len(actions)} Actions were found, maximum allowed is {MAX_ACTIONS}."
        )
    for action in actions:
        if action not in ACTIONS:
            raise _invalid(
                f"SQS:{action}",
                "ActionName",
                "Please refer to the appropriate WSDL for a list of valid actions.",
            )
    for account in account_ids:
        if not _ACCOUNT.fullmatch(account):
            raise _invalid(account, "AWSAccountIds", "Unable to verify.")
    document, statements = _statements(policy)
    if any(s.get("Sid") == label for s in statements):
        raise _invalid(label, "Label", "Already exists.")
    principals = [f"arn:aws:iam::{a}:root" for a in dict.fromkeys(account_ids)]
    names = [f"SQS:{a}" for a in dict.fromkeys(actions)]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": names[0] if len(names) == 1 else names,
            "Resource": queue_arn,
        }
    )
    document = {
        "Version": document.get("Version", "2008-10-17"),
        "Id": document.get("Id", f"{queue_arn}/SQSDefaultPolicy"),
        **document,
        "Statement": statements,
    }
    return json.dumps(document)


def removed(policy: str, label: str) -> str:
    """``policy`` without the statement ``label`` ("" once none is left); raises
    InvalidParameter if it has none so labelled."""
    document, statements = _statements(policy)
    kept = [s for s in statements if s.get("Sid") != label]
    if len(kept) == len(statements):
        raise _invalid(label, "Label", "can't find label.")
    return json.dumps({**document, "Statement": kept}) if kept else ""
