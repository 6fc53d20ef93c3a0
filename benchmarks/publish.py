"""Publish throughput and latency against a running Herald, with concurrent signed requests.

Run by hand, never in CI:

    .venv/bin/python benchmarks/publish.py                 # starts its own server
    .venv/bin/python benchmarks/publish.py --endpoint http://127.0.0.1:4566 \
        --access-key AKIA... --secret ...                  # an existing server

Each worker keeps one HTTP/1.1 keep-alive connection and signs every request with
botocore's SigV4 signer (so the client's cost is what an SDK pays, minus its retries and
parsing). Prints requests/s and p50/p90/p99 latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"


@dataclass
class Target:
    host: str
    port: int
    credentials: Credentials

    def signed(self, params: dict[str, str]) -> bytes:
        body = urllib.parse.urlencode(params)
        url = f"http://{self.host}:{self.port}/"
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        SigV4Auth(self.credentials, "sns", REGION).add_auth(request)
        lines = ["POST / HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


async def _roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, bytes]:
    writer.write(payload)
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return int(status_line.split()[1]), await reader.readexactly(length)


async def _create_topic(target: Target) -> str:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    payload = target.signed({"Action": "CreateTopic", "Name": "bench", "Version": "2010-03-31"})
    _, body = await _roundtrip(reader, writer, payload)
    writer.close()
    match = re.search(rb"<TopicArn>([^<]+)</TopicArn>", body)
    if not match:
        raise SystemExit(f"CreateTopic failed: {body[:500]!r}")
    return match[1].decode()


async def _worker(
    target: Target,
    topic: str,
    message: str,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    params = {"Action": "Publish", "TopicArn": topic, "Message": message, "Version": "2010-03-31"}
    while time.perf_counter() < deadline:
        payload = target.signed(params)
        start = time.perf_counter()
        status, _ = await _roundtrip(reader, writer, payload)
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors.append(status)
    writer.close()


async def run(target: Target, concurrency: int, seconds: float, size: int) -> None:
    topic = await _create_topic(target)
    message = "x" * size
    # Warm up: connections, caches, the store's first pages.
    warm: list[float] = []
    await asyncio.gather(
        *(
            _worker(target, topic, message, time.perf_counter() + 1, warm, [])
            for _ in range(concurrency)
        )
    )
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_worker(target, topic, message, deadline, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"concurrency={concurrency} message={size} B duration={elapsed:.1f} s")
    print(
        f"publishes={len(latencies)} errors={len(errors)} "
        f"throughput={len(latencies) / elapsed:.0f} req/s"
    )
    print(
        f"latency ms: p50={quantiles[49] * 1000:.2f} p90={quantiles[89] * 1000:.2f} "
        f"p99={quantiles[98] * 1000:.2f} max={max(latencies) * 1000:.2f}"
    )


def _start_server(data_dir: str, secret: str) -> tuple[subprocess.Popen[str], int]:
    process, http_port, _ = start_server(data_dir, secret)
    return process, http_port


def start_server(data_dir: str, secret: str) -> tuple[subprocess.Popen[str], int, int]:
    """A Herald subprocess on free ports: (process, HTTP port, HTTPS port)."""
    env = dict(
        os.environ,
        HERALD_ROOT_ACCESS_KEY_ID="AKIABENCHMARK0000001",
        HERALD_ROOT_SECRET_ACCESS_KEY=secret,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "herald.cli",
            "serve",
            "--port",
            "0",
            "--tls-port",
            "0",
            "--data-dir",
            data_dir,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"listening on http://[\d.]+:(\d+) and https://[\d.]+:(\d+)", line)
        if match:
            return process, int(match[1]), int(match[2])
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", help="http://host:port of a running Herald")
    parser.add_argument("--access-key", default=None)
    parser.add_argument("--secret", default=None)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--message-bytes", type=int, default=256)
    args = parser.parse_args()
    process = None
    if args.endpoint:
        parsed = urllib.parse.urlsplit(args.endpoint)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        creds = Credentials(args.access_key, args.secret)
    else:
        secret = secrets.token_urlsafe(30)
        tmp = tempfile.mkdtemp(prefix="herald-bench-")
        process, port = _start_server(tmp, secret)
        host = "127.0.0.1"
        creds = Credentials("AKIABENCHMARK0000001", secret)
        print(f"started Herald on port {port} with data in {tmp}")
    try:
        for concurrency in args.concurrency:
            asyncio.run(
                run(Target(host, port, creds), concurrency, args.seconds, args.message_bytes)
            )
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
