"""Accounts from `herald admin`, STS GetCallerIdentity, and topic policies enforced across
accounts and on conditions, end to end."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess


def admin(server: HeraldProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", "admin", *server.store_args(), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def new_account(server: HeraldProcess) -> str:
    account = "1" + "".join(secrets.choice("0123456789") for _ in range(11))
    done = admin(server, "accounts", "create", "--account-id", account)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def client_for(server: HeraldProcess, account: str, service: str = "sns", tls: bool = False) -> Any:
    done = admin(server, "access-keys", "create", "--account-id", account)
    assert done.returncode == 0, done.stderr
    key = json.loads(done.stdout)
    return boto3.client(
        service,
        endpoint_url=server.https_url if tls else server.http_url,
        verify=server.ca_bundle if tls else None,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def denied(call: Callable[[], object]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_get_caller_identity_names_the_bootstrap_root(server: HeraldProcess) -> None:
    identity = server.client("sts").get_caller_identity()  # type: ignore[attr-defined]
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    assert identity["UserId"] == "000000000000"


def test_an_account_made_by_admin_signs_in_with_its_own_root_key(server: HeraldProcess) -> None:
    # Given an account and a root key issued by `herald admin`
    account = new_account(server)
    sts = client_for(server, account, "sts")
    # When its key asks who it is, Then it is that account's root
    identity = sts.get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == (account, f"arn:aws:iam::{account}:root")
    # And the account is listed
    assert account in admin(server, "accounts", "list").stdout.split()


def test_another_account_may_publish_only_while_the_topic_policy_allows_it(
    server: HeraldProcess, sns: Any, unique: Callable[[str], str]
) -> None:
    # Given a topic of account 000000000000 and a second account
    topic = sns.create_topic(Name=unique("shared"))["TopicArn"]
    other = new_account(server)
    theirs = client_for(server, other)
    refusal = (
        "AuthorizationError",
        403,
        f"User: arn:aws:iam::{other}:root is not authorized to perform: SNS:Publish "
        f"on resource: {topic}",
    )
    # When the other account publishes under the default policy, Then it is refused
    assert denied(lambda: theirs.publish(TopicArn=topic, Message="hi")) == refusal
    # When the owner grants it Publish, Then it may publish, and only publish
    sns.add_permission(
        TopicArn=topic, Label="partner", AWSAccountId=[other], ActionName=["Publish"]
    )
    assert theirs.publish(TopicArn=topic, Message="hi")["MessageId"]
    code, status, _ = denied(lambda: theirs.get_topic_attributes(TopicArn=topic))
    assert (code, status) == ("AuthorizationError", 403)
    # When the grant is removed, Then it is refused again
    sns.remove_permission(TopicArn=topic, Label="partner")
    assert denied(lambda: theirs.publish(TopicArn=topic, Message="hi")) == refusal


def test_a_topic_policy_can_require_tls_even_of_the_owner(
    server: HeraldProcess, sns: Any, sns_tls: Any, unique: Callable[[str], str]
) -> None:
    # Given a topic whose policy denies Publish when the request is not over TLS
    topic = sns.create_topic(Name=unique("tls-only"))["TopicArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "owner",
                "Effect": "Allow",
                "Principal": {"AWS": "000000000000"},
                "Action": "SNS:*",
                "Resource": topic,
            },
            {
                "Sid": "tls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "SNS:Publish",
                "Resource": topic,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy)
    )
    # When the owner publishes over HTTP, Then the explicit deny wins
    code, status, _ = denied(lambda: sns.publish(TopicArn=topic, Message="plain"))
    assert (code, status) == ("AuthorizationError", 403)
    # When it publishes over HTTPS, Then it is allowed
    assert sns_tls.publish(TopicArn=topic, Message="sealed")["MessageId"]


def test_a_subscription_of_another_account_needs_the_topic_policy(
    server: HeraldProcess, sns: Any, unique: Callable[[str], str]
) -> None:
    # Given a topic and another account that may subscribe only with a grant
    topic = sns.create_topic(Name=unique("subs"))["TopicArn"]
    other = new_account(server)
    theirs = client_for(server, other)
    queue = f"arn:aws:sqs:{REGION}:{other}:inbox"
    code, _, _ = denied(lambda: theirs.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue))
    assert code == "AuthorizationError"
    # When the owner grants Subscribe, Then the other account subscribes its queue
    sns.add_permission(TopicArn=topic, Label="sub", AWSAccountId=[other], ActionName=["Subscribe"])
    arn = theirs.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    # And the subscriber owns it: it reads and removes it, the topic owner sees it listed
    assert theirs.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["Owner"] == other
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Owner"] for s in listed] == [other]
    theirs.unsubscribe(SubscriptionArn=arn)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["accounts", "create", "--account-id", "12345"], "12 digits"),
        (["access-keys", "create", "--account-id", "999999999999"], "no account"),
        (["access-keys", "create", "--account-id", "000000000000"], "HERALD_ROOT_ACCESS_KEY_ID"),
    ],
)
def test_admin_refuses_in_one_line(server: HeraldProcess, args: list[str], message: str) -> None:
    done = admin(server, *args)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_admin_refuses_an_existing_account(server: HeraldProcess) -> None:
    account = new_account(server)
    done = admin(server, "accounts", "create", "--account-id", account)
    assert (done.returncode, "exists already" in done.stderr) == (2, True)
