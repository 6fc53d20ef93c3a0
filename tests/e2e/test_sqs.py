"""SQS queues over the AWS JSON 1.0 protocol, end to end with boto3 and the AWS CLI.

The rules checked are SQS's (SQS API Reference, botocore's sqs/2012-11-05 model, and
responses LocalStack recorded from AWS): queue names and attribute limits, idempotent
creation, errors named by their Query codes (AWS.SimpleQueueService.NonExistentQueue),
message digests, batches that report bad entries one by one, visibility, long polling,
delays, dead-letter redrive, FIFO ordering and deduplication, IAM authorisation, and
messages that outlive a restart.

botocore does not check SQS's MD5 digests itself, so the tests compute them: the body's
MD5, and the attribute digest of the SQS Developer Guide ("Calculating the MD5 message
digest for message attributes"), checked against a digest AWS returned.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess
from tests.e2e.test_accounts import client_for, new_account

ACCOUNT = "000000000000"
NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"
Attributes = dict[str, dict[str, Any]]


@pytest.fixture
def sqs(server: HeraldProcess) -> Any:
    return server.client("sqs")


@pytest.fixture
def queue(sqs: Any, unique: Callable[[str], str]) -> Callable[..., str]:
    """Makes a fresh queue (FIFO when the prefix ends in .fifo) and returns its URL."""

    def make(prefix: str = "q", **attributes: str) -> str:
        fifo = prefix.endswith(".fifo")
        name = unique(prefix.removesuffix(".fifo")) + (".fifo" if fifo else "")
        if fifo:
            attributes.setdefault("FifoQueue", "true")
        return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    return make


def _error(call: Callable[[], object]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], status, error["Message"]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _md5_attributes(attributes: Attributes) -> str:
    """SQS's digest: per attribute in name order, length-prefixed name and data type, a
    transport byte (1 string, 2 binary) and the length-prefixed value."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attribute = attributes[name]
        for text in (name, attribute["DataType"]):
            encoded = text.encode()
            digest.update(struct.pack(">I", len(encoded)) + encoded)
        if attribute["DataType"].startswith("Binary"):
            value = attribute["BinaryValue"]
            digest.update(b"\x02" + struct.pack(">I", len(value)) + value)
        else:
            value = attribute["StringValue"].encode()
            digest.update(b"\x01" + struct.pack(">I", len(value)) + value)
    return digest.hexdigest()


def _attributes(sqs: Any, url: str, *names: str) -> dict[str, str]:
    answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])
    return dict(answer.get("Attributes", {}))


def _counts(sqs: Any, url: str) -> tuple[int, int, int]:
    shown = _attributes(
        sqs,
        url,
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    return (
        int(shown["ApproximateNumberOfMessages"]),
        int(shown["ApproximateNumberOfMessagesNotVisible"]),
        int(shown["ApproximateNumberOfMessagesDelayed"]),
    )


def _receive(sqs: Any, url: str, **extra: Any) -> list[dict[str, Any]]:
    return list(sqs.receive_message(QueueUrl=url, **extra).get("Messages", []))


def _arn(sqs: Any, url: str) -> str:
    return _attributes(sqs, url, "QueueArn")["QueueArn"]


# -- CreateQueue, GetQueueUrl, ListQueues, DeleteQueue ----------------------------------


def test_create_queue_returns_its_url_and_get_queue_url_finds_it(
    server: HeraldProcess, sqs: Any, unique: Callable[[str], str]
) -> None:
    # Given a new queue name
    name = unique("orders")
    # When the queue is created
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    # Then its URL is the endpoint, the account and the name, and GetQueueUrl agrees
    assert url == f"{server.http_url}/{ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)["QueueUrl"] == url


def test_create_queue_again_with_the_same_attributes_returns_the_same_queue(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    # Given a queue created with some attributes
    name = unique("same")
    attributes = {"VisibilityTimeout": "45", "DelaySeconds": "3"}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    # When it is created again with the same attributes, a subset, or a default value
    again = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    subset = sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "3"})["QueueUrl"]
    # Then the same queue comes back, messages and all
    assert again == subset == url
    assert _attributes(sqs, url, "VisibilityTimeout") == {"VisibilityTimeout": "45"}
    assert sum(_counts(sqs, url)) == 1


def test_create_queue_with_other_attributes_is_queue_already_exists(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    # Given a queue with a visibility timeout of 45 s
    name = unique("exists")
    sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})
    # When it is created again with another value
    with pytest.raises(sqs.exceptions.QueueNameExists) as caught:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    # Then SQS answers QueueAlreadyExists (shape QueueNameExists) and names the attribute
    error = caught.value.response["Error"]
    assert (error["Code"], error["QueryErrorCode"]) == ("QueueAlreadyExists", "QueueNameExists")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "VisibilityTimeout" in error["Message"]
    assert _attributes(sqs, sqs.get_queue_url(QueueName=name)["QueueUrl"], "VisibilityTimeout") == {
        "VisibilityTimeout": "45"
    }


@pytest.mark.parametrize(
    "name",
    ["", "has space", "a" * 81, "dotted.name", "naïve", "slash/name", "star*"],
    ids=["empty", "space", "81-chars", "dot", "non-ascii", "slash", "star"],
)
def test_a_bad_queue_name_is_invalid_parameter_value(sqs: Any, name: str) -> None:
    code, status, _ = _error(lambda: sqs.create_queue(QueueName=name))
    assert (code, status) == ("InvalidParameterValue", 400)


