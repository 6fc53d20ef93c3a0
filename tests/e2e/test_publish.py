"""Publish and PublishBatch end to end, with boto3 over HTTP and HTTPS and with the AWS CLI.

Expected codes, statuses and messages are AWS's recorded answers (SNS 2010-03-31); where
AWS's wording was never recorded, the test accepts any message that names the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import BOTH_BACKENDS, REGION

ACCOUNT = "000000000000"
LIMIT = 262_144
MESSAGE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TOO_LONG = "Invalid parameter: Message too long"
GROUP_REQUIRED = "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
DEDUP_REQUIRED = (
    "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
    "MessageDeduplicationId provided explicitly"
)

# Run against SQLite and PostgreSQL.
pytestmark = BOTH_BACKENDS
NO_DEFAULT = "Invalid parameter: Message Structure - No default entry in JSON message body"


def raises_aws(
    call: Callable[..., Any], code: str, status: int, message: str, **kwargs: Any
) -> None:
    """Call, expect a ClientError with exactly this code, HTTP status and message."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    error = e.value.response["Error"]
    assert (
        error["Code"],
        e.value.response["ResponseMetadata"]["HTTPStatusCode"],
        error["Message"],
    ) == (code, status, message)
    assert error.get("Type") == "Sender"


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


def string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def entries(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"Id": f"m{i}", "Message": f"message {i}", **extra} for i in range(count)]


@pytest.fixture
def unchecked(server: Any) -> Any:
    """A boto3 SNS client that sends what it is given (no client-side parameter checks)."""
    return server.client("sns", parameter_validation=False)


@pytest.fixture
def make_fifo(sns: Any, unique: Callable[[str], str]) -> Callable[..., str]:
    """Create a FIFO topic; ``content_dedup`` sets ContentBasedDeduplication."""

    def make(content_dedup: bool = False) -> str:
        attributes = {"FifoTopic": "true"}
        if content_dedup:
            attributes["ContentBasedDeduplication"] = "true"
        name = unique("fifo") + ".fifo"
        return str(sns.create_topic(Name=name, Attributes=attributes)["TopicArn"])

    return make


# -- Publish: target -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["TopicArn", "TargetArn"])
def test_publish_to_a_topic_returns_a_message_id(sns: Any, topic: str, field: str) -> None:
    # Given a standard topic
    # When a message is published to it, named as TopicArn or as TargetArn
    answer = sns.publish(Message="order 42 shipped", **{field: topic})
    # Then a message id comes back, and no sequence number
    assert MESSAGE_ID.match(answer["MessageId"])
    assert "SequenceNumber" not in answer


@pytest.mark.parametrize(
    ("field", "arn", "code", "status", "message"),
    [
        (
            "TopicArn",
            f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic-e2e",
            "NotFound",
            404,
            "Topic does not exist",
        ),
        (
            "TopicArn",
            "test-topic",
            "InvalidParameter",
            400,
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
        ),
        (
            "TopicArn",
            "",
            "InvalidParameter",
            400,
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
        ),
        (
            "TopicArn",
            f"arn:aws:sns:us-west-2:{ACCOUNT}:elsewhere",
            "InvalidParameter",
            400,
            "Invalid parameter: TopicArn",
        ),
        (
            "TargetArn",
            "test-topic",
            "InvalidParameter",
            400,
            "Invalid parameter: TargetArn Reason: An ARN must have at least 6 elements, not 1",
        ),
    ],
    ids=[
        "missing-topic",
        "malformed-topic-arn",
        "empty-topic-arn",
        "other-region",
        "malformed-target-arn",
    ],
)
def test_publish_refuses_a_target_it_cannot_use(
    sns: Any, field: str, arn: str, code: str, status: int, message: str
) -> None:
    # Given a topic ARN that names no topic, is malformed, or is in another region
    # When a message is published to it
    # Then SNS refuses it
    raises_aws(sns.publish, code, status, message, Message="hello", **{field: arn})


# -- Publish: body and subject ---------------------------------------------------------


def test_publish_refuses_an_empty_message(sns: Any, topic: str) -> None:
    # Given a standard topic
    # When an empty message is published
    # Then SNS refuses it
    raises_aws(
        sns.publish,
        "InvalidParameter",
        400,
        "Invalid parameter: Empty message",
        TopicArn=topic,
        Message="",
    )


