"""Subscriptions end to end: Subscribe, attributes, Unsubscribe, listings, confirmation.

Expected codes, statuses and messages are AWS's recorded answers (SNS 2010-03-31); where
AWS's wording was never recorded, the test accepts any message that names the problem.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import ACCESS_KEY_ID, REGION

ACCOUNT = "000000000000"
SQS_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-queue"
LAMBDA_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-fn"
FIREHOSE_STREAM = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/orders-stream"
FIREHOSE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/sns-to-firehose"
APPLICATION_ENDPOINT = (
    f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/orders-app/0b5e7a3c-6d1e-4f2a-9c8b-3e4d5f6a7b8c"
)
PENDING = "pending confirmation"

# GetSubscriptionAttributes for a new subscription, before any optional attribute is set.
BASE_KEYS = {
    "ConfirmationWasAuthenticated",
    "Endpoint",
    "Owner",
    "PendingConfirmation",
    "Protocol",
    "RawMessageDelivery",
    "SubscriptionArn",
    "SubscriptionPrincipal",
    "TopicArn",
}
# The default http retry policy that every http/https subscription inherits from its topic.
DEFAULT_HEALTHY_RETRY = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}
DELIVERY_POLICY_KEYS = [
    "healthyRetryPolicy",
    "sicklyRetryPolicy",
    "throttlePolicy",
    "requestPolicy",
    "guaranteed",
]


def raises_aws(
    call: Callable[..., Any],
    code: str,
    status: int,
    message: str,
    *,
    first_line: bool = False,
    **kwargs: Any,
) -> str:
    """Call, expect a ClientError with this code, status and message; return the message.

    With ``first_line`` only the first line is compared: AWS appends a Jackson location
    (``\\n at [Source: ...]``) to JSON parse errors, which Herald does not.
    """
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    error = e.value.response["Error"]
    got = error["Message"]
    assert (error["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        code,
        status,
    )
    assert error.get("Type") == "Sender"
    assert (got.split("\n")[0] if first_line else got) == message
    return str(got)


def raises_code(call: Callable[..., Any], code: str, status: int, **kwargs: Any) -> str:
    """Call, expect a ClientError with this code and status; return its message."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    error = e.value.response["Error"]
    assert (error["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        code,
        status,
    )
    return str(error["Message"])


def arn_pattern(topic: str) -> re.Pattern[str]:
    return re.compile(
        re.escape(topic) + r":[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )


def regional_sns(server: Any, region: str) -> Any:
    """A boto3 SNS client signing for ``region`` (a region no other test uses)."""
    session = boto3.Session(
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=server.secret,
        region_name=region,
    )
    return session.client(
        "sns", endpoint_url=server.http_url, config=Config(retries={"total_max_attempts": 1})
    )


def fifo_topic(sns: Any, unique: Callable[[str], str]) -> str:
    name = unique("fifo") + ".fifo"
    return str(sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"])


def sqs_subscription(sns: Any, topic: str, **attributes: str) -> str:
    kwargs: dict[str, Any] = {"Attributes": attributes} if attributes else {}
    return str(
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=SQS_QUEUE, **kwargs)[
            "SubscriptionArn"
        ]
    )


def http_subscription(sns: Any, topic: str) -> str:
    return str(
        sns.subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint="http://example.com/sns-endpoint",
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
    )


def counts(sns: Any, topic: str) -> tuple[str, str, str]:
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    return (
        attributes["SubscriptionsConfirmed"],
        attributes["SubscriptionsPending"],
        attributes["SubscriptionsDeleted"],
    )


# -- Subscribe: protocols and endpoints ------------------------------------------------

NEEDS_CONFIRMATION = [
    ("http", "http://example.com/sns-endpoint"),
    ("https", "https://example.com/sns-endpoint"),
    ("email", "ops@example.com"),
    ("email-json", "ops@example.com"),
]


def test_subscribe_of_a_queue_in_the_same_account_returns_the_subscription_arn(
    sns: Any, topic: str
) -> None:
    # Given a standard topic
    # When a queue of the topic's own account subscribes (it needs no confirmation)
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=SQS_QUEUE)["SubscriptionArn"]
    # Then the real subscription ARN comes back, and the subscription is confirmed
    assert arn_pattern(topic).match(arn)
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert (shown["Protocol"], shown["Endpoint"]) == ("sqs", SQS_QUEUE)
    assert shown["PendingConfirmation"] == "false"


@pytest.mark.parametrize(("protocol", "endpoint"), NEEDS_CONFIRMATION)
def test_subscribe_pending_protocol_answers_pending_confirmation(
    sns: Any, topic: str, protocol: str, endpoint: str
) -> None:
    # Given a standard topic
    # When an endpoint that must confirm subscribes, without ReturnSubscriptionArn
    plain = sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
    explicit = sns.subscribe(
        TopicArn=topic, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=False
    )
    # Then the answer is the literal "pending confirmation" (lower case, with a space)
    assert plain["SubscriptionArn"] == PENDING
    assert explicit["SubscriptionArn"] == PENDING


@pytest.mark.parametrize(("protocol", "endpoint"), NEEDS_CONFIRMATION)
def test_subscribe_pending_protocol_with_return_subscription_arn(
    sns: Any, topic: str, protocol: str, endpoint: str
) -> None:
    # Given a standard topic
    # When an endpoint that must confirm subscribes with ReturnSubscriptionArn=true
    arn = sns.subscribe(
        TopicArn=topic, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    # Then the real ARN comes back even though the subscription is still pending
    assert arn_pattern(topic).match(arn)
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert shown["PendingConfirmation"] == "true"
    assert shown["ConfirmationWasAuthenticated"] == "false"


SQS_FIFO_ON_STANDARD = (
    "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
    "subscribed to standard SNS topics"
)
INVALID_ENDPOINTS = [
    ("email", "this is not an email", "Invalid parameter: Email address"),
    ("email", "foo@bar.com;foo@x.io", "Invalid parameter: Email address"),
    ("email-json", "this is not an email", "Invalid parameter: Email address"),
    (
        "sqs",
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders",
        "Invalid parameter: SQS endpoint ARN",
    ),
    ("sqs", "unknown", "Invalid parameter: SQS endpoint ARN"),
    ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders.fifo", SQS_FIFO_ON_STANDARD),
    ("sms", "+15--551234567", "Invalid SMS endpoint: +15--551234567"),
    ("sms", "NAA+15551234567", "Invalid SMS endpoint: NAA+15551234567"),
    ("sms", "+15551234567.", "Invalid SMS endpoint: +15551234567."),
    ("sms", "/+15551234567", "Invalid SMS endpoint: /+15551234567"),
    ("sms", "invalid-number", "Invalid SMS endpoint: invalid-number"),
    (
        "test-protocol",
        "whatever",
        "Invalid parameter: Amazon SNS does not support this protocol string: test-protocol",
    ),
]


@pytest.mark.parametrize(("protocol", "endpoint", "message"), INVALID_ENDPOINTS)
def test_subscribe_refuses_an_endpoint_that_does_not_fit_the_protocol(
    sns: Any, topic: str, protocol: str, endpoint: str, message: str
) -> None:
    # Given a standard topic
    # When an endpoint that does not suit its protocol subscribes
    # Then SNS refuses it, naming the problem
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        message,
        TopicArn=topic,
        Protocol=protocol,
        Endpoint=endpoint,
    )


def test_subscribe_refuses_a_topic_arn_as_application_endpoint(sns: Any, topic: str) -> None:
    # Given a standard topic
    # When an application subscription names a topic instead of a platform endpoint
    # Then the message starts with AWS's wording and echoes the endpoint
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        f"Invalid parameter: Application endpoint arn invalid:{topic}",
        TopicArn=topic,
        Protocol="application",
        Endpoint=topic,
    )


