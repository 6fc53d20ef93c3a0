"""Topics end to end: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes,
Add/RemovePermission and tagging, driven by boto3 and the AWS CLI against a real server.

Expected codes, statuses, messages and attribute sets are AWS's, as recorded against real
AWS (see the SNS behaviour reference: CreateTopic, topic ARNs, SetTopicAttributes, tags,
permissions and GetTopicAttributes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import ACCESS_KEY_ID

Unique = Callable[[str], str]
Operation = Callable[[Any, str], object]

PAGE_SIZE = 100
MAX_TAGS = 50

DEFAULT_RETRY_POLICY = (
    '{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,'
    '"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"}'
)
DEFAULT_EFFECTIVE_DELIVERY_POLICY = (
    '{"http":{"defaultHealthyRetryPolicy":' + DEFAULT_RETRY_POLICY + ","
    '"disableSubscriptionOverrides":false,'
    '"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}'
)
JSON_REQUEST_POLICY = '{"http":{"defaultRequestPolicy":{"headerContentType":"application/json"}}}'
JSON_REQUEST_POLICY_STORED = (
    '{"http":{"disableSubscriptionOverrides":false,'
    '"defaultRequestPolicy":{"headerContentType":"application/json"}}}'
)
JSON_REQUEST_POLICY_EFFECTIVE = (
    '{"http":{"defaultHealthyRetryPolicy":' + DEFAULT_RETRY_POLICY + ","
    '"disableSubscriptionOverrides":false,'
    '"defaultRequestPolicy":{"headerContentType":"application/json"}}}'
)
RETRY_POLICY = (
    '{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":6,"numRetries":1}}}'
)
RETRY_POLICY_STORED = (
    '{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":6,"numRetries":1},'
    '"disableSubscriptionOverrides":false}}'
)
RETRY_POLICY_EFFECTIVE = (
    '{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":6,"numRetries":1,'
    '"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,'
    '"backoffFunction":"linear"},"disableSubscriptionOverrides":false,'
    '"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}'
)
TOO_MANY_RETRIES_POLICY = (
    '{"http":{"defaultHealthyRetryPolicy":'
    '{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":101}}}'
)

TOPIC_NAME_ERROR = ("InvalidParameter", 400, "Invalid parameter: Topic Name")
DIFFERENT_ATTRIBUTES_ERROR = (
    "InvalidParameter",
    400,
    "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
)
DIFFERENT_TAGS_ERROR = (
    "InvalidParameter",
    400,
    "Invalid parameter: Tags Reason: Topic already exists with different tags",
)
TAG_LIMIT_ERROR = (
    "TagLimitExceeded",
    400,
    "Could not complete request: tag quota of per resource exceeded",
)
NOT_FOUND_ERROR = ("NotFound", 404, "Topic does not exist")
RESOURCE_NOT_FOUND_ERROR = ("ResourceNotFound", 404, "Resource does not exist")
ATTRIBUTE_NAME_ERROR = ("InvalidParameter", 400, "Invalid parameter: AttributeName")


# -- helpers ---------------------------------------------------------------------------


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a botocore ClientError."""
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def regional_client(server: Any, region: str) -> Any:
    """A boto3 SNS client signing for ``region`` (the harness's clients sign for us-east-1)."""
    session = boto3.Session(
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=server.secret,
        region_name=region,
    )
    return session.client(
        "sns", endpoint_url=server.http_url, config=Config(retries={"total_max_attempts": 1})
    )


def default_policy(arn: str) -> str:
    """The access policy AWS gives every new topic, as the compact string AWS returns."""
    account = account_of(arn)
    return (
        '{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{'
        '"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},'
        '"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission",'
        '"SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe",'
        '"SNS:ListSubscriptionsByTopic","SNS:Publish"],'
        f'"Resource":"{arn}",'
        f'"Condition":{{"StringEquals":{{"AWS:SourceOwner":"{account}"}}}}}}]}}'
    )


def standard_attributes(arn: str, **overrides: str) -> dict[str, str]:
    """GetTopicAttributes of a new standard topic with no subscriptions."""
    return {
        "DisplayName": "",
        "EffectiveDeliveryPolicy": DEFAULT_EFFECTIVE_DELIVERY_POLICY,
        "Owner": account_of(arn),
        "Policy": default_policy(arn),
        "SubscriptionsConfirmed": "0",
        "SubscriptionsDeleted": "0",
        "SubscriptionsPending": "0",
        "TopicArn": arn,
        **overrides,
    }


def attributes_of(sns: Any, arn: str) -> dict[str, str]:
    return dict(sns.get_topic_attributes(TopicArn=arn)["Attributes"])


def tags_of(sns: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}


def list_all_topics(sns: Any) -> list[dict[str, str]]:
    return [t for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]


def list_all_subscriptions(sns: Any) -> list[dict[str, str]]:
    paginator = sns.get_paginator("list_subscriptions")
    return [s for page in paginator.paginate() for s in page["Subscriptions"]]


def statements_of(sns: Any, arn: str) -> list[dict[str, Any]]:
    return list(json.loads(attributes_of(sns, arn)["Policy"])["Statement"])


def tag_list(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in mapping.items()]


def missing_arn(topic: str, unique: Unique) -> str:
    """A well-formed ARN, in the topic's region and account, of a topic that never existed."""
    region, account = topic.split(":")[3:5]
    return f"arn:aws:sns:{region}:{account}:{unique('missing')}"


TOPIC_OPERATIONS: dict[str, Operation] = {
    "GetTopicAttributes": lambda sns, arn: sns.get_topic_attributes(TopicArn=arn),
    "SetTopicAttributes": lambda sns, arn: sns.set_topic_attributes(
        TopicArn=arn, AttributeName="DisplayName", AttributeValue="changed"
    ),
    "DeleteTopic": lambda sns, arn: sns.delete_topic(TopicArn=arn),
    "ListSubscriptionsByTopic": lambda sns, arn: sns.list_subscriptions_by_topic(TopicArn=arn),
    "AddPermission": lambda sns, arn: sns.add_permission(
        TopicArn=arn, Label="grant", AWSAccountId=["123456789012"], ActionName=["Publish"]
    ),
    "RemovePermission": lambda sns, arn: sns.remove_permission(TopicArn=arn, Label="grant"),
}


