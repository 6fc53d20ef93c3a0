"""Publish throughput of one and of two Herald nodes sharing a PostgreSQL database (run by
hand): the factor two nodes give over one on the same machine.

    .venv/bin/python benchmarks/nodes.py [--database postgresql://...] [--seconds 5] [--runs 3]

Each node is a `herald serve` process on its own ports; the load generator
(benchmarks/load.py) drives each node with its own client process of 32 connections
(one process in all for one node, one per node for two).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import statistics
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import psycopg
from load import Server, scenario, start_herald

DATABASE = os.environ.get(
    "HERALD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/herald_test"
)


@contextlib.contextmanager
def cluster(base: str, nodes: int, name: str, *extra: str) -> Iterator[list[Server]]:
    """``nodes`` `herald serve` nodes (one root key and root credentials, ``extra``
    arguments) over a fresh schema of the database at ``base``; stopped and the schema
    dropped afterwards."""
    schema = f"{name}_{nodes}_{secrets.token_hex(4)}"
    url = fresh_schema(base, schema)
    secret = secrets.token_urlsafe(30)
    env = {"HERALD_ROOT_KEY": base64.b64encode(os.urandom(32)).decode()}
    started: list[tuple[Server, subprocess.Popen[str]]] = []
    try:
        for _ in range(nodes):
            started.append(start_herald(env, secret=secret, extra=("--database", url, *extra)))
        yield [server for server, _ in started]
    finally:
        for _, process in started:
            process.terminate()
            process.wait(30)
        drop_schema(base, schema)


def fresh_schema(base: str, name: str) -> str:
    """A new schema of the database at ``base``; the URL of connections that use it."""
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={urllib.parse.quote(f'-csearch_path={name}')}"


def drop_schema(base: str, name: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def run(base: str, nodes: int, seconds: float) -> float:
    with cluster(base, nodes, "bench_nodes") as servers:
        results: list[dict[str, Any]] = []

        def drive(server: Server) -> None:
            results.append(scenario(server, "publish", 32, seconds, 2 if nodes == 1 else 1))

        threads = [threading.Thread(target=drive, args=(s,)) for s in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = sum(r["requests_per_s"] for r in results)
        cpu = [f"{r.get('server_cpu_us', 0):,.0f}" for r in results]
        print(f"{nodes} node(s): {total:,.0f} publishes/s; server CPU per request {cpu} µs")
        return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=1, help="rounds; medians printed")
    args = parser.parse_args()
    ones: list[float] = []
    twos: list[float] = []
    for _ in range(args.runs):
        ones.append(run(args.database, 1, args.seconds))
        twos.append(run(args.database, 2, args.seconds))
        print(f"two nodes / one node: {twos[-1] / ones[-1]:.2f}x", flush=True)
    if args.runs > 1:
        one, two = statistics.median(ones), statistics.median(twos)
        print(f"medians of {args.runs} runs: one node {one:,.0f}/s, two nodes {two:,.0f}/s, "
              f"{two / one:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
