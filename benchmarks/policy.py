"""Policy evaluator speed: decisions per second on one core (run by hand).

    .venv/bin/python benchmarks/policy.py

Two cases, as issue 3 asks: a typical 3-statement identity policy with one condition, and
a 20-statement policy; each decided for a request it allows and one it denies. Then the
same through ``Authorizer.decide`` as the server calls it (identity policies from a real
SQLite store, decisions answered from the decision cache). Prints the median of five runs.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from herald.auth.policy import PolicySet, PrincipalInfo, Request, evaluate, parse_policy
from herald.auth.policy.document import Kind
from herald.clock import SystemClock
from herald.iam.authorizer import Authorizer
from herald.iam.facade import IAM
from herald.iam.identities import Identities
from herald.iam.managed import Holder
from herald.store.sqlite import SQLiteStore
from herald.types import Principal, RequestContext

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


async def cached_rate(text: str, action: str, seconds: float = 0.5) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "herald.db")
        await store.open()
        try:
            clock = SystemClock()
            authorizer = Authorizer(Identities(store), clock)
            root = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AKROOT")
            admin = RequestContext(root, "us-east-1", "bench", True, True)
            iam = IAM(store, clock, authorizer)
            user = await iam.users.create_user(admin, "alice", None, [])
            policy = await iam.policies.create(admin, "bench", None, text, None, [])
            await iam.policies.attach(admin, Holder.USER, "alice", policy.arn)
            alice = Principal(ACCOUNT, user.arn, user.user_id, "AKALICE")
            ctx = RequestContext(alice, "us-east-1", "bench", True, True, "10.1.2.3")
            await authorizer.decide(ctx, action, TOPIC)
            count = 0
            start = time.perf_counter()
            while time.perf_counter() < start + seconds:
                for _ in range(200):
                    await authorizer.decide(ctx, action, TOPIC)
                count += 200
            assert authorizer.hits >= count
            return count / (time.perf_counter() - start)
        finally:
            await store.close()


def main() -> None:
    context = {"aws:SecureTransport": True, "aws:SourceIp": "10.1.2.3"}
    for name, text in (("3 statements, 1 condition", typical()), ("20 statements", large())):
        policies = PolicySet(identity=(parse_policy(text, Kind.IDENTITY, "bench"),))
        for verdict, action in (("allowed", "sns:Publish"), ("denied", "sns:DeleteTopic")):
            request = Request(ALICE, action, TOPIC, ACCOUNT, context)
            assert evaluate(request, policies).allowed == (verdict == "allowed")
            runs = [rate(policies, request, 0.5) for _ in range(5)]
            print(f"{name:28} {verdict:8} {statistics.median(runs):>10,.0f} decisions/s")
    print("through Authorizer.decide, answered from the decision cache:")
    for name, text in (("3 statements, 1 condition", typical()), ("20 statements", large())):
        for verdict, action in (("allowed", "sns:Publish"), ("denied", "sns:DeleteTopic")):
            runs = [asyncio.run(cached_rate(text, action)) for _ in range(5)]
            print(f"{name:28} {verdict:8} {statistics.median(runs):>10,.0f} decisions/s")


if __name__ == "__main__":
    main()
