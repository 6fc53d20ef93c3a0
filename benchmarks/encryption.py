"""Publish to an encrypted topic next to a plain one, in the same run (run by hand).

    .venv/bin/python benchmarks/encryption.py

Starts a Herald, creates a plain topic and one encrypted with a customer managed key,
and publishes to each in turn over HTTPS (both, so that only encryption differs), with
1 and 16 concurrent publishers signing every request with botocore's SigV4 signer.
Alternates plain and encrypted rounds and prints the median of each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import ssl
import statistics
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from publish import REGION, _roundtrip, start_server


@dataclass
class Target:
    port: int
    credentials: Credentials
    tls: ssl.SSLContext

    def request(self, service: str, body: str, headers: dict[str, str]) -> bytes:
        request = AWSRequest(
            method="POST", url=f"https://127.0.0.1:{self.port}/", data=body, headers=headers
        )
        SigV4Auth(self.credentials, service, REGION).add_auth(request)
        lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def sns(self, params: dict[str, str]) -> bytes:
        content = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return self.request("sns", urllib.parse.urlencode(params), content)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port, ssl=self.tls)


async def _setup(target: Target) -> tuple[str, str]:
    reader, writer = await target.connect()
    _, body = await _roundtrip(
        reader,
        writer,
        target.request(
            "kms",
            "{}",
            {
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "TrentService.CreateKey",
            },
        ),
    )
    key = json.loads(body)["KeyMetadata"]["Arn"]
    topics = []
    for name, attributes in (("plain", {}), ("encrypted", {"KmsMasterKeyId": key})):
        params = {"Action": "CreateTopic", "Name": f"bench-{name}", "Version": "2010-03-31"}
        for n, (k, v) in enumerate(attributes.items(), start=1):
            params[f"Attributes.entry.{n}.key"] = k
            params[f"Attributes.entry.{n}.value"] = v
        _, body = await _roundtrip(reader, writer, target.sns(params))
        match = re.search(rb"<TopicArn>([^<]+)</TopicArn>", body)
        if not match:
            raise SystemExit(f"CreateTopic failed: {body[:300]!r}")
        topics.append(match[1].decode())
    writer.close()
    return topics[0], topics[1]


async def _worker(target: Target, topic: str, deadline: float, done: list[float]) -> None:
    reader, writer = await target.connect()
    params = {"Action": "Publish", "TopicArn": topic, "Message": "x" * 256, "Version": "2010-03-31"}
    while time.perf_counter() < deadline:
        payload = target.sns(params)
        start = time.perf_counter()
        status, body = await _roundtrip(reader, writer, payload)
        if status != 200:
            raise SystemExit(f"Publish failed: {body[:300]!r}")
        done.append(time.perf_counter() - start)
    writer.close()


async def rate(target: Target, topic: str, concurrency: int, seconds: float) -> float:
    done: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(_worker(target, topic, start + seconds, done) for _ in range(concurrency))
    )
    return len(done) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    secret = secrets.token_urlsafe(30)
    folder = tempfile.mkdtemp(prefix="herald-sse-bench-")
    process, _, port = start_server(folder, secret)
    try:
        tls = ssl.create_default_context(cafile=str(Path(folder) / "tls-cert.pem"))
        target = Target(port, Credentials("AKIABENCHMARK0000001", secret), tls)
        plain, encrypted = asyncio.run(_setup(target))
        for concurrency in args.concurrency:
            asyncio.run(rate(target, plain, concurrency, 1))  # warm up
            asyncio.run(rate(target, encrypted, concurrency, 1))
            results: dict[str, list[float]] = {"plain": [], "encrypted": []}
            for _ in range(args.rounds):
                for name, topic in (("plain", plain), ("encrypted", encrypted)):
                    results[name].append(
                        asyncio.run(rate(target, topic, concurrency, args.seconds))
                    )
            p, e = statistics.median(results["plain"]), statistics.median(results["encrypted"])
            print(
                f"concurrency={concurrency:<3} plain {p:>7,.0f} publishes/s  encrypted "
                f"{e:>7,.0f} publishes/s  encrypted/plain {e / p:.3f}"
            )
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