@pytest.mark.parametrize(
    "subject",
    ["", "x" * 100, "line\nbreak", "tab\tinside", "line\u2028separator", "next\x85line"],
    ids=["empty", "100", "nl", "tab", "u2028", "nel"],
)
def test_publish_refuses_an_invalid_subject(sns: Any, topic: str, subject: str) -> None:
    # Given a standard topic
    # When a message is published with an empty subject, one of 100 characters, or one with
    # a control character
    # Then SNS refuses the subject
    raises_aws(
        sns.publish,
        "InvalidParameter",
        400,
        "Invalid parameter: Subject",
        TopicArn=topic,
        Message="hello",
        Subject=subject,
    )


@pytest.mark.parametrize("subject", ["x" * 99, "Order 42: shipped!"], ids=["99", "punctuation"])
def test_publish_accepts_a_valid_subject(sns: Any, topic: str, subject: str) -> None:
    # Given a standard topic
    # When a message is published with a subject under 100 characters
    answer = sns.publish(TopicArn=topic, Message="hello", Subject=subject)
    # Then it is accepted
    assert MESSAGE_ID.match(answer["MessageId"])


SIZES = [
    ("x" * LIMIT, {}, None),
    ("x" * (LIMIT + 1), {}, TOO_LONG),
    ("é" * (LIMIT // 2), {}, None),
    ("é" * (LIMIT // 2) + "x", {}, TOO_LONG),
    # "a" + "String" + "b" = 8 bytes of attributes
    ("x" * (LIMIT - 8), {"a": string("b")}, None),
    ("x" * (LIMIT - 7), {"a": string("b")}, TOO_LONG),
    # "bin" + "Binary" + 4 bytes = 13 bytes of attributes
    ("x" * (LIMIT - 13), {"bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02\x03"}}, None),
    (
        "x" * (LIMIT - 12),
        {"bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02\x03"}},
        TOO_LONG,
    ),
]


@pytest.mark.parametrize(
    ("message", "attributes", "error"),
    SIZES,
    ids=[
        "ascii-at-limit",
        "ascii-over",
        "utf8-at-limit",
        "utf8-over",
        "string-attr-at-limit",
        "string-attr-over",
        "binary-attr-at-limit",
        "binary-attr-over",
    ],
)
def test_publish_size_limit_counts_utf8_bytes_and_attributes(
    sns: Any, topic: str, message: str, attributes: dict[str, Any], error: str | None
) -> None:
    # Given a standard topic
    # When a message is published whose body plus attributes is exactly 256 KiB, or a byte more
    # Then the first is accepted and the second refused
    if error is None:
        answer = sns.publish(TopicArn=topic, Message=message, MessageAttributes=attributes)
        assert MESSAGE_ID.match(answer["MessageId"])
    else:
        raises_aws(
            sns.publish,
            "InvalidParameter",
            400,
            error,
            TopicArn=topic,
            Message=message,
            MessageAttributes=attributes,
        )


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ('{"sqs":"Test message"}', NO_DEFAULT),
        ('{"default":{"object":"test"}}', NO_DEFAULT),
        (
            '{"default": "This is a default message"} }',
            "Invalid parameter: Message Structure - JSON message body failed to parse",
        ),
        ('{"default":"a","default":"b"}', None),
        ('{"default":"for everyone","email":"for email","sqs":"for queues"}', None),
    ],
    ids=["no-default", "default-not-string", "not-json", "duplicate-default", "per-protocol"],
)
def test_publish_with_json_message_structure(
    sns: Any, topic: str, message: str, error: str | None
) -> None:
    # Given a standard topic
    # When a message is published with MessageStructure=json
    # Then it needs a string "default" entry and must parse
    if error is None:
        answer = sns.publish(TopicArn=topic, Message=message, MessageStructure="json")
        assert MESSAGE_ID.match(answer["MessageId"])
    else:
        raises_aws(
            sns.publish,
            "InvalidParameter",
            400,
            error,
            TopicArn=topic,
            Message=message,
            MessageStructure="json",
        )


# -- message attributes (Publish and PublishBatch) --------------------------------------

