"""Key policies: the default AWS writes, the AWS managed key's, and the checks PutKeyPolicy
makes ("Default key policy", "AWS managed keys", the policy lockout safety check)."""

from __future__ import annotations

import json

from herald.auth.policy import Policy, parse_policy
from herald.auth.policy.document import Kind
from herald.errors import LimitExceeded, MalformedPolicy

MAX_POLICY_BYTES = 32 * 1024


def default_policy(account: str) -> str:
    """The key policy CreateKey writes when none is given: the account's IAM decides."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def managed_policy(account: str, region: str, service: str) -> str:
    """The policy of the AWS managed key alias/aws/<service>: any principal of the account
    may use it, but only through the service; the account may read its metadata."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service.upper()} for all principals in "
                    f"the account that are authorized to use {service.upper()}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Decrypt",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:ListGrants",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def checked(text: str | None) -> tuple[str, Policy]:
    """A key policy as given, parsed; raises MalformedPolicy, LimitExceeded."""
    if text is None or not text.strip():
        raise MalformedPolicy("The new key policy is not valid JSON or is empty.")
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise LimitExceeded(f"The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes.")
    return text, parse_policy(text, Kind.RESOURCE, "key policy")
