"""`herald kms-cost` (AWS's estimator R = B / D x (2 x P)) and the counts Herald exposes:
`/metrics` and `herald admin kms-requests`."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.harness import HeraldProcess


def herald(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_the_first_example_of_the_guide() -> None:
    done = herald("kms-cost", "--billing-period", "2678400", "--reuse-period", "300",
                  "--publishers", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "total: 17,856 requests" in done.stdout


def test_the_second_example_of_the_guide() -> None:
    done = herald("kms-cost", "--billing-period", "2419200", "--publishers", "3",
                  "--publishers", "5")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "= 48,384 requests" in done.stdout and "= 80,640 requests" in done.stdout
    assert "total: 129,024 requests" in done.stdout


def test_a_month_name_and_a_price() -> None:
    done = herald("kms-cost", "--billing-period", "January", "--price", "0.05")
    assert done.returncode == 0, done.stderr
    assert "total: 17,856 requests per billing period of 2,678,400 s" in done.stdout
    assert "cost: $0.09 at $0.05 per 10,000 requests" in done.stdout


def test_several_nodes_multiply_the_estimate() -> None:
    done = herald("kms-cost", "--billing-period", "January", "--nodes", "3")
    assert done.returncode == 0, done.stderr
    assert "with 3 nodes: up to 53,568 requests ($0.16), 3x" in done.stdout


@pytest.mark.parametrize(
    "args", [["--billing-period", "Smarch"], ["--publishers", "0"], ["--nodes", "0"]]
)
def test_bad_input_is_refused_in_one_line(args: list[str]) -> None:
    done = herald("kms-cost", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("herald: ") and done.stderr.count("\n") == 1


def test_counted_requests_are_exposed_and_compared(tmp_path: Path) -> None:
    server = HeraldProcess(tmp_path / "data").start()
    try:
        sns = server.client("sns", tls=True)
        key = server.client("kms").create_key()["KeyMetadata"]["Arn"]
        topic = sns.create_topic(Name="counted", Attributes={"KmsMasterKeyId": key})["TopicArn"]
        for n in range(5):
            sns.publish(TopicArn=topic, Message=f"m{n}")
        with urllib.request.urlopen(server.http_url + "/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            metrics = response.read().decode()
        sample = (
            f'herald_kms_requests_total{{operation="GenerateDataKey",key="{key}",'
            f'topic="{topic}"}} 1'
        )
        assert sample in metrics.splitlines()
        done = herald("kms-cost", "--endpoint", server.http_url)
        assert done.returncode == 0, done.stderr
        assert (
            f"counted by {server.http_url}: 1 requests for topics since it started "
            "(GenerateDataKey 1)" in done.stdout
        )
        listed = herald("admin", "--data-dir", str(server.data_dir), "kms-requests",
                        "--topic", topic)  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        rows = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
        assert rows == [["1", "GenerateDataKey", key, topic, "arn:aws:iam::000000000000:root"]]
    finally:
        server.stop()


def test_metrics_can_be_switched_off(tmp_path: Path) -> None:
    server = HeraldProcess(tmp_path / "data", extra_args=["--no-metrics"]).start()
    try:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(server.http_url + "/metrics", timeout=10)
    finally:
        server.stop()