# Only emulator wording exists for these; any InvalidParameter naming the field will do.
UNVERIFIED_ENDPOINTS = [
    ("http", "https://example.com/hook", {}, "Endpoint"),
    ("https", "http://example.com/hook", {}, "Endpoint"),
    ("http", "example.com/hook", {}, "Endpoint"),
    ("lambda", "orders-fn", {}, "Lambda endpoint"),
    ("firehose", "orders-stream", {"SubscriptionRoleArn": FIREHOSE_ROLE}, "Firehose endpoint"),
    ("firehose", FIREHOSE_STREAM, {}, "SubscriptionRoleArn"),
    ("firehose", FIREHOSE_STREAM, {"SubscriptionRoleArn": "sns-to-firehose"}, "IAM role ARN"),
]


@pytest.mark.parametrize(("protocol", "endpoint", "attributes", "names"), UNVERIFIED_ENDPOINTS)
def test_subscribe_refuses_endpoints_named_by_emulator_wording(
    sns: Any, topic: str, protocol: str, endpoint: str, attributes: dict[str, str], names: str
) -> None:
    # Given a standard topic
    # When an unsuitable endpoint (or a firehose without its role) subscribes
    message = raises_code(
        sns.subscribe,
        "InvalidParameter",
        400,
        TopicArn=topic,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
    )
    # Then the refusal names what is wrong
    assert message.startswith("Invalid parameter: ")
    assert names in message


# Herald's own rule, not AWS's: SNS takes these endpoints, Herald has no sender for them.
NOT_DELIVERED = [
    ("lambda", LAMBDA_FUNCTION, {}),
    ("firehose", FIREHOSE_STREAM, {"SubscriptionRoleArn": FIREHOSE_ROLE}),
    ("application", APPLICATION_ENDPOINT, {}),
    ("sms", "+15551234567", {}),
    ("sms", "+1234567890", {}),
    ("sms", "+123123123", {}),
]


@pytest.mark.parametrize(("protocol", "endpoint", "attributes"), NOT_DELIVERED)
def test_subscribe_refuses_a_protocol_herald_does_not_deliver_to(
    sns: Any, topic: str, protocol: str, endpoint: str, attributes: dict[str, str]
) -> None:
    # Given a standard topic
    # When a well-formed endpoint of a protocol Herald does not deliver to subscribes
    # Then it is refused, naming the protocol
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        f"Invalid parameter: Protocol Reason: Herald does not deliver to {protocol} endpoints: "
        "this protocol is not supported",
        TopicArn=topic,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
    )
    # And no subscription was made
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert counts(sns, topic) == ("0", "0", "0")


@pytest.mark.parametrize(("protocol", "endpoint", "attributes"), NOT_DELIVERED[:4])
def test_fifo_rule_answers_before_the_unsupported_protocol_refusal(
    sns: Any, unique: Callable[[str], str], protocol: str, endpoint: str, attributes: dict[str, str]
) -> None:
    # Given a FIFO topic
    topic = fifo_topic(sns, unique)
    # When a well-formed endpoint of a protocol Herald does not deliver to subscribes
    # Then the FIFO rule (sqs endpoints only) answers first
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        f"Invalid parameter: Invalid protocol type: {protocol}",
        TopicArn=topic,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
    )
    # And no subscription was made
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_standard_queue_may_subscribe_to_a_fifo_topic(
    sns: Any, unique: Callable[[str], str]
) -> None:
    # Given a FIFO topic
    topic = fifo_topic(sns, unique)
    # When a standard queue and a FIFO queue subscribe
    standard = sqs_subscription(sns, topic)
    fifo = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders.fifo"
    )["SubscriptionArn"]
    # Then both are subscribed
    assert arn_pattern(topic).match(standard)
    assert arn_pattern(topic).match(fifo)


