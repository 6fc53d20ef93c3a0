"""Policy evaluator speed: decisions per second on one core (run by hand).

    .venv/bin/python benchmarks/policy.py

Two cases, as issue 3 asks: a typical 3-statement identity policy with one condition, and
a 20-statement policy; each decided for a request it allows and one it denies. Prints the
median of five runs.
"""

from __future__ import annotations

import json
import statistics
import time

from herald.auth.policy import PolicySet, PrincipalInfo, Request, evaluate, parse_policy
from herald.auth.policy.document import Kind

ACCOUNT = "111122223333"
ALICE = PrincipalInfo(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "User", "AIDAALICE", "alice")
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:orders"


def typical() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["sns:Publish", "sns:GetTopicAttributes"],
                    "Resource": f"arn:aws:sns:us-east-1:{ACCOUNT}:*",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                },
                {"Effect": "Allow", "Action": "sns:List*", "Resource": "*"},
                {"Effect": "Deny", "Action": "sns:DeleteTopic", "Resource": "*"},
            ],
        }
    )


def large() -> str:
    statements = [
        {
            "Sid": f"S{i}",
            "Effect": "Allow",
            "Action": [f"sns:Action{i}", "sqs:Send*"],
            "Resource": f"arn:aws:sns:us-east-1:{ACCOUNT}:topic-{i}-*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        }
        for i in range(19)
    ]
    statements.append(
        {
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": TOPIC,
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        }
    )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def rate(policies: PolicySet, request: Request, seconds: float = 1.0) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            evaluate(request, policies)
        count += 200
    return count / (time.perf_counter() - start)


def main() -> None:
    context = {"aws:SecureTransport": True, "aws:SourceIp": "10.1.2.3"}
    for name, text in (("3 statements, 1 condition", typical()), ("20 statements", large())):
        policies = PolicySet(identity=(parse_policy(text, Kind.IDENTITY, "bench"),))
        for verdict, action in (("allowed", "sns:Publish"), ("denied", "sns:DeleteTopic")):
            request = Request(ALICE, action, TOPIC, ACCOUNT, context)
            assert evaluate(request, policies).allowed == (verdict == "allowed")
            runs = [rate(policies, request, 0.5) for _ in range(5)]
            print(f"{name:28} {verdict:8} {statistics.median(runs):>10,.0f} decisions/s")


if __name__ == "__main__":
    main()