INVALID_TYPE = (
    "The message attribute 'attr1' has an invalid message attribute type, the set of "
    "supported type prefixes is Binary, Number, and String."
)
BAD_CHARACTER = (
    "Invalid non-alphanumeric character '#x5E' was found in the message attribute name. Can "
    "only include alphanumeric characters, hyphens, underscores, or dots."
)
ATTRIBUTE_ERRORS = [
    (
        {"attr1": {"DataType": "String", "StringValue": ""}},
        "The message attribute 'attr1' must contain non-empty message attribute value for "
        "message attribute type 'String'.",
    ),
    (
        {"attr1": {"DataType": "String"}},
        "The message attribute 'attr1' must contain non-empty message attribute value for "
        "message attribute type 'String'.",
    ),
    (
        {"attr1": {"DataType": "Binary", "BinaryValue": b""}},
        "The message attribute 'attr1' must contain non-empty message attribute value for "
        "message attribute type 'Binary'.",
    ),
    (
        {"attr1": {"DataType": "String", "BinaryValue": b"123"}},
        "The message attribute 'attr1' with type 'String' must use field 'String'.",
    ),
    (
        {"attr1": {"DataType": "Number", "BinaryValue": b"123"}},
        "The message attribute 'attr1' with type 'Number' must use field 'String'.",
    ),
    (
        {"attr1": {"DataType": "Binary", "StringValue": "123"}},
        "The message attribute 'attr1' with type 'Binary' must use field 'Binary'.",
    ),
    ({"attr1": {"DataType": "InvalidType", "StringValue": "v"}}, INVALID_TYPE),
    ({"attr1": {"DataType": "String.", "StringValue": "v"}}, INVALID_TYPE),
    ({"attr1": {"DataType": "Stringprefixed", "StringValue": "v"}}, INVALID_TYPE),
    (
        {"a" * 257: string("v")},
        "Length of message attribute name must be less than 256 bytes.",
    ),
    ({"a^*?": string("v")}, BAD_CHARACTER),
    (
        {".abc": string("v")},
        "Invalid message attribute name starting with character '.' was found.",
    ),
    (
        {"abc.": string("v")},
        "Invalid message attribute name ending with character '.' was found.",
    ),
    ({"a..bc": string("v")}, "Message attribute name can not have successive '.' character."),
]
ATTRIBUTE_ERROR_IDS = [
    "string-empty",
    "string-no-value",
    "binary-empty",
    "string-in-binary-field",
    "number-in-binary-field",
    "binary-in-string-field",
    "unknown-type",
    "type-trailing-dot",
    "type-no-dot",
    "name-257",
    "name-bad-char",
    "name-leading-dot",
    "name-trailing-dot",
    "name-double-dot",
]


@pytest.mark.parametrize(("attributes", "message"), ATTRIBUTE_ERRORS, ids=ATTRIBUTE_ERROR_IDS)
def test_publish_refuses_invalid_message_attributes(
    sns: Any, topic: str, attributes: dict[str, Any], message: str
) -> None:
    # Given a standard topic
    # When a message is published with an invalid message attribute
    # Then SNS refuses it with ParameterValueInvalid
    raises_aws(
        sns.publish,
        "ParameterValueInvalid",
        400,
        message,
        TopicArn=topic,
        Message="hello",
        MessageAttributes=attributes,
    )


@pytest.mark.parametrize(("attributes", "message"), ATTRIBUTE_ERRORS, ids=ATTRIBUTE_ERROR_IDS)
def test_publish_batch_refuses_invalid_message_attributes(
    sns: Any, topic: str, attributes: dict[str, Any], message: str
) -> None:
    # Given a standard topic
    # When a batch is published whose second entry has an invalid message attribute
    batch = entries(2)
    batch[1]["MessageAttributes"] = attributes
    # Then the whole batch is refused with Publish's error
    raises_aws(
        sns.publish_batch,
        "ParameterValueInvalid",
        400,
        message,
        TopicArn=topic,
        PublishBatchRequestEntries=batch,
    )


def test_publish_refuses_a_message_attribute_without_data_type(unchecked: Any, topic: str) -> None:
    # Given a standard topic
    # When a message attribute is sent without a DataType
    # Then AWS's model check answers ValidationError
    raises_aws(
        unchecked.publish,
        "ValidationError",
        400,
        "1 validation error detected: Value null at 'messageAttributes.attr1.member.dataType' "
        "failed to satisfy constraint: Member must not be null",
        TopicArn=topic,
        Message="hello",
        MessageAttributes={"attr1": {"StringValue": "value"}},
    )