def test_a_queue_name_of_80_letters_hyphens_and_underscores_is_fine(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    name = (unique("A-b_9") + "_" * 80)[:80]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")


def test_a_fifo_queue_needs_both_the_fifo_suffix_and_fifo_queue_true(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    base = unique("fifo")
    # A .fifo name without FifoQueue=true, and FifoQueue=true without the suffix, are refused
    code, status, _ = _error(lambda: sqs.create_queue(QueueName=f"{base}.fifo"))
    assert (code, status) == ("InvalidParameterValue", 400)
    code, status, _ = _error(
        lambda: sqs.create_queue(QueueName=base, Attributes={"FifoQueue": "true"})
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    # Both together make a FIFO queue
    url = sqs.create_queue(QueueName=f"{base}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert _attributes(sqs, url, "FifoQueue") == {"FifoQueue": "true"}
    # And a standard queue takes no FifoQueue, not even "false" (as AWS answers)
    code, status, message = _error(
        lambda: sqs.create_queue(QueueName=base, Attributes={"FifoQueue": "false"})
    )
    assert (code, status, message) == ("InvalidAttributeName", 400, "Unknown Attribute FifoQueue.")


def test_fifo_attributes_on_a_standard_queue_are_unknown_attributes(
    sqs: Any, unique: Callable[[str], str], queue: Callable[..., str]
) -> None:
    # CreateQueue: ContentBasedDeduplication belongs to FIFO queues only
    code, status, message = _error(
        lambda: sqs.create_queue(
            QueueName=unique("std"), Attributes={"ContentBasedDeduplication": "true"}
        )
    )
    assert (code, status, message) == (
        "InvalidAttributeName",
        400,
        "Unknown Attribute ContentBasedDeduplication.",
    )
    # SetQueueAttributes: FifoQueue can be given only at creation
    url = queue()
    code, status, message = _error(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    )
    assert (code, status, message) == ("InvalidAttributeName", 400, "Unknown Attribute FifoQueue.")


def test_get_queue_url_of_an_unknown_queue_is_non_existent_queue(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as caught:
        sqs.get_queue_url(QueueName=unique("missing"))
    response = caught.value.response
    assert response["Error"]["Code"] == NON_EXISTENT
    assert response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
    assert response["Error"]["Message"] == "The specified queue does not exist."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"] == (
        f"{NON_EXISTENT};Sender"
    )


def test_list_queues_filters_by_name_prefix(sqs: Any, unique: Callable[[str], str]) -> None:
    # Given queues under two prefixes
    prefix = unique("lst")
    wanted = {sqs.create_queue(QueueName=f"{prefix}-a{i}")["QueueUrl"] for i in range(3)}
    other = sqs.create_queue(QueueName=f"{prefix}x-b")["QueueUrl"]
    # When listing with one prefix
    listed = sqs.list_queues(QueueNamePrefix=f"{prefix}-")
    # Then exactly its queues are listed, with no NextToken since MaxResults was not given
    assert set(listed["QueueUrls"]) == wanted
    assert "NextToken" not in listed
    assert other in sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique("nothing"))


def test_list_queues_pages_with_max_results_and_next_token(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    # Given five queues under one prefix
    prefix = unique("page")
    urls = {sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5)}
    # When they are listed two at a time
    pages: list[list[str]] = []
    answer = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    pages.append(answer["QueueUrls"])
    while "NextToken" in answer:
        answer = sqs.list_queues(
            QueueNamePrefix=prefix, MaxResults=2, NextToken=answer["NextToken"]
        )
        pages.append(answer["QueueUrls"])
        assert len(pages) <= 5
    # Then the pages hold 2, 2 and 1 queues, each once, and the last has no NextToken
    assert [len(page) for page in pages] == [2, 2, 1]
    assert {url for page in pages for url in page} == urls


def test_delete_queue_removes_it_and_its_messages(sqs: Any, unique: Callable[[str], str]) -> None:
    # Given a queue with a message
    name = unique("gone")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="bye")
    # When it is deleted
    sqs.delete_queue(QueueUrl=url)
    # Then it can no longer be found, listed, sent to or received from
    assert _error(lambda: sqs.get_queue_url(QueueName=name))[:2] == (NON_EXISTENT, 400)
    assert url not in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert _error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))[0] == NON_EXISTENT
    assert _error(lambda: sqs.receive_message(QueueUrl=url))[0] == NON_EXISTENT
    assert _error(lambda: sqs.delete_queue(QueueUrl=url))[0] == NON_EXISTENT


