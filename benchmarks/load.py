"""The load generator: scenarios against Herald (or any SNS-compatible endpoint), speaking
the wire protocols directly with real SigV4 signatures (run by hand, never in CI).

    .venv/bin/python benchmarks/load.py                       # the standard matrix
    .venv/bin/python benchmarks/load.py --scenario publish --concurrency 64 --processes 2
    .venv/bin/python benchmarks/load.py --endpoint http://127.0.0.1:4566 \\
        --access-key AKIA... --secret ... [--server-pid PID] --scenario publish

Scenarios: publish, publish-https, publish-encrypted, publish-batch, publish-batch-https,
publish-batch-encrypted (1 KiB messages; batches of 10; encrypted ones, which must use
HTTPS, with alias/aws/sns; the -https ones are the plain topic over HTTPS, to compare),
kms-generate-data-key (JSON 1.1), fanout-http-1, fanout-http-10 (a publish stream to a
topic with 1 or 10 HTTP subscribers on a local aiohttp receiver), fanout-sqs-10 (10
queues; deliveries read from the server's NumberOfNotificationsDelivered).

Each client process keeps ``--concurrency`` keep-alive connections and signs every request
with botocore's signer (the cost an SDK pays); several processes (``--processes``) get past
what one Python process can sign. Prints requests/s, messages/s (and deliveries/s for
fan-out), p50/p90/p99 latency, errors by AWS code, and the server's CPU time per request
(from /proc of the server it started, or of ``--server-pid``): the figure least disturbed
by a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import secrets
import ssl
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REGION = "us-east-1"
KEY_ID = "AKIABENCHMARK0000001"
MESSAGE = "x" * 1024
SCENARIOS = (
    "publish",
    "publish-https",
    "publish-encrypted",
    "publish-batch",
    "publish-batch-https",
    "publish-batch-encrypted",
    "kms-generate-data-key",
    "fanout-http-1",
    "fanout-http-10",
    "fanout-sqs-10",
)
_CODE = re.compile(rb"<Code>([^<]+)</Code>|\"__type\"\s*:\s*\"(?:[^\"#]*#)?([^\"]+)\"")


@dataclass
class Job:
    """What one client process runs."""

    host: str
    port: int
    tls: bool
    ca: str | None
    access_key: str
    secret: str
    service: str
    target: str | None  # X-Amz-Target for JSON protocols
    bodies: list[str]  # request bodies, used in turn
    messages_per_request: int
    concurrency: int
    seconds: float
    rate: float = 0.0  # requests/s of this process (0: as fast as answered)


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def _signed(job: Job, body: str, credentials: Credentials) -> bytes:
    scheme = "https" if job.tls else "http"
    headers = {
        "Content-Type": "application/x-amz-json-1.1"
        if job.target
        else "application/x-www-form-urlencoded; charset=utf-8"
    }
    if job.target:
        headers["X-Amz-Target"] = job.target
    request = AWSRequest(
        method="POST", url=f"{scheme}://{job.host}:{job.port}/", data=body, headers=headers
    )
    SigV4Auth(credentials, job.service, REGION).add_auth(request)
    lines = ["POST / HTTP/1.1", f"Host: {job.host}:{job.port}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode()


async def _roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, bytes]:
    status, body, _ = await _exchange(reader, writer, payload)
    return status, body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, bytes, bool]:
    """(status, body, whether the server keeps the connection open)."""
    writer.write(payload)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection")
    length: int | None = None
    keep = status_line.startswith(b"HTTP/1.1")
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection":
            keep = value.strip().lower() == "keep-alive"
    # A server that gives no length (HTTP/1.0) ends the body by closing.
    body = await (reader.read() if length is None else reader.readexactly(length))
    return int(status_line.split()[1]), body, keep and length is not None


async def _client(job: Job, deadline: float, outcome: Outcome, offset: int) -> None:
    context = None
    if job.tls:
        context = ssl.create_default_context(cafile=job.ca)
    reader, writer = await asyncio.open_connection(job.host, job.port, ssl=context)
    credentials = Credentials(job.access_key, job.secret)
    n = offset
    every = job.concurrency / job.rate if job.rate else 0.0
    due = time.perf_counter() + (every * offset / 7919 / job.concurrency if every else 0.0)
    try:
        while time.perf_counter() < deadline:
            if every:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += every
            payload = _signed(job, job.bodies[n % len(job.bodies)], credentials)
            n += 1
            start = time.perf_counter()
            status, body, keep = await _exchange(reader, writer, payload)
            outcome.latencies.append(time.perf_counter() - start)
            if not keep:  # a server without keep-alive (HTTP/1.0): a new connection
                writer.close()
                reader, writer = await asyncio.open_connection(job.host, job.port, ssl=context)
            if status != 200:
                match = _CODE.search(body)
                code = (match[1] or match[2]).decode() if match else str(status)
                outcome.errors[code] += 1
    finally:
        writer.close()


def _process(job: Job) -> tuple[list[float], dict[str, int]]:
    async def main() -> Outcome:
        outcome = Outcome()
        deadline = time.perf_counter() + job.seconds
        await asyncio.gather(
            *(_client(job, deadline, outcome, i * 7919) for i in range(job.concurrency))
        )
        return outcome

    outcome = asyncio.run(main())
    return outcome.latencies, dict(outcome.errors)


def _cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def drive(
    job: Job, processes: int, server_pid: int | None, measuring: Any = None
) -> dict[str, Any]:
    """Run ``job`` in ``processes`` client processes at once; the figures. ``measuring``
    is called when the warm-up is over and the measured run starts."""
    warm = Job(**{**job.__dict__, "seconds": 1.0})
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_process, [warm] * processes)
        if measuring is not None:
            measuring()
        cpu_before = _cpu_seconds(server_pid)
        start = time.perf_counter()
        results = pool.map(_process, [job] * processes)
        elapsed = time.perf_counter() - start
        cpu_after = _cpu_seconds(server_pid)
    latencies = sorted(x for lat, _ in results for x in lat)
    errors: Counter[str] = Counter()
    for _, e in results:
        errors.update(e)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    figures: dict[str, Any] = {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "messages_per_s": len(latencies) * job.messages_per_request / elapsed,
        "p50_ms": q[49] * 1000,
        "p90_ms": q[89] * 1000,
        "p99_ms": q[98] * 1000,
        "errors": dict(errors),
        "elapsed": elapsed,
    }
    if cpu_before is not None and cpu_after is not None and latencies:
        figures["server_cpu_us"] = (cpu_after - cpu_before) / len(latencies) * 1e6
    return figures


# -- set-up over boto3 (not measured) -----------------------------------------------------


@dataclass
class Server:
    http: str
    https: str | None
    ca: str | None
    access_key: str
    secret: str
    pid: int | None = None

    def client(self, service: str, tls: bool = False) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.https if tls and self.https else self.http,
            verify=self.ca if tls else None,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret,
            config=Config(retries={"max_attempts": 2}, max_pool_connections=20),
        )


def _publish_bodies(topic: str, batch: bool) -> list[str]:
    bodies = []
    for n in range(64):
        params = {"Action": "PublishBatch" if batch else "Publish", "TopicArn": topic,
                  "Version": "2010-03-31"}  # fmt: skip
        if batch:
            for i in range(1, 11):
                params[f"PublishBatchRequestEntries.member.{i}.Id"] = f"e{i}"
                params[f"PublishBatchRequestEntries.member.{i}.Message"] = f"{n}-{i}" + MESSAGE
        else:
            params["Message"] = f"{n}" + MESSAGE
        bodies.append(urllib.parse.urlencode(params))
    return bodies


def _job(server: Server, tls: bool, service: str, target: str | None, bodies: list[str],
         per: int, concurrency: int, seconds: float) -> Job:  # fmt: skip
    url = urllib.parse.urlsplit(server.https if tls and server.https else server.http)
    assert url.hostname and url.port
    return Job(url.hostname, url.port, tls, server.ca, server.access_key, server.secret,
               service, target, bodies, per, concurrency, seconds)  # fmt: skip


def scenario(server: Server, name: str, concurrency: int, seconds: float,
             processes: int, rate: float = 0.0) -> dict[str, Any]:  # fmt: skip
    encrypted = name.endswith("-encrypted")
    tls = encrypted or name.endswith("-https")
    if name.startswith("publish"):
        sns = server.client("sns", tls=tls)
        attributes = {"KmsMasterKeyId": "alias/aws/sns"} if encrypted else {}
        topic = sns.create_topic(Name=f"load-{name}", Attributes=attributes)["TopicArn"]
        batch = "batch" in name
        job = _job(server, tls, "sns", None, _publish_bodies(topic, batch),
                   10 if batch else 1, concurrency, seconds)  # fmt: skip
        job.rate = rate / processes
        return drive(job, processes, server.pid)
    if name == "kms-generate-data-key":
        key = server.client("kms").create_key()["KeyMetadata"]["KeyId"]
        body = json.dumps({"KeyId": key, "KeySpec": "AES_256"})
        job = _job(server, False, "kms", "TrentService.GenerateDataKey", [body], 1,
                   concurrency, seconds)  # fmt: skip
        return drive(job, processes, server.pid)
    if name.startswith("fanout-http"):
        return _fanout_http(server, int(name.rsplit("-", 1)[1]), concurrency, seconds, processes)
    if name == "fanout-sqs-10":
        return _fanout_sqs(server, 10, concurrency, seconds, processes)
    raise SystemExit(f"unknown scenario {name}")


class _Receiver:
    """HTTP subscribers on a local aiohttp server in its own thread: keeps the tokens of
    subscription confirmations, counts notifications and hands each one's body to
    ``received``."""

    def __init__(self, received: Any = None) -> None:
        from aiohttp import web

        self.count = 0
        self.tokens: list[tuple[str, str]] = []
        ready = threading.Event()

        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            kind = request.headers.get("x-amz-sns-message-type")
            if kind == "SubscriptionConfirmation":
                document = json.loads(body)
                self.tokens.append((document["TopicArn"], document["Token"]))
            else:
                self.count += 1
                if received is not None:
                    received(body)
            return web.Response(text="ok")

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/{tail:.*}", handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            loop = asyncio.new_event_loop()
            loop.run_until_complete(serve())
            loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)


def _delivered(server: Server, topic: str) -> int:
    """NumberOfNotificationsDelivered of ``topic``, from the server's /metrics."""
    with urllib.request.urlopen(server.http + "/metrics", timeout=10) as r:
        text = r.read().decode()
    wanted = f'herald_sns_NumberOfNotificationsDelivered{{topic="{topic}"}} '
    for line in text.splitlines():
        if line.startswith(wanted):
            return int(float(line[len(wanted) :]))
    return 0


