"""SQS answers checked against responses LocalStack recorded from AWS (its
tests/aws/services/sqs/test_sqs.py and test_sqs.snapshot.json): message attribute
selections, FIFO delays, batches and group visibility, queue attribute rules,
AddPermission and RemovePermission, and the wording and codes of errors."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import BOTH_BACKENDS, HeraldProcess
from tests.e2e.test_accounts import client_for, new_account
from tests.e2e.test_sqs_query import call, text

pytestmark = BOTH_BACKENDS


@pytest.fixture
def sqs(server: HeraldProcess) -> Any:
    return server.client("sqs")


@pytest.fixture
def queue(sqs: Any) -> Callable[..., str]:
    """Makes a fresh queue (FIFO when the prefix ends in .fifo) and returns its URL."""

    def make(prefix: str = "q", **attributes: str) -> str:
        fifo = prefix.endswith(".fifo")
        name = f"{prefix.removesuffix('.fifo')}-{uuid.uuid4().hex[:12]}" + (".fifo" * fifo)
        if fifo:
            attributes.setdefault("FifoQueue", "true")
        return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    return make


def _error(call: Callable[[], object]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return {**response["Error"], "Status": response["ResponseMetadata"]["HTTPStatusCode"]}


def _bodies(sqs: Any, url: str, **extra: Any) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **extra)
    return [m["Body"] for m in messages.get("Messages", [])]


# -- ReceiveMessage ---------------------------------------------------------------------


def test_message_attribute_names_star_and_a_prefix_select_as_aws_does(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a message with three attributes (test_receive_message_message_attribute_names_
    # filters)
    url = queue(VisibilityTimeout="0")
    attributes = {
        "Help.Me": {"DataType": "String", "StringValue": "Me"},
        "Hello": {"DataType": "String", "StringValue": "There"},
        "General": {"DataType": "String", "StringValue": "Kenobi"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attributes)
    # When it is received with "*", then with "Hel.*"
    for names, wanted, digest in (
        (["*"], ["General", "Hello", "Help.Me"], "4c360f3fdafd970e05fae2f149d997f5"),
        (["Hel.*"], ["Hello", "Help.Me"], "83fee93c1bcd8b9a5a923ffacdc636c7"),
    ):
        (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names)["Messages"]
        # Then the attributes AWS returned come, with AWS's digest
        assert sorted(message["MessageAttributes"]) == wanted, names
        assert message["MD5OfMessageAttributes"] == digest, names


def test_message_attribute_names_star_over_the_query_protocol(server: HeraldProcess) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=f"qstar-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="msg",
        MessageAttributes={"Hello": {"DataType": "String", "StringValue": "There"}},
    )
    status, root = call(
        server, {"Action": "ReceiveMessage", "QueueUrl": url, "MessageAttributeName.1": "*"}
    )
    assert status == 200
    path = "sqs:ReceiveMessageResult/sqs:Message/sqs:MessageAttribute/sqs:Name"
    assert text(root, path) == "Hello"


# -- FIFO -------------------------------------------------------------------------------


def test_a_fifo_delay_seconds_of_0_leaves_the_queues_delay(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a FIFO queue delaying messages 2 s (test_fifo_queue_send_message_with_zero_
    # delay_defaults_to_queue_delay)
    url = queue("delayed.fifo", DelaySeconds="2")
    # When a message is sent with DelaySeconds=0
    sqs.send_message(
        QueueUrl=url, MessageBody="message-1", MessageGroupId="g", MessageDeduplicationId="1",
        DelaySeconds=0,
    )  # fmt: skip
    # Then it is delayed all the same, and comes after the queue's delay
    assert _bodies(sqs, url) == []
    assert _bodies(sqs, url, WaitTimeSeconds=5) == ["message-1"]


def test_a_fifo_batch_with_an_entry_lacking_its_deduplication_id_is_refused_whole(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # test_send_batch_missing_deduplication_id_for_fifo_queue
    url = queue("batchdedup.fifo")
    entries = [
        {"Id": "a", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
        {"Id": "b", "MessageBody": "b", "MessageGroupId": "g"},
    ]
    error = _error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=entries))
    assert (error["Code"], error["Status"], error["Message"]) == (
        "InvalidParameterValue",
        400,
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly",
    )
    assert _bodies(sqs, url) == []


@pytest.mark.parametrize(
    ("extended", "wanted"),
    [(0, []), (1, ["foo"]), (2, ["foo", "bar"])],
    ids=["0-visible", "1-visible", "2-visible"],
)
def test_a_fifo_group_gives_the_visible_messages_before_its_first_in_flight(
    sqs: Any, queue: Callable[..., str], extended: int, wanted: list[str]
) -> None:
    # Given three messages of one group received with a visibility timeout of 1 s, one of
    # them then kept in flight 4 s (test_fifo_group_visibility_extends_with_change_
    # message_visibility)
    url = queue("visibility.fifo", VisibilityTimeout="1")
    for body in ("foo", "bar", "baz"):
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="1", MessageDeduplicationId=body
        )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]
    assert [m["Body"] for m in received] == ["foo", "bar", "baz"]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=received[extended]["ReceiptHandle"], VisibilityTimeout=4
    )
    # When the queue is received from once the other two are visible again
    time.sleep(2.5)
    # Then those before the one in flight come
    assert _bodies(sqs, url) == wanted


# -- queue attributes -------------------------------------------------------------------


def test_fifo_queue_is_kept_by_set_queue_attributes_and_cannot_be_turned_off(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # test_set_unsupported_attribute_fifo
    url = queue("stays.fifo")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    error = _error(
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    )
    assert (error["Code"], error["Status"], error["Message"]) == (
        "InvalidAttributeValue",
        400,
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
    )
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])["Attributes"] == {
        "FifoQueue": "true"
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FifoQueue", "false", "Unknown Attribute FifoQueue."),
        ("ContentBasedDeduplication", "false", "Unknown Attribute ContentBasedDeduplication."),
        ("DeduplicationScope", "queue",
         "You can specify the DeduplicationScope only when FifoQueue is set to true."),
        ("FifoThroughputLimit", "perQueue",
         "You can specify the FifoThroughputLimit only when FifoQueue is set to true."),
    ],
)  # fmt: skip
def test_fifo_attributes_of_a_standard_queue_are_refused_as_aws_words_it(
    sqs: Any, name: str, value: str, message: str
) -> None:
    # test_create_standard_queue_with_fifo_attribute_raises_error
    error = _error(
        lambda: sqs.create_queue(QueueName=f"std-{uuid.uuid4().hex[:8]}", Attributes={name: value})
    )
    assert (error["Code"], error["Status"], error["Message"]) == (
        "InvalidAttributeName",
        400,
        message,
    )


def test_queue_already_exists_names_the_attribute_that_differs(sqs: Any) -> None:
    # test_create_queue_with_different_attributes_raises_exception
    name = f"exists-{uuid.uuid4().hex[:8]}"
    sqs.create_queue(
        QueueName=name, Attributes={"ReceiveMessageWaitTimeSeconds": "1", "DelaySeconds": "1"}
    )
    error = _error(
        lambda: sqs.create_queue(
            QueueName=name, Attributes={"ReceiveMessageWaitTimeSeconds": "1", "DelaySeconds": "2"}
        )
    )
    assert (error["Code"], error["QueryErrorCode"], error["Message"]) == (
        "QueueAlreadyExists",
        "QueueNameExists",
        "A queue already exists with the same name and a different value for attribute "
        "DelaySeconds",
    )


def test_a_cleared_kms_key_takes_its_data_key_reuse_period_along(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # test_set_queue_attributes_default_values
    url = queue()
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"KmsMasterKeyId": "testKeyId", "KmsDataKeyReusePeriodSeconds": "6000"},
    )
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"KmsMasterKeyId": "", "KmsDataKeyReusePeriodSeconds": "300"}
    )
    shown = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "KmsMasterKeyId" not in shown
    assert "KmsDataKeyReusePeriodSeconds" not in shown
    assert shown["SqsManagedSseEnabled"] == "false"


# -- AddPermission, RemovePermission ----------------------------------------------------


def _policy(sqs: Any, url: str) -> dict[str, Any] | None:
    shown = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes")
    return json.loads(shown["Policy"]) if shown else None


def test_permissions_are_statements_of_the_queue_policy_by_label(
    server: HeraldProcess, sqs: Any, queue: Callable[..., str]
) -> None:
    # Given a queue, and another account that may not send to it
    url = queue()
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    other = new_account(server)
    theirs = client_for(server, other, "sqs")
    assert _error(lambda: theirs.send_message(QueueUrl=url, MessageBody="x"))["Status"] == 403
    # When the owner grants it SendMessage and ReceiveMessage (test_sqs_permission_lifecycle)
    sqs.add_permission(
        QueueUrl=url, Label="crossaccount", AWSAccountIds=[other],
        Actions=["SendMessage", "ReceiveMessage"],
    )  # fmt: skip
    # Then the queue's policy has AWS's shape, and the account can send
    assert _policy(sqs, url) == {
        "Version": "2008-10-17",
        "Id": f"{arn}/SQSDefaultPolicy",
        "Statement": [
            {
                "Sid": "crossaccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                "Action": ["SQS:SendMessage", "SQS:ReceiveMessage"],
                "Resource": arn,
            }
        ],
    }
    theirs.send_message(QueueUrl=url, MessageBody="granted")
    # And the same label again is refused
    error = _error(
        lambda: sqs.add_permission(
            QueueUrl=url, Label="crossaccount", AWSAccountIds=[other], Actions=["SendMessage"]
        )
    )
    assert (error["Code"], error["Status"], error["Message"]) == (
        "InvalidParameterValue",
        400,
        "Value crossaccount for parameter Label is invalid. Reason: Already exists.",
    )
    # When the permission is removed, then the policy goes, and so does the grant
    sqs.remove_permission(QueueUrl=url, Label="crossaccount")
    assert _policy(sqs, url) is None
    assert _error(lambda: theirs.send_message(QueueUrl=url, MessageBody="x"))["Status"] == 403
    # And removing it again is refused
    error = _error(lambda: sqs.remove_permission(QueueUrl=url, Label="crossaccount"))
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterValue",
        "Value crossaccount for parameter Label is invalid. Reason: can't find label.",
    )


def test_concurrent_permissions_all_land_in_the_policy(
    server: HeraldProcess, queue: Callable[..., str]
) -> None:
    # Each AddPermission edits the policy in the store's transaction: none undoes another.
    import concurrent.futures

    url = queue()
    labels = [f"label{n}" for n in range(12)]

    def add(label: str) -> None:
        client: Any = server.client("sqs")
        client.add_permission(
            QueueUrl=url, Label=label, AWSAccountIds=["111122223333"], Actions=["SendMessage"]
        )

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(add, labels))
    sids = [s["Sid"] for s in _policy(server.client("sqs"), url)["Statement"]]
    assert sorted(sids) == sorted(labels)


def test_no_policy_gives_another_account_the_owners_actions(
    server: HeraldProcess, sqs: Any, queue: Callable[..., str]
) -> None:
    # "Cross-account permissions don't apply to" AddPermission, RemovePermission,
    # SetQueueAttributes, DeleteQueue, TagQueue... ("Limitations of Amazon SQS custom
    # policies"), even when the queue's policy allows the other account SQS:*.
    url = queue()
    other = new_account(server)
    sqs.add_permission(QueueUrl=url, Label="all", AWSAccountIds=[other], Actions=["*"])
    theirs = client_for(server, other, "sqs")
    theirs.send_message(QueueUrl=url, MessageBody="allowed")  # what the policy may give
    refused = [
        lambda: theirs.add_permission(
            QueueUrl=url, Label="more", AWSAccountIds=["111122223333"], Actions=["*"]
        ),
        lambda: theirs.remove_permission(QueueUrl=url, Label="all"),
        lambda: theirs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5"}),
        lambda: theirs.tag_queue(QueueUrl=url, Tags={"k": "v"}),
        lambda: theirs.delete_queue(QueueUrl=url),
    ]
    for attempt in refused:
        assert _error(attempt)["Status"] == 403
    assert [s["Sid"] for s in _policy(sqs, url)["Statement"]] == ["all"]


def test_add_permission_refuses_an_action_sqs_does_not_have(
    sqs: Any, queue: Callable[..., str]
) -> None:
    url = queue()
    error = _error(
        lambda: sqs.add_permission(
            QueueUrl=url, Label="bad", AWSAccountIds=["111111111111"], Actions=["Publish"]
        )
    )
    assert (error["Code"], error["Status"]) == ("InvalidParameterValue", 400)
    assert error["Message"].startswith("Value SQS:Publish for parameter ActionName is invalid.")
    assert _policy(sqs, url) is None


def test_permissions_over_the_query_protocol(server: HeraldProcess) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=f"qperm-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    status, _ = call(
        server,
        {"Action": "AddPermission", "QueueUrl": url, "Label": "one",
         "AWSAccountId.1": "111111111111", "AWSAccountId.2": "222222222222",
         "ActionName.1": "*"},
    )  # fmt: skip
    assert status == 200
    policy = _policy(sqs, url)
    assert policy is not None
    (statement,) = policy["Statement"]
    assert statement["Action"] == "SQS:*"
    assert statement["Principal"]["AWS"] == [
        "arn:aws:iam::111111111111:root",
        "arn:aws:iam::222222222222:root",
    ]
    status, _ = call(server, {"Action": "RemovePermission", "QueueUrl": url, "Label": "one"})
    assert status == 200
    assert _policy(sqs, url) is None


# -- messages ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["", "a" * 129, "group 123"], ids=["empty", "too_long", "spaces"])
def test_a_standard_queue_checks_the_message_group_id(
    sqs: Any, queue: Callable[..., str], group: str
) -> None:
    # test_send_message_to_standard_queue_with_invalid_message_group_id
    url = queue()
    error = _error(lambda: sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId=group))
    assert (error["Code"], error["Status"], error["Message"]) == (
        "InvalidParameterValue",
        400,
        f"Value {group} for parameter MessageGroupId is invalid. Reason: MessageGroupId can "
        "only include alphanumeric and punctuation characters. 1 to 128 in length.",
    )


def test_a_fifo_deduplication_id_error_gives_its_reason(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # test_message_deduplication_id_invalid
    url = queue("dedupid.fifo")
    error = _error(
        lambda: sqs.send_message(
            QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="group 123"
        )
    )
    assert error["Message"] == (
        "Value group 123 for parameter MessageDeduplicationId is invalid. Reason: "
        "MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to "
        "128 in length."
    )


def test_an_empty_string_attribute_is_refused_as_aws_words_it(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # test_send_message_with_empty_string_attribute
    url = queue()
    error = _error(
        lambda: sqs.send_message(
            QueueUrl=url, MessageBody="m",
            MessageAttributes={"ErrorDetails": {"DataType": "String", "StringValue": ""}},
        )
    )  # fmt: skip
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterValue",
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.",
    )


def test_an_oversized_batch_entry_fails_with_aws_wording(
    sqs: Any, queue: Callable[..., str]
) -> None:
    # test_send_batch_message_size
    url = queue(MaximumMessageSize="1024")
    entries = [{"Id": "fits", "MessageBody": "a" * 1024}, {"Id": "over", "MessageBody": "a" * 1025}]
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert [s["Id"] for s in answer["Successful"]] == ["fits"]
    assert answer["Failed"] == [
        {
            "Id": "over",
            "SenderFault": True,
            "Code": "InvalidParameterValue",
            "Message": "One or more parameters cannot be validated. Reason: Message must be "
            "shorter than 1024 bytes.",
        }
    ]


# -- errors -----------------------------------------------------------------------------


def test_a_missing_queue_is_worded_per_protocol(server: HeraldProcess, sqs: Any) -> None:
    # test_non_existent_queue
    url = f"{server.http_url}/000000000000/missing-{uuid.uuid4().hex[:8]}"
    error = _error(lambda: sqs.get_queue_attributes(QueueUrl=url))
    assert error["Message"] == "The specified queue does not exist."
    status, root = call(server, {"Action": "GetQueueAttributes", "QueueUrl": url})
    assert status == 400
    assert text(root, "sqs:Error/sqs:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert (
        text(root, "sqs:Error/sqs:Message")
        == "The specified queue does not exist for this wsdl version."
    )


def test_json_error_types_are_the_ones_aws_records(sqs: Any, queue: Callable[..., str]) -> None:
    # botocore reads Code from x-amzn-query-error and QueryErrorCode from __type:
    # AWS's are InvalidParameterValueException and MissingRequiredParameterException.
    url = queue()
    error = _error(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11))
    assert (error["Code"], error["QueryErrorCode"]) == (
        "InvalidParameterValue",
        "InvalidParameterValueException",
    )
    error = _error(lambda: sqs.send_message(QueueUrl=url, MessageBody=""))
    assert (error["Code"], error["QueryErrorCode"]) == (
        "MissingParameter",
        "MissingRequiredParameterException",
    )


def test_an_x_ray_header_becomes_the_messages_trace_header(
    server: HeraldProcess, queue: Callable[..., str]
) -> None:
    # test_aws_trace_header_propagation: the X-Amzn-Trace-Id of a SendMessage request is
    # the message's AWSTraceHeader; one given in MessageSystemAttributes wins.
    header = "Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1"
    client: Any = server.client("sqs")

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    client.meta.events.register("before-send.sqs.SendMessage", add_header)
    client.meta.events.register("before-send.sqs.SendMessageBatch", add_header)
    url = queue()
    client.send_message(QueueUrl=url, MessageBody="from the header")
    own = "Root=1-00000000-000000000000000000000000"
    client.send_message(
        QueueUrl=url,
        MessageBody="its own",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": own}},
    )
    client.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "batched"}])
    traces: dict[str, str] = {}
    deadline = time.monotonic() + 10
    while len(traces) < 3 and time.monotonic() < deadline:
        got = client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["AWSTraceHeader"]
        )
        for m in got.get("Messages", []):
            traces[m["Body"]] = m["Attributes"]["AWSTraceHeader"]
    assert traces == {"from the header": header, "its own": own, "batched": header}