def operations(*names: str) -> list[Any]:
    return [pytest.param(TOPIC_OPERATIONS[n], id=n) for n in names]


# -- CreateTopic: names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "attributes", "suffix"),
    [
        pytest.param(1, {}, "", id="one-char"),
        pytest.param(256, {}, "", id="standard-256-chars"),
        pytest.param(256, {"FifoTopic": "true"}, ".fifo", id="fifo-256-chars-with-suffix"),
    ],
)
def test_create_topic_accepts_names_up_to_256_characters(
    sns: Any, unique: Unique, length: int, attributes: dict[str, str], suffix: str
) -> None:
    # Given a valid name of the given length ([A-Za-z0-9_-], plus .fifo for FIFO)
    stem = unique("n_-N9")[: length - len(suffix)]
    name = stem.ljust(length - len(suffix), "a") + suffix
    assert len(name) == length
    # When the topic is created
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    # Then its ARN ends with that exact name
    assert arn.split(":")[-1] == name
    assert arn.split(":")[:5] == ["arn", "aws", "sns", "us-east-1", account_of(arn)]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * 257, id="257-chars"),
        *[
            pytest.param(f"bad{char}name", id=f"char-{char!r}")
            for char in (":", ";", "!", "@", "|", "^", "%", " ", ".")
        ],
    ],
)
def test_create_topic_refuses_invalid_names(sns: Any, name: str) -> None:
    # Given a name that is empty, too long or has a character outside [A-Za-z0-9_-]
    # When a standard topic is created with it
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=name)
    # Then AWS's Topic Name error comes back
    assert error_of(raised) == TOPIC_NAME_ERROR


@pytest.mark.parametrize(
    ("suffix", "attributes"),
    [
        pytest.param(".fifo", {}, id="fifo-suffix-without-FifoTopic"),
        pytest.param(".fifo", {"FifoTopic": "false"}, id="fifo-suffix-with-FifoTopic-false"),
        pytest.param("", {"FifoTopic": "true"}, id="FifoTopic-without-fifo-suffix"),
    ],
)
def test_create_topic_refuses_mismatched_fifo_naming(
    sns: Any, unique: Unique, suffix: str, attributes: dict[str, str]
) -> None:
    # Given a name whose .fifo suffix disagrees with the FifoTopic attribute
    name = unique("orders") + suffix
    # When the topic is created
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=name, Attributes=attributes)
    # Then the name is refused
    assert error_of(raised) == TOPIC_NAME_ERROR


def test_create_fifo_topic_with_fifo_suffix(sns: Any, unique: Unique) -> None:
    # Given a .fifo name and FifoTopic=true
    name = unique("orders") + ".fifo"
    # When the topic is created
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"]
    # Then it is a FIFO topic under that name
    assert arn.endswith(":" + name)
    assert attributes_of(sns, arn)["FifoTopic"] == "true"


def test_create_existing_standard_name_as_fifo_is_refused(sns: Any, topic: str) -> None:
    # Given an existing standard topic
    name = topic.split(":")[-1]
    # When the same name is created again as a FIFO topic
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})
    # Then the name is refused and the topic stays standard
    assert error_of(raised) == TOPIC_NAME_ERROR
    assert "FifoTopic" not in attributes_of(sns, topic)


# -- CreateTopic: idempotency ----------------------------------------------------------


@pytest.mark.parametrize(
    "again",
    [
        pytest.param(None, id="no-attributes"),
        pytest.param({}, id="empty-attributes"),
        pytest.param({"DisplayName": "Value1"}, id="same-attributes"),
        pytest.param({"FifoTopic": "false"}, id="FifoTopic-false"),
    ],
)
def test_create_topic_again_with_compatible_attributes_returns_same_arn(
    sns: Any, unique: Unique, again: dict[str, str] | None
) -> None:
    # Given a topic created with DisplayName=Value1
    name = unique("idem")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Value1"})["TopicArn"]
    # When it is created again with no, the same, or FifoTopic=false attributes
    kwargs = {} if again is None else {"Attributes": again}
    again_arn = sns.create_topic(Name=name, **kwargs)["TopicArn"]
    # Then the same topic comes back, unchanged
    assert again_arn == arn
    assert attributes_of(sns, arn) == standard_attributes(arn, DisplayName="Value1")


@pytest.mark.parametrize(
    "again",
    [
        pytest.param({"DisplayName": "Value2"}, id="different-value"),
        pytest.param({"SignatureVersion": "2"}, id="attribute-not-set-before"),
        pytest.param({"DisplayName": "Value1", "SignatureVersion": "2"}, id="same-plus-new"),
    ],
)
def test_create_topic_again_with_different_attributes_is_refused(
    sns: Any, unique: Unique, again: dict[str, str]
) -> None:
    # Given a topic created with DisplayName=Value1
    name = unique("idem")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Value1"})["TopicArn"]
    # When it is created again with attributes that differ
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=name, Attributes=again)
    # Then the request is refused and the topic keeps its attributes
    assert error_of(raised) == DIFFERENT_ATTRIBUTES_ERROR
    assert attributes_of(sns, arn) == standard_attributes(arn, DisplayName="Value1")


@pytest.mark.parametrize(
    "again",
    [
        pytest.param({"key1": "value1", "key2": "value2"}, id="same-tags"),
        pytest.param({"key1": "value1"}, id="subset"),
        pytest.param({}, id="no-tags"),
    ],
)
def test_create_topic_again_with_same_or_fewer_tags_returns_same_arn(
    sns: Any, unique: Unique, again: dict[str, str]
) -> None:
    # Given a topic created with two tags
    name = unique("idem")
    original = {"key1": "value1", "key2": "value2"}
    arn = sns.create_topic(Name=name, Tags=tag_list(original))["TopicArn"]
    # When it is created again with the same tags, a subset, or none
    again_arn = sns.create_topic(Name=name, Tags=tag_list(again))["TopicArn"]
    # Then the same topic comes back with its tags unchanged
    assert again_arn == arn
    assert tags_of(sns, arn) == original