def test_subscribe_to_a_missing_topic_is_not_found(sns: Any, unique: Callable[[str], str]) -> None:
    # Given a well-formed ARN of a topic that does not exist
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('missing')}"
    # When an endpoint subscribes to it
    # Then SNS answers NotFound 404
    raises_aws(
        sns.subscribe,
        "NotFound",
        404,
        "Topic does not exist",
        TopicArn=missing,
        Protocol="sqs",
        Endpoint=SQS_QUEUE,
    )


@pytest.mark.parametrize(
    ("topic_arn", "message"),
    [
        (
            "test-topic",
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
        ),
        (
            "arn:aws:sns:us-east-1:random",
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 5",
        ),
        (f"arn:aws:sns:us-west-2:{ACCOUNT}:elsewhere", "Invalid parameter: TopicArn"),
    ],
    ids=["one-element", "five-elements", "other-region"],
)
def test_subscribe_refuses_a_malformed_or_foreign_topic_arn(
    sns: Any, topic_arn: str, message: str
) -> None:
    # Given a topic ARN that is malformed or names another region than the request's
    # When an endpoint subscribes with it
    # Then SNS refuses the ARN
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        message,
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=SQS_QUEUE,
    )


# -- Subscribe: idempotency -------------------------------------------------------------


@pytest.mark.parametrize(
    "again",
    [
        {"RawMessageDelivery": "true"},
        {"RawMessageDelivery": "true", "FilterPolicyScope": "MessageAttributes"},
        {},
        {"FilterPolicyScope": "MessageAttributes"},
    ],
    ids=["same-lower-case", "same-plus-default-scope", "no-attributes", "default-scope-only"],
)
def test_subscribing_again_with_compatible_attributes_returns_the_same_arn(
    sns: Any, topic: str, again: dict[str, str]
) -> None:
    # Given a queue subscribed with RawMessageDelivery "True" (stored as "true")
    first = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=SQS_QUEUE,
        Attributes={"RawMessageDelivery": "True"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    # When the same queue subscribes again with attributes that match what is stored
    second = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=SQS_QUEUE,
        Attributes=again,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    # Then the existing subscription is returned and no second one is made
    assert second == first
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [first]


def test_subscribing_again_with_different_attributes_is_refused(sns: Any, topic: str) -> None:
    # Given a queue subscribed with RawMessageDelivery "True"
    sqs_subscription(sns, topic, RawMessageDelivery="True")
    # When the same queue subscribes again with other attribute values
    # Then SNS refuses it
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: Subscription already exists with different "
        "attributes",
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=SQS_QUEUE,
        Attributes={"RawMessageDelivery": "false", "FilterPolicyScope": "MessageBody"},
        ReturnSubscriptionArn=True,
    )


def test_subscribing_a_pending_endpoint_twice_keeps_one_subscription(sns: Any, topic: str) -> None:
    # Given an http endpoint subscribed and pending confirmation
    first = http_subscription(sns, topic)
    # When it subscribes again, once plainly and once asking for the ARN
    plain = sns.subscribe(
        TopicArn=topic, Protocol="http", Endpoint="http://example.com/sns-endpoint"
    )["SubscriptionArn"]
    again = http_subscription(sns, topic)
    # Then the same pending subscription is answered and listed once
    assert (plain, again) == (PENDING, first)
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]


# -- Subscribe: attributes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "endpoint", "attributes", "message"),
    [
        (
            "sqs",
            SQS_QUEUE,
            {"RawMessageDelivery": "wrongvalue"},
            "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value "
            "[wrongvalue]. Must be true or false.",
        ),
        (
            "email",
            "ops@example.com",
            {"RawMessageDelivery": "true"},
            "Invalid parameter: Attributes Reason: Delivery protocol [email] does not support "
            "raw message delivery.",
        ),
        (
            "lambda",
            LAMBDA_FUNCTION,
            {"RawMessageDelivery": "true"},
            "Invalid parameter: Attributes Reason: Delivery protocol [lambda] does not support "
            "raw message delivery.",
        ),
        (
            "application",
            APPLICATION_ENDPOINT,
            {"RawMessageDelivery": "true"},
            "Invalid parameter: Attributes Reason: Delivery protocol [application] does not "
            "support raw message delivery.",
        ),
    ],
    ids=["raw-wrong-value", "raw-on-email", "raw-on-lambda", "raw-on-application"],
)
def test_subscribe_refuses_invalid_attributes(
    sns: Any, topic: str, protocol: str, endpoint: str, attributes: dict[str, str], message: str
) -> None:
    # Given a standard topic
    # When an endpoint subscribes with an attribute its protocol cannot take
    # Then SNS refuses it with the "Attributes Reason:" prefix of Subscribe
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        message,
        TopicArn=topic,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
    )


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (
            "invalid-json",
            "failed to parse JSON. Unrecognized token 'invalid': was expecting (JSON String, "
            "Number, Array, Object or token 'null', 'true' or 'false')",
        ),
        ('{"key":[]}', "Empty arrays are not allowed"),
        ('{"key":[{"wrong-operator":true}]}', "Unrecognized match type wrong-operator"),
        ('{"key":{"suffix":"value"}}', '"suffix" must be an object or an array'),
    ],
    ids=["not-json", "empty-array", "unknown-operator", "operator-not-in-array"],
)
def test_subscribe_refuses_an_invalid_filter_policy(
    sns: Any, topic: str, policy: str, reason: str
) -> None:
    # Given a standard topic
    # When a queue subscribes with a filter policy that cannot be used
    # Then the first line of the refusal is AWS's
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: FilterPolicy: " + reason,
        first_line=True,
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=SQS_QUEUE,
        Attributes={"FilterPolicy": policy},
    )


