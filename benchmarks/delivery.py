"""Fan-out to SQS queues: deliveries/s and publish-to-receipt latency (run by hand).

    .venv/bin/python benchmarks/delivery.py

Starts a Herald, subscribes 1 and then 10 queues (raw delivery, policies admitting the
topic) to a topic, publishes for a few seconds with 8 concurrent signed publishers, and
drains the queues with long polling. Every message carries its publish time, so the
latency is from just before Publish to receipt (p50, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import threading
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from publish import REGION, Target, _roundtrip, start_server

KEY_ID = "AKIABENCHMARK0000001"


async def _publisher(target: Target, topic: str, deadline: float, sent: list[int]) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    while time.perf_counter() < deadline:
        params = {"Action": "Publish", "TopicArn": topic, "Message": repr(time.time()),
                  "Version": "2010-03-31"}  # fmt: skip
        status, _ = await _roundtrip(reader, writer, target.signed(params))
        if status == 200:
            sent[0] += 1
    writer.close()


def _drain(client: Any, url: str, expected: int, latencies: list[float], stop: list[float]) -> None:
    got = 0
    while got < expected and time.time() < stop[0]:
        try:
            answer = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        except Exception:
            return  # the server is gone: the run is over
        messages = answer.get("Messages", [])
        now = time.time()
        for message in messages:
            latencies.append(now - float(message["Body"]))
        if messages:
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                         for i, m in enumerate(messages)],
            )  # fmt: skip
        got += len(messages)


def run(port: int, secret: str, queues: int, seconds: float) -> None:
    session = boto3.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=secret,
                            region_name=REGION)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    sns = session.client("sns", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint, config=Config(max_pool_connections=20))
    target = Target("127.0.0.1", port, Credentials(KEY_ID, secret))
    topic = sns.create_topic(Name=f"bench-{queues}")["TopicArn"]
    urls = []
    for n in range(queues):
        url = sqs.create_queue(QueueName=f"bench-{queues}-{n}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]}  # fmt: skip
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})  # fmt: skip
        urls.append(url)
    sent = [0]
    start = time.perf_counter()

    async def publish_all() -> None:
        await asyncio.gather(*(_publisher(target, topic, start + seconds, sent) for _ in range(8)))

    latencies: list[float] = []
    stop = [time.time() + seconds + 120]
    drainers = [
        threading.Thread(target=_drain, args=(sqs, url, 10**9, latencies, stop), daemon=True)
        for url in urls
    ]
    for thread in drainers:
        thread.start()
    asyncio.run(publish_all())
    expected = sent[0] * queues
    while len(latencies) < expected and time.time() < stop[0]:
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    stop[0] = 0
    for thread in drainers:
        thread.join(5)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(
        f"{queues:>2} queue(s): {sent[0]} publishes, {len(latencies)}/{expected} delivered, "
        f"{len(latencies) / elapsed:,.0f} deliveries/s; latency p50 {q[49] * 1000:.1f} ms, "
        f"p99 {q[98] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    secret = secrets.token_urlsafe(30)
    process, port, _ = start_server(tempfile.mkdtemp(prefix="herald-delivery-bench-"), secret)
    try:
        for queues in (1, 10):
            run(port, secret, queues, args.seconds)
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