@pytest.mark.parametrize(
    ("original", "again"),
    [
        pytest.param({}, {"key1": "value1"}, id="untagged-topic"),
        pytest.param({"key1": "value1"}, {"key1": "value1", "key2": "value2"}, id="superset"),
    ],
)
def test_create_topic_again_with_more_tags_is_refused(
    sns: Any, unique: Unique, original: dict[str, str], again: dict[str, str]
) -> None:
    # Given a topic with some tags (or none)
    name = unique("idem")
    arn = sns.create_topic(Name=name, Tags=tag_list(original))["TopicArn"]
    # When it is created again with more tags than it has
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=name, Tags=tag_list(again))
    # Then the request is refused and the tags stay as they were
    assert error_of(raised) == DIFFERENT_TAGS_ERROR
    assert tags_of(sns, arn) == original


def test_create_fifo_topic_again_returns_same_arn(sns: Any, unique: Unique) -> None:
    # Given a FIFO topic
    name = unique("idem") + ".fifo"
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"]
    # When it is created again the same way
    again = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"]
    # Then the same topic comes back
    assert again == arn


def test_create_topic_after_delete_with_new_tags(sns: Any, unique: Unique) -> None:
    # Given a tagged topic that was deleted
    name = unique("reborn")
    arn = sns.create_topic(Name=name, Tags=[{"Key": "old", "Value": "1"}])["TopicArn"]
    sns.delete_topic(TopicArn=arn)
    # When a topic of the same name is created with other tags
    again = sns.create_topic(Name=name, Tags=[{"Key": "new", "Value": "2"}])["TopicArn"]
    # Then it has the same ARN and only the new tags
    assert again == arn
    assert tags_of(sns, arn) == {"new": "2"}


# -- CreateTopic: attributes and tags --------------------------------------------------


def test_create_topic_with_attributes_and_tags(sns: Any, unique: Unique) -> None:
    # Given attributes and tags for a new topic
    attributes = {
        "DisplayName": "Orders",
        "SignatureVersion": "2",
        "DeliveryPolicy": JSON_REQUEST_POLICY,
    }
    tags = {"team": "payments", "env": "test"}
    # When the topic is created with them
    arn = sns.create_topic(Name=unique("attrs"), Attributes=attributes, Tags=tag_list(tags))[
        "TopicArn"
    ]
    # Then they are shown, the delivery policy normalised as AWS stores it
    assert attributes_of(sns, arn) == standard_attributes(
        arn,
        DisplayName="Orders",
        SignatureVersion="2",
        DeliveryPolicy=JSON_REQUEST_POLICY_STORED,
        EffectiveDeliveryPolicy=JSON_REQUEST_POLICY_EFFECTIVE,
    )
    assert tags_of(sns, arn) == tags


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        pytest.param(
            {
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "*"},
                                "Action": "sqs:SendMessage",
                                "Resource": "*",
                            }
                        ],
                    }
                )
            },
            "Invalid parameter: Attributes Reason: Policy statement action out of service scope!",
            id="policy-action-out-of-scope",
        ),
        pytest.param(
            {"SQSSuccessFeedbackSampleRate": "500"},
            "Invalid parameter: Attributes Reason: SQSSuccessFeedbackSampleRate: 500 value "
            "provided is not an integer between 0-100",
            id="sample-rate-500",
        ),
        pytest.param(
            {"DeliveryPolicy": TOO_MANY_RETRIES_POLICY},
            "Invalid parameter: Attributes Reason: DeliveryPolicy: "
            "http.defaultHealthyRetryPolicy.numRetries must be less than or equal to 100",
            id="delivery-policy-101-retries",
        ),
    ],
)
def test_create_topic_refuses_invalid_attributes(
    sns: Any, topic: str, unique: Unique, attributes: dict[str, str], message: str
) -> None:
    # Given an attribute value AWS refuses
    name = unique("bad-attrs")
    # When a topic is created with it
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=name, Attributes=attributes)
    # Then the reason is given and no topic exists
    assert error_of(raised) == ("InvalidParameter", 400, message)
    with pytest.raises(ClientError) as lookup:
        sns.get_topic_attributes(TopicArn=topic.rsplit(":", 1)[0] + ":" + name)
    assert error_of(lookup) == NOT_FOUND_ERROR


def test_create_topic_with_51_tags_is_refused(sns: Any, unique: Unique) -> None:
    # Given 51 tags
    tags = {f"key{i}": f"value{i}" for i in range(MAX_TAGS + 1)}
    # When a topic is created with them
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=unique("many-tags"), Tags=tag_list(tags))
    # Then the tag quota is reported
    assert error_of(raised) == TAG_LIMIT_ERROR


def test_create_topic_with_50_tags(sns: Any, unique: Unique) -> None:
    # Given exactly 50 tags
    tags = {f"key{i}": f"value{i}" for i in range(MAX_TAGS)}
    # When a topic is created with them
    arn = sns.create_topic(Name=unique("fifty-tags"), Tags=tag_list(tags))["TopicArn"]
    # Then all 50 are kept
    assert tags_of(sns, arn) == tags


def test_create_topic_with_long_tag_key_is_refused(sns: Any, unique: Unique) -> None:
    # Given a tag key of 129 characters
    key = "k" * 129
    # When a topic is created with it
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=unique("long-key"), Tags=[{"Key": key, "Value": "v"}])
    # Then AWS's model-constraint error names the key
    assert error_of(raised) == (
        "ValidationError",
        400,
        f"1 validation error detected: Value '{key}' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must have length less than or equal to 128",
    )


# -- DeleteTopic -----------------------------------------------------------------------


def test_delete_topic_is_idempotent(sns: Any, topic: str) -> None:
    # Given an existing topic
    # When it is deleted twice
    sns.delete_topic(TopicArn=topic)
    second = sns.delete_topic(TopicArn=topic)
    # Then both succeed and the topic is gone
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as raised:
        sns.get_topic_attributes(TopicArn=topic)
    assert error_of(raised) == NOT_FOUND_ERROR
    assert topic not in [t["TopicArn"] for t in list_all_topics(sns)]