def test_publish_batch_refuses_a_message_attribute_without_data_type(
    unchecked: Any, topic: str
) -> None:
    # Given a standard topic
    # When the first batch entry has a message attribute without a DataType
    batch = entries(2)
    batch[0]["MessageAttributes"] = {"attr1": {"StringValue": "value"}}
    # Then the ValidationError names the entry's path
    raises_aws(
        unchecked.publish_batch,
        "ValidationError",
        400,
        "1 validation error detected: Value null at 'publishBatchRequestEntries.1.member."
        "messageAttributes.attr1.member.dataType' failed to satisfy constraint: Member must "
        "not be null",
        TopicArn=topic,
        PublishBatchRequestEntries=batch,
    )


@pytest.mark.parametrize(
    "attribute",
    [
        {"DataType": "String", "StringValue": "plain"},
        {"DataType": "String.prefixed", "StringValue": "custom type"},
        {"DataType": "String.  prefixed.", "StringValue": "custom type"},
        {"DataType": "Number", "StringValue": "0"},
        {"DataType": "Number", "StringValue": "-17"},
        {"DataType": "Number", "StringValue": "3.14159"},
        {"DataType": "Number", "StringValue": "1e10"},
        {"DataType": "Number", "StringValue": "9" * 38},
        {"DataType": "Number.float", "StringValue": "2.5"},
        {"DataType": "String.Array", "StringValue": '["a","b"]'},
        {"DataType": "String.Array", "StringValue": '["a", 1, true, false, null]'},
        {"DataType": "String.Array", "StringValue": "[]"},
        {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
        {"DataType": "Binary.gzip", "BinaryValue": b"\x1f\x8b\x08\x00"},
    ],
    ids=lambda a: f"{a['DataType']}:{a.get('StringValue', a.get('BinaryValue'))!r}"[:40],
)
def test_publish_accepts_valid_message_attributes(
    sns: Any, topic: str, attribute: dict[str, Any]
) -> None:
    # Given a standard topic
    # When a message is published with a valid String, Number, String.Array or Binary attribute
    answer = sns.publish(TopicArn=topic, Message="hello", MessageAttributes={"attr1": attribute})
    # Then it is accepted
    assert MESSAGE_ID.match(answer["MessageId"])


def test_publish_takes_at_most_ten_message_attributes(sns: Any, topic: str) -> None:
    # Given a standard topic
    ten = {f"attr{i}": string(str(i)) for i in range(10)}
    # When a message is published with ten attributes
    answer = sns.publish(TopicArn=topic, Message="hello", MessageAttributes=ten)
    # Then it is accepted
    assert MESSAGE_ID.match(answer["MessageId"])
    # When it is published with eleven
    eleven = {**ten, "attr10": string("10")}
    message = raises_code(
        sns.publish,
        "ParameterValueInvalid",
        400,
        TopicArn=topic,
        Message="hello",
        MessageAttributes=eleven,
    )
    # Then it is refused, naming the limit (AWS's wording is not recorded)
    assert "10" in message
    assert "attributes" in message


# -- FIFO topics -----------------------------------------------------------------------


def test_fifo_publish_needs_a_message_group_id(make_fifo: Callable[..., str], sns: Any) -> None:
    # Given a FIFO topic with content-based deduplication
    topic = make_fifo(content_dedup=True)
    # When a message is published without MessageGroupId
    # Then SNS refuses it
    raises_aws(
        sns.publish, "InvalidParameter", 400, GROUP_REQUIRED, TopicArn=topic, Message="hello"
    )


def test_fifo_publish_needs_deduplication(make_fifo: Callable[..., str], sns: Any) -> None:
    # Given a FIFO topic without content-based deduplication
    topic = make_fifo(content_dedup=False)
    # When a message is published without MessageDeduplicationId
    # Then SNS refuses it
    raises_aws(
        sns.publish,
        "InvalidParameter",
        400,
        DEDUP_REQUIRED,
        TopicArn=topic,
        Message="hello",
        MessageGroupId="orders",
    )


@pytest.mark.parametrize(
    ("content_dedup", "extra"),
    [(False, {"MessageDeduplicationId": "order-42"}), (True, {})],
    ids=["explicit-dedup-id", "content-based"],
)
def test_fifo_publish_returns_increasing_sequence_numbers(
    make_fifo: Callable[..., str], sns: Any, content_dedup: bool, extra: dict[str, str]
) -> None:
    # Given a FIFO topic
    topic = make_fifo(content_dedup=content_dedup)
    # When three messages are published to one group
    answers = [
        sns.publish(
            TopicArn=topic,
            Message=f"order {i}",
            MessageGroupId="orders",
            **{k: f"{v}-{i}" for k, v in extra.items()},
        )
        for i in range(3)
    ]
    # Then each has a message id and a numeric sequence number, increasing
    assert all(MESSAGE_ID.match(a["MessageId"]) for a in answers)
    numbers = [a["SequenceNumber"] for a in answers]
    assert all(n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted({int(n) for n in numbers})


def test_deduplication_id_is_refused_on_a_standard_topic(sns: Any, topic: str) -> None:
    # Given a standard topic
    # When a message is published with a MessageDeduplicationId
    # Then SNS refuses it
    raises_aws(
        sns.publish,
        "InvalidParameter",
        400,
        "Invalid parameter: MessageDeduplicationId Reason: The request includes "
        "MessageDeduplicationId parameter that is not valid for this topic type",
        TopicArn=topic,
        Message="hello",
        MessageDeduplicationId="order-42",
    )


# -- SMS and mobile push ---------------------------------------------------------------


@pytest.mark.parametrize("number", ["+1a234", "NAA+15551234567", "InvalidPhoneNumber"])
def test_publish_refuses_an_invalid_phone_number(sns: Any, number: str) -> None:
    # Given a phone number that is not E.164
    # When a message is published to it
    # Then SNS refuses it, echoing the number
    raises_aws(
        sns.publish,
        "InvalidParameter",
        400,
        f"Invalid parameter: PhoneNumber Reason: {number} is not valid to publish to",
        PhoneNumber=number,
        Message="hello",
    )


def test_publish_to_a_valid_phone_number_is_unsupported(sns: Any) -> None:
    # Given a valid E.164 phone number
    # When a message is published to it
    message = raises_code(
        sns.publish, "UnsupportedOperation", 400, PhoneNumber="+15551234567", Message="hello"
    )
    # Then Herald says it does not send SMS
    assert "SMS" in message


@pytest.mark.parametrize(
    ("operation", "kwargs", "action"),
    [
        ("get_sms_attributes", {}, "GetSMSAttributes"),
        (
            "set_sms_attributes",
            {"attributes": {"DefaultSMSType": "Promotional"}},
            "SetSMSAttributes",
        ),
        ("check_if_phone_number_is_opted_out", {"phoneNumber": "+15551234567"}, "CheckIfPhone"),
        (
            "create_platform_application",
            {"Name": "app", "Platform": "GCM", "Attributes": {"PlatformCredential": "key"}},
            "CreatePlatformApplication",
        ),
        ("list_platform_applications", {}, "ListPlatformApplications"),
    ],
    ids=["get-sms", "set-sms", "opted-out", "create-platform-app", "list-platform-apps"],
)
def test_sms_and_mobile_push_operations_are_unsupported(
    sns: Any, operation: str, kwargs: dict[str, Any], action: str
) -> None:
    # Given Herald, which offers neither SMS nor mobile push
    # When an SMS or platform-application operation is called
    message = raises_code(getattr(sns, operation), "UnsupportedOperation", 400, **kwargs)
    # Then it answers UnsupportedOperation, naming the operation
    assert action in message


# -- PublishBatch ----------------------------------------------------------------------


def test_publish_batch_success_shape(sns: Any, topic: str) -> None:
    # Given a standard topic
    # When three messages are published in one batch
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries(3))
    # Then each entry succeeds with its Id and a message id, and nothing failed
    assert answer["Failed"] == []
    assert [s["Id"] for s in answer["Successful"]] == ["m0", "m1", "m2"]
    assert all(set(s) == {"Id", "MessageId"} for s in answer["Successful"])
    assert all(MESSAGE_ID.match(s["MessageId"]) for s in answer["Successful"])
    assert len({s["MessageId"] for s in answer["Successful"]}) == 3


def test_publish_batch_to_a_missing_topic_is_not_found(sns: Any) -> None:
    # Given a well-formed ARN of a topic that does not exist
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic-e2e"
    # When a batch is published to it
    # Then SNS answers NotFound 404
    raises_aws(
        sns.publish_batch,
        "NotFound",
        404,
        "Topic does not exist",
        TopicArn=missing,
        PublishBatchRequestEntries=entries(1),
    )


def test_publish_batch_names_an_empty_topic_arn(sns: Any) -> None:
    # Given an empty TopicArn
    # When a batch is published to it
    # Then SNS names TopicArn, as Publish does
    raises_aws(
        sns.publish_batch,
        "InvalidParameter",
        400,
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
        TopicArn="",
        PublishBatchRequestEntries=entries(1),
    )


BATCH_ERRORS = [
    ([], "EmptyBatchRequest", "The batch request doesn't contain any entries."),
    (
        entries(11),
        "TooManyEntriesInBatchRequest",
        "The batch request contains more entries than permissible.",
    ),
    (
        [{"Id": "1", "Message": "a"}, {"Id": "1", "Message": "b"}],
        "BatchEntryIdsNotDistinct",
        "Two or more batch entries in the request have the same Id.",
    ),
    (
        [{"Id": "message.id", "Message": "a"}],
        "InvalidBatchEntryId",
        "The Id of a batch entry in the batch request contains an impermissible character: "
        "message.id",
    ),
    (
        [{"Id": "msg@123#test", "Message": "a"}],
        "InvalidBatchEntryId",
        "The Id of a batch entry in the batch request contains an impermissible character: "
        "msg@123#test",
    ),
    (
        [{"Id": "i" * 81, "Message": "a"}],
        "InvalidBatchEntryId",
        "The Id of a batch entry in the batch request is too long: " + "i" * 81,
    ),
    (
        [
            {"Id": "1", "Message": "x" * (LIMIT // 2)},
            {"Id": "2", "Message": "x" * (LIMIT // 2 + 1)},
        ],
        "BatchRequestTooLong",
        "The length of all the messages put together is more than the limit.",
    ),
    (
        [
            {"Id": "1", "Message": "x" * (LIMIT // 2)},
            {
                "Id": "2",
                "Message": "x" * (LIMIT // 2 - 7),
                "MessageAttributes": {"a": string("b")},
            },
        ],
        "BatchRequestTooLong",
        "The length of all the messages put together is more than the limit.",
    ),
    (
        [
            {"Id": "1", "Message": "fine"},
            {"Id": "2", "Message": '{"sqs":"no default"}', "MessageStructure": "json"},
        ],
        "InvalidParameter",
        NO_DEFAULT,
    ),
]


@pytest.mark.parametrize(
    ("batch", "code", "message"),
    BATCH_ERRORS,
    ids=[
        "empty",
        "eleven-entries",
        "same-id",
        "id-with-dot",
        "id-with-symbols",
        "id-81-chars",
        "over-256k",
        "over-256k-with-attributes",
        "one-bad-entry",
    ],
)
def test_publish_batch_refuses_the_whole_batch(
    unchecked: Any, topic: str, batch: list[dict[str, Any]], code: str, message: str
) -> None:
    # Given a standard topic
    # When a batch breaks one of SNS's batch rules, or one of its entries is invalid
    # Then the whole request is refused with a top-level error
    raises_aws(
        unchecked.publish_batch,
        code,
        400,
        message,
        TopicArn=topic,
        PublishBatchRequestEntries=batch,
    )


@pytest.mark.parametrize(
    "batch",
    [
        [{"Id": "i" * 80, "Message": "a"}],
        [{"Id": "A-z_09", "Message": "a"}],
        [{"Id": "1", "Message": "x" * (LIMIT // 2)}, {"Id": "2", "Message": "x" * (LIMIT // 2)}],
        [
            {"Id": "1", "Message": "x" * (LIMIT // 2)},
            {
                "Id": "2",
                "Message": "x" * (LIMIT // 2 - 8),
                "MessageAttributes": {"a": string("b")},
            },
        ],
        entries(10),
    ],
    ids=["id-80-chars", "id-all-allowed-chars", "exactly-256k", "256k-with-attributes", "ten"],
)
def test_publish_batch_accepts_batches_at_the_limits(
    sns: Any, topic: str, batch: list[dict[str, Any]]
) -> None:
    # Given a standard topic
    # When a batch right at one of the limits is published
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=batch)
    # Then every entry succeeds
    assert answer["Failed"] == []
    assert [s["Id"] for s in answer["Successful"]] == [e["Id"] for e in batch]


@pytest.mark.parametrize(
    ("content_dedup", "batch", "message"),
    [
        (
            True,
            [{"Id": "1", "Message": "a", "MessageGroupId": "g"}, {"Id": "2", "Message": "b"}],
            GROUP_REQUIRED,
        ),
        (False, [{"Id": "1", "Message": "a", "MessageGroupId": "g"}], DEDUP_REQUIRED),
    ],
    ids=["no-group-id", "no-dedup-id"],
)
def test_fifo_publish_batch_refuses_entries_without_fifo_ids(
    make_fifo: Callable[..., str],
    sns: Any,
    content_dedup: bool,
    batch: list[dict[str, Any]],
    message: str,
) -> None:
    # Given a FIFO topic
    topic = make_fifo(content_dedup=content_dedup)
    # When a batch has an entry without the FIFO ids the topic needs
    # Then the whole batch is refused
    raises_aws(
        sns.publish_batch,
        "InvalidParameter",
        400,
        message,
        TopicArn=topic,
        PublishBatchRequestEntries=batch,
    )


def test_fifo_publish_batch_returns_sequence_numbers(
    make_fifo: Callable[..., str], sns: Any
) -> None:
    # Given a FIFO topic without content-based deduplication
    topic = make_fifo(content_dedup=False)
    batch = [
        {
            "Id": f"m{i}",
            "Message": f"order {i}",
            "MessageGroupId": "orders",
            "MessageDeduplicationId": f"order-{i}",
        }
        for i in range(3)
    ]
    # When a batch with group and deduplication ids is published
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=batch)
    # Then each entry has its Id, a message id and a sequence number, increasing
    assert answer["Failed"] == []
    successful = answer["Successful"]
    assert [s["Id"] for s in successful] == ["m0", "m1", "m2"]
    assert all(set(s) == {"Id", "MessageId", "SequenceNumber"} for s in successful)
    numbers = [int(s["SequenceNumber"]) for s in successful]
    assert numbers == sorted(set(numbers))


# -- HTTPS and the AWS CLI -------------------------------------------------------------


def test_publish_and_publish_batch_over_https(sns_tls: Any, unique: Callable[[str], str]) -> None:
    # Given a topic created over HTTPS
    topic = sns_tls.create_topic(Name=unique("tls"))["TopicArn"]
    # When a message and a batch are published over HTTPS
    single = sns_tls.publish(
        TopicArn=topic, Message="over tls", MessageAttributes={"kind": string("tls")}
    )
    batch = sns_tls.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries(2))
    # Then both are accepted
    assert MESSAGE_ID.match(single["MessageId"])
    assert [s["Id"] for s in batch["Successful"]] == ["m0", "m1"]
    assert batch["Failed"] == []


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_publish_with_message_attributes_through_the_aws_cli(
    aws: Callable[..., Any], unique: Callable[[str], str], tls: bool
) -> None:
    # Given a topic made with the AWS CLI
    topic = aws("sns", "create-topic", "--name", unique("cli"), tls=tls)["TopicArn"]
    attributes = {
        "store": {"DataType": "String", "StringValue": "example_corp"},
        "price": {"DataType": "Number", "StringValue": "42.5"},
        "tags": {"DataType": "String.Array", "StringValue": '["a","b"]'},
    }
    # When a message with message attributes is published through the CLI
    published = aws(
        "sns",
        "publish",
        "--topic-arn",
        topic,
        "--message",
        "order 42 shipped",
        "--subject",
        "shipped",
        "--message-attributes",
        json.dumps(attributes),
        tls=tls,
    )
    # Then the CLI prints the message id
    assert MESSAGE_ID.match(published["MessageId"])


def test_the_aws_cli_reports_an_invalid_message_attribute(
    aws: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    # Given a topic made with the AWS CLI
    topic = aws("sns", "create-topic", "--name", unique("cli"))["TopicArn"]
    # When a message attribute with a bad name is published through the CLI
    done = aws(
        "sns",
        "publish",
        "--topic-arn",
        topic,
        "--message",
        "hello",
        "--message-attributes",
        json.dumps({"a..bc": {"DataType": "String", "StringValue": "v"}}),
        check=False,
    )
    # Then the CLI fails and prints AWS's code and message
    assert done.returncode != 0
    assert "(ParameterValueInvalid)" in done.stderr
    assert "Message attribute name can not have successive '.' character." in done.stderr