def test_subscribe_refuses_an_unknown_attribute_name(sns: Any, topic: str) -> None:
    # Given a standard topic
    # When a queue subscribes with an attribute SNS does not know
    message = raises_code(
        sns.subscribe,
        "InvalidParameter",
        400,
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=SQS_QUEUE,
        Attributes={"FakeAttribute": "x"},
    )
    # Then the refusal names the attribute name as the problem (AWS's wording unrecorded)
    assert message.startswith("Invalid parameter: ")
    assert "AttributeName" in message or "FakeAttribute" in message


def test_subscribe_stores_the_attributes_it_was_given(sns: Any, topic: str) -> None:
    # Given a standard topic
    policy = '{"store":["example_corp"]}'
    redrive = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"})
    # When a queue subscribes with raw delivery, a filter policy and a redrive policy
    arn = sqs_subscription(
        sns, topic, RawMessageDelivery="TRUE", FilterPolicy=policy, RedrivePolicy=redrive
    )
    # Then they are shown, raw delivery in lower case and the filter scope defaulted
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert set(shown) == BASE_KEYS | {"FilterPolicy", "FilterPolicyScope", "RedrivePolicy"}
    assert shown["RawMessageDelivery"] == "true"
    assert json.loads(shown["FilterPolicy"]) == json.loads(policy)
    assert shown["FilterPolicyScope"] == "MessageAttributes"
    assert json.loads(shown["RedrivePolicy"]) == json.loads(redrive)


@pytest.mark.parametrize(
    "attributes",
    [
        {"FilterPolicyScope": "MessageBody"},
        {"FilterPolicy": "", "FilterPolicyScope": "MessageBody"},
    ],
    ids=["scope-only", "empty-policy-and-scope"],
)
def test_filter_policy_scope_without_a_policy_is_not_shown(
    sns: Any, topic: str, attributes: dict[str, str]
) -> None:
    # Given a standard topic
    # When a queue subscribes with a filter policy scope but no filter policy
    arn = sqs_subscription(sns, topic, **attributes)
    # Then neither FilterPolicy nor FilterPolicyScope is shown
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert set(shown) == BASE_KEYS


# -- GetSubscriptionAttributes ---------------------------------------------------------


def test_confirmed_subscription_attributes_are_exactly_aws_set(sns: Any, topic: str) -> None:
    # Given a queue of the topic's own account, subscribed and confirmed at once
    arn = sqs_subscription(sns, topic)
    # When its attributes are read
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    # Then exactly AWS's keys are shown with AWS's values
    assert set(shown) == BASE_KEYS
    principal = shown.pop("SubscriptionPrincipal")
    assert principal.startswith(f"arn:aws:iam::{ACCOUNT}:")
    assert shown == {
        "ConfirmationWasAuthenticated": "true",
        "Endpoint": SQS_QUEUE,
        "Owner": ACCOUNT,
        "PendingConfirmation": "false",
        "Protocol": "sqs",
        "RawMessageDelivery": "false",
        "SubscriptionArn": arn,
        "TopicArn": topic,
    }


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [("http", "http://example.com/sns-endpoint"), ("https", "https://example.com/sns-endpoint")],
)
def test_pending_http_subscription_attributes_are_exactly_aws_set(
    sns: Any, topic: str, protocol: str, endpoint: str
) -> None:
    # Given an http(s) endpoint subscribed and not yet confirmed
    arn = sns.subscribe(
        TopicArn=topic, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    # When its attributes are read
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    # Then AWS's keys are shown, with the effective delivery policy and pending values
    assert set(shown) == BASE_KEYS | {"EffectiveDeliveryPolicy"}
    assert shown["SubscriptionPrincipal"].startswith(f"arn:aws:iam::{ACCOUNT}:")
    assert {k: shown[k] for k in BASE_KEYS - {"SubscriptionPrincipal"}} == {
        "ConfirmationWasAuthenticated": "false",
        "Endpoint": endpoint,
        "Owner": ACCOUNT,
        "PendingConfirmation": "true",
        "Protocol": protocol,
        "RawMessageDelivery": "false",
        "SubscriptionArn": arn,
        "TopicArn": topic,
    }
    effective = json.loads(shown["EffectiveDeliveryPolicy"])
    assert list(effective) == DELIVERY_POLICY_KEYS
    assert effective == {
        "healthyRetryPolicy": DEFAULT_HEALTHY_RETRY,
        "sicklyRetryPolicy": None,
        "throttlePolicy": None,
        "requestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        "guaranteed": False,
    }


def test_pending_email_subscription_attributes(sns: Any, topic: str) -> None:
    # Given an email endpoint subscribed and not yet confirmed
    arn = sns.subscribe(
        TopicArn=topic, Protocol="email", Endpoint="ops@example.com", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    # When its attributes are read
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    # Then it is pending, unauthenticated, and not delivered raw
    assert set(shown) == BASE_KEYS
    assert (
        shown["ConfirmationWasAuthenticated"],
        shown["PendingConfirmation"],
        shown["RawMessageDelivery"],
        shown["Owner"],
    ) == ("false", "true", "false", ACCOUNT)


@pytest.mark.parametrize(
    ("operation", "extra"),
    [
        ("get_subscription_attributes", {}),
        (
            "set_subscription_attributes",
            {"AttributeName": "RawMessageDelivery", "AttributeValue": "true"},
        ),
    ],
    ids=["get", "set"],
)
def test_attributes_of_a_missing_subscription_are_not_found(
    sns: Any, topic: str, operation: str, extra: dict[str, Any]
) -> None:
    # Given a well-formed ARN of a subscription that never existed
    missing = f"{topic}:{uuid.uuid4()}"
    # When its attributes are read or changed
    # Then SNS answers NotFound 404
    raises_aws(
        getattr(sns, operation),
        "NotFound",
        404,
        "Subscription does not exist",
        SubscriptionArn=missing,
        **extra,
    )


# -- SetSubscriptionAttributes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"), [("TrUe", "true"), ("FALSE", "false"), ("true", "true")]
)
def test_raw_message_delivery_is_stored_in_lower_case(
    sns: Any, topic: str, value: str, stored: str
) -> None:
    # Given a queue subscription
    arn = sqs_subscription(sns, topic)
    # When RawMessageDelivery is set in any case
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue=value
    )
    # Then it is shown in lower case
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert shown["RawMessageDelivery"] == stored


