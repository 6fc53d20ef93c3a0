"""The README's quickstart, run as written (ports and paths swapped for the test server's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import HeraldProcess

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(language: str, after: str) -> str:
    text = README.read_text()
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.DOTALL).search(text, start)
    assert match, f"no {language} block after {after!r} in README.md"
    return match.group(1)


def _localise(script: str, herald: HeraldProcess) -> str:
    bin_dir = Path(sys.executable).parent
    script = script.replace("127.0.0.1:4566", f"127.0.0.1:{herald.http_port}")
    script = script.replace("127.0.0.1:4567", f"127.0.0.1:{herald.tls_port}")
    # The test environment has the clients installed already; no network needed.
    script = re.sub(r"^\.venv/bin/pip install.*$", "", script, flags=re.MULTILINE)
    return script.replace(".venv/bin/", f"{bin_dir}/")


def test_the_quickstart_works_as_written(tmp_path: Path) -> None:
    # Given a first start with no credentials in the environment, in a project folder
    herald = HeraldProcess(tmp_path / ".herald", use_env_credentials=False).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HERALD_"))}
        shell = _localise(_block("sh", "In another shell"), herald)
        python = _localise(_block("python", "With boto3"), herald)
        # When the shell steps and then the boto3 steps run in that folder
        done = subprocess.run(
            [
                "bash",
                "-euo",
                "pipefail",
                "-c",
                shell + "\n" + f"{sys.executable} - <<'PY'\n" + python + "PY\n",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        # Then every step succeeds and the topic and its subscription are listed
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("arn:aws:sns:us-east-1:000000000000:orders") >= 4
        assert "orders-queue" in done.stdout
        assert "card 4111" in done.stdout.splitlines()
    finally:
        herald.stop()
