"""Queues encrypted with the key service (SQS SSE-KMS): bodies sealed at rest, opened for
receivers, and the key service's refusals as SQS reports them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess


def _rows(server: HeraldProcess, queue_arn: str) -> list[tuple[str, bytes]]:
    with sqlite3.connect(server.data_dir / "herald.db") as db:
        rows = db.execute(
            "SELECT body_format, body FROM sqs_messages WHERE queue_arn = ?", (queue_arn,)
        ).fetchall()
    return [(r[0], bytes(r[1])) for r in rows]


def _arn(sqs: Any, url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )


@pytest.mark.parametrize("key_kind", ["customer key", "alias/aws/sqs"])
def test_an_encrypted_queue_seals_bodies_and_opens_them_for_receivers(
    server: HeraldProcess, key_kind: str
) -> None:
    sqs = server.client("sqs")
    key = (
        server.client("kms").create_key()["KeyMetadata"]["Arn"]
        if key_kind == "customer key"
        else "alias/aws/sqs"
    )
    url = sqs.create_queue(
        QueueName=f"sealed-{uuid.uuid4().hex[:8]}", Attributes={"KmsMasterKeyId": key}
    )["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == key
    assert attributes["KmsDataKeyReusePeriodSeconds"] == "300"
    assert attributes["SqsManagedSseEnabled"] == "false"
    marker = f"marker {uuid.uuid4().hex}"
    sqs.send_message(QueueUrl=url, MessageBody=marker)
    (row,) = _rows(server, _arn(sqs, url))
    assert row[0] == "kms-envelope-v1" and marker.encode() not in row[1]
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == marker


def test_senders_and_receivers_need_the_key(server: HeraldProcess) -> None:
    sqs = server.client("sqs")
    key = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    url = sqs.create_queue(
        QueueName=f"guarded-{uuid.uuid4().hex[:8]}", Attributes={"KmsMasterKeyId": key}
    )["QueueUrl"]
    iam = server.client("iam")
    name = f"sqs-only-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName=name, PolicyName="sqs", PolicyDocument=json.dumps(policy))
    creds = iam.create_access_key(UserName=name)["AccessKey"]
    user = boto3.client(
        "sqs",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        user.send_message(QueueUrl=url, MessageBody="no key access")
    assert caught.value.response["Error"]["Code"] == "KMS.AccessDeniedException"
    assert _rows(server, _arn(sqs, url)) == []
    # The owner sends; the user may not read what it cannot decrypt
    sqs.send_message(QueueUrl=url, MessageBody="for key holders")
    with pytest.raises(ClientError) as caught:
        user.receive_message(QueueUrl=url)
    assert caught.value.response["Error"]["Code"] == "KMS.AccessDeniedException"


def test_a_disabled_key_stops_sends(server: HeraldProcess) -> None:
    sqs = server.client("sqs")
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    url = sqs.create_queue(
        QueueName=f"off-{uuid.uuid4().hex[:8]}", Attributes={"KmsMasterKeyId": key}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first")
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="second")
    assert caught.value.response["Error"]["Code"] == "KMS.DisabledException"
