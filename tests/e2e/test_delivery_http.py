"""Delivery to HTTP and HTTPS endpoints, end to end with boto3 and a local aiohttp
receiver: the confirmation handshake (SubscribeURL and ConfirmSubscription), AWS's headers,
raw delivery, retries by the delivery policy, dead-letter queues, UnsubscribeConfirmation,
encrypted topics arriving decrypted over verified TLS."""

from __future__ import annotations

import datetime
import json
import signal
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.harness import BOTH_BACKENDS, REGION, HeraldProcess, database_args, sns_queue
from tests.e2e.receiver import Receiver

# Run against SQLite and PostgreSQL.
pytestmark = BOTH_BACKENDS


def _certificate_authority(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA (written to ca.pem) and a server context for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Delivery test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "leaf.pem", folder / "leaf.key")
    return folder / "ca.pem", context


@pytest.fixture(scope="module")
def endpoint_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    return _certificate_authority(tmp_path_factory.mktemp("delivery-ca"))


@pytest.fixture(scope="module")
def herald(
    tmp_path_factory: pytest.TempPathFactory,
    endpoint_tls: tuple[Path, ssl.SSLContext],
    backend: str,
) -> Iterator[HeraldProcess]:
    """A Herald that trusts the test CA for HTTPS endpoints."""
    folder = tmp_path_factory.mktemp("herald-http")
    process = HeraldProcess(
        folder,
        extra_args=[
            "--delivery-ca-bundle", str(endpoint_tls[0]), *database_args(backend, str(folder))
        ],
    ).start()  # fmt: skip
    yield process
    process.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def tls_receiver(endpoint_tls: tuple[Path, ssl.SSLContext]) -> Iterator[Receiver]:
    r = Receiver(tls=endpoint_tls[1]).start()
    yield r
    r.stop()


def _confirmed(herald: HeraldProcess, sns: Any, topic: str, receiver: Receiver) -> str:
    """Subscribe the receiver and confirm by following the SubscribeURL, as a user would."""
    protocol = receiver.url.split(":")[0]
    sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=receiver.url)
    got = receiver.wait_for(lambda rs: bool(rs))
    confirmation = got[0].json()
    assert confirmation["Type"] == "SubscriptionConfirmation"
    context = ssl.create_default_context(cafile=herald.ca_bundle)
    with urllib.request.urlopen(confirmation["SubscribeURL"], context=context) as answer:
        text = answer.read().decode()
    assert "<SubscriptionArn>" in text
    return text.split("<SubscriptionArn>")[1].split("</SubscriptionArn>")[0]


def test_the_confirmation_handshake_then_a_notification_with_aws_headers(
    herald: HeraldProcess, receiver: Receiver
) -> None:
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="http-handshake")["TopicArn"]

    pending = sns.subscribe(
        TopicArn=topic, Protocol="http", Endpoint=receiver.url, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    first = receiver.wait_for(lambda rs: len(rs) >= 1)[0]
    assert first.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert first.headers["x-amz-sns-topic-arn"] == topic
    assert first.headers["Content-Type"] == "text/plain; charset=UTF-8"
    document = first.json()
    assert document["TopicArn"] == topic and len(document["Token"]) == 288
    assert document["SubscribeURL"].startswith(herald.https_url + "/?Action=ConfirmSubscription")
    attrs = sns.get_subscription_attributes(SubscriptionArn=pending)["Attributes"]
    assert attrs["PendingConfirmation"] == "true"

    arn = sns.confirm_subscription(TopicArn=topic, Token=document["Token"])["SubscriptionArn"]
    assert arn == pending
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"

    message_id = sns.publish(
        TopicArn=topic,
        Message="hello over http",
        Subject="greeting",
        MessageAttributes={"colour": {"DataType": "String", "StringValue": "blue"}},
    )["MessageId"]
    got = receiver.wait_for(lambda rs: len(rs) >= 2)[1]
    assert got.headers["x-amz-sns-message-type"] == "Notification"
    assert got.headers["x-amz-sns-message-id"] == message_id
    assert got.headers["x-amz-sns-subscription-arn"] == arn
    # AWS sends x-amz-sns-rawdelivery with raw notifications only (never "false")
    assert "x-amz-sns-rawdelivery" not in {name.lower() for name in got.headers}
    assert got.headers["User-Agent"] == "Amazon Simple Notification Service Agent"
    body = got.json()
    assert body["Message"] == "hello over http" and body["Subject"] == "greeting"
    assert body["MessageAttributes"] == {"colour": {"Type": "String", "Value": "blue"}}
    assert body["UnsubscribeURL"].endswith(arn)


def test_following_the_subscribe_url_confirms_without_credentials(
    herald: HeraldProcess, receiver: Receiver
) -> None:
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="http-link")["TopicArn"]
    arn = _confirmed(herald, sns, topic, receiver)
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["ConfirmationWasAuthenticated"] == "false"