SET_ERRORS = [
    ("FakeAttribute", "x", "Invalid parameter: AttributeName"),
    (
        "RawMessageDelivery",
        "test-ValUe",
        "Invalid parameter: RawMessageDelivery: Invalid value [test-ValUe]. Must be true or false.",
    ),
    (
        "RawMessageDelivery",
        "",
        "Invalid parameter: RawMessageDelivery: Invalid value []. Must be true or false.",
    ),
    (
        "FilterPolicyScope",
        "RandomValue",
        "Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. Please use either "
        "MessageBody or MessageAttributes",
    ),
    (
        "RedrivePolicy",
        '{"deadLetterTargetArn":"fake-arn"}',
        "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn",
    ),
]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    SET_ERRORS,
    ids=["unknown-name", "raw-wrong-value", "raw-empty", "scope-wrong-value", "redrive-bad-arn"],
)
def test_set_subscription_attributes_refuses_invalid_values(
    sns: Any, topic: str, name: str, value: str, message: str
) -> None:
    # Given a queue subscription
    arn = sqs_subscription(sns, topic)
    # When an attribute is set to a value SNS does not accept
    # Then SNS refuses it with the "Invalid parameter: <Name>:" prefix of Set
    raises_aws(
        sns.set_subscription_attributes,
        "InvalidParameter",
        400,
        message,
        SubscriptionArn=arn,
        AttributeName=name,
        AttributeValue=value,
    )


@pytest.mark.parametrize("name", ["FilterPolicy", "RedrivePolicy"])
def test_set_subscription_attributes_refuses_unparsable_json(
    sns: Any, topic: str, name: str
) -> None:
    # Given a queue subscription
    arn = sqs_subscription(sns, topic)
    # When a JSON attribute is set to something that is not JSON
    # Then the first line of the refusal is the parser's complaint, as AWS words it
    raises_aws(
        sns.set_subscription_attributes,
        "InvalidParameter",
        400,
        f"Invalid parameter: {name}: failed to parse JSON. Unexpected character ('i' (code 105)):"
        " was expecting double-quote to start field name",
        first_line=True,
        SubscriptionArn=arn,
        AttributeName=name,
        AttributeValue="{invalidjson}",
    )


def test_filter_policy_scope_alone_stays_hidden_until_a_policy_is_set(sns: Any, topic: str) -> None:
    # Given a queue subscription whose filter scope is set to MessageBody
    arn = sqs_subscription(sns, topic)
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicyScope", AttributeValue="MessageBody"
    )
    # When its attributes are read
    before = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    # Then the scope is not shown yet
    assert set(before) == BASE_KEYS
    # When a filter policy is set
    policy = '{"store":[{"prefix":"example"}]}'
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=policy
    )
    # Then the policy and the scope chosen earlier both appear
    after = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert set(after) == BASE_KEYS | {"FilterPolicy", "FilterPolicyScope"}
    assert json.loads(after["FilterPolicy"]) == json.loads(policy)
    assert after["FilterPolicyScope"] == "MessageBody"


def test_filter_policy_defaults_to_message_attributes_scope(sns: Any, topic: str) -> None:
    # Given a queue subscription without a filter
    arn = sqs_subscription(sns, topic)
    # When a filter policy is set
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue='{"store":["a"]}'
    )
    # Then the scope shown is MessageAttributes
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert shown["FilterPolicyScope"] == "MessageAttributes"


def test_nested_filter_policy_needs_message_body_scope(sns: Any, topic: str) -> None:
    # Given a queue subscription, scope MessageAttributes (the default)
    arn = sqs_subscription(sns, topic)
    nested = '{"object":{"key":[{"prefix":"auto-"}]}}'
    message = (
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested "
        "filter policy"
    )
    # When a nested filter policy is set
    # Then SNS refuses it
    raises_aws(
        sns.set_subscription_attributes,
        "InvalidParameter",
        400,
        message,
        SubscriptionArn=arn,
        AttributeName="FilterPolicy",
        AttributeValue=nested,
    )
    # When the scope is MessageBody, the nested policy is accepted
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicyScope", AttributeValue="MessageBody"
    )
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=nested
    )
    # Then going back to MessageAttributes with that policy is refused
    raises_aws(
        sns.set_subscription_attributes,
        "InvalidParameter",
        400,
        message,
        SubscriptionArn=arn,
        AttributeName="FilterPolicyScope",
        AttributeValue="MessageAttributes",
    )