def _fanout(server: Server, topic: str, count_now: Any, subscribers: int, concurrency: int,
            seconds: float, processes: int) -> dict[str, Any]:  # fmt: skip
    job = _job(server, False, "sns", None, _publish_bodies(topic, False), 1, concurrency,
               seconds)  # fmt: skip
    marks: dict[str, float] = {}

    def measuring() -> None:
        # What the warm-up published is delivered first, then counting starts.
        warm_deadline = time.perf_counter() + 60
        last = -1
        while time.perf_counter() < warm_deadline:
            now = count_now()
            if now == last:
                break
            last = now
            time.sleep(0.3)
        marks["before"] = count_now()
        marks["start"] = time.perf_counter()

    figures = drive(job, processes, server.pid, measuring)
    published = figures["requests"]
    before = marks["before"]
    deadline = time.perf_counter() + 120
    while count_now() - before < published * subscribers and time.perf_counter() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - marks["start"]
    delivered = count_now() - before
    figures["deliveries_per_s"] = delivered / elapsed
    figures["delivered"] = f"{delivered}/{published * subscribers}"
    return figures


def _fanout_http(server: Server, subscribers: int, concurrency: int, seconds: float,
                 processes: int) -> dict[str, Any]:  # fmt: skip
    receiver = _Receiver()
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"load-fanout-http-{subscribers}-{secrets.token_hex(3)}")[
        "TopicArn"
    ]
    for n in range(subscribers):
        sns.subscribe(TopicArn=topic, Protocol="http",
                      Endpoint=f"http://127.0.0.1:{receiver.port}/{n}",
                      Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    deadline = time.time() + 30
    while len(receiver.tokens) < subscribers and time.time() < deadline:
        time.sleep(0.05)
    for t, token in receiver.tokens:
        sns.confirm_subscription(TopicArn=t, Token=token)
    return _fanout(server, topic, lambda: receiver.count, subscribers, concurrency, seconds,
                   processes)  # fmt: skip


def _fanout_sqs(server: Server, queues: int, concurrency: int, seconds: float,
                processes: int) -> dict[str, Any]:  # fmt: skip
    sns = server.client("sns")
    sqs = server.client("sqs")
    name = f"load-fanout-sqs-{secrets.token_hex(3)}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    for n in range(queues):
        url = sqs.create_queue(QueueName=f"{name}-{n}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                                 "Action": "sqs:SendMessage", "Resource": arn}]}  # fmt: skip
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    return _fanout(server, topic, lambda: _delivered(server, topic), queues, concurrency,
                   seconds, processes)  # fmt: skip


# The server under cProfile (its event-loop thread: where requests are parsed, signed,
# authorized, sealed and rendered); the profile is written when it stops.
_PROFILED = """
import cProfile, sys
from herald import cli
profile = cProfile.Profile()
profile.enable()
try:
    cli.main(sys.argv[2:])
finally:
    profile.disable()
    profile.dump_stats(sys.argv[1])
"""


def start_herald(
    env: dict[str, str] | None = None,
    profile: str | None = None,
    secret: str | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[Server, Any]:
    """A `herald serve` on free ports and a fresh data folder, with the root credentials
    KEY_ID/``secret`` (a new one by default), ``env`` added to its environment and
    ``extra`` arguments; under cProfile with ``profile``."""
    import subprocess

    secret = secret or secrets.token_urlsafe(30)
    folder = tempfile.mkdtemp(prefix="herald-load-")
    environment = dict(os.environ, HERALD_ROOT_ACCESS_KEY_ID=KEY_ID,
                       HERALD_ROOT_SECRET_ACCESS_KEY=secret, **(env or {}))  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, *(("-c", _PROFILED, profile) if profile else ("-m", "herald.cli")),
         "serve", "--port", "0", "--tls-port", "0", "--data-dir", folder,
         "--log-level", "warning", *extra],
        stdout=subprocess.PIPE, text=True, env=environment,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"listening on http://[\d.]+:(\d+) and https://[\d.]+:(\d+)", line)
        if match:
            server = Server(
                f"http://127.0.0.1:{match[1]}", f"https://127.0.0.1:{match[2]}",
                os.path.join(folder, "tls-cert.pem"), KEY_ID, secret, process.pid,
            )  # fmt: skip
            # The rest of its output (warnings and errors) goes to server.log in its folder.
            threading.Thread(target=_keep_log, args=(process, folder), daemon=True).start()
            return server, process
    raise SystemExit("herald did not start")


def _keep_log(process: Any, folder: str) -> None:
    with open(os.path.join(folder, "server.log"), "a") as log:
        for line in process.stdout or []:
            log.write(line)
            log.flush()


def _print(name: str, concurrency: int, processes: int, f: dict[str, Any]) -> None:
    cpu = f"{f['server_cpu_us']:,.0f} µs" if "server_cpu_us" in f else "n/a"
    extra = ""
    if "deliveries_per_s" in f:
        extra = f", {f['deliveries_per_s']:,.0f} deliveries/s ({f['delivered']})"
    errors = ", ".join(f"{k} {v}" for k, v in sorted(f["errors"].items())) or "none"
    print(
        f"{name:<24} c={concurrency:<3} p={processes}: {f['requests_per_s']:>8,.0f} req/s "
        f"{f['messages_per_s']:>8,.0f} msg/s{extra}; p50 {f['p50_ms']:.2f} p90 "
        f"{f['p90_ms']:.2f} p99 {f['p99_ms']:.2f} ms; server CPU/request {cpu}; "
        f"errors: {errors}",
        flush=True,
    )


# Encrypted against plain, both over HTTPS: only the encryption differs (issue 7: the
# encrypted figure at least 0.9 of the plain one in the same run).
RATIOS = (
    ("publish-encrypted", "publish-https"),
    ("publish-batch-encrypted", "publish-batch-https"),
)


def _ratio(encrypted: dict[str, Any], plain: dict[str, Any]) -> float | None:
    if not plain["messages_per_s"]:
        return None
    return float(encrypted["messages_per_s"] / plain["messages_per_s"])


def _print_ratios(figures: dict[str, dict[str, Any]]) -> None:
    for encrypted, plain in RATIOS:
        if encrypted in figures and plain in figures:
            ratio = _ratio(figures[encrypted], figures[plain])
            if ratio is not None:
                print(f"{encrypted} / {plain}: {ratio:.3f}", flush=True)


def _print_round_ratios(runs: dict[str, list[dict[str, Any]]]) -> None:
    """Each round's ratio (its two scenarios ran a few seconds apart), and their median:
    less moved by the machine's other tenants than the ratio of the two medians, which
    may come from different rounds."""
    for encrypted, plain in RATIOS:
        if encrypted not in runs or plain not in runs:
            continue
        rounds = [_ratio(e, p) for e, p in zip(runs[encrypted], runs[plain], strict=True)]
        known = [r for r in rounds if r is not None]
        if known:
            each = ", ".join(f"{r:.3f}" for r in known)
            print(
                f"{encrypted} / {plain}, median of the rounds' ratios: "
                f"{statistics.median(known):.3f} ({each})",
                flush=True,
            )


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over ``runs``; errors added up."""
    figures: dict[str, Any] = {}
    for name, value in runs[0].items():
        if isinstance(value, (int, float)) and all(name in r for r in runs):
            figures[name] = statistics.median(r[name] for r in runs)
    errors: Counter[str] = Counter()
    for r in runs:
        errors.update(r["errors"])
    figures["errors"] = dict(errors)
    if "deliveries_per_s" in figures:
        figures["delivered"] = "; ".join(r["delivered"] for r in runs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="requests/s in all (0: as fast as answered)"
    )
    parser.add_argument("--endpoint", help="http://host:port of a running server")
    parser.add_argument("--tls-endpoint", help="its https://host:port, for encrypted topics")
    parser.add_argument("--ca-bundle", help="the CA of --tls-endpoint")
    parser.add_argument("--access-key", default=KEY_ID)
    parser.add_argument("--secret")
    parser.add_argument("--server-pid", type=int, help="for the server's CPU time")
    parser.add_argument(
        "--runs", type=int, default=1, help="rounds over the scenarios; medians printed"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="run the started server under cProfile, stats to FILE"
    )
    args = parser.parse_args()
    process = None
    if args.endpoint:
        if not args.secret:
            raise SystemExit("--endpoint needs --secret")
        server = Server(args.endpoint.rstrip("/"), args.tls_endpoint, args.ca_bundle,
                        args.access_key, args.secret, args.server_pid)  # fmt: skip
    else:
        server, process = start_herald(profile=args.profile)
    try:
        names = args.scenario or SCENARIOS
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        # Rounds over the scenarios rather than one scenario N times: the machine's other
        # tenants then disturb every scenario alike, and ratios of one round compare.
        # Every other round goes backwards, so no scenario always follows the same one
        # (and inherits its checkpoints and pruning).
        for round_ in range(args.runs):
            for name in names if round_ % 2 == 0 else names[::-1]:
                figures = scenario(
                    server, name, args.concurrency, args.seconds, args.processes, args.rate
                )
                runs[name].append(figures)
                _print(name, args.concurrency, args.processes, figures)
            _print_ratios({name: r[-1] for name, r in runs.items()})
        if args.runs > 1:
            print(f"medians of {args.runs} runs:")
            medians = {name: _median(runs[name]) for name in names}
            for name in names:
                _print(name, args.concurrency, args.processes, medians[name])
            _print_ratios(medians)
            _print_round_ratios(runs)
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
            if args.profile:
                import pstats

                pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