def test_delete_topic_that_never_existed_succeeds(sns: Any, topic: str, unique: Unique) -> None:
    # Given a well-formed ARN of a topic that never existed
    arn = missing_arn(topic, unique)
    # When it is deleted
    response = sns.delete_topic(TopicArn=arn)
    # Then the call succeeds
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_topic_removes_its_subscriptions(sns: Any, topic: str, unique: Unique) -> None:
    # Given a topic with a confirmed and a pending subscription
    queue = f"arn:aws:sqs:us-east-1:{account_of(topic)}:{unique('q')}"
    confirmed = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    # When the topic is deleted
    sns.delete_topic(TopicArn=topic)
    # Then no subscription of it is listed any more
    listed = list_all_subscriptions(sns)
    assert [s for s in listed if s["TopicArn"] == topic] == []
    assert confirmed not in [s["SubscriptionArn"] for s in listed]
    with pytest.raises(ClientError) as raised:
        sns.list_subscriptions_by_topic(TopicArn=topic)
    assert error_of(raised) == NOT_FOUND_ERROR


def test_delete_topic_removes_its_tags(sns: Any, unique: Unique) -> None:
    # Given a tagged topic
    name = unique("tagged")
    arn = sns.create_topic(Name=name, Tags=[{"Key": "team", "Value": "ops"}])["TopicArn"]
    # When it is deleted
    sns.delete_topic(TopicArn=arn)
    # Then its tags are gone with it: they cannot be listed, and a new topic of the
    # same name starts untagged
    with pytest.raises(ClientError) as raised:
        sns.list_tags_for_resource(ResourceArn=arn)
    assert error_of(raised) == RESOURCE_NOT_FOUND_ERROR
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    assert tags_of(sns, arn) == {}


# -- ListTopics ------------------------------------------------------------------------


def test_list_topics_pages_through_every_topic_exactly_once(server: Any, unique: Unique) -> None:
    # Given 205 topics in a region no other test uses
    sns = regional_client(server, "eu-west-3")
    created = {
        sns.create_topic(Name=unique(f"page-{i:03d}"))["TopicArn"] for i in range(2 * PAGE_SIZE + 5)
    }
    assert all(arn.startswith("arn:aws:sns:eu-west-3:") for arn in created)
    # When ListTopics is followed through its NextTokens
    pages: list[list[str]] = []
    tokens: list[str | None] = []
    kwargs: dict[str, str] = {}
    while True:
        response = sns.list_topics(**kwargs)
        pages.append([t["TopicArn"] for t in response["Topics"]])
        tokens.append(response.get("NextToken"))
        if "NextToken" not in response:
            break
        kwargs = {"NextToken": response["NextToken"]}
    # Then pages of 100 carry a NextToken, the last does not, and every topic of the
    # region is listed exactly once
    assert [len(p) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 5]
    assert [t is not None for t in tokens] == [True, True, False]
    listed = [arn for page in pages for arn in page]
    assert len(listed) == len(set(listed))
    assert set(listed) == created


def test_list_topics_shows_only_the_regions_topics(server: Any, sns: Any, topic: str) -> None:
    # Given a topic in us-east-1
    # When topics are listed in another region
    listed = list_all_topics(regional_client(server, "ap-southeast-2"))
    # Then the us-east-1 topic is not among them
    assert topic not in [t["TopicArn"] for t in listed]
    assert topic in [t["TopicArn"] for t in list_all_topics(sns)]


# -- GetTopicAttributes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [pytest.param({}, id="plain"), pytest.param({"FifoTopic": "false"}, id="FifoTopic-false")],
)
def test_standard_topic_attributes(sns: Any, unique: Unique, attributes: dict[str, str]) -> None:
    # Given a new standard topic
    arn = sns.create_topic(Name=unique("std"), Attributes=attributes)["TopicArn"]
    # When its attributes are read
    shown = attributes_of(sns, arn)
    # Then exactly AWS's key set and default values come back
    assert shown == standard_attributes(arn)
    assert sorted(shown) == [
        "DisplayName",
        "EffectiveDeliveryPolicy",
        "Owner",
        "Policy",
        "SubscriptionsConfirmed",
        "SubscriptionsDeleted",
        "SubscriptionsPending",
        "TopicArn",
    ]


@pytest.mark.parametrize(
    ("attributes", "deduplication"),
    [
        pytest.param({"FifoTopic": "true"}, "false", id="default"),
        pytest.param(
            {"FifoTopic": "true", "ContentBasedDeduplication": "true"},
            "true",
            id="content-based-deduplication",
        ),
    ],
)
def test_fifo_topic_attributes(
    sns: Any, unique: Unique, attributes: dict[str, str], deduplication: str
) -> None:
    # Given a new FIFO topic
    arn = sns.create_topic(Name=unique("fifo") + ".fifo", Attributes=attributes)["TopicArn"]
    # When its attributes are read
    shown = attributes_of(sns, arn)
    # Then the standard set plus FifoTopic and ContentBasedDeduplication come back
    assert shown == standard_attributes(
        arn, FifoTopic="true", ContentBasedDeduplication=deduplication
    )


def test_topic_attributes_count_confirmed_and_pending_subscriptions(
    sns: Any, topic: str, unique: Unique
) -> None:
    # Given two sqs subscriptions (confirmed at once) and one email subscription (pending)
    account = account_of(topic)
    for _ in range(2):
        queue = f"arn:aws:sqs:us-east-1:{account}:{unique('q')}"
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    # When the topic's attributes are read
    shown = attributes_of(sns, topic)
    # Then the counts are real
    assert shown == standard_attributes(
        topic, SubscriptionsConfirmed="2", SubscriptionsPending="1", SubscriptionsDeleted="0"
    )


# -- SetTopicAttributes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DisplayName", "Orders & Returns"),
        ("DisplayName", ""),
        ("SignatureVersion", "2"),
        ("SignatureVersion", "1"),
        ("TracingConfig", "Active"),
        ("TracingConfig", "PassThrough"),
        ("KmsMasterKeyId", "alias/aws/sns"),
    ],
)
def test_set_topic_attribute_is_shown(sns_tls: Any, topic: str, name: str, value: str) -> None:
    # Given a new standard topic
    # When one attribute is set (over HTTPS: an encrypted topic is spoken to only so)
    sns_tls.set_topic_attributes(TopicArn=topic, AttributeName=name, AttributeValue=value)
    # Then it is shown with that value and nothing else changes
    assert attributes_of(sns_tls, topic) == standard_attributes(topic, **{name: value})


