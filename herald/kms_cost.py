"""``herald kms-cost``: the estimator from AWS's SNS encryption guide.

    R = B / D x (2 x P)

R is the number of KMS requests for one topic per billing period, B the billing period in
seconds, D the data key reuse period in seconds, P the number of publishing principals
that send to the topic. Each ``--publishers`` is one topic. With ``--endpoint`` (once per
node of a cluster) it also reads what running Heralds counted (their /metrics).

Several nodes keep data keys each, so a topic published through N nodes costs up to
N x R ("because of the distributed nature" of the service, AWS's guide warns):
``--nodes N`` says so. benchmarks/kms_nodes.py measured 2.00x with 2 nodes and 3.00x
with 3 (one publisher spreading its publishes over the nodes).
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.request
from decimal import Decimal

# AWS's guide counts a month by its days; February as 28.
MONTHS = {
    name: days * 86400
    for name, days in (
        ("january", 31), ("february", 28), ("march", 31), ("april", 30), ("may", 31),
        ("june", 30), ("july", 31), ("august", 31), ("september", 30), ("october", 31),
        ("november", 30), ("december", 31),
    )
}  # fmt: skip
DEFAULT_PRICE = Decimal("0.03")  # USD per 10,000 requests, AWS KMS's list price
_SAMPLE = re.compile(
    r'^herald_kms_requests_total\{operation="([^"]*)",key="[^"]*",topic="([^"]*)"\}\s+(\d+)\s*$'
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cost = commands.add_parser("kms-cost", help="estimate the KMS requests of encrypted topics")
    cost.add_argument(
        "--billing-period",
        default="2592000",
        help="seconds, or a month name (January = 31 days); default 2592000 (30 days)",
    )
    cost.add_argument("--reuse-period", type=int, default=300, help="data key reuse, seconds")
    cost.add_argument(
        "--publishers",
        type=int,
        action="append",
        help="publishing principals of one topic; repeat for more topics (default 1)",
    )
    cost.add_argument("--price", default=str(DEFAULT_PRICE), help="USD per 10,000 requests (0.03)")
    cost.add_argument(
        "--endpoint",
        action="append",
        help="a running Herald (http://host:port) to compare with; repeat for each node",
    )
    cost.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="Herald nodes the publishers spread over: each keeps its own data keys (1)",
    )


def estimate(billing_period: int, reuse_period: int, publishers: int) -> Decimal:
    """R = B / D x (2 x P) for one topic."""
    return Decimal(billing_period) / Decimal(reuse_period) * 2 * publishers


def run(args: argparse.Namespace) -> int:
    try:
        period = _period(args.billing_period)
        price = Decimal(args.price)
        if args.reuse_period < 1 or period < 1:
            raise ValueError("the billing and reuse periods must be positive")
        topics = args.publishers or [1]
        if any(p < 1 for p in topics):
            raise ValueError("--publishers must be at least 1")
        if args.nodes < 1:
            raise ValueError("--nodes must be at least 1")
    except (ValueError, ArithmeticError) as exc:
        print(f"herald: {exc}", file=sys.stderr)
        return 2
    total = Decimal(0)
    for number, publishers in enumerate(topics, start=1):
        requests = estimate(period, args.reuse_period, publishers)
        total += requests
        print(
            f"topic {number}: {period:,} / {args.reuse_period} x (2 x {publishers}) = "
            f"{_count(requests)} requests"
        )
    print(f"total: {_count(total)} requests per billing period of {period:,} s")
    print(f"cost: ${total * price / 10000:,.2f} at ${price} per 10,000 requests")
    if args.nodes > 1:
        spread = total * args.nodes
        print(
            f"with {args.nodes} nodes: up to {_count(spread)} requests "
            f"(${spread * price / 10000:,.2f}), {args.nodes}x, as each node keeps its own "
            "data keys (measured: 2.00x with 2 nodes, 3.00x with 3)"
        )
    all_counted = 0
    for endpoint in args.endpoint or []:
        try:
            counted = _counted(endpoint)
        except OSError as exc:
            print(f"herald: cannot read {endpoint}/metrics: {exc}", file=sys.stderr)
            return 2
        all_counted += sum(counted.values())
        detail = ", ".join(f"{op} {n:,}" for op, n in sorted(counted.items())) or "none"
        print(
            f"counted by {endpoint}: {sum(counted.values()):,} requests for topics "
            f"since it started ({detail})"
        )
    if len(args.endpoint or []) > 1:
        print(f"counted by the {len(args.endpoint)} nodes together: {all_counted:,} requests")
    return 0


def _period(value: str) -> int:
    if value.lower() in MONTHS:
        return MONTHS[value.lower()]
    if not value.isdigit():
        raise ValueError(f"a billing period is seconds or a month name, not {value!r}")
    return int(value)


def _count(value: Decimal) -> str:
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def _counted(endpoint: str) -> dict[str, int]:
    with urllib.request.urlopen(endpoint.rstrip("/") + "/metrics", timeout=10) as response:
        text = response.read().decode()
    counted: dict[str, int] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match[2] != "-":  # requests made for topics, as the formula counts
            counted[match[1]] = counted.get(match[1], 0) + int(match[3])
    return counted
