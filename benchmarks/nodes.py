"""Publish throughput of one and of two Herald nodes sharing a PostgreSQL database (run by
hand): the factor two nodes give over one on the same machine.

    .venv/bin/python benchmarks/nodes.py [--database postgresql://...] [--seconds 5]

Each node is a `herald serve` process on its own ports; the load generator
(benchmarks/load.py) drives each node with its own client process of 32 connections
(one process in all for one node, one per node for two).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from typing import Any

import psycopg
from load import KEY_ID, Server, scenario


def start_node(
    url: str, secret: str, root_key: str, *extra: str
) -> tuple[subprocess.Popen[str], Server]:
    """A `herald serve` node on free ports over the database at ``url``."""
    folder = tempfile.mkdtemp(prefix="herald-node-")
    env = dict(os.environ, HERALD_ROOT_ACCESS_KEY_ID=KEY_ID,
               HERALD_ROOT_SECRET_ACCESS_KEY=secret, HERALD_ROOT_KEY=root_key)  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "serve", "--port", "0", "--tls-port", "0",
         "--data-dir", folder, "--database", url, "--log-level", "warning", *extra],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"listening on http://[\d.]+:(\d+) and https://[\d.]+:(\d+)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in process.stdout or []],
                             daemon=True).start()  # fmt: skip
            return process, Server(
                f"http://127.0.0.1:{match[1]}", f"https://127.0.0.1:{match[2]}",
                os.path.join(folder, "tls-cert.pem"), KEY_ID, secret, process.pid,
            )  # fmt: skip
    raise SystemExit("a node did not start")


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
    schema = f"bench_nodes_{nodes}_{secrets.token_hex(4)}"
    url = fresh_schema(base, schema)
    secret = secrets.token_urlsafe(30)
    root_key = base64.b64encode(os.urandom(32)).decode()
    started = [start_node(url, secret, root_key) for _ in range(nodes)]
    try:
        results: list[dict[str, Any]] = []

        def drive(server: Server) -> None:
            results.append(scenario(server, "publish", 32, seconds, 2 if nodes == 1 else 1))

        threads = [threading.Thread(target=drive, args=(s,)) for _, s in started]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = sum(r["requests_per_s"] for r in results)
        cpu = [f"{r.get('server_cpu_us', 0):,.0f}" for r in results]
        print(f"{nodes} node(s): {total:,.0f} publishes/s; server CPU per request {cpu} µs")
        return total
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(30)
        drop_schema(base, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "HERALD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/herald_test"
        ),
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    one = run(args.database, 1, args.seconds)
    two = run(args.database, 2, args.seconds)
    print(f"two nodes / one node: {two / one:.2f}x")


if __name__ == "__main__":
    main()
