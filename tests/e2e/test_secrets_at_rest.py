"""No credential secret and no key material is written in clear to the data folder:
access-key secrets (IAM users, account roots from `herald admin`, event sources, STS
sessions) are sealed with the root key, session tokens are kept as hashes, and backing
keys are wrapped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3

from tests.e2e.harness import REGION, HeraldProcess


def _files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_secrets_are_sealed_in_the_data_folder(tmp_path: Path) -> None:
    herald = HeraldProcess(tmp_path / "data").start()
    try:
        iam = herald.client("iam")
        iam.create_user(UserName="sealed")
        user_key = iam.create_access_key(UserName="sealed")["AccessKey"]
        admin = [sys.executable, "-m", "herald.cli", "admin", "--data-dir", str(herald.data_dir)]
        subprocess.run([*admin, "accounts", "create", "--account-id", "123456789012"], check=True)
        root = json.loads(
            subprocess.run(
                [*admin, "access-keys", "create", "--account-id", "123456789012"],
                check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
        source = json.loads(
            subprocess.run(
                [*admin, "event-source", "create", "--service", "events.amazonaws.com",
                 "--source-account", "123456789012"],
                check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
        session = herald.client("sts").get_session_token()["Credentials"]
        secrets = {
            "user": user_key["SecretAccessKey"],
            "root": root["SecretAccessKey"],
            "event source": source["SecretAccessKey"],
            "session": session["SecretAccessKey"],
            "session token": session["SessionToken"],
        }
        # Each still signs requests: the server opens what it sealed
        for creds in (user_key, root, source):
            client = boto3.client(
                "sts",
                endpoint_url=herald.http_url,
                region_name=REGION,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
            )
            assert client.get_caller_identity()["Account"]
        herald.stop()
        stored = _files(herald.data_dir)
        for name, secret in secrets.items():
            assert secret.encode() not in stored, f"the {name} secret is on disk in clear"
    finally:
        if herald.process is not None and herald.process.poll() is None:
            herald.stop()


def test_admin_refuses_to_work_with_another_root_key(tmp_path: Path) -> None:
    herald = HeraldProcess(tmp_path / "data").start()
    herald.stop()
    (herald.data_dir / "root.key").write_bytes(b"\x01" * 32)
    done = subprocess.run(
        [sys.executable, "-m", "herald.cli", "admin", "--data-dir", str(herald.data_dir),
         "accounts", "create"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert "root key" in done.stderr
