"""KMS requests of an encrypted topic with 1, 2 and 3 Herald nodes (run by hand).

    .venv/bin/python benchmarks/kms_nodes.py [--database postgresql://...] [--seconds 12]

AWS's guide warns that actual KMS costs can exceed R = B / D x (2 x P) "because of the
distributed nature" of the service: every node keeps its own data keys. This starts N
nodes sharing one PostgreSQL database (a fresh schema per N), has one principal publish
to an encrypted topic with an SQS subscription, spreading its publishes over the nodes,
with a data key reuse period D of 2 s, then adds up the KMS requests each node counted for
the topic (its /metrics) and compares them with the formula for the same time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from typing import Any

import boto3
import psycopg
from botocore.config import Config

KEY_ID = "AKIABENCHMARK0000001"
REGION = "us-east-1"
REUSE = 2
_SAMPLE = re.compile(
    r'^herald_kms_requests_total\{operation="([^"]*)",key="[^"]*",topic="([^"]*)"\}\s+(\d+)'
)


def _node(url: str, secret: str, root_key: str) -> tuple[subprocess.Popen[str], int]:
    env = dict(
        os.environ,
        HERALD_ROOT_ACCESS_KEY_ID=KEY_ID,
        HERALD_ROOT_SECRET_ACCESS_KEY=secret,
        HERALD_ROOT_KEY=root_key,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "serve", "--port", "0", "--tls-port", "0",
         "--data-dir", tempfile.mkdtemp(prefix="herald-kms-node-"), "--database", url,
         "--data-key-reuse-seconds", str(REUSE), "--log-level", "warning"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"listening on http://[\d.]+:(\d+) and https://[\d.]+:(\d+)", line)
        if match:
            return process, int(match[2])
    raise SystemExit("a node did not start")


def _counted(port: int, topic: str, ca: str) -> dict[str, int]:
    import ssl

    context = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", context=context) as r:
        text = r.read().decode()
    counted: dict[str, int] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match[2] == topic:
            counted[match[1]] = counted.get(match[1], 0) + int(match[3])
    return counted


def run(base: str, nodes: int, seconds: float) -> tuple[int, float]:
    schema = f"bench_kms_{nodes}_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={urllib.parse.quote(f'-csearch_path={schema}')}"
    secret = secrets.token_urlsafe(30)
    root_key = base64.b64encode(os.urandom(32)).decode()
    started = [_node(url, secret, root_key) for _ in range(nodes)]
    # Each node has its own self-signed certificate: trust them one by one.
    try:
        clients = []
        for process, port in started:
            ca = _certificate(process, port)
            clients.append((boto3.client(
                "sns", endpoint_url=f"https://127.0.0.1:{port}", verify=ca, region_name=REGION,
                aws_access_key_id=KEY_ID, aws_secret_access_key=secret,
                config=Config(retries={"max_attempts": 1})), port, ca))  # fmt: skip
        sns = clients[0][0]
        sqs: Any = boto3.client(
            "sqs", endpoint_url=f"https://127.0.0.1:{clients[0][1]}", verify=clients[0][2],
            region_name=REGION, aws_access_key_id=KEY_ID, aws_secret_access_key=secret,
        )  # fmt: skip
        topic = sns.create_topic(Name="kms-nodes", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
            "TopicArn"
        ]
        queue = sqs.create_queue(QueueName="kms-nodes")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                                 "Action": "sqs:SendMessage", "Resource": arn}]}  # fmt: skip
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps(policy)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})  # fmt: skip
        time.sleep(1.5)  # every node hears of the subscription
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < seconds:
            client = clients[sent % nodes][0]
            client.publish(TopicArn=topic, Message=f"m{sent}")
            sent += 1
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        time.sleep(3)  # deliveries finish
        total = 0
        detail: dict[str, int] = {}
        for _, port, ca in clients:
            for op, n in _counted(port, topic, ca).items():
                detail[op] = detail.get(op, 0) + n
                total += n
        formula = elapsed / REUSE * 2
        print(
            f"{nodes} node(s): {sent} publishes in {elapsed:.1f} s, KMS requests {total} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(detail.items()))}); formula "
            f"B/D x 2P = {formula:.1f}; factor {total / formula:.2f}"
        )
        return total, formula
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(30)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _certificate(process: subprocess.Popen[str], port: int) -> str:
    """The node's certificate, from its data folder (it prints where)."""
    args = process.args
    assert isinstance(args, list)
    folder = args[args.index("--data-dir") + 1]
    return os.path.join(folder, "tls-cert.pem")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database",
        default=os.environ.get("HERALD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/herald_test"),
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    base_total, base_formula = run(args.database, 1, args.seconds)
    for nodes in (2, 3):
        total, formula = run(args.database, nodes, args.seconds)
        print(
            f"   {nodes} nodes / 1 node, per second of publishing: "
            f"{(total / formula) / (base_total / base_formula):.2f}x"
        )


if __name__ == "__main__":
    main()
