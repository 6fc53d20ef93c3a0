"""Fixtures: a real Herald server subprocess and boto3 / AWS CLI clients pointed at it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pg
from tests.e2e.harness import HeraldProcess, database_args

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session", autouse=True)
def backend(request: pytest.FixtureRequest) -> str:
    """The store the servers of a test use: "sqlite" unless the module parametrizes it
    (``BOTH_BACKENDS``), as the publish, encryption and delivery modules do."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session", autouse=True)
def _drop_test_schemas() -> Iterator[None]:
    yield
    pg.drop_created()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[HeraldProcess]:
    """One Herald per store for the session, on free loopback ports, with a fresh data
    folder (and, for PostgreSQL, a fresh schema)."""
    folder = tmp_path_factory.mktemp(f"herald-data-{backend}")
    herald = HeraldProcess(folder, extra_args=database_args(backend, str(folder))).start()
    yield herald
    herald.stop()


@pytest.fixture
def sns(server: HeraldProcess) -> Any:
    """A boto3 SNS client over plain HTTP."""
    return server.client("sns")


@pytest.fixture
def sns_tls(server: HeraldProcess) -> Any:
    """A boto3 SNS client over HTTPS, trusting Herald's generated certificate."""
    return server.client("sns", tls=True)


@pytest.fixture
def iam(server: HeraldProcess) -> Any:
    """A boto3 IAM client signing as the account root."""
    return server.client("iam")


@pytest.fixture
def kms(server: HeraldProcess) -> Any:
    """A boto3 KMS client signing as the account root."""
    return server.client("kms")


@pytest.fixture
def raw_kms(server: HeraldProcess) -> Any:
    """A KMS client that sends what it is given: the server must do the validating."""
    return server.client("kms", parameter_validation=False)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that do not collide between tests sharing the session server."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topic(sns: Any, unique: Callable[[str], str]) -> str:
    """A fresh standard topic's ARN."""
    return str(sns.create_topic(Name=unique("topic"))["TopicArn"])


@pytest.fixture
def aws(server: HeraldProcess) -> Callable[..., Any]:
    """Run the AWS CLI (the awscli package) against the server; returns parsed JSON."""
    executable = shutil.which("aws", path=str(Path(sys.executable).parent))
    assert executable, "the awscli package must be installed (make test installs it)"

    def run(*args: str, tls: bool = False, check: bool = True) -> Any:
        endpoint = server.https_url if tls else server.http_url
        extra = ["--ca-bundle", server.ca_bundle] if tls else []
        done = subprocess.run(
            [executable, "--endpoint-url", endpoint, *extra, "--output", "json", *args],
            capture_output=True,
            text=True,
            env=server.cli_env(),
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {done.stderr}")
        if not check:
            return done
        return json.loads(done.stdout) if done.stdout.strip() else None

    return run
