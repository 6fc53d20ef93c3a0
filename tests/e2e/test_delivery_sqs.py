"""Fan-out from topics to SQS queues, end to end: the signed JSON envelope (verified with
the certificate served at SigningCertURL), raw delivery, filter policies, queue policies,
encrypted topics, and delivery of every acknowledged message across kill -9."""

from __future__ import annotations

import base64
import json
import signal
import ssl
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.e2e.harness import BOTH_BACKENDS, HeraldProcess, database_args, sns_queue

# Run against SQLite and PostgreSQL.
pytestmark = BOTH_BACKENDS

SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
}


def _queue(server: HeraldProcess, topic: str | None, name: str | None = None) -> tuple[str, str]:
    """A queue whose policy lets SNS send for ``topic`` (None: no policy)."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=name or f"fanout-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    if topic is not None:
        _allow_sns(server, url, arn, topic)
    return url, arn


def _allow_sns(server: HeraldProcess, url: str, arn: str, topic: str) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ],
    }
    server.client("sqs").set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps(policy)}
    )


def _receive(server: HeraldProcess, url: str, count: int, timeout: float = 20) -> list[Any]:
    sqs = server.client("sqs")
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=2,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def _verify(server: HeraldProcess, document: dict[str, Any]) -> None:
    """Check the signature as AWS's guide says: fetch the certificate, rebuild the string
    to sign, verify with SHA1 (version 1) or SHA256 (version 2)."""
    url = document["SigningCertURL"]
    assert url.startswith("https://") and url.endswith(".pem")
    context = ssl.create_default_context(cafile=server.ca_bundle)
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        certificate = x509.load_pem_x509_certificate(response.read())
    text = "".join(
        f"{name}\n{document[name]}\n" for name in SIGNED[document["Type"]] if name in document
    ).encode()
    algorithm = hashes.SHA1() if document["SignatureVersion"] == "1" else hashes.SHA256()
    certificate.public_key().verify(  # type: ignore[union-attr, call-arg]
        base64.b64decode(document["Signature"]), text, padding.PKCS1v15(), algorithm
    )


def test_a_published_message_arrives_in_the_queue_signed(server: HeraldProcess) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"fanout-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, arn = _queue(server, topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    published = sns.publish(
        TopicArn=topic,
        Message="order 42 shipped",
        Subject="shipped",
        MessageAttributes={"colour": {"DataType": "String", "StringValue": "blue"}},
    )
    (message,) = _receive(server, url, 1)
    document = json.loads(message["Body"])
    assert document["Type"] == "Notification"
    assert document["MessageId"] == published["MessageId"]
    assert (document["TopicArn"], document["Subject"], document["Message"]) == (
        topic,
        "shipped",
        "order 42 shipped",
    )
    assert document["MessageAttributes"] == {"colour": {"Type": "String", "Value": "blue"}}
    assert document["SignatureVersion"] == "1"
    assert document["Timestamp"].endswith("Z") and len(document["Timestamp"]) == 24
    assert "Action=Unsubscribe" in document["UnsubscribeURL"]
    _verify(server, document)


def test_signature_version_2_and_raw_delivery(server: HeraldProcess) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(
        Name=f"fanout-{uuid.uuid4().hex[:8]}", Attributes={"SignatureVersion": "2"}
    )["TopicArn"]
    signed_url, signed_arn = _queue(server, topic)
    raw_url, raw_arn = _queue(server, topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=signed_arn)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=raw_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    sns.publish(
        TopicArn=topic,
        Message="raw body",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "7"}},
    )
    (signed,) = _receive(server, signed_url, 1)
    document = json.loads(signed["Body"])
    assert document["SignatureVersion"] == "2"
    _verify(server, document)
    (raw,) = _receive(server, raw_url, 1)
    assert raw["Body"] == "raw body"
    assert raw["MessageAttributes"]["n"] == {"StringValue": "7", "DataType": "Number"}


def test_a_filter_policy_decides_what_a_subscription_gets(server: HeraldProcess) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"fanout-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, arn = _queue(server, topic)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={
            "FilterPolicy": json.dumps({"colour": ["blue"]}),
            "RawMessageDelivery": "true",
        },
    )
    for colour in ("red", "blue", "green"):
        sns.publish(
            TopicArn=topic,
            Message=colour,
            MessageAttributes={"colour": {"DataType": "String", "StringValue": colour}},
        )
    got = _receive(server, url, 2, timeout=6)
    assert [m["Body"] for m in got] == ["blue"]
    # The per-topic counters carry CloudWatch's names
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    for name, value in (
        ("NumberOfMessagesPublished", 3),
        ("NumberOfNotificationsFilteredOut", 2),
        ("NumberOfNotificationsDelivered", 1),
    ):
        assert f'herald_sns_{name}{{topic="{topic}"}} {value}' in lines
    sizes = [
        line for line in lines if line.startswith(f'herald_sns_PublishSize{{topic="{topic}"}}')
    ]
    assert sizes and int(sizes[0].rsplit(" ", 1)[1]) >= len("redbluegreen")


def test_a_queue_whose_policy_does_not_admit_the_topic_gets_nothing_until_it_does(
    server: HeraldProcess,
) -> None:
    # A queue policy that refuses SNS is a client-side error: SNS does not retry it
    # ("Amazon SNS dead-letter queues"), so that message is dropped, not kept for later.
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"fanout-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, arn = _queue(server, None)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    sns.publish(TopicArn=topic, Message="refused by the queue policy")
    assert _receive(server, url, 1, timeout=3) == []
    _allow_sns(server, url, arn, topic)
    sns.publish(TopicArn=topic, Message="admitted")
    got = _receive(server, url, 2, timeout=5)
    assert [m["Body"] for m in got] == ["admitted"]


def test_a_fifo_topic_delivers_to_a_standard_queue(server: HeraldProcess) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(
        Name=f"ordered-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url, arn = _queue(server, topic)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    sns.publish(TopicArn=topic, Message="in order", MessageGroupId="g")
    (message,) = _receive(server, url, 1)
    assert message["Body"] == "in order"


# The fields of a FIFO topic's notification, in AWS's order: no signature (AWS's recorded
# FIFO notifications to FIFO, standard and dead-letter queues).
FIFO_FIELDS = [
    "Type", "MessageId", "SequenceNumber", "TopicArn", "Subject", "Message", "Timestamp",
    "UnsubscribeURL", "MessageAttributes",
]  # fmt: skip


def test_a_fifo_topics_notifications_are_not_signed(server: HeraldProcess) -> None:
    # Given a FIFO topic with a FIFO queue, a standard queue, and a FIFO queue that refuses
    # SNS, whose notifications go to a FIFO dead-letter queue
    sns: Any = server.client("sns")
    sqs: Any = server.client("sqs")
    name = f"unsigned-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(
        Name=f"{name}.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )["TopicArn"]
    fifo = {"FifoQueue": "true"}
    ordered_url, ordered_arn = sns_queue(sqs, f"{name}-ordered.fifo", topic, fifo)
    standard_url, standard_arn = _queue(server, topic)
    dead_url, dead_arn = sns_queue(sqs, f"{name}-dead.fifo", topic, fifo)
    refusing = sqs.create_queue(QueueName=f"{name}-refusing.fifo", Attributes=fifo)["QueueUrl"]
    refusing_arn = sqs.get_queue_attributes(QueueUrl=refusing, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=ordered_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=standard_arn)
    redrive = json.dumps({"deadLetterTargetArn": dead_arn})
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=refusing_arn,
        Attributes={"RedrivePolicy": redrive},
    )
    # When a message with a subject and an attribute is published
    published = sns.publish(
        TopicArn=topic,
        Message="unsigned",
        Subject="fifo",
        MessageGroupId="g",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "7"}},
    )
    # Then every copy, the dead-lettered one too, has exactly AWS's fields, in AWS's order
    for url in (ordered_url, standard_url, dead_url):
        (message,) = _receive(server, url, 1)
        document = json.loads(message["Body"])
        assert list(document) == FIFO_FIELDS
        assert document["SequenceNumber"] == published["SequenceNumber"]
        assert document["MessageAttributes"] == {"n": {"Type": "Number", "Value": "7"}}


def test_a_message_group_id_reaches_standard_queues_from_standard_topics_only(
    server: HeraldProcess,
) -> None:
    # Given a standard topic and a FIFO topic, each with a standard queue subscribed raw and
    # one subscribed with the JSON document
    sns: Any = server.client("sns")
    standard = sns.create_topic(Name=f"fair-{uuid.uuid4().hex[:8]}")["TopicArn"]
    ordered = sns.create_topic(
        Name=f"fair-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    queues = {}
    for topic in (standard, ordered):
        for raw in ("true", "false"):
            url, arn = _queue(server, topic)
            sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=arn,
                Attributes={"RawMessageDelivery": raw},
            )
            queues[topic, raw] = url
    # When each topic gets a message with a MessageGroupId
    for topic in (standard, ordered):
        sns.publish(TopicArn=topic, Message="grouped", MessageGroupId="my-group-id-1")
    # Then the standard topic's copies carry it as their MessageGroupId (SQS fair queues),
    # and the FIFO topic's, taken unordered, carry none
    for (topic, _raw), url in queues.items():
        (message,) = _receive(server, url, 1)
        expected = "my-group-id-1" if topic == standard else None
        assert message["Attributes"].get("MessageGroupId") == expected
        assert "MessageDeduplicationId" not in message["Attributes"]


def test_an_encrypted_topics_message_arrives_decrypted(server: HeraldProcess) -> None:
    sns = server.client("sns", tls=True)
    key = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    topic = sns.create_topic(
        Name=f"sealed-{uuid.uuid4().hex[:8]}", Attributes={"KmsMasterKeyId": key}
    )["TopicArn"]
    url, arn = _queue(server, topic)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    marker = f"sealed marker {uuid.uuid4().hex}"
    sns.publish(TopicArn=topic, Message=marker)
    (message,) = _receive(server, url, 1)
    assert message["Body"] == marker


def test_every_acknowledged_message_is_delivered_after_kill_9(tmp_path: Path, backend: str) -> None:
    store = database_args(backend, str(tmp_path))
    herald = HeraldProcess(tmp_path / "data", extra_args=store).start()
    sns = herald.client("sns")
    topic = sns.create_topic(Name="durable")["TopicArn"]
    url, arn = _queue(herald, topic, "durable-queue")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    acknowledged = {sns.publish(TopicArn=topic, Message=f"m{n}")["MessageId"] for n in range(200)}
    herald.stop(signal.SIGKILL)
    herald = HeraldProcess(tmp_path / "data", secret=herald.secret, extra_args=store).start()
    try:
        # At least once: a delivery in flight at the kill may come twice, so read until
        # every body has come (or the time is up), not until 200 messages have.
        expected = {f"m{n}" for n in range(200)}
        bodies: set[str] = set()
        deadline = time.monotonic() + 60
        while bodies != expected and time.monotonic() < deadline:
            bodies |= {m["Body"] for m in _receive(herald, url, 10, timeout=2)}
        assert bodies == expected
        assert len(acknowledged) == 200
    finally:
        herald.stop()


def test_the_unsubscribe_url_in_a_message_ends_the_subscription(server: HeraldProcess) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"fanout-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, arn = _queue(server, topic)
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message="the last one")
    (message,) = _receive(server, url, 1)
    link = json.loads(message["Body"])["UnsubscribeURL"]
    assert subscription in urllib.parse.unquote(link)
    # Followed without credentials, as a person clicking it would
    context = ssl.create_default_context(cafile=server.ca_bundle)
    with urllib.request.urlopen(link, context=context, timeout=10) as response:
        assert response.status == 200
        assert b"<UnsubscribeResponse" in response.read()
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed == []
    sns.publish(TopicArn=topic, Message="not delivered")
    assert _receive(server, url, 1, timeout=3) == []


def test_a_fifo_topic_delivers_a_deduplicated_message_once(server: HeraldProcess) -> None:
    sns: Any = server.client("sns")
    topic = sns.create_topic(
        Name=f"dedup-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    # A standard queue takes a FIFO topic's messages, so only the topic can deduplicate
    url, arn = _queue(server, topic)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    first = sns.publish(TopicArn=topic, Message="a", MessageGroupId="g", MessageDeduplicationId="x")
    again = sns.publish(TopicArn=topic, Message="b", MessageGroupId="g", MessageDeduplicationId="x")
    # The repeat is accepted and answered as the first: same id and sequence number
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    # Content-based deduplication, within one batch and across requests
    batch = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "1", "Message": "same body", "MessageGroupId": "g"},
            {"Id": "2", "Message": "same body", "MessageGroupId": "g"},
        ],
    )["Successful"]
    assert batch[0]["MessageId"] == batch[1]["MessageId"]
    repeat = sns.publish(TopicArn=topic, Message="same body", MessageGroupId="g")
    assert repeat["MessageId"] == batch[0]["MessageId"]
    got = _receive(server, url, 2, timeout=10)
    got += _receive(server, url, 1, timeout=3)  # and nothing more comes
    assert sorted(m["Body"] for m in got) == ["a", "same body"]


def test_a_queue_of_another_account_is_confirmed_by_its_owner(server: HeraldProcess) -> None:
    from tests.e2e.test_accounts import client_for, new_account

    sns: Any = server.client("sns")
    topic = sns.create_topic(Name=f"shared-{uuid.uuid4().hex[:8]}")["TopicArn"]
    owner = new_account(server)
    owner_sqs = client_for(server, owner, "sqs")
    owner_sns = client_for(server, owner, "sns")
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{owner}:root"},
                        "Action": "sns:Subscribe",
                        "Resource": topic,
                    }
                ]
            }
        ),
    )
    queues = []
    for name in ("theirs", "ours"):
        url = owner_sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = owner_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        statement = {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
        }
        owner_sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [statement]})}
        )
        queues.append((url, arn))
    # The queue's owner subscribes its queue: no confirmation needed
    mine = owner_sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queues[0][1])
    assert mine["SubscriptionArn"].startswith(topic + ":")
    # The topic's owner subscribes the other account's queue: its owner must confirm, with
    # the token of the SubscriptionConfirmation that arrives in the queue
    pending = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queues[1][1])
    assert pending["SubscriptionArn"] == "pending confirmation"
    got = owner_sqs.receive_message(QueueUrl=queues[1][0], WaitTimeSeconds=10)["Messages"]
    document = json.loads(got[0]["Body"])
    assert document["Type"] == "SubscriptionConfirmation"
    confirmed = owner_sns.confirm_subscription(TopicArn=topic, Token=document["Token"])
    assert confirmed["SubscriptionArn"].startswith(topic + ":")


def test_a_fifo_group_arrives_in_sequence_order_from_concurrent_publishers(
    server: HeraldProcess,
) -> None:
    import concurrent.futures

    sns: Any = server.client("sns")
    sqs: Any = server.client("sqs")
    topic = sns.create_topic(
        Name=f"order-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url = sqs.create_queue(
        QueueName=f"order-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    _allow_sns(server, url, arn, topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    total = 800

    def publish(worker: int) -> list[str]:
        client: Any = server.client("sns")
        numbers = []
        for start in range(worker * 100, worker * 100 + 100, 10):
            answer = client.publish_batch(
                TopicArn=topic,
                PublishBatchRequestEntries=[
                    {"Id": str(i), "Message": str(i), "MessageGroupId": "g"}
                    for i in range(start, start + 10)
                ],
            )
            numbers += [e["SequenceNumber"] for e in answer["Successful"]]
        return numbers

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answered = [n for ns in pool.map(publish, range(8)) for n in ns]
    got: list[int] = []
    deadline = time.monotonic() + 90
    while len(got) < total and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        batch = messages.get("Messages", [])
        got += [int(json.loads(m["Body"])["SequenceNumber"]) for m in batch]
        if batch:
            deleted = sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
            assert not deleted.get("Failed")
    # Every message once, in the order of the sequence numbers the publishers were given
    assert len(got) == total
    assert got == sorted(got)
    assert sorted(got) == sorted(int(n) for n in answered)


def test_a_fifo_queue_of_another_account_gets_its_confirmation(server: HeraldProcess) -> None:
    from tests.e2e.test_accounts import client_for, new_account

    sns: Any = server.client("sns")
    topic = sns.create_topic(
        Name=f"x-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    owner = new_account(server)
    owner_sqs = client_for(server, owner, "sqs")
    url = owner_sqs.create_queue(
        QueueName=f"x-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    arn = owner_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    owner_sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [statement]})}
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    got = owner_sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    assert json.loads(got[0]["Body"])["Type"] == "SubscriptionConfirmation"