def test_the_subscribe_url_words_a_broken_topic_or_token_as_aws_does(
    herald: HeraldProcess, receiver: Receiver
) -> None:
    # Given the SubscribeURL of a pending subscription's confirmation
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="http-broken-link")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)
    confirmation = receiver.wait_for(lambda rs: bool(rs))[0].json()
    link, token = confirmation["SubscribeURL"], confirmation["Token"]
    base = link.split("?")[0]
    context = ssl.create_default_context(cafile=herald.ca_bundle)
    elsewhere = topic.replace(f":{REGION}:", ":eu-central-1:")
    # When it is followed with a broken topic ARN, a broken token, or the topic's ARN in
    # another region, Then each is refused in AWS's recorded words
    for topic_arn, given, message in (
        ("not-an-arn", token, "Invalid parameter: Topic"),
        (topic, "abc123", "Invalid parameter: Token"),
        (elsewhere, token, "Invalid parameter: Topic"),
    ):
        query = urllib.parse.urlencode(
            {"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": given}
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{base}?{query}", context=context, timeout=10)
        body = caught.value.read().decode()
        assert caught.value.code == 400
        assert "<Code>InvalidParameter</Code>" in body
        assert f"<Message>{message}</Message>" in body
    # And the link itself still confirms the subscription
    with urllib.request.urlopen(link, context=context, timeout=10) as answer:
        assert "<SubscriptionArn>" in answer.read().decode()


def test_raw_delivery_sends_the_bare_message(herald: HeraldProcess, receiver: Receiver) -> None:
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="http-raw")["TopicArn"]
    arn = _confirmed(herald, sns, topic, receiver)
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="true"
    )
    sns.publish(TopicArn=topic, Message="just this")
    got = receiver.wait_for(lambda rs: len(rs) >= 2)[1]
    assert got.body == b"just this"
    assert got.headers["x-amz-sns-rawdelivery"] == "true"


def test_a_standard_topics_message_group_does_not_serialise_its_deliveries(
    herald: HeraldProcess, receiver: Receiver
) -> None:
    # A standard topic passes MessageGroupId on (to SQS fair queues) but orders nothing:
    # its deliveries of one group go out together, not one at a time as a FIFO topic's.
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name=f"grouped-{uuid.uuid4().hex[:8]}")["TopicArn"]
    _confirmed(herald, sns, topic, receiver)
    receiver.hold = 1.0
    for n in range(4):
        sns.publish(TopicArn=topic, Message=f"m{n}", MessageGroupId="one-group")
    receiver.wait_for(lambda rs: len(rs) >= 5, timeout=30)
    assert receiver.most_at_once >= 2


def test_an_encrypted_topic_arrives_decrypted_over_verified_https(
    herald: HeraldProcess, tls_receiver: Receiver
) -> None:
    sns: Any = herald.client("sns", tls=True)
    topic = sns.create_topic(Name="https-sealed", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
        "TopicArn"
    ]
    _confirmed(herald, sns, topic, tls_receiver)
    secret = "the launch code is 0000"
    sns.publish(TopicArn=topic, Message=secret)
    got = tls_receiver.wait_for(lambda rs: len(rs) >= 2)[1]
    assert got.json()["Message"] == secret
    herald_files = b"".join(p.read_bytes() for p in herald.data_dir.rglob("*") if p.is_file())
    assert secret.encode() not in herald_files


def test_an_endpoint_with_an_untrusted_certificate_gets_nothing(tmp_path: Path) -> None:
    # This Herald trusts only the system's CAs; the endpoint's CA is not among them.
    _, context = _certificate_authority(tmp_path)
    untrusted = Receiver(tls=context).start()
    process = HeraldProcess(tmp_path / "data").start()
    try:
        sns: Any = process.client("sns")
        topic = sns.create_topic(Name="untrusted")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=untrusted.url)
        deadline = time.monotonic() + 20
        while "TLS certificate was not accepted" not in "".join(process.output):
            assert time.monotonic() < deadline, "".join(process.output)
            time.sleep(0.05)
        assert untrusted.received == []
    finally:
        process.stop()
        untrusted.stop()


def test_server_errors_are_retried_by_the_delivery_policy(
    herald: HeraldProcess, receiver: Receiver
) -> None:
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="http-retry")["TopicArn"]
    arn = _confirmed(herald, sns, topic, receiver)
    policy = {
        "healthyRetryPolicy": {
            "numRetries": 3,
            "numNoDelayRetries": 3,
            "minDelayTarget": 1,
            "maxDelayTarget": 1,
        }
    }
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy)
    )
    receiver.statuses.extend([500, 503, 429])
    sns.publish(TopicArn=topic, Message="eventually")
    got = receiver.wait_for(lambda rs: len(rs) >= 5)
    notifications = [r for r in got if r.headers["x-amz-sns-message-type"] == "Notification"]
    assert len(notifications) == 4
    assert len({r.json()["MessageId"] for r in notifications}) == 1


