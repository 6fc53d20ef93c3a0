"""A real Herald server in a subprocess, on free loopback ports, with a fresh data folder."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests import pg

ACCESS_KEY_ID = "AKIAHERALDTESTROOT01"
# Put in a module's pytestmark to run its tests against both stores.
BOTH_BACKENDS = pytest.mark.parametrize(
    "backend", ["sqlite", "postgresql"], indirect=True, scope="session"
)


def database_args(backend: str, key: str) -> list[str]:
    """``herald serve`` arguments for a store: nothing for SQLite (the data folder), a
    fresh PostgreSQL schema named after ``key`` (the same key: the same schema)."""
    if backend == "postgresql":
        return ["--database", pg.schema_url(key)]
    return []


_LISTEN = re.compile(r"listening on http://([\d.]+):(\d+) and https://[\d.]+:(\d+)")
REGION = "us-east-1"


@dataclass
class HeraldProcess:
    data_dir: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(30), repr=False)
    extra_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    use_env_credentials: bool = True
    process: subprocess.Popen[str] | None = None
    http_port: int = 0
    tls_port: int = 0
    output: list[str] = field(default_factory=list)
    _pump: threading.Thread = field(default_factory=threading.Thread, repr=False)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def ca_bundle(self) -> str:
        return str(self.data_dir / "tls-cert.pem")

    def store_args(self) -> list[str]:
        """``--data-dir`` (and ``--database`` when it has one) for ``herald admin`` and
        ``herald audit`` to open this server's store."""
        args = ["--data-dir", str(self.data_dir)]
        if "--database" in self.extra_args:
            args += ["--database", self.extra_args[self.extra_args.index("--database") + 1]]
        return args

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Read this server's store directly (SQLite's dialect, ``?`` placeholders)."""
        if "--database" in self.extra_args:
            import psycopg

            url = self.extra_args[self.extra_args.index("--database") + 1]
            with psycopg.connect(url) as conn:
                rows = conn.execute(sql.replace("?", "%s"), params).fetchall()  # type: ignore[call-overload]
            return [tuple(r) for r in rows]
        import sqlite3

        with contextlib.closing(sqlite3.connect(self.data_dir / "herald.db")) as db:
            return [tuple(r) for r in db.execute(sql, params).fetchall()]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "AWS_"))}
        if self.use_env_credentials:
            env["HERALD_ROOT_ACCESS_KEY_ID"] = ACCESS_KEY_ID
            env["HERALD_ROOT_SECRET_ACCESS_KEY"] = self.secret
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> HeraldProcess:
        self.output = []
        cmd = [
            sys.executable,
            "-m",
            "herald.cli",
            "serve",
            "--port",
            str(self.http_port),
            "--tls-port",
            str(self.tls_port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env()
        )
        found = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                match = _LISTEN.search(line)
                if match:
                    self.http_port, self.tls_port = int(match[2]), int(match[3])
                    found.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found.wait(0.05) and self._healthy():
                return self
            if self.process.poll() is not None:
                self._pump.join(5)
                if self.process.stdout is not None:
                    self.process.stdout.close()
                raise RuntimeError("herald exited early:\n" + "".join(self.output))
        self.stop()
        raise RuntimeError("herald did not start in time:\n" + "".join(self.output))

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.http_url + "/_herald/health", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout)
        self._pump.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def client(self, service: str = "sns", *, tls: bool = False, **config: object) -> object:
        session = boto3.Session(
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=self.secret,
            region_name=REGION,
        )
        return session.client(
            service,
            endpoint_url=self.https_url if tls else self.http_url,
            verify=self.ca_bundle if tls else None,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )

    def cli_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "AWS_"))}
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=self.secret,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        return env


@contextlib.contextmanager
def postgres_nodes(root: Path, count: int = 2) -> Iterator[tuple[HeraldProcess, ...]]:
    """``count`` nodes sharing one PostgreSQL database (a schema named after ``root``), one
    root key and the root credentials, each with a data folder of its own under ``root``
    (a, b, ...); stopped on the way out, unless a test already stopped or killed them."""
    store = database_args("postgresql", str(root))
    key = {"HERALD_ROOT_KEY": base64.b64encode(os.urandom(32)).decode()}
    nodes: list[HeraldProcess] = []
    try:
        for i in range(count):
            secret = {"secret": nodes[0].secret} if nodes else {}
            node = HeraldProcess(root / "abcdefgh"[i], extra_args=store, extra_env=key, **secret)
            nodes.append(node.start())
        yield tuple(nodes)
    finally:
        for node in reversed(nodes):
            if node.process is not None and node.process.poll() is None:
                node.stop()


def sns_queue(
    sqs: Any, name: str, topic: str | None = None, attributes: dict[str, str] | None = None
) -> tuple[str, str]:
    """A queue (URL, ARN) whose policy lets SNS send to it: for ``topic`` only
    (aws:SourceArn), or for any topic when ``topic`` is None."""
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    if topic is not None:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": topic}}
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [statement]})}
    )
    return url, arn