def test_a_queue_name_cannot_be_reused_within_60_seconds_of_deleting_the_queue(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    # SQS DeleteQueue: "you must wait at least 60 seconds before creating a queue with the
    # same name" (QueueDeletedRecently, recorded from AWS by LocalStack).
    name = unique("recent")
    sqs.delete_queue(QueueUrl=sqs.create_queue(QueueName=name)["QueueUrl"])
    code, status, message = _error(lambda: sqs.create_queue(QueueName=name))
    assert (code, status) == ("AWS.SimpleQueueService.QueueDeletedRecently", 400)
    assert "60 seconds" in message


# -- GetQueueAttributes, SetQueueAttributes --------------------------------------------


def test_get_queue_attributes_all_of_a_new_standard_queue(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    # Given a new queue
    name = unique("attrs")
    before = time.time()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    after = time.time()
    # When all its attributes are read
    shown = _attributes(sqs, url, "All")
    # Then they are SQS's set for a standard queue, with the defaults
    assert set(shown) == {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "QueueArn",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
        "VisibilityTimeout",
    }
    assert shown["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert int(before) - 1 <= int(shown["CreatedTimestamp"]) <= after + 1
    assert int(before) - 1 <= int(shown["LastModifiedTimestamp"]) <= after + 1
    assert {
        k: shown[k]
        for k in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
            "DelaySeconds",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "SqsManagedSseEnabled",
            "VisibilityTimeout",
        )
    } == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "DelaySeconds": "0",
        "MessageRetentionPeriod": "345600",
        "ReceiveMessageWaitTimeSeconds": "0",
        "SqsManagedSseEnabled": "true",
        "VisibilityTimeout": "30",
    }


def test_the_default_maximum_message_size_is_1_mib(sqs: Any, queue: Callable[..., str]) -> None:
    # SetQueueAttributes, MaximumMessageSize: "from 1,024 bytes (1 KiB) up to 1,048,576
    # bytes (1 MiB). Default: 1,048,576 bytes (1 MiB)." (botocore's sqs model)
    url = queue()
    assert _attributes(sqs, url, "MaximumMessageSize") == {"MaximumMessageSize": "1048576"}
    body = "x" * 300_000
    assert sqs.send_message(QueueUrl=url, MessageBody=body)["MD5OfMessageBody"] == _md5(body)


def test_a_queue_set_to_the_1_mib_maximum_takes_a_message_of_1_mib(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue(MaximumMessageSize="1048576")
    body = "y" * 1_048_576
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == _md5(body)
    (message,) = _receive(sqs, url)
    assert message["Body"] == body


def test_get_queue_attributes_of_a_fifo_queue_include_its_fifo_defaults(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # A FIFO queue shows its FIFO settings with their defaults (SetQueueAttributes:
    # ContentBasedDeduplication false, DeduplicationScope queue, FifoThroughputLimit
    # perQueue).
    url = queue("f.fifo")
    shown = _attributes(sqs, url, "All")
    assert {
        k: shown.get(k)
        for k in (
            "FifoQueue",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
        )
    } == {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "false",
        "DeduplicationScope": "queue",
        "FifoThroughputLimit": "perQueue",
    }


@pytest.mark.parametrize(
    "name",
    [
        "VisibilityTimeout",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "QueueArn",
        "SqsManagedSseEnabled",
    ],
)
def test_get_queue_attributes_returns_just_the_attribute_asked_for(
    sqs: Any, queue: Callable[..., str], name: str
) -> None:
    url = queue()
    shown = _attributes(sqs, url, name)
    assert list(shown) == [name]
    assert shown[name]


def test_get_queue_attributes_without_names_returns_none_and_unknown_names_are_refused(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    code, status, _ = _error(
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchThing"])
    )
    assert (code, status) == ("InvalidAttributeName", 400)


def test_message_counts_follow_sends_receives_delays_and_deletes(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given three messages ready and one delayed by a minute
    url = queue()
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    assert _counts(sqs, url) == (3, 0, 1)
    # When some are received (and so in flight for a minute)
    got = _receive(sqs, url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    assert 1 <= len(got) <= 2
    assert "later" not in {m["Body"] for m in got}
    # Then they count as not visible
    assert _counts(sqs, url) == (3 - len(got), len(got), 1)
    # And a deleted message is no longer counted
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert _counts(sqs, url) == (3 - len(got), len(got) - 1, 1)


LIMITS = [
    ("VisibilityTimeout", ["0", "43200"], ["43201", "-1", "ten"]),
    ("DelaySeconds", ["0", "900"], ["901", "-1"]),
    ("MessageRetentionPeriod", ["60", "1209600"], ["59", "1209601"]),
    ("ReceiveMessageWaitTimeSeconds", ["0", "20"], ["21", "-1"]),
    ("MaximumMessageSize", ["1024", "1048576"], ["1023", "1048577"]),
]


@pytest.mark.parametrize(("name", "good", "bad"), LIMITS, ids=[limit[0] for limit in LIMITS])
def test_set_queue_attributes_takes_each_limit_and_refuses_beyond_it(
    sqs: Any, queue: Callable[..., str], name: str, good: list[str], bad: list[str]
) -> None:
    url = queue()
    # The edges of the range are taken and read back
    for value in good:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
        assert _attributes(sqs, url, name) == {name: value}
    # Values beyond them are InvalidAttributeValue, and the last good value stays
    for value in bad:
        code, status, message = _error(
            lambda value=value: sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
        )
        assert (code, status) == ("InvalidAttributeValue", 400), value
        assert name in message
        assert _attributes(sqs, url, name) == {name: good[-1]}


def test_a_bad_value_in_create_queue_is_invalid_attribute_value(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    name = unique("badvalue")
    code, status, _ = _error(
        lambda: sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "59"})
    )
    assert (code, status) == ("InvalidAttributeValue", 400)
    assert _error(lambda: sqs.get_queue_url(QueueName=name))[0] == NON_EXISTENT


def test_set_queue_attributes_changes_nothing_when_one_value_is_bad(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    code, _, _ = _error(
        lambda: sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"VisibilityTimeout": "10", "DelaySeconds": "901"}
        )
    )
    assert code == "InvalidAttributeValue"
    assert _attributes(sqs, url, "VisibilityTimeout") == {"VisibilityTimeout": "30"}


def test_set_queue_attributes_with_an_unknown_name_is_invalid_attribute_name(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    code, status, message = _error(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Colour": "blue"})
    )
    assert (code, status, message) == ("InvalidAttributeName", 400, "Unknown Attribute Colour.")
    # Read-only attributes cannot be set either
    code, _, _ = _error(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "arn:aws:sqs:x"})
    )
    assert code == "InvalidAttributeName"


def test_redrive_policy_is_kept_as_json_and_can_be_removed(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a dead-letter queue and a source queue
    dlq_arn = _arn(sqs, queue("dlq"))
    url = queue()
    # When a redrive policy is set (maxReceiveCount as a string, as the CLI sends it)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    # Then it reads back as a JSON object with a numeric maxReceiveCount
    shown = _attributes(sqs, url, "RedrivePolicy")["RedrivePolicy"]
    assert json.loads(shown) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    assert "RedrivePolicy" in _attributes(sqs, url, "All")
    # And an empty value removes it
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in _attributes(sqs, url, "All")


@pytest.mark.parametrize(
    "policy",
    [
        "not json",
        json.dumps({"maxReceiveCount": 3}),
        json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:x"}),
        json.dumps({"deadLetterTargetArn": "DLQ", "maxReceiveCount": 0}),
    ],
    ids=["not-json", "no-target", "no-count", "count-0"],
)
def test_a_malformed_redrive_policy_is_refused(
    sqs: Any, queue: Callable[..., str], policy: str
) -> None:
    url = queue()
    dlq_arn = _arn(sqs, queue("dlq"))
    policy = policy.replace('"DLQ"', json.dumps(dlq_arn))
    code, status, _ = _error(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    )
    # AWS names the RedrivePolicy parameter invalid; either SQS code for that is fine here.
    assert code in ("InvalidParameterValue", "InvalidAttributeValue")
    assert status == 400
    assert "RedrivePolicy" not in _attributes(sqs, url, "All")


def test_a_redrive_policy_naming_a_queue_that_does_not_exist_is_refused(
    sqs: Any, queue: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # AWS: "Value {...} for parameter RedrivePolicy is invalid. Reason: Dead letter target
    # does not exist." Accepting it would send messages to nowhere after maxReceiveCount.
    url = queue()
    target = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('nowhere')}"
    policy = json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": 1})
    code, status, _ = _error(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    )
    assert (code, status) == ("InvalidParameterValue", 400)


# -- tags and purge ------------------------------------------------------------------


def test_tags_are_set_at_creation_added_replaced_and_removed(
    sqs: Any, unique: Callable[[str], str]
) -> None:
    url = sqs.create_queue(QueueName=unique("tagged"), tags={"env": "test"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}
    sqs.tag_queue(QueueUrl=url, Tags={"team": "core", "env": "prod"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "team": "core"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "absent"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_purge_queue_empties_it_and_a_second_purge_within_60_seconds_is_refused(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a queue with ready, in-flight and delayed messages
    url = queue()
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"p{i}")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=30)
    _receive(sqs, url, VisibilityTimeout=30)
    # When it is purged
    sqs.purge_queue(QueueUrl=url)
    # Then it is empty
    assert _counts(sqs, url) == (0, 0, 0)
    assert _receive(sqs, url) == []
    # And a second purge within 60 s is PurgeQueueInProgress
    code, _, message = _error(lambda: sqs.purge_queue(QueueUrl=url))
    assert code == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert (
        message
        == f"Only one PurgeQueue operation on {url.rsplit('/', 1)[1]} is allowed every 60 seconds."
    )


def test_a_second_purge_is_refused_with_status_403_as_aws_answers(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # LocalStack's recording of AWS (test_successive_purge_calls_fail): HTTP 403.
    url = queue()
    sqs.purge_queue(QueueUrl=url)
    code, status, _ = _error(lambda: sqs.purge_queue(QueueUrl=url))
    assert (code, status) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)


# -- SendMessage, SendMessageBatch -----------------------------------------------------


def test_send_message_digests_match_those_aws_computes(sqs: Any, queue: Callable[..., str]) -> None:
    # Digests AWS returned for this body and attribute (LocalStack's recording)
    url = queue()
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="message-1",
        MessageAttributes={"MyAttribute": {"StringValue": "foobar", "DataType": "String"}},
    )
    assert sent["MD5OfMessageBody"] == "3d6b824fd8c1520e9a047d21fee6fb1f"
    assert sent["MD5OfMessageAttributes"] == "adb59cd4678ea5a855436b949cd07ab6"
    assert len(sent["MessageId"]) == 36
    assert "SequenceNumber" not in sent
    plain = sqs.send_message(QueueUrl=url, MessageBody="no attributes")
    assert "MD5OfMessageAttributes" not in plain


def test_string_number_and_binary_attributes_round_trip_with_matching_digests(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a message with attributes of every type, custom type labels included
    url = queue()
    body = "héllo ✓ 𝄞 <xml/> \t\n\r"
    attributes: Attributes = {
        "s": {"DataType": "String", "StringValue": "välue ✓"},
        "n": {"DataType": "Number", "StringValue": "-1.5e3"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff\x10binary"},
        "s.custom": {"DataType": "String.custom-label", "StringValue": "x"},
        "n.int": {"DataType": "Number.int", "StringValue": "42"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == _md5(body)
    assert sent["MD5OfMessageAttributes"] == _md5_attributes(attributes)
    # When it is received with all attributes
    (message,) = _receive(sqs, url, MessageAttributeNames=["All"])
    # Then body and attributes are as sent, and the digests match them
    assert message["Body"] == body
    assert message["MD5OfBody"] == _md5(body)
    assert message["MessageId"] == sent["MessageId"]
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == _md5_attributes(attributes)


@pytest.mark.parametrize(
    "body", ["\x00", "bad\x01char", "unit\x1fsep", "\ufffe"], ids=["nul", "soh", "us", "fffe"]
)
def test_a_body_with_characters_xml_forbids_is_invalid_message_contents(
    sqs: Any, queue: Callable[..., str], body: str
) -> None:
    url = queue()
    code, status, _ = _error(lambda: sqs.send_message(QueueUrl=url, MessageBody=body))
    assert (code, status) == ("InvalidMessageContents", 400)
    assert _counts(sqs, url) == (0, 0, 0)


def test_an_empty_body_is_missing_parameter(sqs: Any, queue: Callable[..., str]) -> None:
    url = queue()
    code, status, message = _error(lambda: sqs.send_message(QueueUrl=url, MessageBody=""))
    assert (code, status) == ("MissingParameter", 400)
    assert message == "The request must contain the parameter MessageBody."


def test_a_message_over_the_maximum_size_counting_attributes_is_refused(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a queue taking messages of up to 1024 bytes
    url = queue(MaximumMessageSize="1024")
    # Then 1024 bytes of body are taken
    sqs.send_message(QueueUrl=url, MessageBody="a" * 1024)
    # But 1025 are not, nor 1018 with an attribute of 8 bytes (name, type and value count)
    code, status, message = _error(lambda: sqs.send_message(QueueUrl=url, MessageBody="a" * 1025))
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "Message must be shorter than 1024 bytes" in message
    code, _, _ = _error(
        lambda: sqs.send_message(
            QueueUrl=url,
            MessageBody="a" * 1018,
            MessageAttributes={"k": {"DataType": "String", "StringValue": "x"}},
        )
    )
    assert code == "InvalidParameterValue"
    assert _counts(sqs, url) == (1, 0, 0)


def test_a_message_just_over_1_mib_is_refused_with_an_error_the_sqs_client_reads(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # AWS (LocalStack's test_send_oversized_message, recorded): InvalidParameterValue, "One
    # or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    # Whatever the limit, the answer must be in the protocol the client spoke (JSON).
    url = queue(MaximumMessageSize="1048576")
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="z" * 1_048_577)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith(
        "application/x-amz-json-1.0"
    )
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidParameterValue",
        400,
    )
    assert "Message must be shorter than 1048576 bytes" in response["Error"]["Message"]


def test_delay_seconds_over_900_is_refused(sqs: Any, queue: Callable[..., str]) -> None:
    url = queue()
    code, status, _ = _error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=900)
    assert _counts(sqs, url) == (0, 0, 1)


@pytest.mark.parametrize(
    "attributes",
    [
        {"n": {"DataType": "Number", "StringValue": "twelve"}},
        {"e": {"DataType": "String", "StringValue": ""}},
        {"t": {"DataType": "Text", "StringValue": "x"}},
        {"AWS.reserved": {"DataType": "String", "StringValue": "x"}},
        {f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)},
    ],
    ids=["not-a-number", "empty-value", "unknown-type", "aws-prefix", "eleven"],
)
def test_bad_message_attributes_are_invalid_parameter_value(
    sqs: Any, queue: Callable[..., str], attributes: Attributes
) -> None:
    url = queue()
    code, status, _ = _error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    )
    assert (code, status) == ("InvalidParameterValue", 400)


def test_send_message_batch_reports_bad_entries_as_failed_and_sends_the_good_ones(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a batch mixing good entries with bad ones
    url = queue()
    attributes: Attributes = {"a": {"DataType": "Number", "StringValue": "7"}}
    entries = [
        {"Id": "good-1", "MessageBody": "one"},
        {"Id": "bad_chars", "MessageBody": "nul\x00"},
        {"Id": "good-2", "MessageBody": "two", "MessageAttributes": attributes},
        {"Id": "bad_delay", "MessageBody": "late", "DelaySeconds": 901},
    ]
    # When it is sent
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    # Then the good ones succeed with their digests and the bad ones fail, each by its Id
    successful = {entry["Id"]: entry for entry in answer["Successful"]}
    assert set(successful) == {"good-1", "good-2"}
    assert successful["good-1"]["MD5OfMessageBody"] == _md5("one")
    assert successful["good-2"]["MD5OfMessageAttributes"] == _md5_attributes(attributes)
    failed = {entry["Id"]: (entry["Code"], entry["SenderFault"]) for entry in answer["Failed"]}
    assert failed == {
        "bad_chars": ("InvalidMessageContents", True),
        "bad_delay": ("InvalidParameterValue", True),
    }
    # And exactly the good ones are in the queue
    got = _receive(sqs, url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    assert {m["MessageId"] for m in got} == {e["MessageId"] for e in successful.values()}


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        (
            [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        (
            [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        ([{"Id": "not ok!", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
    ],
    ids=["empty", "eleven", "duplicate-ids", "bad-id"],
)
def test_a_malformed_send_message_batch_is_refused_whole(
    sqs: Any, queue: Callable[..., str], entries: list[dict[str, Any]], code: str
) -> None:
    url = queue()
    got, status, _ = _error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=entries))
    assert (got, status) == (code, 400)
    assert _counts(sqs, url) == (0, 0, 0)


def test_a_batch_of_ten_is_the_most_sqs_takes(sqs: Any, queue: Callable[..., str]) -> None:
    url = queue()
    entries = [{"Id": f"e{i}", "MessageBody": f"b{i}"} for i in range(10)]
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert len(answer["Successful"]) == 10
    assert answer.get("Failed", []) == []
    assert _counts(sqs, url) == (10, 0, 0)


TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_an_aws_trace_header_is_kept_and_shown_to_receivers_who_ask(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}}
    # When a message is sent with the AWSTraceHeader system attribute, alone and in a batch
    sent = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=system)
    batch = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "traced", "MessageBody": "traced too", "MessageSystemAttributes": system},
            {"Id": "plain", "MessageBody": "not traced"},
        ],
    )
    # Then each answer digests it as SQS digests message attributes
    assert sent["MD5OfMessageSystemAttributes"] == _md5_attributes(system)
    entries = {e["Id"]: e for e in batch["Successful"]}
    assert entries["traced"]["MD5OfMessageSystemAttributes"] == _md5_attributes(system)
    assert "MD5OfMessageSystemAttributes" not in entries["plain"]
    assert "MessageAttributes" not in sent and "MD5OfMessageAttributes" not in sent
    # And a receiver sees it when it asks for it (by name or All), never otherwise
    first = _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                     MessageSystemAttributeNames=["AWSTraceHeader"])  # fmt: skip
    shown = {m["Body"]: m.get("Attributes") for m in first}
    assert shown == {
        "traced": {"AWSTraceHeader": TRACE},
        "traced too": {"AWSTraceHeader": TRACE},
        "not traced": None,
    }
    again = _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                     MessageSystemAttributeNames=["All"])  # fmt: skip
    assert {m["Body"]: m["Attributes"].get("AWSTraceHeader") for m in again} == {
        "traced": TRACE, "traced too": TRACE, "not traced": None,
    }  # fmt: skip
    plain = _receive(sqs, url, MaxNumberOfMessages=10)
    assert all("Attributes" not in m for m in plain)


def test_a_deduplicated_send_is_answered_with_the_digests_of_what_it_sent(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue("dedup.fifo")

    def send(body: str, trace: str) -> dict[str, Any]:
        system = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
        return dict(sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId="same",
            MessageSystemAttributes=system,
        ))  # fmt: skip

    # Given a FIFO message, when a retry with its deduplication id carries another body
    # and another trace header (a new trace per request)
    first = send("first", "Root=1-5759e988-bd862e3fe1be46a994272793")
    again = send("retried", "Root=1-5759e988-bd862e3fe1be46a994272794")
    # Then it is answered as the first message, with the digests of what it sent (SDKs
    # check them), and only the first is delivered
    assert (again["MessageId"], again["SequenceNumber"]) == (
        first["MessageId"], first["SequenceNumber"],
    )  # fmt: skip
    assert again["MD5OfMessageBody"] == _md5("retried")
    retried = {
        "AWSTraceHeader": {
            "DataType": "String",
            "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272794",
        }
    }
    assert again["MD5OfMessageSystemAttributes"] == _md5_attributes(retried)
    assert [m["Body"] for m in _receive(sqs, url, MaxNumberOfMessages=10)] == ["first"]


def test_a_trace_header_with_characters_a_body_may_not_hold_is_refused(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-\x00"}}
    code, status, _ = _error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody="m", MessageSystemAttributes=system)
    )
    assert (code, status) == ("InvalidMessageContents", 400)


@pytest.mark.parametrize(
    ("system", "problem"),
    [
        ({"Other": {"DataType": "String", "StringValue": "x"}}, "name 'Other' is invalid"),
        ({"AWSTraceHeader": {"DataType": "Number", "StringValue": "1"}}, "data type String"),
        ({"AWSTraceHeader": {"DataType": "String", "StringValue": "x" * 8193}}, "8192 bytes"),
    ],
    ids=["other-name", "not-a-string", "too-long"],
)
def test_a_message_system_attribute_a_sender_cannot_set_is_refused(
    sqs: Any, queue: Callable[..., str], system: dict[str, Any], problem: str
) -> None:
    url = queue()
    code, status, message = _error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody="m", MessageSystemAttributes=system)
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert problem in message
    assert _receive(sqs, url) == []


# -- ReceiveMessage --------------------------------------------------------------------


def test_max_number_of_messages_must_be_from_1_to_10(sqs: Any, queue: Callable[..., str]) -> None:
    # Given twelve messages
    url = queue()
    for start in (0, 6):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"e{i}", "MessageBody": f"b{i}"} for i in range(start, start + 6)],
        )
    # Then 0 and 11 are refused
    for count in (0, 11):
        code, status, message = _error(
            lambda count=count: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count)
        )
        assert (code, status) == ("InvalidParameterValue", 400)
        assert message == (
            f"Value {count} for parameter MaxNumberOfMessages is invalid. Reason: Must be "
            "between 1 and 10, if provided."
        )
    # And 1 gives one message, the default gives one, 10 gives at most ten
    assert len(_receive(sqs, url, MaxNumberOfMessages=1, VisibilityTimeout=60)) == 1
    assert len(_receive(sqs, url, VisibilityTimeout=60)) == 1
    assert 1 <= len(_receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)) <= 10


