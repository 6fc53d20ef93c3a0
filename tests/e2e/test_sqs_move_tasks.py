"""Dead-letter queue redrive with boto3 against a real server: StartMessageMoveTask,
ListMessageMoveTasks and CancelMessageMoveTask as AWS answers them (LocalStack's
test_sqs_move_task.py recorded AWS's answers), over JSON and Query, on both stores; the
rate limit, cancels that lose and duplicate nothing, the permissions a redrive needs, a
task that survives a restart and one another node takes over; and AddPermission's limit
of seven actions."""

from __future__ import annotations

import base64
import json
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import BOTH_BACKENDS, REGION, HeraldProcess, database_args, postgres_nodes
from tests.e2e.test_accounts import client_for, new_account
from tests.e2e.test_sqs_query import NS, call, text

_NOT_A_DLQ = "Source queue must be configured as a Dead Letter Queue."
_ALREADY = (
    "There is already a task running. Only one active task is allowed for a source queue "
    "arn at a given time."
)


@pytest.fixture
def sqs(server: HeraldProcess) -> Any:
    return server.client("sqs")


def _arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _queue(sqs: Any, prefix: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:10]}", Attributes=attributes)
    return url["QueueUrl"], _arn(sqs, url["QueueUrl"])


def _until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """``check()``'s first true value, looked for every 50 ms (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def _count(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    shown = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(shown[n]) for n in names)


def _dead_letter(sqs: Any, dlq: str, bodies: list[str], **source: str) -> tuple[str, str]:
    """A queue (URL, ARN) whose dead-letter queue is ``dlq`` (a URL), after ``bodies`` were
    sent to it and each received twice (maxReceiveCount 1), so moved to ``dlq``."""
    policy = {"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1}
    url, arn = _queue(sqs, "source", RedrivePolicy=json.dumps(policy), **source)
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[start:][:10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    before = _count(sqs, dlq)

    def moved() -> bool:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return _count(sqs, dlq) == before + len(bodies)

    _until(moved)
    return url, arn


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, each once (kept in flight for a minute)."""
    taken: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return taken
        taken += got


def _latest(sqs: Any, source_arn: str) -> dict[str, Any]:
    (task,) = sqs.list_message_move_tasks(SourceArn=source_arn)["Results"]
    return dict(task)


def _ended(
    sqs: Any, source_arn: str, status: str = "COMPLETED", timeout: float = 20.0
) -> dict[str, Any]:
    return dict(_until(lambda: (t := _latest(sqs, source_arn))["Status"] == status and t, timeout))


