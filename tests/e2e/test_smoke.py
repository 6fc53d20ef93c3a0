"""The README quickstart, end to end, with boto3 and the AWS CLI over HTTP and HTTPS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_quickstart_with_boto3(server: Any, unique: Callable[[str], str], tls: bool) -> None:
    # Given a boto3 client pointed at Herald
    sns = server.client("sns", tls=tls)
    # When a topic is created, subscribed to and published to
    arn = sns.create_topic(Name=unique("orders"))["TopicArn"]
    sub = sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:orders-q"
    )
    message_id = sns.publish(TopicArn=arn, Message="hello")["MessageId"]
    # Then the topic and its subscription are listed and the message has an id
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [sub["SubscriptionArn"]]
    assert len(message_id) == 36


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_quickstart_with_the_aws_cli(
    aws: Callable[..., Any], unique: Callable[[str], str], tls: bool
) -> None:
    # Given the AWS CLI pointed at Herald
    name = unique("cli")
    # When a topic is created, subscribed to and published to
    arn = aws("sns", "create-topic", "--name", name, tls=tls)["TopicArn"]
    aws(
        "sns",
        "subscribe",
        "--topic-arn",
        arn,
        "--protocol",
        "email",
        "--notification-endpoint",
        "ops@example.com",
        tls=tls,
    )
    published = aws("sns", "publish", "--topic-arn", arn, "--message", "hi", tls=tls)
    # Then the CLI lists them
    topics = aws("sns", "list-topics", tls=tls)["Topics"]
    subs = aws("sns", "list-subscriptions-by-topic", "--topic-arn", arn, tls=tls)
    assert {"TopicArn": arn} in topics
    assert subs["Subscriptions"][0]["SubscriptionArn"] == "PendingConfirmation"
    assert published["MessageId"]