FILTER_POLICY_ERRORS = [
    ('{"key":[["value"]]}', "Match value must be String, number, true, false, or null"),
    ('{"key":[{"wrong-operator":true}]}', "Unrecognized match type wrong-operator"),
    ('{"key":[{"suffix":"value","prefix":"value2"}]}', "Only one key allowed in match expression"),
    ('{"key":[]}', "Empty arrays are not allowed"),
    ('{"key":[{"suffix":100}]}', "suffix match pattern must be a string"),
    ('{"key":[{"suffix":null}]}', "suffix match pattern must be a string"),
    ('{"key":[{"suffix":["a","b"]}]}', "suffix match pattern must be a string"),
    ('{"key":{"suffix":"value"}}', '"suffix" must be an object or an array'),
    ('{"key":{"not-an-operator":"value"}}', '"not-an-operator" must be an object or an array'),
    ('{"key":[{"cidr":["bad-filter"]}]}', "prefix match pattern must be a string"),
    ('{"key":[{"cidr":"bad-filter"}]}', "Malformed CIDR, one '/' required"),
    ('{"key":[{"cidr":"bad-filter/64"}]}', "Nonstandard IP address: bad-filter"),
    ('{"key":[{"cidr":"bad-/64filter"}]}', "Malformed CIDR, mask bits must be an integer"),
    ('{"key":[{"cidr":"xx.11.xx/8"}]}', "Nonstandard IP address: xx.11.xx"),
    ('{"key":[{"numeric":[]}]}', "Invalid member in numeric match: ]"),
    ('{"key":[{"numeric":["operator"]}]}', "Unrecognized numeric range operator: operator"),
    ('{"key":[{"numeric":[1,"<="]}]}', "Invalid member in numeric match: 1"),
    ('{"key":[{"numeric":["=","000"]}]}', "Value of equals must be numeric"),
    ('{"key":[{"numeric":[">="]}]}', "Value of >= must be numeric"),
    ('{"key":[{"numeric":["<",100,">",10]}]}', "Too many elements in numeric expression"),
    ('{"key":[{"numeric":[">=",1,">",2]}]}', "Bad numeric range operator: >"),
    ('{"key":[{"numeric":[">",3,"<",1]}]}', "Bottom must be less than top"),
    ('{"key":[{"numeric":[">",20,30]}]}', "Bad value in numeric range: 30"),
    ('{"key":[{"numeric":[">",20,"<",30,"<",50]}]}', "Too many terms in numeric range expression"),
    ('{"key":[{"exists":null}]}', "exists match pattern must be either true or false."),
    ('{"key":[{"exists":"no"}]}', "exists match pattern must be either true or false."),
    (
        '{"key":[{"anything-but":{"wrong-operator":null}}]}',
        "Unsupported anything-but pattern: wrong-operator",
    ),
    ('{"key":[{"anything-but":{"prefix":false}}]}', "prefix match pattern must be a string"),
    (json.dumps({"key": [str(i) for i in range(151)]}), "Filter policy is too complex"),
    (
        json.dumps({f"key{i}": ["v"] for i in range(6)}),
        "Filter policy can not have more than 5 keys",
    ),
]


@pytest.mark.parametrize(
    ("policy", "reason"),
    FILTER_POLICY_ERRORS,
    ids=[f"{i:02d}-{reason[:40]}" for i, (_, reason) in enumerate(FILTER_POLICY_ERRORS)],
)
def test_set_filter_policy_refuses_what_aws_refuses(
    sns: Any, topic: str, policy: str, reason: str
) -> None:
    # Given a queue subscription
    arn = sqs_subscription(sns, topic)
    # When its filter policy is set to a policy AWS refuses
    # Then the first line of the refusal is AWS's (Herald adds no Jackson location)
    raises_aws(
        sns.set_subscription_attributes,
        "InvalidParameter",
        400,
        "Invalid parameter: FilterPolicy: " + reason,
        first_line=True,
        SubscriptionArn=arn,
        AttributeName="FilterPolicy",
        AttributeValue=policy,
    )


def test_a_nested_filter_policy_counts_each_array_times_its_depth(sns: Any, topic: str) -> None:
    # Given a queue subscription filtering on the message body
    arn = sqs_subscription(sns, topic, FilterPolicyScope="MessageBody")
    # When the SNS guide's nested example is set: 3 x 4 x 2 x 3 x 1 x 3 = 216 combinations
    nested = {
        "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
        "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
        "key_f": ["value_one", "value_two", "value_three"],
    }
    # Then SNS refuses it as too complex
    raises_aws(
        sns.set_subscription_attributes,
        "InvalidParameter",
        400,
        "Invalid parameter: FilterPolicy: Filter policy is too complex",
        SubscriptionArn=arn,
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps(nested),
    )
    # When a queue subscribes with nested $or branches: (3 + 2) x 4 x (2 + 6) = 160
    either = {
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
        "detail": {
            "scope": ["Service", "Test"],
            "$or": [
                {"source": ["aws.cloudwatch"]},
                {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]},
            ],
        },
    }
    # Then that is refused too
    raises_aws(
        sns.subscribe,
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: FilterPolicy: Filter policy is too complex",
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:metrics-queue",
        Attributes={"FilterPolicy": json.dumps(either), "FilterPolicyScope": "MessageBody"},
    )
    # But without key_f the example makes 72 combinations, and is accepted
    del nested["key_f"]
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=json.dumps(nested)
    )


