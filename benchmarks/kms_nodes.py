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
import re
import ssl
import time
import urllib.request

from delivery import subscribed_queue
from nodes import DATABASE, cluster

REUSE = 2
_SAMPLE = re.compile(
    r'^herald_kms_requests_total\{operation="([^"]*)",key="[^"]*",topic="([^"]*)"\}\s+(\d+)'
)


def _counted(https: str, topic: str, ca: str) -> dict[str, int]:
    context = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(f"{https}/metrics", context=context) as r:
        text = r.read().decode()
    counted: dict[str, int] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match[2] == topic:
            counted[match[1]] = counted.get(match[1], 0) + int(match[3])
    return counted


def run(base: str, nodes: int, seconds: float) -> tuple[int, float]:
    reuse = ("--data-key-reuse-seconds", str(REUSE))
    with cluster(base, nodes, "bench_kms", *reuse) as servers:
        clients = [server.client("sns", tls=True) for server in servers]
        topic = clients[0].create_topic(
            Name="kms-nodes", Attributes={"KmsMasterKeyId": "alias/aws/sns"}
        )["TopicArn"]
        subscribed_queue(clients[0], servers[0].client("sqs", tls=True), topic, "kms-nodes")
        time.sleep(1.5)  # every node hears of the subscription
        start = time.monotonic()
        sent = 0
        while time.monotonic() - start < seconds:
            clients[sent % nodes].publish(TopicArn=topic, Message=f"m{sent}")
            sent += 1
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        time.sleep(3)  # deliveries finish
        total = 0
        detail: dict[str, int] = {}
        for server in servers:
            assert server.https and server.ca
            for op, n in _counted(server.https, topic, server.ca).items():
                detail[op] = detail.get(op, 0) + n
                total += n
        formula = elapsed / REUSE * 2
        print(
            f"{nodes} node(s): {sent} publishes in {elapsed:.1f} s, KMS requests {total} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(detail.items()))}); formula "
            f"B/D x 2P = {formula:.1f}; factor {total / formula:.2f}"
        )
        return total, formula


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=DATABASE)
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