def _error(call: Callable[[], object]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _handle(task_id: str, source_arn: str) -> str:
    document = json.dumps({"taskId": task_id, "sourceArn": source_arn})
    return base64.b64encode(document.encode()).decode()


# -- redrive ----------------------------------------------------------------------------


@BOTH_BACKENDS
def test_a_redrive_without_destination_returns_each_message_to_its_source(sqs: Any) -> None:
    # Given a dead-letter queue fed by two queues, holding six messages of each
    dlq, dlq_arn = _queue(sqs, "dlq")
    first = [f"first-{n}" for n in range(6)]
    second = [f"second-{n}" for n in range(6)]
    url_1, arn_1 = _dead_letter(sqs, dlq, first)
    url_2, arn_2 = _dead_letter(sqs, dlq, second)
    # Each dead-lettered message names the queue it came from
    peeked = sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
    )["Messages"]
    for message in peeked:
        source = message["Attributes"]["DeadLetterQueueSourceArn"]
        assert source == (arn_1 if message["Body"].startswith("first") else arn_2)
    ids = {m["MessageId"] for m in peeked}
    # When a task moves them back, at most 4 a second
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=4)[
        "TaskHandle"
    ]
    # Then its handle is base64 JSON of its id and source, as AWS's
    decoded = json.loads(base64.b64decode(handle))
    assert uuid.UUID(decoded["taskId"]) and decoded["sourceArn"] == dlq_arn
    # And it is listed RUNNING with its handle, then COMPLETED without it
    running = _latest(sqs, dlq_arn)
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert (running["ApproximateNumberOfMessagesToMove"], running["SourceArn"]) == (12, dlq_arn)
    assert running["MaxNumberOfMessagesPerSecond"] == 4 and "DestinationArn" not in running
    assert abs(running["StartedTimestamp"] / 1000 - time.time()) < 60
    done = _ended(sqs, dlq_arn)
    assert {k: v for k, v in done.items() if k != "StartedTimestamp"} == {
        "ApproximateNumberOfMessagesMoved": 12,
        "ApproximateNumberOfMessagesToMove": 12,
        "MaxNumberOfMessagesPerSecond": 4,
        "SourceArn": dlq_arn,
        "Status": "COMPLETED",
    }
    # And each message is back in its own queue once, as a new message
    back_1, back_2 = _drain(sqs, url_1), _drain(sqs, url_2)
    assert sorted(m["Body"] for m in back_1) == first
    assert sorted(m["Body"] for m in back_2) == second
    for message in back_1 + back_2:
        assert message["MessageId"] not in ids
        assert message["Attributes"]["ApproximateReceiveCount"] == "1"
        assert "DeadLetterQueueSourceArn" not in message["Attributes"]
    assert _drain(sqs, dlq) == []


@BOTH_BACKENDS
def test_a_redrive_to_a_destination_moves_every_message_there(sqs: Any) -> None:
    # Given a dead-letter queue of five messages and a third queue
    dlq, dlq_arn = _queue(sqs, "dlq")
    bodies = [f"m{n}" for n in range(5)]
    source, _ = _dead_letter(sqs, dlq, bodies)
    destination, destination_arn = _queue(sqs, "destination")
    # When a task moves them there, at the rate the system chooses
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn)
    # Then it completes with every message in the destination, none left elsewhere
    done = _ended(sqs, dlq_arn)
    assert done["DestinationArn"] == destination_arn
    assert (
        done["ApproximateNumberOfMessagesMoved"],
        done["ApproximateNumberOfMessagesToMove"],
    ) == (
        5,
        5,
    )
    assert "MaxNumberOfMessagesPerSecond" not in done and "TaskHandle" not in done
    assert sorted(m["Body"] for m in _drain(sqs, destination)) == bodies
    assert _drain(sqs, dlq) == [] and _drain(sqs, source) == []