def test_redrive_policy_is_shown_once_set(sns: Any, topic: str) -> None:
    # Given a queue subscription without a redrive policy
    arn = sqs_subscription(sns, topic)
    assert "RedrivePolicy" not in sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    # When a dead-letter queue is set
    redrive = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq"})
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="RedrivePolicy", AttributeValue=redrive
    )
    # Then the redrive policy is shown
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert json.loads(shown["RedrivePolicy"]) == json.loads(redrive)


def test_fifo_subscription_to_fifo_topic_needs_a_fifo_dead_letter_queue(
    sns: Any, unique: Callable[[str], str]
) -> None:
    # Given a FIFO queue and a standard queue subscribed to a FIFO topic
    topic = fifo_topic(sns, unique)
    fifo_sub = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders.fifo"
    )["SubscriptionArn"]
    standard_sub = sqs_subscription(sns, topic)
    standard_dlq = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"})
    # When a standard queue is made the dead-letter queue of the FIFO queue's subscription
    # Then SNS refuses it
    raises_aws(
        sns.set_subscription_attributes,
        "InvalidParameter",
        400,
        "Invalid parameter: RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription "
        "to a FIFO Topic.",
        SubscriptionArn=fifo_sub,
        AttributeName="RedrivePolicy",
        AttributeValue=standard_dlq,
    )
    # When the standard queue's subscription gets a standard dead-letter queue
    sns.set_subscription_attributes(
        SubscriptionArn=standard_sub, AttributeName="RedrivePolicy", AttributeValue=standard_dlq
    )
    # Then it is accepted
    shown = sns.get_subscription_attributes(SubscriptionArn=standard_sub)["Attributes"]
    assert json.loads(shown["RedrivePolicy"]) == json.loads(standard_dlq)


def test_http_delivery_policy_is_normalised(sns: Any, topic: str) -> None:
    # Given a pending http subscription
    arn = http_subscription(sns, topic)
    # When its delivery policy sets only a request policy
    sns.set_subscription_attributes(
        SubscriptionArn=arn,
        AttributeName="DeliveryPolicy",
        AttributeValue='{"requestPolicy":{"headerContentType":"text/csv"}}',
    )
    # Then the stored policy has every key, missing ones null, and the effective policy
    # fills the retry policy from the topic's defaults
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    own = json.loads(shown["DeliveryPolicy"])
    effective = json.loads(shown["EffectiveDeliveryPolicy"])
    assert list(own) == DELIVERY_POLICY_KEYS
    assert own == {
        "healthyRetryPolicy": None,
        "sicklyRetryPolicy": None,
        "throttlePolicy": None,
        "requestPolicy": {"headerContentType": "text/csv"},
        "guaranteed": False,
    }
    assert list(effective) == DELIVERY_POLICY_KEYS
    assert effective == {
        "healthyRetryPolicy": DEFAULT_HEALTHY_RETRY,
        "sicklyRetryPolicy": None,
        "throttlePolicy": None,
        "requestPolicy": {"headerContentType": "text/csv"},
        "guaranteed": False,
    }


def test_http_delivery_policy_inherits_the_topic_request_policy(
    sns: Any, unique: Callable[[str], str]
) -> None:
    # Given a topic whose delivery policy sets a request content type, and an http subscription
    topic = sns.create_topic(
        Name=unique("topic"),
        Attributes={
            "DeliveryPolicy": '{"http":{"defaultRequestPolicy":'
            '{"headerContentType":"application/json"}}}'
        },
    )["TopicArn"]
    arn = http_subscription(sns, topic)
    retry = {**DEFAULT_HEALTHY_RETRY, "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 0}
    # When the subscription's delivery policy sets a retry and a throttle policy
    sns.set_subscription_attributes(
        SubscriptionArn=arn,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps(
            {
                "healthyRetryPolicy": retry,
                "sicklyRetryPolicy": None,
                "throttlePolicy": {"maxReceivesPerSecond": 1000},
                "guaranteed": False,
            }
        ),
    )
    # Then the effective policy takes the request policy from the topic
    shown = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    own = {
        "healthyRetryPolicy": retry,
        "sicklyRetryPolicy": None,
        "throttlePolicy": {"maxReceivesPerSecond": 1000},
        "requestPolicy": None,
        "guaranteed": False,
    }
    assert json.loads(shown["DeliveryPolicy"]) == own
    assert json.loads(shown["EffectiveDeliveryPolicy"]) == {
        **own,
        "requestPolicy": {"headerContentType": "application/json"},
    }


# -- Unsubscribe -----------------------------------------------------------------------


def test_unsubscribe_removes_the_subscription_and_repeating_it_succeeds(
    sns: Any, topic: str
) -> None:
    # Given a queue subscription
    arn = sqs_subscription(sns, topic)
    # When it is unsubscribed, twice
    first = sns.unsubscribe(SubscriptionArn=arn)
    second = sns.unsubscribe(SubscriptionArn=arn)
    # Then both calls succeed and the subscription is gone
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    raises_aws(
        sns.get_subscription_attributes,
        "NotFound",
        404,
        "Subscription does not exist",
        SubscriptionArn=arn,
    )


def test_unsubscribe_of_a_well_formed_unknown_arn_succeeds(sns: Any, topic: str) -> None:
    # Given a well-formed subscription ARN that names nothing
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:nonexistent:{uuid.uuid4()}"
    # When it is unsubscribed
    answer = sns.unsubscribe(SubscriptionArn=missing)
    # Then SNS answers 200
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        (
            "randomstring",
            "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, "
            "not 1",
        ),
        (
            PENDING,
            "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, "
            "not 1",
        ),
        (
            "arn:aws:sns:us-east-1:random",
            "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, "
            "not 5",
        ),
        (f"arn:aws:sns:us-east-1:{ACCOUNT}:random", "Invalid parameter: SubscriptionId"),
    ],
    ids=["one-element", "pending-confirmation", "five-elements", "no-subscription-id"],
)
def test_unsubscribe_refuses_a_malformed_arn(sns: Any, arn: str, message: str) -> None:
    # Given a malformed subscription ARN
    # When it is unsubscribed
    # Then SNS refuses the ARN
    raises_aws(sns.unsubscribe, "InvalidParameter", 400, message, SubscriptionArn=arn)


