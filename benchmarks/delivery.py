"""Fan-out to SQS queues and HTTP endpoints: deliveries/s and publish-to-receipt latency
(run by hand).

    .venv/bin/python benchmarks/delivery.py [--seconds 5] [--rate 100]

Starts a Herald and, for 1 and then 10 subscribers of each kind (SQS queues with policies
admitting the topic; HTTP endpoints on a local aiohttp receiver, confirmed through the
handshake; raw delivery), publishes for a few seconds with 8 concurrent signed publishers
as fast as the server answers (deliveries/s; the latency then includes the backlog), then
again at a steady --rate of publishes/s (the latency of an unloaded path). Every message
carries its publish time, so the latency is from just before Publish to receipt (p50, p99).
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
from load import _Receiver
from publish import REGION, Target, _roundtrip, start_server

KEY_ID = "AKIABENCHMARK0000001"


async def _publisher(
    target: Target, topic: str, deadline: float, sent: list[int], every: float = 0.0
) -> None:
    """Publish until ``deadline``; one publish per ``every`` seconds (0: back to back)."""
    reader, writer = await asyncio.open_connection(target.host, target.port)
    due = time.perf_counter()
    while time.perf_counter() < deadline:
        if every:
            due += every
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
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


def _publish_for(
    target: Target, topic: str, seconds: float, rate: float | None
) -> tuple[int, float]:
    """(publishes, start time) of a run of ``seconds`` by 8 publishers."""
    sent = [0]
    start = time.perf_counter()
    every = 8 / rate if rate else 0.0

    async def publish_all() -> None:
        await asyncio.gather(
            *(_publisher(target, topic, start + seconds, sent, every) for _ in range(8))
        )

    asyncio.run(publish_all())
    return sent[0], start


def _report(kind: str, count: int, sent: int, latencies: list[float], elapsed: float,
            rate: float | None) -> None:  # fmt: skip
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    pace = f"at {rate:,.0f} publishes/s" if rate else "saturated"
    print(
        f"{count:>2} {kind}(s), {pace}: {sent} publishes, {len(latencies)}/{sent * count} "
        f"delivered, {len(latencies) / elapsed:,.0f} deliveries/s; latency p50 "
        f"{q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"
    )


class _Endpoints(_Receiver):
    """HTTP subscribers (a local aiohttp receiver) that record each notification's
    latency from the publish time it carries."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        super().__init__(lambda body: self.latencies.append(time.time() - float(body)))


def run_http(port: int, secret: str, endpoints: _Endpoints, count: int, seconds: float,
             rate: float | None) -> None:  # fmt: skip
    session = boto3.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=secret,
                            region_name=REGION)  # fmt: skip
    sns = session.client("sns", endpoint_url=f"http://127.0.0.1:{port}")
    target = Target("127.0.0.1", port, Credentials(KEY_ID, secret))
    topic = sns.create_topic(Name=f"bench-http-{count}-{secrets.token_hex(3)}")["TopicArn"]
    for n in range(count):
        sns.subscribe(TopicArn=topic, Protocol="http",
                      Endpoint=f"http://127.0.0.1:{endpoints.port}/{n}",
                      Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    deadline = time.time() + 30
    while sum(1 for t, _ in endpoints.tokens if t == topic) < count and time.time() < deadline:
        time.sleep(0.05)
    for t, token in list(endpoints.tokens):
        if t == topic:
            sns.confirm_subscription(TopicArn=topic, Token=token)
    endpoints.latencies.clear()
    sent, start = _publish_for(target, topic, seconds, rate)
    deadline = time.time() + 120
    while len(endpoints.latencies) < sent * count and time.time() < deadline:
        time.sleep(0.05)
    _report("HTTP endpoint", count, sent, list(endpoints.latencies),
            time.perf_counter() - start, rate)  # fmt: skip


def subscribed_queue(sns: Any, sqs: Any, topic: str, name: str) -> str:
    """A queue whose policy admits the topic, subscribed to it with raw delivery; its URL."""
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
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
    return url


def run(port: int, secret: str, queues: int, seconds: float, rate: float | None = None) -> None:
    session = boto3.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=secret,
                            region_name=REGION)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    sns = session.client("sns", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint, config=Config(max_pool_connections=20))
    target = Target("127.0.0.1", port, Credentials(KEY_ID, secret))
    topic = sns.create_topic(Name=f"bench-{queues}-{secrets.token_hex(3)}")["TopicArn"]
    urls = [subscribed_queue(sns, sqs, topic, f"{topic.split(':')[-1]}-{n}") for n in range(queues)]
    latencies: list[float] = []
    stop = [time.time() + seconds + 120]
    drainers = [
        threading.Thread(target=_drain, args=(sqs, url, 10**9, latencies, stop), daemon=True)
        for url in urls
    ]
    for thread in drainers:
        thread.start()
    sent, start = _publish_for(target, topic, seconds, rate)
    while len(latencies) < sent * queues and time.time() < stop[0]:
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    stop[0] = 0
    for thread in drainers:
        thread.join(5)
    _report("SQS queue", queues, sent, latencies, elapsed, rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=100.0, help="publishes/s, paced run")
    args = parser.parse_args()
    secret = secrets.token_urlsafe(30)
    process, port, _ = start_server(tempfile.mkdtemp(prefix="herald-delivery-bench-"), secret)
    try:
        endpoints = _Endpoints()
        for count in (1, 10):
            run_http(port, secret, endpoints, count, args.seconds, None)
            run_http(port, secret, endpoints, count, args.seconds, args.rate)
        for count in (1, 10):
            run(port, secret, count, args.seconds)
            run(port, secret, count, args.seconds, args.rate)
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