def test_set_display_name_replaces_the_previous_one(sns: Any, topic: str) -> None:
    # Given a topic with a display name
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="Old")
    # When a new one is set
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="New")
    # Then the new one is shown
    assert attributes_of(sns, topic)["DisplayName"] == "New"


def test_set_kms_master_key_id_then_clear_it(sns: Any, sns_tls: Any, topic: str) -> None:
    # Given a topic encrypted with a KMS key
    key = "arn:aws:kms:us-east-1:" + account_of(topic) + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
    sns_tls.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=key)
    assert attributes_of(sns_tls, topic)["KmsMasterKeyId"] == key
    # When the key is set to ""
    sns_tls.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue="")
    # Then encryption is off: the attribute is gone, as on a new topic, and plain HTTP
    # may speak about it again
    assert attributes_of(sns, topic) == standard_attributes(topic)


def test_set_policy_replaces_the_default_policy(sns: Any, topic: str) -> None:
    # Given a policy document of our own
    document = {
        "Version": "2012-10-17",
        "Id": "custom",
        "Statement": [
            {
                "Sid": "publishers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_of(topic)}:root"},
                "Action": ["SNS:Publish", "SNS:Subscribe"],
                "Resource": topic,
            }
        ],
    }
    # When it is set as the topic's Policy
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(document)
    )
    # Then GetTopicAttributes returns that document
    assert json.loads(attributes_of(sns, topic)["Policy"]) == document


def test_set_invalid_policy_is_refused(sns: Any, topic: str) -> None:
    # Given a topic with the default policy
    # When a Policy that is not JSON is set
    with pytest.raises(ClientError) as raised:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue="policy")
    # Then AWS's (Java-flavoured) message comes back and the policy is unchanged
    assert error_of(raised) == ("InvalidParameter", 400, "Invalid parameter: Policy Error: null")
    assert attributes_of(sns, topic)["Policy"] == default_policy(topic)


@pytest.mark.parametrize(
    ("given", "stored", "effective"),
    [
        pytest.param(
            JSON_REQUEST_POLICY,
            JSON_REQUEST_POLICY_STORED,
            JSON_REQUEST_POLICY_EFFECTIVE,
            id="request-policy",
        ),
        pytest.param(RETRY_POLICY, RETRY_POLICY_STORED, RETRY_POLICY_EFFECTIVE, id="retry-policy"),
        pytest.param(
            '{"http":{"defaultHealthyRetryPolicy":null}}',
            '{"http":{"disableSubscriptionOverrides":false}}',
            DEFAULT_EFFECTIVE_DELIVERY_POLICY,
            id="null-retry-policy",
        ),
    ],
)
def test_set_delivery_policy_is_normalised(
    sns: Any, topic: str, given: str, stored: str, effective: str
) -> None:
    # Given a topic without a delivery policy
    # When a DeliveryPolicy is set
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=given)
    # Then it is stored in AWS's normal form and merged over the defaults
    assert attributes_of(sns, topic) == standard_attributes(
        topic, DeliveryPolicy=stored, EffectiveDeliveryPolicy=effective
    )


def test_set_delivery_policy_replaces_rather_than_merges(sns: Any, topic: str) -> None:
    # Given a topic whose delivery policy sets a request policy
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=JSON_REQUEST_POLICY
    )
    # When a delivery policy with only a retry policy is set
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=RETRY_POLICY
    )
    # Then the request policy is gone: the new policy replaced the old one
    shown = attributes_of(sns, topic)
    assert shown["DeliveryPolicy"] == RETRY_POLICY_STORED
    assert shown["EffectiveDeliveryPolicy"] == RETRY_POLICY_EFFECTIVE


def test_set_empty_delivery_policy_removes_it(sns: Any, topic: str) -> None:
    # Given a topic with a delivery policy
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=RETRY_POLICY
    )
    # When DeliveryPolicy is set to ""
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue="")
    # Then the attribute disappears and the effective policy is the default again
    assert attributes_of(sns, topic) == standard_attributes(topic)


def test_set_delivery_policy_with_too_many_retries_is_refused(sns: Any, topic: str) -> None:
    # Given a topic
    # When a delivery policy asks for 101 retries
    with pytest.raises(ClientError) as raised:
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=TOO_MANY_RETRIES_POLICY
        )
    # Then the limit is named, without CreateTopic's "Attributes Reason:" wording
    assert error_of(raised) == (
        "InvalidParameter",
        400,
        "Invalid parameter: DeliveryPolicy: http.defaultHealthyRetryPolicy.numRetries must be "
        "less than or equal to 100",
    )


def test_set_unknown_attribute_is_refused(sns: Any, topic: str) -> None:
    # Given a topic
    # When an attribute SNS does not have is set
    with pytest.raises(ClientError) as raised:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Colour", AttributeValue="blue")
    # Then the attribute name is refused and nothing is added
    assert error_of(raised) == ATTRIBUTE_NAME_ERROR
    assert attributes_of(sns, topic) == standard_attributes(topic)


@pytest.mark.parametrize(
    ("fifo", "value"),
    [
        pytest.param(False, "false", id="standard-false"),
        pytest.param(False, "true", id="standard-true"),
        pytest.param(True, "true", id="fifo-true"),
        pytest.param(True, "false", id="fifo-false"),
    ],
)
def test_set_fifo_topic_is_refused(sns: Any, unique: Unique, fifo: bool, value: str) -> None:
    # Given a standard or FIFO topic
    if fifo:
        arn = sns.create_topic(Name=unique("f") + ".fifo", Attributes={"FifoTopic": "true"})
    else:
        arn = sns.create_topic(Name=unique("s"))
    arn = arn["TopicArn"]
    before = attributes_of(sns, arn)
    # When FifoTopic is set, to any value
    with pytest.raises(ClientError) as raised:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="FifoTopic", AttributeValue=value)
    # Then it is refused as an attribute that cannot be set, and the topic is unchanged
    assert error_of(raised) == ATTRIBUTE_NAME_ERROR
    assert attributes_of(sns, arn) == before


