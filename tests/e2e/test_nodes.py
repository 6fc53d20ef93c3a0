"""Several Herald nodes sharing one PostgreSQL database behave as one service: either
node answers, a change made through one is enforced by the other within a second, and
each delivery is made by one node."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import HeraldProcess, postgres_nodes, sns_queue
from tests.e2e.receiver import Receiver


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HeraldProcess, HeraldProcess]]:
    """Two nodes: one database, one root key and root credentials, their own folders."""
    with postgres_nodes(tmp_path_factory.mktemp("nodes")) as (a, b):
        yield a, b


def _until(check: Any, timeout: float = 5.0) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout``)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "not within the time allowed"
        time.sleep(0.02)
    return time.monotonic() - start


def _user(node: HeraldProcess, topic: str) -> tuple[str, dict[str, str]]:
    iam: Any = node.client("iam")
    name = f"publisher-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}],
    }
    iam.put_user_policy(UserName=name, PolicyName="publish", PolicyDocument=json.dumps(policy))
    key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key


def _client(node: HeraldProcess, key: dict[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sns",
        endpoint_url=node.http_url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_a_policy_revoked_on_one_node_is_enforced_by_the_other_within_a_second(
    nodes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = nodes
    topic = a.client("sns").create_topic(Name=f"revoke-{uuid.uuid4().hex[:8]}")["TopicArn"]  # type: ignore[attr-defined]
    name, key = _user(a, topic)
    on_b = _client(b, key)
    # Node B serves the user (its caches now hold the user's key, policies and decision)
    _until(lambda: _publishes(on_b, topic))
    for _ in range(3):
        assert _publishes(on_b, topic)
    # When the policy is deleted through node A
    a.client("iam").delete_user_policy(UserName=name, PolicyName="publish")  # type: ignore[attr-defined]
    # Then node B refuses the user within a second
    took = _until(lambda: not _publishes(on_b, topic), timeout=1.0)
    print(f"revocation enforced on the other node after {took * 1000:.0f} ms")


def _publishes(client: Any, topic: str) -> bool:
    try:
        client.publish(TopicArn=topic, Message="m")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("AuthorizationError", "InvalidClientTokenId")
        return False
    return True


def test_a_subscription_made_on_one_node_gets_what_the_other_publishes(
    nodes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = nodes
    sns_b: Any = b.client("sns")
    topic = sns_b.create_topic(Name=f"fanout-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns_b.publish(TopicArn=topic, Message="before")  # B caches the topic's (no) subscribers
    sqs: Any = a.client("sqs")
    url, arn = sns_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", topic)
    a.client("sns").subscribe(  # type: ignore[attr-defined]
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    time.sleep(1.0)  # the change reaches node B's caches within a second
    sns_b.publish(TopicArn=topic, Message="after")
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    assert [m["Body"] for m in got] == ["after"]


def test_each_delivery_is_made_once_when_both_nodes_deliver(
    nodes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = nodes
    sns_a: Any = a.client("sns")
    sns_b: Any = b.client("sns")
    topic = sns_a.create_topic(Name=f"split-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sqs: Any = a.client("sqs")
    url, arn = sns_queue(sqs, f"split-{uuid.uuid4().hex[:8]}", None)
    sns_a.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    time.sleep(1.0)
    sent = [f"m{n}" for n in range(200)]
    for n, text in enumerate(sent):
        (sns_a if n % 2 else sns_b).publish(TopicArn=topic, Message=text)
    bodies: list[str] = []
    deadline = time.monotonic() + 30
    while len(bodies) < len(sent) and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(bodies) == sorted(sent)  # each once: no duplicates, none missing


@pytest.mark.parametrize("through", ["send", "publish", "dead-letter"])
def test_a_long_poll_on_one_node_is_woken_by_a_send_through_the_other(
    nodes: tuple[HeraldProcess, HeraldProcess], through: str
) -> None:
    """Without the wake-up a waiting long poll finds a message only at its next look,
    up to a second later: five sends all answered within half a second would then happen
    about one time in 32. ``publish``: the message comes from a topic publish through the
    other node, which writes it into the queue in its own transaction. ``dead-letter``:
    a receive through the other node moves it from its source queue (received once
    before) into the polled dead-letter queue."""
    a, b = nodes
    sender: Any = a.client("sqs")
    name = f"wake-{uuid.uuid4().hex[:8]}"
    if through == "send":
        url = sender.create_queue(QueueName=name)["QueueUrl"]
    elif through == "dead-letter":
        url = sender.create_queue(QueueName=name)["QueueUrl"]
        dead = sender.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        policy = {"deadLetterTargetArn": dead["Attributes"]["QueueArn"], "maxReceiveCount": "1"}
        source = sender.create_queue(
            QueueName=f"{name}-source", Attributes={"RedrivePolicy": json.dumps(policy)}
        )["QueueUrl"]
    else:
        sns_a: Any = a.client("sns")
        topic = sns_a.create_topic(Name=name)["TopicArn"]
        url, arn = sns_queue(sender, name, topic)
        sns_a.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
    waits = []
    for n in range(5):
        if through == "dead-letter":
            sender.send_message(QueueUrl=source, MessageBody=f"m{n}")
            received = sender.receive_message(QueueUrl=source, VisibilityTimeout=0)
            assert [m["Body"] for m in received["Messages"]] == [f"m{n}"]
        answer: dict[str, Any] = {}

        def poll(answer: dict[str, Any] = answer) -> None:
            answer.update(b.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=10))  # type: ignore[attr-defined]
            answer["at"] = time.monotonic()

        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(1.3 + n * 0.17)  # node B has looked and is waiting, at various phases
        sent = time.monotonic()
        if through == "send":
            sender.send_message(QueueUrl=url, MessageBody=f"m{n}")
        elif through == "dead-letter":
            assert "Messages" not in sender.receive_message(QueueUrl=source)
        else:
            sns_a.publish(TopicArn=topic, Message=f"m{n}")
        thread.join(15)
        assert [m["Body"] for m in answer["Messages"]] == [f"m{n}"]
        sender.delete_message(QueueUrl=url, ReceiptHandle=answer["Messages"][0]["ReceiptHandle"])
        waits.append(answer["at"] - sent)
    print("long poll on the other node answered after (ms):", [round(w * 1000) for w in waits])
    assert max(waits) < 0.5


def test_a_queue_attribute_changed_on_one_node_is_seen_by_the_other_within_a_second(
    nodes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = nodes
    sqs_a: Any = a.client("sqs")
    sqs_b: Any = b.client("sqs")
    url = sqs_a.create_queue(QueueName=f"attr-{uuid.uuid4().hex[:8]}")["QueueUrl"]

    def timeout_on_b() -> str:
        found = sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
        return str(found["Attributes"]["VisibilityTimeout"])

    assert timeout_on_b() == "30"  # node B now holds the queue in its cache
    sqs_a.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45"})
    took = _until(lambda: timeout_on_b() == "45", timeout=1.0)
    print(f"queue change seen on the other node after {took * 1000:.0f} ms")


def test_queue_cool_downs_hold_across_nodes(nodes: tuple[HeraldProcess, HeraldProcess]) -> None:
    a, b = nodes
    sqs_a: Any = a.client("sqs")
    sqs_b: Any = b.client("sqs")
    name = f"cool-{uuid.uuid4().hex[:8]}"
    url = sqs_a.create_queue(QueueName=name)["QueueUrl"]
    # A purge through A holds off a purge through B for 60 seconds
    sqs_a.purge_queue(QueueUrl=url)
    with pytest.raises(ClientError) as purged:
        sqs_b.purge_queue(QueueUrl=url)
    assert purged.value.response["Error"]["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    # A deletion through B holds off creating the name again through A
    sqs_b.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as deleted:
        sqs_a.create_queue(QueueName=name)
    assert deleted.value.response["Error"]["Code"] == "AWS.SimpleQueueService.QueueDeletedRecently"


def test_either_node_answers_for_the_same_data(nodes: tuple[HeraldProcess, HeraldProcess]) -> None:
    a, b = nodes
    name = f"shared-{uuid.uuid4().hex[:8]}"
    arn = a.client("sns").create_topic(Name=name)["TopicArn"]  # type: ignore[attr-defined]
    listed = b.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]  # type: ignore[attr-defined]
    assert listed["TopicArn"] == arn


def test_2000_publishes_over_two_nodes_survive_one_killed_midway(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Publishers spread over two nodes of an encrypted topic with an SQS and an HTTP
    subscription; one node is killed with SIGKILL midway. Every acknowledged message
    reaches both subscriptions at least once (the survivor takes over the dead node's
    deliveries when their leases end); duplicates are counted and reported."""
    with postgres_nodes(tmp_path) as (a, b):
        sns: Any = a.client("sns", tls=True)
        topic = sns.create_topic(Name="two-nodes", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
            "TopicArn"
        ]
        sqs: Any = a.client("sqs")
        url, arn = sns_queue(sqs, "two-nodes", topic)
        raw = {"RawMessageDelivery": "true"}
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=raw)
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url, Attributes=raw)
        token = receiver.wait_for(lambda rs: bool(rs))[0].json()["Token"]
        sns.confirm_subscription(TopicArn=topic, Token=token)
        time.sleep(1.0)  # node B hears of the subscriptions

        acknowledged: list[str] = []
        lock = threading.Lock()
        total = 2000

        def publish(worker: int, node: HeraldProcess) -> None:
            client: Any = node.client("sns", tls=True)
            for n in range(worker, total, 8):
                text = f"m{n}"
                try:
                    client.publish(TopicArn=topic, Message=text)
                except Exception:
                    continue  # that node is gone: not acknowledged
                with lock:
                    acknowledged.append(text)

        threads = [threading.Thread(target=publish, args=(w, a if w % 2 else b)) for w in range(8)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < total // 2:
            time.sleep(0.01)
        a.stop(signal.SIGKILL)
        for thread in threads:
            thread.join(120)
        expected = set(acknowledged)
        assert len(expected) >= total // 2

        def http_bodies() -> list[str]:
            return [
                r.body.decode()
                for r in receiver.received
                if r.headers.get("x-amz-sns-message-type") == "Notification"
            ]

        receiver.wait_for(lambda rs: expected <= set(http_bodies()), timeout=90)
        queued: list[str] = []
        reader: Any = b.client("sqs")
        deadline = time.monotonic() + 90
        while not expected <= set(queued) and time.monotonic() < deadline:
            got = reader.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            queued += [m["Body"] for m in got]
            if got:
                reader.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(got)
                    ],
                )
        assert expected <= set(queued)
        http = http_bodies()
        print(
            f"{len(expected)} of {total} acknowledged; duplicates: http "
            f"{len(http) - len(set(http))}, sqs {len(queued) - len(set(queued))}"
        )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_kms_cost_adds_up_what_the_nodes_counted(
    nodes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    import subprocess
    import sys

    a, b = nodes
    topic = a.client(
        "sns", tls=True
    ).create_topic(  # type: ignore[attr-defined]
        Name=f"cost-{uuid.uuid4().hex[:8]}", Attributes={"KmsMasterKeyId": "alias/aws/sns"}
    )["TopicArn"]
    time.sleep(1.0)
    for node in (a, b):
        for n in range(3):
            node.client("sns", tls=True).publish(TopicArn=topic, Message=f"m{n}")  # type: ignore[attr-defined]
    done = subprocess.run(
        [sys.executable, "-m", "herald.cli", "kms-cost", "--nodes", "2",
         "--endpoint", a.http_url, "--endpoint", b.http_url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Each node generated its own data key for the topic: one GenerateDataKey each, at least
    per_node = [
        int(line.split(": ", 1)[1].split(" ", 1)[0].replace(",", ""))
        for line in done.stdout.splitlines()
        if line.startswith("counted by http")
    ]
    assert len(per_node) == 2 and all(n >= 1 for n in per_node)
    assert f"counted by the 2 nodes together: {sum(per_node):,} requests" in done.stdout
    assert "with 2 nodes: up to" in done.stdout


def test_a_copied_data_folder_cannot_run_beside_its_original(
    nodes: tuple[HeraldProcess, HeraldProcess], tmp_path: Path
) -> None:
    import shutil

    a, _ = nodes
    copy = tmp_path / "copy"
    shutil.copytree(a.data_dir, copy)
    twin = HeraldProcess(copy, secret=a.secret, extra_args=a.extra_args, extra_env=a.extra_env)
    with pytest.raises(RuntimeError) as caught:
        twin.start()
    assert "another running node has this node's id" in str(caught.value)


def test_a_node_that_loses_its_database_says_so_and_recovers(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    import psycopg

    from tests import pg

    role = f"herald_node_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.base_url(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
    url = pg.schema_url(str(tmp_path)).replace("postgres@", f"{role}@", 1)
    node = HeraldProcess(tmp_path / "n", extra_args=["--database", url]).start()

    def health() -> int:
        try:
            with urllib.request.urlopen(node.http_url + "/_herald/health", timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    try:
        assert health() == 200
        # When the database refuses the node and drops its connections
        with psycopg.connect(pg.base_url(), autocommit=True) as admin:
            admin.execute(f"ALTER ROLE {role} NOLOGIN")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
        # Then its health check says so (503), and requests fail cleanly
        _until(lambda: health() == 503, timeout=10)
        with pytest.raises(ClientError) as caught:
            node.client("sns").list_topics()  # type: ignore[attr-defined]
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
        # And once the database takes it back, the node works again without a restart
        with psycopg.connect(pg.base_url(), autocommit=True) as admin:
            admin.execute(f"ALTER ROLE {role} LOGIN")
        _until(lambda: health() == 200, timeout=10)
        assert "Topics" in node.client("sns").list_topics()  # type: ignore[attr-defined]
    finally:
        node.stop()
        with psycopg.connect(pg.base_url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE IF EXISTS {role}")
