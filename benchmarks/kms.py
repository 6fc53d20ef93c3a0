"""GenerateDataKey and Decrypt speed, with the audit trail on (run by hand, never in CI).

    .venv/bin/python benchmarks/kms.py

Two measurements, as the key service issue asks:
- over HTTP: a Herald subprocess, concurrent keep-alive connections, every request signed
  with botocore's SigV4 signer (TrentService.GenerateDataKey, JSON 1.1);
- in process: the call SNS makes (``Gate.run`` around ``Crypto.generate_data_key`` and
  ``Crypto.decrypt``, each request written to the audit trail in SQLite).
Prints requests/s and latency percentiles; medians of the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from publish import REGION, _roundtrip, _start_server

from herald.clock import SystemClock
from herald.iam.authorizer import Authorizer
from herald.iam.identities import Identities
from herald.kms import rootkey
from herald.kms.access import KeyAccess
from herald.kms.crypto import Crypto
from herald.kms.gate import Gate, Quotas
from herald.kms.service import KMSService
from herald.store.sqlite import SQLiteStore
from herald.types import Principal, RequestContext


@dataclass
class Target:
    host: str
    port: int
    credentials: Credentials

    def signed(self, operation: str, params: dict[str, Any]) -> bytes:
        body = json.dumps(params)
        request = AWSRequest(
            method="POST",
            url=f"http://{self.host}:{self.port}/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"TrentService.{operation}",
            },
        )
        SigV4Auth(self.credentials, "kms", REGION).add_auth(request)
        lines = ["POST / HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


async def _call(target: Target, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    status, body = await _roundtrip(reader, writer, target.signed(operation, params))
    writer.close()
    if status != 200:
        raise SystemExit(f"{operation} failed: {body[:300]!r}")
    result: dict[str, Any] = json.loads(body)
    return result


async def _http_worker(
    target: Target, key_id: str, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    params = {"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": {"topic": "bench"}}
    while time.perf_counter() < deadline:
        payload = target.signed("GenerateDataKey", params)
        start = time.perf_counter()
        status, _ = await _roundtrip(reader, writer, payload)
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors.append(status)
    writer.close()


async def over_http(target: Target, concurrency: int, seconds: float) -> tuple[float, list[float]]:
    key_id = (await _call(target, "CreateKey", {}))["KeyMetadata"]["KeyId"]
    warm: list[float] = []
    await asyncio.gather(
        *(
            _http_worker(target, key_id, time.perf_counter() + 1, warm, [])
            for _ in range(concurrency)
        )
    )
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(
            _http_worker(target, key_id, start + seconds, latencies, errors)
            for _ in range(concurrency)
        )
    )
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. status {errors[0]}")
    return len(latencies) / (time.perf_counter() - start), latencies


async def in_process(seconds: float, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "herald.db")
        await store.open()
        try:
            clock = SystemClock()
            root = rootkey.load(None, Path(folder) / "root.key")
            access = KeyAccess(store, Authorizer(Identities(store), clock), root)
            keys = KMSService(store, clock, access, root)
            crypto = Crypto(store, access)
            gate = Gate(store, clock, Quotas(10**9, 10**9), lambda exc: type(exc).__name__)
            account = "000000000000"
            principal = Principal(account, f"arn:aws:iam::{account}:root", account, "AK")
            ctx = RequestContext(principal, REGION, "bench", True, True, "127.0.0.1")
            key = await keys.managed_key(account, REGION, "sns")
            via = f"sns.{REGION}.amazonaws.com"
            context = {"aws:sns:topicArn": f"arn:aws:sns:{REGION}:{account}:bench"}
            blob = b""

            async def generate() -> dict[str, Any]:
                nonlocal blob
                data_key = await crypto.generate_data_key(
                    ctx, key.key_id, context, "AES_256", None, via=via
                )
                blob = data_key.blob
                return {"KeyId": key.arn}

            async def decrypt() -> dict[str, Any]:
                await crypto.decrypt(ctx, blob, context, via=via)
                return {"KeyId": key.arn}

            rates = {}
            for name, call in (("GenerateDataKey", generate), ("Decrypt", decrypt)):
                await gate.run(ctx, name, {"KeyId": key.key_id}, call, via)
                start = time.perf_counter()
                counts = await asyncio.gather(
                    *(_loop(gate, ctx, name, call, via, key.key_id, start + seconds)
                      for _ in range(concurrency))
                )  # fmt: skip
                rates[name] = sum(counts) / (time.perf_counter() - start)
            return rates
        finally:
            await store.close()


async def _loop(
    gate: Gate,
    ctx: RequestContext,
    name: str,
    call: Callable[[], Awaitable[dict[str, Any]]],
    via: str,
    key_id: str,
    deadline: float,
) -> int:
    count = 0
    while time.perf_counter() < deadline:
        await gate.run(ctx, name, {"KeyId": key_id}, call, via)
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    secret = secrets.token_urlsafe(30)
    folder = tempfile.mkdtemp(prefix="herald-kms-bench-")
    process, port = _start_server(folder, secret)
    target = Target("127.0.0.1", port, Credentials("AKIABENCHMARK0000001", secret))
    try:
        for concurrency in args.concurrency:
            runs = [
                asyncio.run(over_http(target, concurrency, args.seconds)) for _ in range(args.runs)
            ]
            rate = statistics.median(r[0] for r in runs)
            latencies = sorted(x for r in runs for x in r[1])
            q = statistics.quantiles(latencies, n=100)
            print(
                f"HTTP GenerateDataKey  concurrency={concurrency:<3} {rate:>8,.0f} req/s  "
                f"p50={q[49] * 1000:.2f} ms p99={q[98] * 1000:.2f} ms"
            )
    finally:
        process.terminate()
        process.wait(30)
    for concurrency in args.concurrency:
        results = [asyncio.run(in_process(args.seconds, concurrency)) for _ in range(args.runs)]
        for name in ("GenerateDataKey", "Decrypt"):
            rate = statistics.median(r[name] for r in results)
            print(f"in-process {name:<16} concurrency={concurrency:<3} {rate:>8,.0f} req/s")


if __name__ == "__main__":
    main()