# -- topic ARNs: malformed, other region, missing --------------------------------------


@pytest.mark.parametrize(
    ("arn", "elements"),
    [
        pytest.param("", 1, id="empty"),
        pytest.param("test-topic", 1, id="name-only"),
        pytest.param("randomstring:1", 2, id="two-parts"),
        pytest.param("123456789012Invalid:Topic:Arn", 3, id="three-parts"),
        pytest.param("arn:aws:sns:us-east-1:random", 5, id="five-parts"),
    ],
)
@pytest.mark.parametrize("operation", operations(*TOPIC_OPERATIONS))
def test_malformed_topic_arn_is_refused(
    sns: Any, operation: Operation, arn: str, elements: int
) -> None:
    # Given a topic ARN with fewer than 6 colon-separated elements
    # When a topic operation is called with it
    with pytest.raises(ClientError) as raised:
        operation(sns, arn)
    # Then the element count is reported
    assert error_of(raised) == (
        "InvalidParameter",
        400,
        f"Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not {elements}",
    )


@pytest.mark.parametrize(
    "operation",
    operations(
        "GetTopicAttributes", "SetTopicAttributes", "DeleteTopic", "ListSubscriptionsByTopic"
    ),
)
def test_topic_arn_of_another_region_is_refused(
    server: Any, sns: Any, topic: str, operation: Operation
) -> None:
    # Given a topic in us-east-1 and a client signing for eu-west-2
    elsewhere = regional_client(server, "eu-west-2")
    # When the us-east-1 topic is addressed through the eu-west-2 endpoint
    with pytest.raises(ClientError) as raised:
        operation(elsewhere, topic)
    # Then the ARN is refused, and the topic is untouched
    assert error_of(raised) == ("InvalidParameter", 400, "Invalid parameter: TopicArn")
    assert attributes_of(sns, topic) == standard_attributes(topic)


@pytest.mark.parametrize(
    "operation",
    operations(
        "GetTopicAttributes",
        "SetTopicAttributes",
        "ListSubscriptionsByTopic",
        "AddPermission",
        "RemovePermission",
    ),
)
def test_missing_topic_is_not_found(
    sns: Any, topic: str, unique: Unique, operation: Operation
) -> None:
    # Given a well-formed ARN of a topic that does not exist
    arn = missing_arn(topic, unique)
    # When a topic operation is called with it
    with pytest.raises(ClientError) as raised:
        operation(sns, arn)
    # Then the topic is not found
    assert error_of(raised) == NOT_FOUND_ERROR


# -- AddPermission / RemovePermission --------------------------------------------------


@pytest.mark.parametrize(
    ("accounts", "actions", "principal", "action"),
    [
        pytest.param(
            ["123456789012"],
            ["Publish"],
            "arn:aws:iam::123456789012:root",
            "SNS:Publish",
            id="one-account-one-action",
        ),
        pytest.param(
            ["123456789012", "210987654321"],
            ["Publish", "Subscribe"],
            ["arn:aws:iam::123456789012:root", "arn:aws:iam::210987654321:root"],
            ["SNS:Publish", "SNS:Subscribe"],
            id="two-accounts-two-actions",
        ),
    ],
)
def test_add_permission_appends_a_statement(
    sns: Any,
    topic: str,
    accounts: list[str],
    actions: list[str],
    principal: str | list[str],
    action: str | list[str],
) -> None:
    # Given a topic with the default policy
    default_statement = statements_of(sns, topic)[0]
    # When a permission is added under a label
    sns.add_permission(TopicArn=topic, Label="test", AWSAccountId=accounts, ActionName=actions)
    # Then the policy keeps the default statement and gains one for the label; a single
    # principal or action is a string, several are a list in request order
    assert statements_of(sns, topic) == [
        default_statement,
        {
            "Sid": "test",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": action,
            "Resource": topic,
        },
    ]


def test_add_permission_with_a_repeated_action(sns: Any, topic: str) -> None:
    # Given a topic
    # When a permission lists the same action twice
    response = sns.add_permission(
        TopicArn=topic,
        Label="twice",
        AWSAccountId=["123456789012"],
        ActionName=["Publish", "Publish"],
    )
    # Then it is accepted
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [s["Sid"] for s in statements_of(sns, topic)] == ["__default_statement_ID", "twice"]


@pytest.mark.parametrize(
    ("label", "accounts", "actions", "message"),
    [
        pytest.param(
            "existing",
            ["123456789012"],
            ["Subscribe"],
            "Invalid parameter: Statement already exists",
            id="duplicate-label",
        ),
        pytest.param(
            "other",
            ["123456789012"],
            ["InvalidAction"],
            "Invalid parameter: Policy statement action out of service scope!",
            id="invalid-action",
        ),
        pytest.param(
            "other",
            ["InvalidAccountId"],
            ["Publish"],
            "Invalid parameter: A provided account ID is not valid",
            id="invalid-account-id",
        ),
    ],
)
def test_add_permission_is_refused(
    sns: Any, topic: str, label: str, accounts: list[str], actions: list[str], message: str
) -> None:
    # Given a topic with a permission labelled "existing"
    sns.add_permission(
        TopicArn=topic, Label="existing", AWSAccountId=["123456789012"], ActionName=["Publish"]
    )
    before = attributes_of(sns, topic)["Policy"]
    # When an invalid permission is added
    with pytest.raises(ClientError) as raised:
        sns.add_permission(TopicArn=topic, Label=label, AWSAccountId=accounts, ActionName=actions)
    # Then it is refused and the policy is unchanged
    assert error_of(raised) == ("InvalidParameter", 400, message)
    assert attributes_of(sns, topic)["Policy"] == before


def test_remove_permission_removes_the_statement(sns: Any, topic: str) -> None:
    # Given a topic with an added permission
    sns.add_permission(
        TopicArn=topic, Label="test", AWSAccountId=["123456789012"], ActionName=["Publish"]
    )
    # When the permission is removed by its label
    sns.remove_permission(TopicArn=topic, Label="test")
    # Then only the default statement is left
    assert json.loads(attributes_of(sns, topic)["Policy"]) == json.loads(default_policy(topic))


