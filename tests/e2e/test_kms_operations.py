"""Grants, the audit trail (`herald audit`), the per-account switch and the request quota
of the key service, end to end with boto3 against a real server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess
from tests.e2e.test_accounts import admin, client_for, new_account

ACCOUNT = "000000000000"


def _error(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _user(server: HeraldProcess, policy: dict[str, Any] | None = None) -> tuple[str, Any]:
    """A new IAM user (with ``policy`` inline, if any): its ARN and a KMS client for it."""
    iam: Any = server.client("iam")
    name = f"grantee-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    kms = boto3.client(
        "kms",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    return arn, kms


def test_a_grant_lets_its_grantee_use_the_key_until_it_is_retired(server: HeraldProcess) -> None:
    owner = server.client("kms")
    key = owner.create_key()["KeyMetadata"]
    arn, grantee = _user(server)
    assert _error(lambda: grantee.encrypt(KeyId=key["Arn"], Plaintext=b"x"))[0] == (
        "AccessDeniedException"
    )
    created = owner.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=arn,
        RetiringPrincipal=arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextEquals": {"app": "orders"}},
        Name="orders-app",
    )
    assert len(created["GrantId"]) == 64 and created["GrantToken"]
    blob = grantee.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"app": "orders"})[
        "CiphertextBlob"
    ]
    assert (
        grantee.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "orders"})["Plaintext"]
        == b"x"
    )
    code, _ = _error(
        lambda: grantee.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"app": "x"})
    )
    assert code == "AccessDeniedException"
    grants = owner.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [
        (g["GrantId"], g["GranteePrincipal"], g["Name"], sorted(g["Operations"])) for g in grants
    ] == [(created["GrantId"], arn, "orders-app", ["Decrypt", "Encrypt"])]
    assert grants[0]["KeyId"] == key["Arn"]
    assert grants[0]["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root"
    retirable = owner.list_retirable_grants(RetiringPrincipal=arn)["Grants"]
    assert [g["GrantId"] for g in retirable] == [created["GrantId"]]
    grantee.retire_grant(GrantToken=created["GrantToken"])
    assert owner.list_grants(KeyId=key["KeyId"])["Grants"] == []
    assert _error(lambda: grantee.encrypt(KeyId=key["Arn"], Plaintext=b"x"))[0] == (
        "AccessDeniedException"
    )


def test_a_revoked_grant_stops_working_and_bad_grants_are_refused(server: HeraldProcess) -> None:
    owner = server.client("kms")
    key = owner.create_key()["KeyMetadata"]["KeyId"]
    arn, grantee = _user(server)
    grant = owner.create_grant(KeyId=key, GranteePrincipal=arn, Operations=["GenerateDataKey"])
    assert len(grantee.generate_data_key(KeyId=key, KeySpec="AES_128")["Plaintext"]) == 16
    owner.revoke_grant(KeyId=key, GrantId=grant["GrantId"])
    assert _error(lambda: grantee.generate_data_key(KeyId=key, KeySpec="AES_128"))[0] == (
        "AccessDeniedException"
    )
    assert _error(lambda: owner.revoke_grant(KeyId=key, GrantId=grant["GrantId"])) == (
        "NotFoundException",
        400,
    )
    assert _error(
        lambda: owner.create_grant(KeyId=key, GranteePrincipal=arn, Operations=["Sign"])
    ) == ("ValidationException", 400)
    # Only the retiring principal (or a grantee allowed RetireGrant) may retire a grant
    other = owner.create_grant(KeyId=key, GranteePrincipal=arn, Operations=["Encrypt"])
    assert _error(lambda: grantee.retire_grant(GrantToken=other["GrantToken"]))[0] == (
        "AccessDeniedException"
    )


def test_the_audit_trail_lists_every_request_and_never_a_plaintext(
    tmp_path: Path,
) -> None:
    herald = HeraldProcess(tmp_path / "data").start()
    try:
        kms = herald.client("kms")
        key = kms.create_key(Description="audited")["KeyMetadata"]["KeyId"]
        secret = base64.b64encode(os.urandom(48))
        blob = kms.encrypt(KeyId=key, Plaintext=secret, EncryptionContext={"app": "a"})[
            "CiphertextBlob"
        ]
        data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
        assert _error(lambda: kms.decrypt(CiphertextBlob=blob))[0] == "InvalidCiphertextException"
        done = subprocess.run(
            [sys.executable, "-m", "herald.cli", "audit", "--data-dir", str(herald.data_dir),
             "--key", key, "--json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert [e["eventName"] for e in events] == [
            "CreateKey",
            "Encrypt",
            "GenerateDataKey",
            "Decrypt",
        ]
        encrypt = events[1]
        assert encrypt["userIdentity"] == {
            "type": "Root",
            "arn": f"arn:aws:iam::{ACCOUNT}:root",
            "accountId": ACCOUNT,
        }
        assert encrypt["requestParameters"] == {"KeyId": key, "EncryptionContext": {"app": "a"}}
        assert encrypt["sourceIPAddress"] == "127.0.0.1"
        assert "Boto3" in encrypt["userAgent"] or "botocore" in encrypt["userAgent"]
        assert events[3]["errorCode"] == "InvalidCiphertextException"
        table = subprocess.run(
            [sys.executable, "-m", "herald.cli", "audit", "--data-dir", str(herald.data_dir),
             "--operation", "Decrypt"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert table.stdout.count("\n") == 1 and "InvalidCiphertextException" in table.stdout
        for text in (done.stdout, table.stdout):
            assert secret.decode() not in text
            assert base64.b64encode(data_key).decode() not in text
    finally:
        herald.stop()


def test_an_account_with_the_key_service_switched_off_gets_opt_in_required(
    server: HeraldProcess,
) -> None:
    account = new_account(server)
    kms = client_for(server, account, "kms")
    kms.list_keys()
    off = admin(server, "accounts", "kms", "--account-id", account, "--disable")
    assert off.returncode == 0, off.stderr
    # A running server follows the switch within its 30 s cache; a fresh account's first
    # request after the switch is read from the store.
    other = new_account(server)
    admin(server, "account", "kms", "--account-id", other, "--disable")
    assert _error(client_for(server, other, "kms").list_keys) == ("OptInRequired", 403)
    on = admin(server, "accounts", "kms", "--account-id", other, "--enable")
    assert on.returncode == 0
    assert (
        admin(server, "accounts", "kms", "--account-id", "999999999990", "--enable").returncode == 2
    )


def test_requests_over_the_quota_get_throttling_exception(tmp_path: Path) -> None:
    herald = HeraldProcess(tmp_path / "data", extra_args=["--kms-management-rps", "1"]).start()
    try:
        kms = herald.client("kms")
        codes = []
        for _ in range(20):
            try:
                kms.list_keys()
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
        # One request per second: the first is served, a burst of 20 is not
        assert codes[0] == "ok"
        assert "ThrottlingException" in codes
    finally:
        herald.stop()


def test_describe_key_on_alias_aws_sns_creates_the_aws_managed_key_once(
    server: HeraldProcess,
) -> None:
    account = new_account(server)
    kms = client_for(server, account, "kms")
    first = kms.describe_key(KeyId="alias/aws/sns")["KeyMetadata"]
    assert (first["KeyManager"], first["AWSAccountId"], first["KeyState"]) == (
        "AWS",
        account,
        "Enabled",
    )
    again = kms.describe_key(KeyId=f"arn:aws:kms:{REGION}:{account}:alias/aws/sns")
    assert again["KeyMetadata"]["KeyId"] == first["KeyId"]
    aliases = kms.list_aliases(KeyId=first["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/aws/sns"]
    policy = json.loads(kms.get_key_policy(KeyId=first["KeyId"], PolicyName="default")["Policy"])
    condition = policy["Statement"][0]["Condition"]["StringEquals"]
    assert condition == {
        "kms:CallerAccount": account,
        "kms:ViaService": f"sns.{REGION}.amazonaws.com",
    }
    # Only through SNS: the account's root cannot use it or manage it directly
    assert _error(lambda: kms.encrypt(KeyId="alias/aws/sns", Plaintext=b"x"))[0] == (
        "AccessDeniedException"
    )
    assert _error(lambda: kms.disable_key(KeyId=first["KeyId"]))[0] == "AccessDeniedException"
    assert _error(lambda: kms.describe_key(KeyId="alias/aws/nothing"))[0] == "NotFoundException"


# -- regressions from review -------------------------------------------------------------


def test_a_grant_to_create_grants_passes_on_no_more_than_it_holds(server: HeraldProcess) -> None:
    owner = server.client("kms")
    key = owner.create_key()["KeyMetadata"]["KeyId"]
    arn, grantee = _user(server)
    owner.create_grant(KeyId=key, GranteePrincipal=arn, Operations=["CreateGrant", "Encrypt"])
    # It may pass on what it holds ...
    grantee.create_grant(KeyId=key, GranteePrincipal=arn, Operations=["Encrypt"])
    # ... but not give itself Decrypt
    code, _ = _error(
        lambda: grantee.create_grant(KeyId=key, GranteePrincipal=arn, Operations=["Decrypt"])
    )
    assert code == "AccessDeniedException"


def test_malformed_requests_are_refused_not_failed(server: HeraldProcess) -> None:
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.e2e.harness import ACCESS_KEY_ID

    def call(target: str, body: str) -> tuple[int, dict[str, Any]]:
        request = AWSRequest(
            method="POST",
            url=server.http_url + "/",
            data=body.encode(),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"TrentService.{target}",
            },
        )
        SigV4Auth(Credentials(ACCESS_KEY_ID, server.secret), "kms", REGION).add_auth(request)
        prepared = urllib.request.Request(
            request.url, data=request.body, headers=dict(request.headers), method="POST"
        )
        try:
            with urllib.request.urlopen(prepared, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    key = server.client("kms").create_key()["KeyMetadata"]["KeyId"]
    root = "arn:aws:iam::000000000000:root"
    surrogate = {"KeyId": key, "Plaintext": "eA==", "EncryptionContext": {"a": "\ud800"}}
    bad_tag = {"Tags": [{"TagKey": 1, "TagValue": "x"}]}
    junk = {"KeyId": key, "GranteePrincipal": root, "Operations": ["Encrypt"], "Constraints": "j"}
    huge = {"KeyId": "k" * 100_000, "Plaintext": "eA=="}
    dry = {"KeyId": key, "GrantId": "x", "DryRun": True}
    cases = [
        ("Encrypt", json.dumps(surrogate), "ValidationException"),
        ("CreateKey", '{"Description": "\\ud800"}', "ValidationException"),
        ("CreateKey", json.dumps(bad_tag), "ValidationException"),
        ("CreateGrant", json.dumps(junk), "ValidationException"),
        ("Encrypt", json.dumps(huge), "ValidationException"),
        ("Encrypt", json.dumps({"Plaintext": "eA=="}), "ValidationException"),
        # A dry run makes every check: there is no grant "x"
        ("RevokeGrant", json.dumps(dry), "NotFoundException"),
        ("CreateKey", json.dumps({"DryRun": True}), "UnsupportedOperationException"),
    ]
    for target, body, expected in cases:
        status, answer = call(target, body)
        assert (status, answer["__type"]) == (400, expected), (target, body[:80], answer)


def test_a_reference_to_another_accounts_alias_aws_sns_creates_nothing_there(
    server: HeraldProcess,
) -> None:
    import sqlite3

    stranger = "123412341234"
    sns = server.client("sns", tls=True)
    topic = sns.create_topic(
        Name=f"elsewhere-{uuid.uuid4().hex[:8]}",
        Attributes={"KmsMasterKeyId": f"arn:aws:kms:{REGION}:{stranger}:alias/aws/sns"},
    )["TopicArn"]
    assert _error(lambda: sns.publish(TopicArn=topic, Message="m")) == ("KMSNotFound", 400)
    with sqlite3.connect(server.data_dir / "herald.db") as db:
        made = db.execute("SELECT COUNT(*) FROM kms_keys WHERE account_id = ?", (stranger,))
        assert made.fetchone()[0] == 0