@BOTH_BACKENDS
def test_the_rate_holds_and_a_cancel_loses_and_duplicates_nothing(sqs: Any) -> None:
    # Given a dead-letter queue of 20 messages moved one a second to a destination
    dlq, dlq_arn = _queue(sqs, "dlq")
    bodies = [f"m{n:02d}" for n in range(20)]
    _dead_letter(sqs, dlq, bodies)
    destination, destination_arn = _queue(sqs, "destination")
    handle = sqs.start_message_move_task(
        SourceArn=dlq_arn, DestinationArn=destination_arn, MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]
    _until(lambda: _latest(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)
    # When it is cancelled soon after
    cancelled = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    # Then it ends CANCELLED having moved no more than when it was cancelled, a few only
    ended = _ended(sqs, dlq_arn, "CANCELLED")
    moved = ended["ApproximateNumberOfMessagesMoved"]
    assert 1 <= cancelled == moved < 10 and "TaskHandle" not in ended
    # And every message is in exactly one of the queues: none lost, none twice
    remaining, arrived = _drain(sqs, dlq), _drain(sqs, destination)
    assert len(arrived) == moved and len(remaining) == 20 - moved
    assert sorted(m["Body"] for m in remaining + arrived) == bodies
    assert len({m["MessageId"] for m in remaining + arrived}) == 20
    # And a task no longer running cannot be cancelled again
    code, status, _ = _error(lambda: sqs.cancel_message_move_task(TaskHandle=handle))
    assert (code, status) == ("InvalidParameterValue", 400)


@BOTH_BACKENDS
def test_a_destination_deleted_while_running_fails_the_task_as_aws_records(sqs: Any) -> None:
    # Given a task moving ten messages one a second
    dlq, dlq_arn = _queue(sqs, "dlq")
    _dead_letter(sqs, dlq, [f"m{n}" for n in range(10)])
    destination, destination_arn = _queue(sqs, "destination")
    sqs.start_message_move_task(
        SourceArn=dlq_arn, DestinationArn=destination_arn, MaxNumberOfMessagesPerSecond=1
    )
    # When its destination is deleted
    sqs.delete_queue(QueueUrl=destination)
    # Then the task fails, naming the error, and the messages not moved stay
    failed = _until(lambda: (t := _latest(sqs, dlq_arn))["Status"] != "RUNNING" and t)
    assert (failed["Status"], failed["FailureReason"]) == (
        "FAILED",
        "AWS.SimpleQueueService.NonExistentQueue",
    )
    assert "TaskHandle" not in failed
    assert len(_drain(sqs, dlq)) == 10 - failed["ApproximateNumberOfMessagesMoved"] > 0


@BOTH_BACKENDS
def test_encrypted_bodies_are_sealed_again_for_their_new_queue(
    server: HeraldProcess, sqs: Any
) -> None:
    # Given encrypted messages dead-lettered from a queue sealed with one key
    kms: Any = server.client("kms")
    first, second = (kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2))
    dlq, dlq_arn = _queue(sqs, "dlq", KmsMasterKeyId=first)
    bodies = [f"secret {uuid.uuid4().hex}" for _ in range(3)]
    _dead_letter(sqs, dlq, bodies, KmsMasterKeyId=first)
    destination, destination_arn = _queue(sqs, "destination", KmsMasterKeyId=second)
    # When they are moved to a queue sealed with another key
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn)
    _ended(sqs, dlq_arn)
    # Then they are sealed at rest there, and open for its receivers
    rows = server.query(
        "SELECT body_format, body FROM sqs_messages WHERE queue_arn = ?", (destination_arn,)
    )
    assert len(rows) == 3
    for body_format, body in rows:
        assert body_format == "kms-envelope-v1"
        assert not any(b.encode() in bytes(body) for b in bodies)  # type: ignore[arg-type]
    assert sorted(m["Body"] for m in _drain(sqs, destination)) == sorted(bodies)


# -- errors -----------------------------------------------------------------------------


