"""Regressions found in review of the queue service: FIFO groups that do not block each
other, dead-letter queues of encrypted queues, and malformed inputs answered 400."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.harness import ACCESS_KEY_ID, REGION, HeraldProcess


def test_a_busy_fifo_group_does_not_hide_another_group(server: HeraldProcess) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(
        QueueName=f"groups-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for n in range(50):
        sqs.send_message(QueueUrl=url, MessageBody=f"a{n}", MessageGroupId="A")
    sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="B")
    first = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in first] == ["a0"]
    second = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in second] == ["b0"]


def test_a_dead_letter_queue_of_an_encrypted_queue_opens_its_messages(
    server: HeraldProcess,
) -> None:
    sqs = server.client("sqs")
    dead = sqs.create_queue(QueueName=f"dead-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = sqs.create_queue(
        QueueName=f"sealed-{uuid.uuid4().hex[:8]}",
        Attributes={
            "KmsMasterKeyId": "alias/aws/sqs",
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 1}),
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=source, MessageBody="sealed then dead")
    assert sqs.receive_message(QueueUrl=source)["Messages"]
    time.sleep(1.2)
    assert sqs.receive_message(QueueUrl=source).get("Messages") is None  # moved now
    (moved,) = sqs.receive_message(QueueUrl=dead, WaitTimeSeconds=2)["Messages"]
    assert moved["Body"] == "sealed then dead"


def _raw(server: HeraldProcess, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = AWSRequest(
        method="POST",
        url=server.http_url + "/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{target}",
        },
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, server.secret), "sqs", REGION).add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=request.body, headers=dict(request.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("SendMessage", {"MessageBody": "x", "MessageGroupId": 5}),
        ("SendMessage", {"MessageBody": "x", "MessageGroupId": ["g"]}),
        ("SendMessage", {"MessageBody": "x", "MessageAttributes": {
            "a": {"DataType": "String", "StringValue": "\ud800"}}}),
        ("SetQueueAttributes", {"Attributes": {"DelaySeconds": "--5"}}),
        ("SetQueueAttributes", {"Attributes": {"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:x",
             "maxReceiveCount": 1e400})}}),
    ],
)  # fmt: skip
def test_malformed_inputs_are_refused_with_400(
    server: HeraldProcess, target: str, body: dict[str, Any]
) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(
        QueueName=f"strict-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    status, answer = _raw(server, target, {"QueueUrl": url, **body})
    assert status == 400, answer
    assert answer["__type"].startswith("com.amazonaws.sqs#") or "Exception" in answer["__type"]


def test_a_batch_entry_of_the_wrong_type_fails_alone(server: HeraldProcess) -> None:
    url = server.client("sqs").create_queue(QueueName=f"batch-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    status, answer = _raw(
        server,
        "DeleteMessageBatch",
        {"QueueUrl": url, "Entries": [{"Id": "1", "ReceiptHandle": 7}]},
    )
    assert status == 200
    assert [(f["Id"], f["SenderFault"]) for f in answer["Failed"]] == [("1", True)]
