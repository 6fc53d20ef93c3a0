"""Publish-to-receipt latency through an SQS subscription at half the peak publish rate
(run by hand, never in CI).

    .venv/bin/python benchmarks/sqs_latency.py [--seconds 10] [--consumers 8] [--runs 3]

Starts a Herald, a topic and one queue subscribed to it with raw delivery. Consumers in
their own process long-poll the queue over the JSON protocol (ReceiveMessage, 10 at a
time, WaitTimeSeconds=1, then DeleteMessageBatch), with requests signed by botocore's
signer, so the consumer keeps up where one boto3 thread could not. First the topic is
published to as fast as the server answers (2 publisher processes x 32 connections): the
peak. Then at half that rate, paced: every message carries the time just before its
Publish, and its latency is the time it is received minus that (p50, p90, p99).
``--runs N`` does it N times, each on a fresh server, and prints the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
import urllib.parse
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from delivery import subscribed_queue
from load import REGION, Server, _roundtrip, start_herald


def _request(server: Server, service: str, body: str, target: str | None) -> bytes:
    url = urllib.parse.urlsplit(server.http)
    headers = {
        "Content-Type": "application/x-amz-json-1.0"
        if target
        else "application/x-www-form-urlencoded; charset=utf-8"
    }
    if target:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=f"{server.http}/", data=body, headers=headers)
    SigV4Auth(Credentials(server.access_key, server.secret), service, REGION).add_auth(request)
    lines = ["POST / HTTP/1.1", f"Host: {url.netloc}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode()


async def _connect(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urllib.parse.urlsplit(server.http)
    assert url.hostname and url.port
    return await asyncio.open_connection(url.hostname, url.port)


def publish(job: tuple[Server, str, float, float, int]) -> int:
    """Publish to the topic for ``seconds`` at ``rate``/s (0: as fast as answered) over
    ``connections``; the number acknowledged."""
    server, topic, seconds, rate, connections = job

    async def one(deadline: float, offset: float) -> int:
        reader, writer = await _connect(server)
        every = connections / rate if rate else 0.0
        due = time.perf_counter() + offset * every
        done = 0
        while time.perf_counter() < deadline:
            if every:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += every
            params = {"Action": "Publish", "TopicArn": topic, "Version": "2010-03-31",
                      "Message": f"{time.time():.6f}"}  # fmt: skip
            body = urllib.parse.urlencode(params)
            status, _ = await _roundtrip(reader, writer, _request(server, "sns", body, None))
            done += status == 200
        writer.close()
        return done

    async def main() -> int:
        deadline = time.perf_counter() + seconds
        counts = await asyncio.gather(*(one(deadline, i / connections) for i in range(connections)))
        return sum(counts)

    return asyncio.run(main())


def consume(job: tuple[Server, str, int, float]) -> list[float]:
    """Receive and delete from the queue until ``stop_after`` seconds pass with nothing
    received; the latency of each message received."""
    server, queue_url, consumers, stop_after = job
    latencies: list[float] = []

    async def one() -> None:
        reader, writer = await _connect(server)
        quiet_since = time.time()
        while time.time() - quiet_since < stop_after:
            body = json.dumps({"QueueUrl": queue_url, "MaxNumberOfMessages": 10,
                               "WaitTimeSeconds": 1})  # fmt: skip
            payload = _request(server, "sqs", body, "AmazonSQS.ReceiveMessage")
            status, answer = await _roundtrip(reader, writer, payload)
            now = time.time()
            messages = json.loads(answer).get("Messages", []) if status == 200 else []
            if not messages:
                continue
            quiet_since = now
            latencies.extend(now - float(m["Body"]) for m in messages)
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                       for i, m in enumerate(messages)]  # fmt: skip
            body = json.dumps({"QueueUrl": queue_url, "Entries": entries})
            await _roundtrip(
                reader, writer, _request(server, "sqs", body, "AmazonSQS.DeleteMessageBatch")
            )
        writer.close()

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(consumers)))

    asyncio.run(main())
    return latencies


def _setup(server: Server) -> tuple[str, str]:
    sns = server.client("sns")
    topic = sns.create_topic(Name="latency")["TopicArn"]
    return topic, subscribed_queue(sns, server.client("sqs"), topic, "latency")


def run(server: Server, seconds: float, rate: float, consumers: int) -> dict[str, Any]:
    topic, url = _setup(server)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        received = pool.apply_async(consume, [(server, url, consumers, 3.0)])
        jobs = [(server, topic, seconds, rate / 2, 32)] * 2
        start = time.perf_counter()
        published = sum(pool.map(publish, jobs))
        elapsed = time.perf_counter() - start
        latencies = sorted(received.get(seconds + 300))
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "published": published,
        "publishes_per_s": published / elapsed,
        "received": len(latencies),
        "p50_ms": q[49] * 1000,
        "p90_ms": q[89] * 1000,
        "p99_ms": q[98] * 1000,
    }


def _print(label: str, f: dict[str, Any]) -> None:
    print(
        f"{label:<28} {f['publishes_per_s']:>7,.0f} publishes/s; received "
        f"{f['received']}/{f['published']}; publish-to-receipt p50 {f['p50_ms']:.1f} "
        f"p90 {f['p90_ms']:.1f} p99 {f['p99_ms']:.1f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--consumers", type=int, default=8, help="long-polling connections")
    parser.add_argument(
        "--rate", type=float, help="publishes/s (default: half the peak, measured first)"
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="rounds (each on a fresh server); prints medians"
    )
    args = parser.parse_args()
    peaks: list[dict[str, Any]] = []
    paced: list[dict[str, Any]] = []
    for _ in range(args.runs):
        server, process = start_herald()
        try:
            rate = args.rate
            if not rate:
                peaks.append(run(server, args.seconds, 0.0, args.consumers))
                _print("peak (as fast as answered)", peaks[-1])
                rate = peaks[-1]["publishes_per_s"] / 2
            paced.append(run(server, args.seconds, rate, args.consumers))
            _print(f"at {rate:,.0f}/s", paced[-1])
        finally:
            process.terminate()
            process.wait(30)
    if args.runs > 1:
        print(f"medians of {args.runs} runs:")
        if peaks:
            _print("peak (as fast as answered)", _medians(peaks))
        _print("paced", _medians(paced))


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs (received and published: the totals)."""
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    medians["received"] = sum(r["received"] for r in runs)
    medians["published"] = sum(r["published"] for r in runs)
    return medians


if __name__ == "__main__":
    main()