def test_a_client_error_is_not_retried_and_goes_to_the_dead_letter_queue(
    herald: HeraldProcess, receiver: Receiver
) -> None:
    sns: Any = herald.client("sns")
    sqs: Any = herald.client("sqs")
    topic = sns.create_topic(Name="http-dlq")["TopicArn"]
    arn = _confirmed(herald, sns, topic, receiver)
    dlq, dlq_arn = sns_queue(sqs, "http-dlq", topic)
    sns.set_subscription_attributes(
        SubscriptionArn=arn,
        AttributeName="RedrivePolicy",
        AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}),
    )
    receiver.statuses.append(404)
    message_id = sns.publish(TopicArn=topic, Message="nowhere to go")["MessageId"]
    got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=20, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert json.loads(got[0]["Body"])["MessageId"] == message_id
    attributes = got[0]["MessageAttributes"]
    assert attributes["ErrorCode"]["StringValue"] == "404"
    assert "404" in attributes["ErrorMessage"]["StringValue"]
    assert attributes["RequestID"]["StringValue"]
    assert len(receiver.of_type("Notification")) == 1


def test_unsubscribing_sends_an_unsubscribe_confirmation_that_can_restore_it(
    herald: HeraldProcess, receiver: Receiver
) -> None:
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="http-unsubscribe")["TopicArn"]
    arn = _confirmed(herald, sns, topic, receiver)
    sns.unsubscribe(SubscriptionArn=arn)
    got = receiver.wait_for(lambda rs: len(rs) >= 2)[1]
    assert got.headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    assert got.headers["x-amz-sns-subscription-arn"] == arn
    document = got.json()
    assert arn in document["Message"]
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []

    restored = sns.confirm_subscription(TopicArn=topic, Token=document["Token"])
    assert restored["SubscriptionArn"] == arn
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [arn]
    sns.publish(TopicArn=topic, Message="welcome back")
    receiver.wait_for(lambda rs: len(rs) >= 3)


def test_a_fifo_topic_takes_no_http_or_email_subscriptions(herald: HeraldProcess) -> None:
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    for protocol, endpoint in (("https", "https://example.com/x"), ("email", "a@example.com")):
        with pytest.raises(sns.exceptions.InvalidParameterException) as caught:
            sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
        assert caught.value.response["Error"]["Message"] == (
            f"Invalid parameter: Invalid protocol type: {protocol}"
        )


def test_kill_9_midway_loses_no_acknowledged_message_to_http_or_sqs(
    tmp_path: Path, receiver: Receiver, backend: str
) -> None:
    """Publishers run while the server is killed with SIGKILL; after a restart on the same
    data folder every acknowledged message reaches both the HTTP endpoint and the queue."""
    store = database_args(backend, str(tmp_path))
    herald = HeraldProcess(tmp_path / "data", extra_args=store).start()
    sns: Any = herald.client("sns", tls=True)
    sqs: Any = herald.client("sqs")
    topic = sns.create_topic(Name="durable-mixed", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
        "TopicArn"
    ]
    queue, queue_arn = sns_queue(sqs, "durable-mixed", topic)
    raw = {"RawMessageDelivery": "true"}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes=raw)
    http_arn = _confirmed(herald, sns, topic, receiver)
    sns.set_subscription_attributes(
        SubscriptionArn=http_arn, AttributeName="RawMessageDelivery", AttributeValue="true"
    )

    acknowledged: list[str] = []
    stop = threading.Event()

    def publish(worker: int) -> None:
        client: Any = herald.client("sns", tls=True)
        n = 0
        while not stop.is_set():
            text = f"w{worker}-m{n}"
            try:
                client.publish(TopicArn=topic, Message=text)
            except Exception:
                return  # the server is gone: this publish was not acknowledged
            acknowledged.append(text)
            n += 1

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 150:
        time.sleep(0.01)
    herald.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(30)
    herald = HeraldProcess(tmp_path / "data", secret=herald.secret, extra_args=store).start()
    try:
        expected = set(acknowledged)
        receiver.wait_for(
            lambda rs: expected <= {r.body.decode() for r in rs if _is_note(r)}, timeout=60
        )
        in_queue: list[str] = []
        deadline = time.monotonic() + 60
        queue_client: Any = herald.client("sqs")
        while not expected <= set(in_queue) and time.monotonic() < deadline:
            got = queue_client.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            in_queue += [m["Body"] for m in got]
            for m in got:
                queue_client.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        assert expected <= set(in_queue)
        http_bodies = [r.body.decode() for r in receiver.received if _is_note(r)]
        duplicates = (len(http_bodies) - len(set(http_bodies)), len(in_queue) - len(set(in_queue)))
        print(f"{len(expected)} acknowledged; duplicates (http, sqs): {duplicates}")
    finally:
        herald.stop()


def _is_note(r: Any) -> bool:
    return bool(r.headers.get("x-amz-sns-message-type") == "Notification")