def test_remove_permission_with_an_unknown_label_succeeds(sns: Any, topic: str) -> None:
    # Given a topic with the default policy
    # When a label that was never added is removed
    response = sns.remove_permission(TopicArn=topic, Label="never-added")
    # Then the call succeeds and the policy is unchanged
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert json.loads(attributes_of(sns, topic)["Policy"]) == json.loads(default_policy(topic))


# -- TagResource / UntagResource / ListTagsForResource ---------------------------------


def test_new_topic_has_no_tags(sns: Any, topic: str) -> None:
    # Given a topic created without tags
    # When its tags are listed
    response = sns.list_tags_for_resource(ResourceArn=topic)
    # Then the list is empty
    assert response["Tags"] == []


def test_tag_resource_adds_and_overwrites(sns: Any, topic: str) -> None:
    # Given a topic with two tags
    sns.tag_resource(ResourceArn=topic, Tags=tag_list({"k1": "v1", "k2": "v2"}))
    # When one is tagged again with a new value, and a third is added
    sns.tag_resource(ResourceArn=topic, Tags=tag_list({"k2": "changed", "k3": "v3"}))
    # Then the existing key is overwritten and the others are kept
    assert tags_of(sns, topic) == {"k1": "v1", "k2": "changed", "k3": "v3"}


def test_untag_resource_removes_only_the_given_keys(sns: Any, topic: str) -> None:
    # Given a topic with three tags
    sns.tag_resource(ResourceArn=topic, Tags=tag_list({"k1": "v1", "k2": "v2", "k3": "v3"}))
    # When two keys are untagged
    sns.untag_resource(ResourceArn=topic, TagKeys=["k1", "k3"])
    # Then only the third is left
    assert tags_of(sns, topic) == {"k2": "v2"}


def test_tag_resource_with_duplicate_keys_is_refused(sns: Any, topic: str) -> None:
    # Given a topic with one tag
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "k1", "Value": "v1"}])
    # When a request carries the same key twice
    with pytest.raises(ClientError) as raised:
        sns.tag_resource(
            ResourceArn=topic,
            Tags=[{"Key": "k2", "Value": "a"}, {"Key": "k2", "Value": "b"}],
        )
    # Then it is refused and nothing is tagged
    assert error_of(raised) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Duplicated keys are not allowed.",
    )
    assert tags_of(sns, topic) == {"k1": "v1"}


def test_tag_limit_is_50_per_topic(sns: Any, topic: str) -> None:
    # Given a topic with 50 tags
    fifty = {f"key{i}": f"value{i}" for i in range(MAX_TAGS)}
    sns.tag_resource(ResourceArn=topic, Tags=tag_list(fifty))
    # When a 51st key is added
    with pytest.raises(ClientError) as raised:
        sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "one-more", "Value": "v"}])
    # Then the quota is reported and the 50 tags are unchanged
    assert error_of(raised) == TAG_LIMIT_ERROR
    assert tags_of(sns, topic) == fifty
    # And overwriting one of the 50 still works, as it adds no key
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "key0", "Value": "new"}])
    assert tags_of(sns, topic) == {**fifty, "key0": "new"}


def test_tag_resource_with_51_tags_at_once_is_refused(sns: Any, topic: str) -> None:
    # Given an untagged topic
    # When 51 tags are added in one request
    tags = {f"key{i}": f"value{i}" for i in range(MAX_TAGS + 1)}
    with pytest.raises(ClientError) as raised:
        sns.tag_resource(ResourceArn=topic, Tags=tag_list(tags))
    # Then the quota is reported and no tag is added
    assert error_of(raised) == TAG_LIMIT_ERROR
    assert tags_of(sns, topic) == {}


def test_tag_key_over_128_characters_is_refused(sns: Any, topic: str) -> None:
    # Given a tag key of 129 characters
    key = "k" * 129
    # When the topic is tagged with it
    with pytest.raises(ClientError) as raised:
        sns.tag_resource(ResourceArn=topic, Tags=[{"Key": key, "Value": "v"}])
    # Then AWS's model-constraint error names the key
    assert error_of(raised) == (
        "ValidationError",
        400,
        f"1 validation error detected: Value '{key}' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must have length less than or equal to 128",
    )
    assert tags_of(sns, topic) == {}


def test_tag_key_of_128_characters_is_accepted(sns: Any, topic: str) -> None:
    # Given a tag key of exactly 128 characters
    key = "k" * 128
    # When the topic is tagged with it
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": key, "Value": "v"}])
    # Then it is kept
    assert tags_of(sns, topic) == {key: "v"}


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(
            lambda sns, arn: sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]),
            id="TagResource",
        ),
        pytest.param(
            lambda sns, arn: sns.untag_resource(ResourceArn=arn, TagKeys=["k"]),
            id="UntagResource",
        ),
        pytest.param(
            lambda sns, arn: sns.list_tags_for_resource(ResourceArn=arn),
            id="ListTagsForResource",
        ),
    ],
)
def test_tagging_a_missing_topic_is_resource_not_found(
    sns: Any, topic: str, unique: Unique, operation: Operation
) -> None:
    # Given a well-formed ARN of a topic that does not exist
    arn = missing_arn(topic, unique)
    # When it is tagged, untagged or its tags are listed
    with pytest.raises(ClientError) as raised:
        operation(sns, arn)
    # Then the resource is not found
    assert error_of(raised) == RESOURCE_NOT_FOUND_ERROR


# -- the AWS CLI -----------------------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_cli_create_topic_with_attributes_and_tags(
    aws: Callable[..., Any], unique: Unique, tls: bool
) -> None:
    # Given the AWS CLI pointed at Herald
    name = unique("cli-topic")
    # When a topic is created with attributes and tags
    arn = aws(
        "sns",
        "create-topic",
        "--name",
        name,
        "--attributes",
        "DisplayName=Orders,SignatureVersion=2",
        "--tags",
        "Key=team,Value=payments",
        "Key=env,Value=test",
        tls=tls,
    )["TopicArn"]
    # Then get-topic-attributes shows them, with AWS's default set around them
    shown = aws("sns", "get-topic-attributes", "--topic-arn", arn, tls=tls)["Attributes"]
    assert shown == standard_attributes(arn, DisplayName="Orders", SignatureVersion="2")
    tags = aws("sns", "list-tags-for-resource", "--resource-arn", arn, tls=tls)["Tags"]
    assert sorted(tags, key=lambda t: t["Key"]) == [
        {"Key": "env", "Value": "test"},
        {"Key": "team", "Value": "payments"},
    ]


