"""Queues over the AWS Query protocol, as older SDKs speak it: form-encoded requests
signed with SigV4, XML answers in SQS's namespace, Query error codes."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.harness import ACCESS_KEY_ID, REGION, HeraldProcess

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def call(server: HeraldProcess, params: dict[str, str]) -> tuple[int, ET.Element]:
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"})
    request = AWSRequest(
        method="POST",
        url=server.http_url + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, server.secret), "sqs", REGION).add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=request.body, headers=dict(request.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as error:
        return error.code, ET.fromstring(error.read())


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path, NS)
    return None if found is None else found.text


def test_a_queue_lives_through_the_query_protocol(server: HeraldProcess) -> None:
    name = f"query-{uuid.uuid4().hex[:8]}"
    status, created = call(
        server,
        {"Action": "CreateQueue", "QueueName": name, "Attribute.1.Name": "VisibilityTimeout",
         "Attribute.1.Value": "7"},
    )  # fmt: skip
    assert status == 200
    url = text(created, "sqs:CreateQueueResult/sqs:QueueUrl")
    assert url is not None and url.endswith(f"/000000000000/{name}")

    status, sent = call(
        server,
        {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "hello over query",
         "MessageAttribute.1.Name": "colour", "MessageAttribute.1.Value.DataType": "String",
         "MessageAttribute.1.Value.StringValue": "blue"},
    )  # fmt: skip
    assert status == 200
    digest = hashlib.md5(b"hello over query", usedforsecurity=False).hexdigest()
    assert text(sent, "sqs:SendMessageResult/sqs:MD5OfMessageBody") == digest
    assert text(sent, "sqs:SendMessageResult/sqs:MessageId")

    status, received = call(
        server,
        {"Action": "ReceiveMessage", "QueueUrl": url, "MessageAttributeName.1": "All",
         "AttributeName.1": "All"},
    )  # fmt: skip
    assert status == 200
    message = received.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert message is not None
    assert text(message, "sqs:Body") == "hello over query"
    assert text(message, "sqs:MessageAttribute/sqs:Name") == "colour"
    assert text(message, "sqs:MessageAttribute/sqs:Value/sqs:StringValue") == "blue"
    names = [a.findtext("sqs:Name", namespaces=NS) for a in message.findall("sqs:Attribute", NS)]
    assert "SentTimestamp" in names

    status, attributes = call(
        server, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"}
    )
    shown = {
        a.findtext("sqs:Name", namespaces=NS): a.findtext("sqs:Value", namespaces=NS)
        for a in attributes.findall("sqs:GetQueueAttributesResult/sqs:Attribute", NS)
    }
    assert shown["VisibilityTimeout"] == "7"
    assert shown["ApproximateNumberOfMessagesNotVisible"] == "1"

    handle = text(message, "sqs:ReceiptHandle")
    assert handle
    status, _ = call(server, {"Action": "DeleteMessage", "QueueUrl": url, "ReceiptHandle": handle})
    assert status == 200
    status, listed = call(server, {"Action": "ListQueues", "QueueNamePrefix": name})
    assert [q.text for q in listed.findall("sqs:ListQueuesResult/sqs:QueueUrl", NS)] == [url]


def test_batches_and_errors_use_the_query_shapes(server: HeraldProcess) -> None:
    name = f"query-{uuid.uuid4().hex[:8]}"
    _, created = call(server, {"Action": "CreateQueue", "QueueName": name})
    url = text(created, "sqs:CreateQueueResult/sqs:QueueUrl") or ""
    status, batch = call(
        server,
        {"Action": "SendMessageBatch", "QueueUrl": url,
         "SendMessageBatchRequestEntry.1.Id": "a",
         "SendMessageBatchRequestEntry.1.MessageBody": "first",
         "SendMessageBatchRequestEntry.2.Id": "b",
         "SendMessageBatchRequestEntry.2.MessageBody": "bad \x01 body"},
    )  # fmt: skip
    assert status == 200
    result = "sqs:SendMessageBatchResult"
    assert [e.findtext("sqs:Id", namespaces=NS) for e in batch.findall(
        f"{result}/sqs:SendMessageBatchResultEntry", NS)] == ["a"]  # fmt: skip
    errors = batch.findall(f"{result}/sqs:BatchResultErrorEntry", NS)
    assert [(e.findtext("sqs:Id", namespaces=NS), e.findtext("sqs:Code", namespaces=NS))
            for e in errors] == [("b", "InvalidMessageContents")]  # fmt: skip

    status, error = call(server, {"Action": "GetQueueUrl", "QueueName": f"missing-{name}"})
    assert status == 400
    assert text(error, "sqs:Error/sqs:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert text(error, "sqs:Error/sqs:Type") == "Sender"


def test_an_aws_trace_header_goes_through_the_query_protocol(server: HeraldProcess) -> None:
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    _, created = call(
        server, {"Action": "CreateQueue", "QueueName": f"trace-{uuid.uuid4().hex[:8]}"}
    )
    url = text(created, "sqs:CreateQueueResult/sqs:QueueUrl")
    assert url is not None
    status, sent = call(
        server,
        {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "traced",
         "MessageSystemAttribute.1.Name": "AWSTraceHeader",
         "MessageSystemAttribute.1.Value.DataType": "String",
         "MessageSystemAttribute.1.Value.StringValue": trace},
    )  # fmt: skip
    assert status == 200
    # SQS's digest of one String attribute: length-prefixed name and type, 1, the value
    digest = hashlib.md5(usedforsecurity=False)
    for part in (b"AWSTraceHeader", b"String"):
        digest.update(len(part).to_bytes(4, "big") + part)
    digest.update(b"\x01" + len(trace).to_bytes(4, "big") + trace.encode())
    assert text(sent, "sqs:SendMessageResult/sqs:MD5OfMessageSystemAttributes") == (
        digest.hexdigest()
    )
    status, received = call(
        server,
        {"Action": "ReceiveMessage", "QueueUrl": url,
         "MessageSystemAttributeName.1": "AWSTraceHeader"},
    )  # fmt: skip
    message = received.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert status == 200 and message is not None
    shown = {
        a.findtext("sqs:Name", namespaces=NS): a.findtext("sqs:Value", namespaces=NS)
        for a in message.findall("sqs:Attribute", NS)
    }
    assert shown == {"AWSTraceHeader": trace}