@BOTH_BACKENDS
def test_move_task_errors_are_aws_s(sqs: Any) -> None:
    dlq, dlq_arn = _queue(sqs, "dlq")
    _dead_letter(sqs, dlq, [f"m{n}" for n in range(10)])  # ten seconds of moving
    _, plain_arn = _queue(sqs, "plain")
    missing = f"{plain_arn}-missing"
    # A queue that is no dead-letter queue is refused as a source
    assert _error(lambda: sqs.start_message_move_task(SourceArn=plain_arn)) == (
        "InvalidParameterValue",
        400,
        _NOT_A_DLQ,
    )
    # Queues that do not exist are named by their parameter
    assert _error(lambda: sqs.start_message_move_task(SourceArn=missing)) == (
        "ResourceNotFoundException",
        404,
        "The resource that you specified for the SourceArn parameter doesn't exist.",
    )
    assert _error(
        lambda: sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=missing)
    ) == (
        "ResourceNotFoundException",
        404,
        "The resource that you specified for the DestinationArn parameter doesn't exist.",
    )
    # One task at a time per source
    handle = sqs.start_message_move_task(
        SourceArn=dlq_arn, DestinationArn=plain_arn, MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]
    assert _error(
        lambda: sqs.start_message_move_task(
            SourceArn=dlq_arn, DestinationArn=plain_arn, MaxNumberOfMessagesPerSecond=1
        )
    ) == ("InvalidParameterValue", 400, _ALREADY)
    # Handles: malformed, of a source that does not exist, of a task that does not
    assert _error(lambda: sqs.cancel_message_move_task(TaskHandle="foobared")) == (
        "InvalidParameterValue",
        400,
        "Value for parameter TaskHandle is invalid.",
    )
    unknown_source = _handle(str(uuid.uuid4()), missing)
    assert _error(lambda: sqs.cancel_message_move_task(TaskHandle=unknown_source)) == (
        "ResourceNotFoundException",
        404,
        "The resource that you specified for the SourceArn parameter doesn't exist.",
    )
    unknown_task = _handle(str(uuid.uuid4()), dlq_arn)
    assert _error(lambda: sqs.cancel_message_move_task(TaskHandle=unknown_task)) == (
        "ResourceNotFoundException",
        404,
        "Task does not exist.",
    )
    sqs.cancel_message_move_task(TaskHandle=handle)
    # The JSON error type is AWS's; the limits of the rate and of MaxResults hold
    with pytest.raises(ClientError) as caught:
        sqs.start_message_move_task(SourceArn=plain_arn)
    assert caught.value.response["Error"]["QueryErrorCode"] == "InvalidParameterValueException"
    for bad in (
        lambda: sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=501),
        lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=11),
    ):
        assert _error(bad)[:2] == ("InvalidParameterValue", 400)


@BOTH_BACKENDS
def test_move_tasks_over_the_query_protocol(server: HeraldProcess, sqs: Any) -> None:
    dlq, dlq_arn = _queue(sqs, "dlq")
    _dead_letter(sqs, dlq, ["x", "y", "z"])
    _, destination_arn = _queue(sqs, "destination")
    status, started = call(
        server,
        {"Action": "StartMessageMoveTask", "SourceArn": dlq_arn,
         "DestinationArn": destination_arn, "MaxNumberOfMessagesPerSecond": "1"},
    )  # fmt: skip
    assert status == 200
    handle = text(started, "sqs:StartMessageMoveTaskResult/sqs:TaskHandle")
    assert handle and json.loads(base64.b64decode(handle))["sourceArn"] == dlq_arn
    status, listed = call(
        server, {"Action": "ListMessageMoveTasks", "SourceArn": dlq_arn, "MaxResults": "10"}
    )
    assert status == 200
    entries = listed.findall(
        "sqs:ListMessageMoveTasksResult/sqs:ListMessageMoveTasksResultEntry", NS
    )
    assert [e.findtext("sqs:Status", namespaces=NS) for e in entries] == ["RUNNING"]
    assert entries[0].findtext("sqs:ApproximateNumberOfMessagesToMove", namespaces=NS) == "3"
    assert entries[0].findtext("sqs:DestinationArn", namespaces=NS) == destination_arn
    status, cancelled = call(server, {"Action": "CancelMessageMoveTask", "TaskHandle": handle})
    assert status == 200
    moved = text(cancelled, "sqs:CancelMessageMoveTaskResult/sqs:ApproximateNumberOfMessagesMoved")
    assert moved in ("0", "1", "2")  # of three, one a second
    status, refused = call(server, {"Action": "CancelMessageMoveTask", "TaskHandle": "foobared"})
    assert (status, text(refused, "sqs:Error/sqs:Code")) == (400, "InvalidParameterValue")