# -- ListSubscriptions and ListSubscriptionsByTopic ------------------------------------

LISTED_KEYS = {"Endpoint", "Owner", "Protocol", "SubscriptionArn", "TopicArn"}


def test_listings_show_pending_subscriptions_as_pending_confirmation(
    server: Any, unique: Callable[[str], str]
) -> None:
    # Given, in a region of its own, a topic with a confirmed and a pending subscription
    sns = regional_sns(server, "eu-north-1")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    queue = f"arn:aws:sqs:eu-north-1:{ACCOUNT}:orders"
    confirmed = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    expected = [
        {
            "SubscriptionArn": "PendingConfirmation",
            "Owner": ACCOUNT,
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": topic,
        },
        {
            "SubscriptionArn": confirmed,
            "Owner": ACCOUNT,
            "Protocol": "sqs",
            "Endpoint": queue,
            "TopicArn": topic,
        },
    ]
    # When both listings are read
    by_topic = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    everything = [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == topic]
    # Then each shows exactly AWS's keys, the pending one as "PendingConfirmation"
    for listed in (by_topic, everything):
        assert all(set(s) == LISTED_KEYS for s in listed)
        assert sorted(listed, key=lambda s: s["Protocol"]) == expected  # email, then sqs


def test_list_subscriptions_by_topic_pages_by_100(sns: Any, topic: str) -> None:
    # Given a topic with 120 queue subscriptions
    made = {
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q-{i}"
        )["SubscriptionArn"]
        for i in range(120)
    }
    # When the listing is read page by page
    first = sns.list_subscriptions_by_topic(TopicArn=topic)
    second = sns.list_subscriptions_by_topic(TopicArn=topic, NextToken=first["NextToken"])
    # Then the first page holds 100 with a NextToken, the second the other 20 and no token
    assert len(first["Subscriptions"]) == 100
    assert len(second["Subscriptions"]) == 20
    assert "NextToken" not in second
    listed = [s["SubscriptionArn"] for s in first["Subscriptions"] + second["Subscriptions"]]
    assert len(listed) == len(set(listed))
    assert set(listed) == made


def test_list_subscriptions_pages_by_100(server: Any, unique: Callable[[str], str]) -> None:
    # Given, in a region no other test uses, 120 subscriptions over two topics
    sns = regional_sns(server, "ap-southeast-2")
    topics = [sns.create_topic(Name=unique("topic"))["TopicArn"] for _ in range(2)]
    made = {
        sns.subscribe(
            TopicArn=topics[i % 2],
            Protocol="sqs",
            Endpoint=f"arn:aws:sqs:ap-southeast-2:{ACCOUNT}:q-{i}",
        )["SubscriptionArn"]
        for i in range(120)
    }
    # When ListSubscriptions is read page by page
    first = sns.list_subscriptions()
    second = sns.list_subscriptions(NextToken=first["NextToken"])
    # Then the pages hold 100 and 20, every subscription once
    assert len(first["Subscriptions"]) == 100
    assert len(second["Subscriptions"]) == 20
    assert "NextToken" not in second
    listed = [s["SubscriptionArn"] for s in first["Subscriptions"] + second["Subscriptions"]]
    assert len(listed) == len(set(listed))
    assert set(listed) == made


# -- ConfirmSubscription ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("randomtoken", "Invalid token"),
        (secrets.token_hex(144), "Invalid parameter: Token"),
    ],
    ids=["malformed", "well-formed-unknown"],
)
def test_confirm_subscription_refuses_a_token_it_did_not_issue(
    sns: Any, topic: str, token: str, message: str
) -> None:
    # Given a topic with a pending http subscription
    http_subscription(sns, topic)
    # When ConfirmSubscription is called with a token SNS never sent
    # Then it is refused
    raises_aws(
        sns.confirm_subscription, "InvalidParameter", 400, message, TopicArn=topic, Token=token
    )


# -- GetTopicAttributes counts ---------------------------------------------------------


def test_topic_counts_follow_subscribe_and_unsubscribe(sns: Any, topic: str) -> None:
    # Given a new topic
    assert counts(sns, topic) == ("0", "0", "0")
    # When a queue (confirmed at once) and an http endpoint (pending) subscribe
    queue = sqs_subscription(sns, topic)
    pending = http_subscription(sns, topic)
    # Then one is counted confirmed and one pending
    assert counts(sns, topic) == ("1", "1", "0")
    # When the queue unsubscribes
    sns.unsubscribe(SubscriptionArn=queue)
    # Then it moves to the deleted count
    assert counts(sns, topic) == ("0", "1", "1")
    # When the pending one unsubscribes too
    sns.unsubscribe(SubscriptionArn=pending)
    # Then nothing is left but the deletions
    assert counts(sns, topic) == ("0", "0", "2")