def test_cli_tag_and_untag_resource(aws: Callable[..., Any], unique: Unique) -> None:
    # Given a topic created with the CLI
    arn = aws("sns", "create-topic", "--name", unique("cli-tags"))["TopicArn"]
    # When it is tagged, retagged and untagged
    aws("sns", "tag-resource", "--resource-arn", arn, "--tags", "Key=a,Value=1", "Key=b,Value=2")
    aws("sns", "tag-resource", "--resource-arn", arn, "--tags", "Key=a,Value=changed")
    aws("sns", "untag-resource", "--resource-arn", arn, "--tag-keys", "b")
    # Then the remaining tag has its new value
    listed = aws("sns", "list-tags-for-resource", "--resource-arn", arn)
    assert listed == {"Tags": [{"Key": "a", "Value": "changed"}]}


def test_cli_set_topic_attributes(aws: Callable[..., Any], unique: Unique) -> None:
    # Given a topic created with the CLI
    arn = aws("sns", "create-topic", "--name", unique("cli-set"))["TopicArn"]
    # When its delivery policy is set
    aws(
        "sns",
        "set-topic-attributes",
        "--topic-arn",
        arn,
        "--attribute-name",
        "DeliveryPolicy",
        "--attribute-value",
        RETRY_POLICY,
    )
    # Then the normalised policy is shown
    shown = aws("sns", "get-topic-attributes", "--topic-arn", arn)["Attributes"]
    assert shown["DeliveryPolicy"] == RETRY_POLICY_STORED
    assert shown["EffectiveDeliveryPolicy"] == RETRY_POLICY_EFFECTIVE


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("create-topic", "--name", "bad:name"),
            "An error occurred (InvalidParameter) when calling the CreateTopic operation: "
            "Invalid parameter: Topic Name",
            id="create-bad-name",
        ),
        pytest.param(
            ("get-topic-attributes", "--topic-arn", "randomstring"),
            "An error occurred (InvalidParameter) when calling the GetTopicAttributes "
            "operation: Invalid parameter: TopicArn Reason: An ARN must have at least 6 "
            "elements, not 1",
            id="get-malformed-arn",
        ),
    ],
)
def test_cli_reports_aws_errors(
    aws: Callable[..., Any], args: tuple[str, ...], expected: str
) -> None:
    # Given a request AWS refuses
    # When the CLI sends it
    done = aws("sns", *args, check=False)
    # Then the CLI fails (awscli v1 exits 255 on a service error) with AWS's code and message
    assert done.returncode == 255
    assert expected in done.stderr


def test_cli_missing_topic_is_not_found(
    aws: Callable[..., Any], topic: str, unique: Unique
) -> None:
    # Given a well-formed ARN of a topic that does not exist
    arn = missing_arn(topic, unique)
    # When the CLI reads its attributes
    done = aws("sns", "get-topic-attributes", "--topic-arn", arn, check=False)
    # Then it reports NotFound (awscli v1 exits 255 on a service error)
    assert done.returncode == 255
    assert (
        "An error occurred (NotFound) when calling the GetTopicAttributes operation: "
        "Topic does not exist"
    ) in done.stderr


# -- HTTPS -----------------------------------------------------------------------------


def test_topic_lifecycle_over_https(sns_tls: Any, unique: Unique) -> None:
    # Given a boto3 client over HTTPS
    name = unique("tls")
    # When a topic is created with attributes and tags, changed, tagged and deleted
    arn = sns_tls.create_topic(
        Name=name, Attributes={"DisplayName": "Secure"}, Tags=[{"Key": "k", "Value": "v"}]
    )["TopicArn"]
    sns_tls.set_topic_attributes(
        TopicArn=arn, AttributeName="TracingConfig", AttributeValue="Active"
    )
    sns_tls.tag_resource(ResourceArn=arn, Tags=[{"Key": "k2", "Value": "v2"}])
    shown = attributes_of(sns_tls, arn)
    tags = tags_of(sns_tls, arn)
    listed = [t["TopicArn"] for t in list_all_topics(sns_tls)]
    sns_tls.delete_topic(TopicArn=arn)
    # Then every step is visible over HTTPS, and the topic is gone at the end
    assert shown == standard_attributes(arn, DisplayName="Secure", TracingConfig="Active")
    assert tags == {"k": "v", "k2": "v2"}
    assert arn in listed
    with pytest.raises(ClientError) as raised:
        sns_tls.get_topic_attributes(TopicArn=arn)
    assert error_of(raised) == NOT_FOUND_ERROR


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            lambda sns: sns.create_topic(Name="a" * 257), TOPIC_NAME_ERROR, id="CreateTopic"
        ),
        pytest.param(
            lambda sns: sns.set_topic_attributes(
                TopicArn=sns.create_topic(Name="tls-fifo-probe")["TopicArn"],
                AttributeName="FifoTopic",
                AttributeValue="true",
            ),
            ATTRIBUTE_NAME_ERROR,
            id="SetTopicAttributes",
        ),
        pytest.param(
            lambda sns: sns.list_tags_for_resource(
                ResourceArn=sns.create_topic(Name="tls-probe")["TopicArn"] + "-missing"
            ),
            RESOURCE_NOT_FOUND_ERROR,
            id="ListTagsForResource",
        ),
    ],
)
def test_errors_over_https(
    sns_tls: Any, call: Callable[[Any], object], expected: tuple[str, int, str]
) -> None:
    # Given a boto3 client over HTTPS
    # When a request AWS refuses is sent
    with pytest.raises(ClientError) as raised:
        call(sns_tls)
    # Then the same code, status and message come back as over HTTP
    assert error_of(raised) == expected