@BOTH_BACKENDS
def test_a_redrive_needs_the_permissions_aws_documents(server: HeraldProcess, sqs: Any) -> None:
    # Given a dead-letter queue, a destination, and an IAM user allowed all a redrive needs
    # on the dead-letter queue but nothing on the destination
    dlq, dlq_arn = _queue(sqs, "dlq")
    _dead_letter(sqs, dlq, ["p"])
    _, destination_arn = _queue(sqs, "destination")
    iam: Any = server.client("iam")
    name = f"redriver-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user: Any = boto3.client(
        "sqs",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )

    def allow(on_source: list[str], on_destination: list[str]) -> None:
        statements = [
            {"Effect": "Allow", "Action": [f"sqs:{a}" for a in actions], "Resource": arn}
            for actions, arn in ((on_source, dlq_arn), (on_destination, destination_arn))
            if actions
        ]
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        iam.put_user_policy(UserName=name, PolicyName="redrive", PolicyDocument=document)

    def start() -> Any:
        return user.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn)

    needed = ["StartMessageMoveTask", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes"]
    # When it starts a redrive with one of those missing, or nothing on the destination
    allow(needed[:1], ["SendMessage"])
    code, status, message = _error(start)
    assert (code, status) == ("AccessDenied", 403) and "sqs:ReceiveMessage" in message
    allow(needed, [])
    code, status, message = _error(start)
    assert (code, status) == ("AccessDenied", 403) and "sqs:SendMessage" in message
    # Then it is refused; with sqs:SendMessage on the destination it may
    allow(needed, ["SendMessage"])
    assert start()["TaskHandle"]
    # And listing takes sqs:ListMessageMoveTasks
    assert _error(lambda: user.list_message_move_tasks(SourceArn=dlq_arn))[:2] == (
        "AccessDenied",
        403,
    )


# -- durability ---------------------------------------------------------------------------


@BOTH_BACKENDS
def test_a_task_survives_a_restart(tmp_path: Path, backend: str) -> None:
    # Given a server moving eight messages two a second
    herald = HeraldProcess(tmp_path, extra_args=database_args(backend, str(tmp_path))).start()
    try:
        sqs: Any = herald.client("sqs")
        dlq, dlq_arn = _queue(sqs, "dlq")
        bodies = [f"m{n}" for n in range(8)]
        _dead_letter(sqs, dlq, bodies)
        destination, destination_arn = _queue(sqs, "destination")
        sqs.start_message_move_task(
            SourceArn=dlq_arn, DestinationArn=destination_arn, MaxNumberOfMessagesPerSecond=2
        )
        _until(lambda: _latest(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)
        # When it is killed midway (its store says so) and started again
        herald.stop(signal.SIGKILL)
        ((status, moved),) = herald.query(
            "SELECT status, moved FROM sqs_move_tasks WHERE source_arn = ?", (dlq_arn,)
        )
        assert status == "RUNNING" and 1 <= int(str(moved)) < 8
        herald.start()
        sqs = herald.client("sqs")
        # Then the task carries on where it was and completes, each message moved once
        done = _ended(sqs, dlq_arn)
        assert done["ApproximateNumberOfMessagesMoved"] == 8
        assert sorted(m["Body"] for m in _drain(sqs, destination)) == bodies
        assert _drain(sqs, dlq) == []
    finally:
        herald.stop()


def test_another_node_takes_over_the_task_of_a_node_that_died(tmp_path: Path) -> None:
    # Given two nodes sharing a database, one of them moving 24 messages four a second
    with postgres_nodes(tmp_path) as (a, b):
        sqs: Any = b.client("sqs")
        dlq, dlq_arn = _queue(sqs, "dlq")
        bodies = [f"m{n:02d}" for n in range(24)]
        _dead_letter(sqs, dlq, bodies)
        destination, destination_arn = _queue(sqs, "destination")
        sqs.start_message_move_task(
            SourceArn=dlq_arn, DestinationArn=destination_arn, MaxNumberOfMessagesPerSecond=4
        )
        _until(lambda: _latest(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)
        # When the node running it is killed
        ((lease,),) = a.query("SELECT lease FROM sqs_move_tasks WHERE source_arn = ?", (dlq_arn,))
        runner, survivor = (a, b) if str(lease).startswith(_node(a)) else (b, a)
        runner.stop(signal.SIGKILL)
        left = _latest(survivor.client("sqs"), dlq_arn)["ApproximateNumberOfMessagesMoved"]
        # Then the other node takes it over once the lease (10 s) ends, and completes it
        sqs = survivor.client("sqs")
        done = _ended(sqs, dlq_arn, timeout=45)
        assert left < done["ApproximateNumberOfMessagesMoved"] == 24
        assert sorted(m["Body"] for m in _drain(sqs, destination)) == bodies


def _node(herald: HeraldProcess) -> str:
    return (herald.data_dir / "node-id").read_text().strip()


# -- where a redrive may send -----------------------------------------------------------


@BOTH_BACKENDS
def test_a_message_goes_back_only_to_a_source_its_starter_may_send_to(
    server: HeraldProcess, sqs: Any
) -> None:
    # Given a dead-letter queue fed by X and Y, a message of X's in it, and then X no
    # longer feeding it; and a user allowed the redrive and SendMessage on Y, denied on X
    dlq, dlq_arn = _queue(sqs, "dlq")
    x, x_arn = _dead_letter(sqs, dlq, ["from-x"])
    _dead_letter(sqs, dlq, [])
    sqs.set_queue_attributes(QueueUrl=x, Attributes={"RedrivePolicy": ""})
    iam: Any = server.client("iam")
    name = f"redriver-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    actions = ["StartMessageMoveTask", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes"]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": [f"sqs:{a}" for a in actions], "Resource": dlq_arn},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
            {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": x_arn},
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="redrive", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user: Any = boto3.client(
        "sqs",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    # When the user redrives the dead-letter queue to the messages' sources
    user.start_message_move_task(SourceArn=dlq_arn)
    # Then the task fails as the user may not send to X, and the message stays put
    failed = _ended(sqs, dlq_arn, "FAILED")
    assert (failed["FailureReason"], failed["ApproximateNumberOfMessagesMoved"]) == (
        "AccessDenied",
        0,
    )
    assert [m["Body"] for m in _drain(sqs, dlq)] == ["from-x"]
    assert _drain(sqs, x) == []


def test_a_dead_letter_queue_must_be_in_the_sources_account(
    server: HeraldProcess, sqs: Any
) -> None:
    # Given a queue of another account
    other = client_for(server, new_account(server), "sqs")
    foreign = other.create_queue(QueueName=f"foreign-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    foreign_arn = _arn(other, foreign)
    policy = json.dumps({"deadLetterTargetArn": foreign_arn, "maxReceiveCount": 1})
    # When a queue names it as its dead-letter queue, Then that is refused
    refused = (
        "InvalidParameterValue",
        400,
        f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead-letter queue "
        "must be in the same account and region as the source queue.",
    )
    name = f"source-{uuid.uuid4().hex[:8]}"
    assert (
        _error(lambda: sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy}))[:2]
        == refused[:2]
    )
    url, _ = _queue(sqs, "source")
    assert (
        _error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy}))
        == refused
    )


# -- AddPermission --------------------------------------------------------------------------


def test_add_permission_takes_seven_actions_at_most(sqs: Any) -> None:
    url, _ = _queue(sqs, "shared")
    actions = ["SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
               "GetQueueAttributes", "GetQueueUrl", "PurgeQueue", "ListQueueTags"]  # fmt: skip
    assert _error(
        lambda: sqs.add_permission(
            QueueUrl=url, Label="eight", AWSAccountIds=["111111111111"], Actions=actions
        )
    ) == ("OverLimit", 403, "8 Actions were found, maximum allowed is 7.")
    # Seven are taken, and the label is then in use
    sqs.add_permission(
        QueueUrl=url, Label="seven", AWSAccountIds=["111111111111"], Actions=actions[:7]
    )
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])  # fmt: skip
    assert [s["Sid"] for s in policy["Statement"]] == ["seven"]