def test_wait_time_seconds_over_20_is_refused(sqs: Any, queue: Callable[..., str]) -> None:
    url = queue()
    code, status, message = _error(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21))
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "WaitTimeSeconds" in message


def test_a_received_message_is_invisible_until_its_visibility_timeout_ends(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a message received with a visibility timeout of 1 s
    url = queue()
    sqs.send_message(QueueUrl=url, MessageBody="peekaboo")
    (first,) = _receive(sqs, url, VisibilityTimeout=1, MessageSystemAttributeNames=["All"])
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    # Then it cannot be received at once
    assert _receive(sqs, url) == []
    # But it comes back when the timeout ends, received a second time, with a new handle
    (second,) = _receive(sqs, url, WaitTimeSeconds=5, MessageSystemAttributeNames=["All"])
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert (
        second["Attributes"]["ApproximateFirstReceiveTimestamp"]
        == first["Attributes"]["ApproximateFirstReceiveTimestamp"]
    )


def test_a_queues_visibility_timeout_applies_when_the_receive_gives_none(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue(VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert len(_receive(sqs, url)) == 1
    assert _receive(sqs, url) == []
    start = time.monotonic()
    assert len(_receive(sqs, url, WaitTimeSeconds=5)) == 1
    assert time.monotonic() - start < 4.5


def test_long_polling_returns_a_message_sent_while_waiting(
    server: HeraldProcess, sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a receive waiting up to 5 s on an empty queue
    url = queue()
    sender: Any = server.client("sqs")

    def send_soon() -> None:
        time.sleep(1.0)
        sender.send_message(QueueUrl=url, MessageBody="worth the wait")

    thread = threading.Thread(target=send_soon)
    start = time.monotonic()
    thread.start()
    # When a message is sent during the wait
    got = _receive(sqs, url, WaitTimeSeconds=5)
    elapsed = time.monotonic() - start
    thread.join(10)
    # Then the receive returns it without waiting out the 5 s
    assert [m["Body"] for m in got] == ["worth the wait"]
    assert elapsed < 4.5


def test_concurrent_receivers_never_get_the_same_message(
    server: HeraldProcess, sqs: Any, queue: Callable[..., str]
) -> None:
    # Given 30 messages and six receivers polling at once
    url = queue()
    for start in range(0, 30, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"e{i}", "MessageBody": f"n{i}"} for i in range(start, start + 10)],
        )
    got: list[str] = []
    lock = threading.Lock()

    def drain() -> None:
        client: Any = server.client("sqs")
        while True:
            batch = _receive(client, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
            if not batch:
                return
            with lock:
                got.extend(m["Body"] for m in batch)

    threads = [threading.Thread(target=drain) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # Then each message went to exactly one of them
    assert sorted(got) == sorted(f"n{i}" for i in range(30))


def test_long_polling_an_empty_queue_returns_nothing_after_the_wait(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    start = time.monotonic()
    assert _receive(sqs, url, WaitTimeSeconds=2) == []
    assert 1.8 <= time.monotonic() - start < 6


def test_the_queues_receive_wait_time_is_the_default_wait(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue(ReceiveMessageWaitTimeSeconds="1")
    start = time.monotonic()
    assert _receive(sqs, url) == []
    assert 0.8 <= time.monotonic() - start < 5
    # And WaitTimeSeconds=0 overrides it: a short poll
    start = time.monotonic()
    assert _receive(sqs, url, WaitTimeSeconds=0) == []
    assert time.monotonic() - start < 0.8


def test_system_attributes_are_returned_as_asked(sqs: Any, queue: Callable[..., str]) -> None:
    # Given a message sent by the account's root
    url = queue()
    before = int(time.time() * 1000)
    sqs.send_message(QueueUrl=url, MessageBody="meta")
    after = int(time.time() * 1000)
    # When it is received with every system attribute
    (message,) = _receive(sqs, url, VisibilityTimeout=0, MessageSystemAttributeNames=["All"])
    shown = message["Attributes"]
    # Then the sender is the account, the times are in ms, and it was received once
    assert shown["SenderId"] == ACCOUNT
    assert before - 1000 <= int(shown["SentTimestamp"]) <= after + 1000
    assert shown["ApproximateReceiveCount"] == "1"
    assert int(shown["ApproximateFirstReceiveTimestamp"]) >= int(shown["SentTimestamp"]) - 1000
    assert "MessageGroupId" not in shown and "SequenceNumber" not in shown
    # And naming some (new or deprecated parameter) returns just those
    (named,) = _receive(
        sqs,
        url,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
    )
    assert set(named["Attributes"]) == {"SentTimestamp", "ApproximateReceiveCount"}
    assert named["Attributes"]["ApproximateReceiveCount"] == "2"
    (old,) = _receive(sqs, url, VisibilityTimeout=0, AttributeNames=["SenderId"])
    assert old["Attributes"] == {"SenderId": ACCOUNT}
    # And naming none returns none
    (bare,) = _receive(sqs, url, VisibilityTimeout=0)
    assert "Attributes" not in bare


def test_message_attribute_names_select_all_one_or_a_prefix(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a message with three attributes
    url = queue()
    attributes: Attributes = {
        "a.one": {"DataType": "String", "StringValue": "1"},
        "a.two": {"DataType": "Number", "StringValue": "2"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="pick", MessageAttributes=attributes)

    def received(names: list[str] | None) -> dict[str, Any]:
        extra = {"MessageAttributeNames": names} if names is not None else {}
        (message,) = _receive(sqs, url, VisibilityTimeout=0, **extra)
        return dict(message)

    # Then each selection returns its attributes, with the digest of just those
    for names, wanted in (
        (["All"], ["a.one", "a.two", "b"]),
        ([".*"], ["a.one", "a.two", "b"]),
        (["b"], ["b"]),
        (["a.*"], ["a.one", "a.two"]),
        (["a.one", "b"], ["a.one", "b"]),
    ):
        message = received(names)
        chosen = {n: attributes[n] for n in wanted}
        assert message["MessageAttributes"] == chosen, names
        assert message["MD5OfMessageAttributes"] == _md5_attributes(chosen), names
    # And asking for none, or for names it lacks, returns none
    for names in (None, ["c"], ["z.*"]):
        message = received(names)
        assert "MessageAttributes" not in message, names
        assert "MD5OfMessageAttributes" not in message, names


# -- DeleteMessage, ChangeMessageVisibility ---------------------------------------------


def test_a_deleted_message_is_not_received_again(sqs: Any, queue: Callable[..., str]) -> None:
    url = queue()
    sqs.send_message(QueueUrl=url, MessageBody="done")
    (message,) = _receive(sqs, url, VisibilityTimeout=0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert _receive(sqs, url) == []
    assert _counts(sqs, url) == (0, 0, 0)
    # Deleting it again succeeds, as in SQS
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_delete_message_with_a_garbage_receipt_handle_is_receipt_handle_is_invalid(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # AWS (LocalStack's test_delete_message_with_illegal_receipt_handle, validated):
    # ReceiptHandleIsInvalid, 'The input receipt handle "garbage" is not a valid receipt
    # handle.'
    url = queue()
    code, status, message = _error(
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    )
    assert (code, status) == ("ReceiptHandleIsInvalid", 400)
    assert message == 'The input receipt handle "garbage" is not a valid receipt handle.'


def test_delete_message_batch_deletes_each_entry(sqs: Any, queue: Callable[..., str]) -> None:
    # Given three received messages
    url = queue()
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": f"d{i}"} for i in range(3)]
    )
    got = _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    while len(got) < 3:
        more = _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        assert more
        got += more
    # When two are deleted in one batch
    answer = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": f"x{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[:2])
        ],
    )
    # Then both succeed and one message is left
    assert sorted(e["Id"] for e in answer["Successful"]) == ["x0", "x1"]
    assert answer.get("Failed", []) == []
    assert _counts(sqs, url) == (0, 1, 0)
    # And malformed batches are refused whole
    code, _, _ = _error(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=[]))
    assert code == "AWS.SimpleQueueService.EmptyBatchRequest"
    handle = got[2]["ReceiptHandle"]
    code, _, _ = _error(
        lambda: sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": "a", "ReceiptHandle": handle}, {"Id": "a", "ReceiptHandle": handle}],
        )
    )
    assert code == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    assert _counts(sqs, url) == (0, 1, 0)


def test_change_message_visibility_to_0_makes_the_message_visible_at_once(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    sqs.send_message(QueueUrl=url, MessageBody="again")
    (message,) = _receive(sqs, url, VisibilityTimeout=60)
    assert _receive(sqs, url) == []
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    (again,) = _receive(sqs, url, MessageSystemAttributeNames=["ApproximateReceiveCount"])
    assert again["MessageId"] == message["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_message_visibility_can_extend_the_timeout(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    sqs.send_message(QueueUrl=url, MessageBody="longer")
    (message,) = _receive(sqs, url, VisibilityTimeout=1)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=30
    )
    time.sleep(1.3)
    assert _receive(sqs, url) == []
    assert _counts(sqs, url) == (0, 1, 0)


def test_change_message_visibility_out_of_range_is_invalid_parameter_value(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    (message,) = _receive(sqs, url, VisibilityTimeout=60)
    code, status, _ = _error(
        lambda: sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=43201
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)


def test_change_message_visibility_after_the_timeout_expired_is_accepted(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # AWS answers 200 when the visibility timeout of the handle's receive has already
    # ended (LocalStack's test_change_message_visibility_after_visibility_timeout_expiration,
    # recorded from AWS), not MessageNotInflight.
    url = queue(VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="expired")
    (message,) = _receive(sqs, url)
    time.sleep(1.3)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=2
    )


def test_change_message_visibility_of_a_deleted_message_is_invalid_parameter_value(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # AWS (LocalStack's test_change_visibility_on_deleted_message_raises_invalid_parameter_
    # value, validated): "Value <handle> for parameter ReceiptHandle is invalid. Reason:
    # Message does not exist or is not available for visibility timeout change."
    url = queue()
    sqs.send_message(QueueUrl=url, MessageBody="deleted")
    (message,) = _receive(sqs, url)
    handle = message["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    code, status, text = _error(
        lambda: sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=42
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert text == (
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not "
        "exist or is not available for visibility timeout change."
    )


def test_change_message_visibility_with_a_garbage_handle_is_receipt_handle_is_invalid(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    code, status, _ = _error(
        lambda: sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle="INVALID", VisibilityTimeout=60
        )
    )
    assert (code, status) == ("ReceiptHandleIsInvalid", 400)


def test_change_message_visibility_batch_changes_each_entry_and_reports_bad_ones(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given two messages in flight for a minute
    url = queue()
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": f"c{i}"} for i in range(2)]
    )
    got = _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    got += _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    assert len(got) == 2
    # When both are made visible in a batch that also names a garbage handle
    entries = [
        {"Id": f"v{i}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
        for i, m in enumerate(got)
    ]
    entries.append({"Id": "junk", "ReceiptHandle": "INVALID", "VisibilityTimeout": 0})
    answer = sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    # Then the two succeed, the garbage one fails, and both messages can be received again
    assert sorted(e["Id"] for e in answer["Successful"]) == ["v0", "v1"]
    assert [(e["Id"], e["Code"], e["SenderFault"]) for e in answer["Failed"]] == [
        ("junk", "ReceiptHandleIsInvalid", True)
    ]
    again = _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    again += _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    assert sorted(m["Body"] for m in again) == ["c0", "c1"]


# -- delays and dead letters -----------------------------------------------------------


def test_a_delayed_message_is_received_only_after_its_delay(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a message sent with a delay of 2 s
    url = queue()
    start = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)
    # Then it is counted as delayed and not received at once
    assert _receive(sqs, url) == []
    assert _counts(sqs, url) == (0, 0, 1)
    # But a receive waiting for it gets it once the delay is over
    got = _receive(sqs, url, WaitTimeSeconds=6)
    elapsed = time.monotonic() - start
    assert [m["Body"] for m in got] == ["later"]
    assert 1.5 <= elapsed < 6


def test_the_queues_delay_applies_when_the_message_gives_none(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue(DelaySeconds="60")
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=0)
    assert [m["Body"] for m in _receive(sqs, url, MaxNumberOfMessages=10)] == ["own delay"]
    assert _counts(sqs, url)[2] == 1


def test_a_message_received_max_receive_count_times_moves_to_the_dead_letter_queue(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a queue whose messages go to a dead-letter queue after two receives
    dlq = queue("dlq")
    dlq_arn = _arn(sqs, dlq)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    source = queue("src", RedrivePolicy=policy, VisibilityTimeout="1")
    sent = sqs.send_message(
        QueueUrl=source,
        MessageBody="poison",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )
    # When the message is received twice and never deleted
    assert len(_receive(sqs, source)) == 1
    assert len(_receive(sqs, source, WaitTimeSeconds=5)) == 1
    time.sleep(1.3)
    # Then it is no longer received from the source
    assert _receive(sqs, source) == []
    # But from the dead-letter queue, as it was sent
    (dead,) = _receive(sqs, dlq, WaitTimeSeconds=3, MessageAttributeNames=["All"])
    assert (dead["MessageId"], dead["Body"]) == (sent["MessageId"], "poison")
    assert dead["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert _counts(sqs, source) == (0, 0, 0)
    # And the dead-letter queue lists the source
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    assert sqs.list_dead_letter_source_queues(QueueUrl=source)["queueUrls"] == []


def test_a_dead_lettered_message_keeps_its_receive_count_and_names_its_source(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # AWS (LocalStack's test_dead_letter_queue_message_attributes, validated): the message
    # in the dead-letter queue goes on counting receives and carries
    # DeadLetterQueueSourceArn.
    dlq = queue("dlq")
    policy = json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 2})
    source = queue("src", RedrivePolicy=policy)
    sqs.send_message(QueueUrl=source, MessageBody="counted")
    for _ in range(2):
        assert len(_receive(sqs, source, VisibilityTimeout=0)) == 1
    assert _receive(sqs, source, VisibilityTimeout=0) == []
    (dead,) = _receive(sqs, dlq, WaitTimeSeconds=2, MessageSystemAttributeNames=["All"])
    shown = dead["Attributes"]
    assert (shown["ApproximateReceiveCount"], shown.get("DeadLetterQueueSourceArn")) == (
        "3",
        _arn(sqs, source),
    )


# -- FIFO queues ---------------------------------------------------------------------


def _collect(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    """Receive and delete until ``count`` messages came, in the order they came."""
    got: list[dict[str, Any]] = []
    for _ in range(count + 5):
        batch = _receive(
            sqs, url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], WaitTimeSeconds=1
        )
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        got += batch
        if len(got) >= count:
            break
    return got


def test_fifo_messages_of_a_group_come_in_order_with_increasing_sequence_numbers(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given five messages sent to one group
    url = queue("order.fifo")
    sent = [
        sqs.send_message(
            QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}"
        )
        for i in range(5)
    ]
    # Then they are received in the order sent
    got = _collect(sqs, url, 5)
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(5)]
    assert [m["MessageId"] for m in got] == [s["MessageId"] for s in sent]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
    assert [m["Attributes"]["MessageDeduplicationId"] for m in got] == [f"d{i}" for i in range(5)]
    # And SequenceNumber (a large number, "continues to increase for a particular
    # MessageGroupId") is the same on send and receive, and increasing
    numbers = [s["SequenceNumber"] for s in sent]
    assert [m["Attributes"]["SequenceNumber"] for m in got] == numbers
    assert all(n.isdigit() for n in numbers), numbers
    assert [int(n) for n in numbers] == sorted({int(n) for n in numbers})


def test_fifo_group_is_held_back_while_an_earlier_message_is_in_flight(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given two messages in group A and one in group B
    url = queue("groups.fifo", ContentBasedDeduplication="true")
    for body, group in (("a1", "A"), ("a2", "A"), ("b1", "B")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    # When the first of group A is received (and so in flight)
    (first,) = _receive(sqs, url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert first["Body"] == "a1"
    # Then group A's next message is not returned, while group B's is
    second = _receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    assert [m["Body"] for m in second] == ["b1"]
    assert _receive(sqs, url, MaxNumberOfMessages=10) == []
    # And once a1 is deleted, a2 comes
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert [m["Body"] for m in _receive(sqs, url, MaxNumberOfMessages=10)] == ["a2"]


def test_fifo_send_needs_a_message_group_id(sqs: Any, queue: Callable[..., str]) -> None:
    url = queue("nogroup.fifo", ContentBasedDeduplication="true")
    code, status, message = _error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))
    assert (code, status) == ("MissingParameter", 400)
    assert message == "The request must contain the parameter MessageGroupId."


def test_fifo_send_needs_a_deduplication_id_without_content_based_deduplication(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue("nodedup.fifo")
    code, status, message = _error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message == (
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    )


def test_fifo_send_with_a_per_message_delay_is_refused(sqs: Any, queue: Callable[..., str]) -> None:
    url = queue("delay.fifo", ContentBasedDeduplication="true")
    code, status, _ = _error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", DelaySeconds=2)
    )
    assert (code, status) == ("InvalidParameterValue", 400)


def test_fifo_batch_with_an_entry_lacking_its_group_is_refused_whole(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # AWS (LocalStack's test_send_batch_missing_message_group_id_for_fifo_queue, validated):
    # the whole SendMessageBatch fails with InvalidParameterValue, "The request must contain
    # the parameter MessageGroupId.", and nothing is sent.
    url = queue("batchgroup.fifo")
    entries = [
        {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
        {"Id": "nogroup", "MessageBody": "b", "MessageDeduplicationId": "2"},
    ]
    code, status, message = _error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=entries))
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message == "The request must contain the parameter MessageGroupId."
    assert _counts(sqs, url) == (0, 0, 0)


def test_fifo_deduplicates_by_message_deduplication_id(sqs: Any, queue: Callable[..., str]) -> None:
    # Given a message sent with a deduplication id
    url = queue("dedup.fifo")
    first = sqs.send_message(
        QueueUrl=url, MessageBody="once", MessageGroupId="g", MessageDeduplicationId="same"
    )
    # When another is sent with that id within 5 minutes, even with another body
    again = sqs.send_message(
        QueueUrl=url, MessageBody="other", MessageGroupId="g", MessageDeduplicationId="same"
    )
    # Then it is accepted as the same message and not queued twice
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    got = _collect(sqs, url, 1)
    assert [m["Body"] for m in got] == ["once"]
    # And even after the message was deleted, the id stays used for the 5 minutes
    third = sqs.send_message(
        QueueUrl=url, MessageBody="once", MessageGroupId="g", MessageDeduplicationId="same"
    )
    assert third["MessageId"] == first["MessageId"]
    assert _counts(sqs, url) == (0, 0, 0)
    # While a new id is a new message
    other = sqs.send_message(
        QueueUrl=url, MessageBody="once", MessageGroupId="g", MessageDeduplicationId="new"
    )
    assert other["MessageId"] != first["MessageId"]
    assert _counts(sqs, url) == (1, 0, 0)


def test_fifo_content_based_deduplication_uses_the_bodys_sha256(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a queue with content-based deduplication
    url = queue("content.fifo", ContentBasedDeduplication="true")
    # When the same body is sent twice (even to another group), and another body once
    first = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    again = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="h")
    other = sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g")
    # Then the repeat is the first message and the other is new
    assert again["MessageId"] == first["MessageId"]
    assert other["MessageId"] != first["MessageId"]
    got = _collect(sqs, url, 2)
    assert [m["Body"] for m in got] == ["same body", "other body"]
    # And the deduplication id is the SHA-256 of the body (CreateQueue,
    # ContentBasedDeduplication: "Amazon SQS uses a SHA-256 hash to generate the
    # MessageDeduplicationId using the body of the message")
    assert got[0]["Attributes"]["MessageDeduplicationId"] == (
        hashlib.sha256(b"same body").hexdigest()
    )


def test_fifo_delete_with_a_handle_whose_visibility_expired_is_refused(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # AWS (LocalStack's test_fifo_delete_after_visibility_timeout, validated):
    # InvalidParameterValue, "Value <handle> for parameter ReceiptHandle is invalid.
    # Reason: The receipt handle has expired." The message stays.
    url = queue("expired.fifo", ContentBasedDeduplication="true", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="foobar", MessageGroupId="1")
    (message,) = _receive(sqs, url)
    time.sleep(1.3)
    handle = message["ReceiptHandle"]
    code, status, text = _error(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=handle))
    assert (code, status) == ("InvalidParameterValue", 400)
    assert text == (
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle "
        "has expired."
    )
    assert _counts(sqs, url) == (1, 0, 0)


# -- authorisation -------------------------------------------------------------------


def _user_client(server: HeraldProcess, iam: Any, name: str) -> tuple[Any, str]:
    user_id = iam.create_user(UserName=name)["User"]["UserId"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = boto3.client(
        "sqs",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    return client, str(user_id)


def test_an_iam_user_needs_a_policy_allowing_sqs_to_send(
    server: HeraldProcess, sqs: Any, queue: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # Given a queue and an IAM user with no policy
    iam: Any = server.client("iam")
    url = queue()
    name = unique("sender")
    user, user_id = _user_client(server, iam, name)
    # Then the user may not send to it, nor receive from it
    code, _, message = _error(lambda: user.send_message(QueueUrl=url, MessageBody="x"))
    assert code == "AccessDenied"
    assert "sqs:SendMessage" in message
    assert _error(lambda: user.receive_message(QueueUrl=url))[0] == "AccessDenied"
    assert _counts(sqs, url) == (0, 0, 0)
    # When an identity policy allows sqs:*
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="sqs", PolicyDocument=json.dumps(policy))
    # Then it may, and the message names the user as its sender
    user.send_message(QueueUrl=url, MessageBody="allowed")
    (message,) = _receive(user, url, MessageSystemAttributeNames=["SenderId"])
    assert (message["Body"], message["Attributes"]["SenderId"]) == ("allowed", user_id)


def test_another_accounts_root_cannot_use_a_queue_without_a_queue_policy(
    server: HeraldProcess, sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    other = client_for(server, new_account(server), "sqs")
    assert _error(lambda: other.send_message(QueueUrl=url, MessageBody="x"))[0] == "AccessDenied"
    assert url not in other.list_queues().get("QueueUrls", [])
    assert _counts(sqs, url) == (0, 0, 0)


def test_a_queue_policy_lets_another_account_send_and_nothing_more(
    server: HeraldProcess, sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a queue whose policy lets another account's root send to it
    url = queue()
    arn = _arn(sqs, url)
    account = new_account(server)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    assert json.loads(_attributes(sqs, url, "Policy")["Policy"]) == policy
    other = client_for(server, account, "sqs")
    # Then that account may send, but not receive
    other.send_message(QueueUrl=url, MessageBody="from afar")
    assert _error(lambda: other.receive_message(QueueUrl=url))[0] == "AccessDenied"
    # And the owner still may do everything
    assert [m["Body"] for m in _receive(sqs, url)] == ["from afar"]
    # And a policy that is not a policy is refused
    code, _, _ = _error(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{not json"})
    )
    assert code == "InvalidAttributeValue"


# -- the AWS CLI and restarts ------------------------------------------------------------


def test_the_aws_cli_creates_a_queue_sends_and_receives(
    aws: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    name = unique("cli")
    url = aws("sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")
    sent = aws(
        "sqs",
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        "from the cli",
        "--message-attributes",
        '{"kind": {"DataType": "String", "StringValue": "cli"}}',
    )
    assert sent["MD5OfMessageBody"] == _md5("from the cli")
    attributes = {"kind": {"DataType": "String", "StringValue": "cli"}}
    assert sent["MD5OfMessageAttributes"] == _md5_attributes(attributes)
    got = aws(
        "sqs",
        "receive-message",
        "--queue-url",
        url,
        "--message-attribute-names",
        "All",
        "--wait-time-seconds",
        "2",
    )
    (message,) = got["Messages"]
    assert (message["MessageId"], message["Body"]) == (sent["MessageId"], "from the cli")
    assert message["MessageAttributes"] == attributes


def test_queues_and_messages_survive_a_restart(tmp_path: Path) -> None:
    # Given a server of its own with a queue holding messages, one of them delayed
    herald = HeraldProcess(tmp_path / "data").start()
    try:
        sqs: Any = herald.client("sqs")
        url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "7"})[
            "QueueUrl"
        ]
        attributes: Attributes = {"b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
        sent = sqs.send_message(QueueUrl=url, MessageBody="kept", MessageAttributes=attributes)
        sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)
        fifo = sqs.create_queue(
            QueueName="durable.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
        first = sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g")
        # When it is stopped and started again on the same data
        assert herald.stop() == 0
        herald.start()
        sqs = herald.client("sqs")
        # Then the queue, its attributes and its messages are there
        assert sqs.get_queue_url(QueueName="durable")["QueueUrl"] == url
        assert _attributes(sqs, url, "VisibilityTimeout") == {"VisibilityTimeout": "7"}
        assert _counts(sqs, url) == (1, 0, 1)
        (message,) = _receive(sqs, url, MessageAttributeNames=["All"])
        assert (message["MessageId"], message["Body"]) == (sent["MessageId"], "kept")
        assert message["MessageAttributes"] == attributes
        # And FIFO deduplication remembers what was sent before the restart
        again = sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g")
        assert again["MessageId"] == first["MessageId"]
        assert _counts(sqs, fifo) == (1, 0, 0)
    finally:
        herald.stop()


def test_a_batch_larger_than_one_mebibyte_in_total_is_refused_whole(server: Any) -> None:
    sqs: Any = server.client("sqs")
    url = sqs.create_queue(QueueName=f"batch-size-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    body = "x" * (600 * 1024)  # each entry alone fits the queue's 1 MiB limit
    with pytest.raises(ClientError) as caught:
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": "a", "MessageBody": body}, {"Id": "b", "MessageBody": body}],
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert "1048576" in error["Message"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "0"
