"""The key service (AWS KMS over JSON 1.1, TrentService.*) end to end with boto3 and the AWS
CLI: keys and their metadata, every KeyId form, envelope encryption and how it fails, key
states, aliases, rotation, tags, key policies with IAM within and across accounts, and the
data folder: keys survive a restart, no plaintext reaches disk, a wrong root key refuses.

The rules checked are AWS's (KMS API reference, botocore's kms/2014-11-01 model, the KMS
developer guide: "Key states of AWS KMS keys", "Default key policy", "Aliases in AWS KMS",
"Rotate AWS KMS keys"). Names are unique: the session server is shared.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess
from tests.e2e.test_accounts import client_for, new_account

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
HEADER = 33  # format byte, key id, key version, nonce (herald/kms/ciphertext.py)
TAG = 16


# -- helpers -----------------------------------------------------------------------------


def _error(call: Callable[..., object], /, **params: Any) -> tuple[str, str]:
    """The error code and message ``call(**params)`` is refused with."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def _code(call: Callable[..., object], /, **params: Any) -> str:
    return _error(call, **params)[0]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(principal: str | list[str], action: str | list[str], **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": action,
        "Resource": "*",
        **extra,
    }


def _identity(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _kms_with(server: HeraldProcess, key: dict[str, str]) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def _user(server: HeraldProcess, iam: Any, policy: str | None = None) -> tuple[str, Any]:
    """A new IAM user (with ``policy`` inline, if any): its ARN and a KMS client for it."""
    name = _name("kms-user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    return str(arn), _kms_with(server, iam.create_access_key(UserName=name)["AccessKey"])


def _version(blob: bytes) -> int:
    """The backing-key version a Herald ciphertext names (offset 17, big-endian)."""
    return int(struct.unpack(">I", blob[17:21])[0])


def _near(when: datetime, expected: datetime, slack: float = 300.0) -> bool:
    return abs((when - expected).total_seconds()) < slack


def _aliases(kms: Any, **params: Any) -> list[dict[str, Any]]:
    pages = kms.get_paginator("list_aliases").paginate(**params)
    return [a for page in pages for a in page["Aliases"]]


def _key_ids(kms: Any) -> set[str]:
    pages = kms.get_paginator("list_keys").paginate()
    return {k["KeyId"] for page in pages for k in page["Keys"]}


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    """A fresh symmetric key's metadata."""
    return dict(kms.create_key(Description=_name("key"))["KeyMetadata"])


@pytest.fixture
def own_herald(tmp_path: Path) -> Iterator[HeraldProcess]:
    """A Herald of this test's own (not started), stopped at the end if still running."""
    herald = HeraldProcess(tmp_path / "data")
    yield herald
    if herald.process is not None and herald.process.poll() is None:
        herald.stop()


# -- CreateKey and key metadata ----------------------------------------------------------


def test_create_key_answers_the_metadata_of_a_symmetric_customer_key(kms: Any) -> None:
    # When a key is created with no options but a description
    before = datetime.now(UTC)
    meta = kms.create_key(Description="orders")["KeyMetadata"]
    # Then its id is a UUID and its ARN names the account and region
    key_id = meta["KeyId"]
    assert str(uuid.UUID(key_id)) == key_id
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    # And it is an enabled, AWS_KMS-made, single-Region symmetric customer key
    expected = {
        "AWSAccountId": ACCOUNT,
        "Description": "orders",
        "Enabled": True,
        "KeyState": "Enabled",
        "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "Origin": "AWS_KMS",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    assert {k: meta.get(k) for k in expected} == expected
    assert _near(meta["CreationDate"], before, 60)
    assert "DeletionDate" not in meta
    # And DescribeKey and ListKeys tell the same
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"] == meta
    listed = [k for page in kms.get_paginator("list_keys").paginate() for k in page["Keys"]]
    assert {"KeyId": key_id, "KeyArn": meta["Arn"]} in listed


@pytest.mark.parametrize(
    "options",
    [
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"Origin": "EXTERNAL"},
        {"MultiRegion": True},
    ],
    ids=["RSA_2048", "HMAC_256", "EXTERNAL", "MultiRegion"],
)
def test_keys_herald_cannot_make_are_unsupported_and_not_created(
    kms: Any, options: dict[str, Any]
) -> None:
    before = _key_ids(kms)
    assert _code(lambda: kms.create_key(**options)) == "UnsupportedOperationException"
    assert _key_ids(kms) == before


@pytest.mark.parametrize(
    "options",
    [{"KeySpec": "AES_999"}, {"KeyUsage": "ENCRYPT_EVERYTHING"}, {"Origin": "THE_MOON"}],
    ids=["KeySpec", "KeyUsage", "Origin"],
)
def test_an_unknown_enum_value_in_create_key_is_a_validation_error(
    kms: Any, options: dict[str, Any]
) -> None:
    code, message = _error(lambda: kms.create_key(**options))
    assert code == "ValidationException"
    assert next(iter(options.values())) in message


def test_a_new_key_has_the_default_key_policy_that_delegates_to_the_account(
    kms: Any, key: dict[str, Any]
) -> None:
    # When the key policy of a key created without one is read
    answer = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    # Then it is AWS's default: the account root may do kms:* (IAM policies decide)
    policy = json.loads(answer["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "key-default-1")
    assert policy["Statement"] == [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    # And "default" is the only policy name
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]
    code = _code(lambda: kms.get_key_policy(KeyId=key["KeyId"], PolicyName="other"))
    assert code == "NotFoundException"


def test_a_key_policy_that_locks_the_caller_out_needs_the_bypass(
    server: HeraldProcess, kms: Any, iam: Any
) -> None:
    # Given a policy that names only some user, not the caller (the root) nor its account
    user_arn, user_kms = _user(server, iam)
    policy = _policy(_allow(user_arn, "kms:*"))
    # When the root creates a key with it, Then the lockout safety check refuses
    before = _key_ids(kms)
    assert _code(lambda: kms.create_key(Policy=policy)) == "MalformedPolicyDocumentException"
    assert _key_ids(kms) == before
    # When it bypasses the check, Then the key is made with exactly that policy
    meta = kms.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    assert user_kms.get_key_policy(KeyId=meta["Arn"], PolicyName="default")["Policy"] == policy
    # And the root is indeed locked out of it
    assert _code(lambda: kms.describe_key(KeyId=meta["KeyId"])) == "AccessDeniedException"


def test_put_key_policy_runs_the_lockout_check_too(
    server: HeraldProcess, kms: Any, iam: Any, key: dict[str, Any]
) -> None:
    user_arn, _ = _user(server, iam)
    locking = _policy(_allow(user_arn, "kms:*"))
    code = _code(
        lambda: kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=locking)
    )
    assert code == "MalformedPolicyDocumentException"
    keeping = _policy(_allow(ROOT, "kms:*"), _allow(user_arn, "kms:Encrypt"))
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=keeping)
    assert kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"] == keeping


# -- naming a key ------------------------------------------------------------------------


def test_every_key_id_form_names_the_key_for_describe_and_encrypt(
    kms: Any, key: dict[str, Any]
) -> None:
    # Given a key with an alias
    alias = f"alias/{_name('forms')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    forms = {
        "key id": key["KeyId"],
        "key ARN": key["Arn"],
        "alias name": alias,
        "alias ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}",
    }
    for form, reference in forms.items():
        # When the key is named that way, Then DescribeKey and Encrypt find that key
        described = kms.describe_key(KeyId=reference)["KeyMetadata"]
        assert described["KeyId"] == key["KeyId"], form
        sealed = kms.encrypt(KeyId=reference, Plaintext=form.encode())
        assert sealed["KeyId"] == key["Arn"], form
        opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"])
        assert opened["Plaintext"] == form.encode(), form


@pytest.mark.parametrize(
    ("reference", "alias"),
    [
        (lambda key: f"alias/{_name('missing')}", True),
        (lambda key: f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/{_name('missing')}", True),
        (lambda key: str(uuid.uuid4()), False),
        (lambda key: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid4()}", False),
        (lambda key: "not-a-key-id", False),
        (lambda key: key["Arn"].replace(f":{REGION}:", ":us-west-2:"), False),
        (lambda key: key["Arn"].replace(f":{ACCOUNT}:", ":111122223333:"), False),
    ],
    ids=[
        "unknown-alias",
        "unknown-alias-arn",
        "unknown-key-id",
        "unknown-key-arn",
        "malformed",
        "key-arn-of-another-region",
        "key-arn-of-another-account",
    ],
)
def test_a_key_that_cannot_be_found_is_not_found(
    kms: Any, key: dict[str, Any], reference: Callable[[dict[str, Any]], str], alias: bool
) -> None:
    named = reference(key)
    for code, message in (
        _error(kms.describe_key, KeyId=named),
        _error(kms.encrypt, KeyId=named, Plaintext=b"x"),
    ):
        assert code == "NotFoundException"
        # The message names what was asked for, as what it is (a key is not an alias)
        assert named in message
        assert message.startswith("Alias") == alias, message


# -- Encrypt and Decrypt -----------------------------------------------------------------


def test_encrypt_and_decrypt_round_trip_without_an_encryption_context(
    kms: Any, key: dict[str, Any]
) -> None:
    plaintext = os.urandom(100)
    sealed = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)
    assert sealed["KeyId"] == key["Arn"]
    assert sealed["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = sealed["CiphertextBlob"]
    # The blob is Herald's format 1 naming the key and its first backing key
    assert len(blob) == HEADER + len(plaintext) + TAG
    assert blob[0] == 1 and blob[1:17] == uuid.UUID(key["KeyId"]).bytes
    assert _version(blob) == 1
    assert plaintext not in blob
    # Encrypting again gives another ciphertext (a fresh nonce) of the same plaintext
    again = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    assert again != blob
    for each in (blob, again):
        opened = kms.decrypt(CiphertextBlob=each)
        assert opened["Plaintext"] == plaintext
        assert opened["KeyId"] == key["Arn"]
        assert opened["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_the_encryption_context_must_be_given_again_exactly(kms: Any, key: dict[str, Any]) -> None:
    # Given a ciphertext bound to a context of two pairs
    context = {"tenant": "blue", "purpose": "invoices"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"bound", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    # Then the same pairs, in any order, open it
    reordered = {"purpose": "invoices", "tenant": "blue"}
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"bound"
    # And anything else is one InvalidCiphertextException
    others = [
        {},
        {"tenant": "blue"},
        {"tenant": "red", "purpose": "invoices"},
        {**context, "extra": "pair"},
        {"Tenant": "blue", "purpose": "invoices"},
    ]
    for other in others:
        code = _code(kms.decrypt, CiphertextBlob=blob, EncryptionContext=other)
        assert code == "InvalidCiphertextException", other
    code = _code(lambda: kms.decrypt(CiphertextBlob=blob))
    assert code == "InvalidCiphertextException"
    # And a ciphertext made without a context does not open with one
    plain = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"free")["CiphertextBlob"]
    code = _code(lambda: kms.decrypt(CiphertextBlob=plain, EncryptionContext={"a": "b"}))
    assert code == "InvalidCiphertextException"


def test_a_flipped_bit_anywhere_in_the_ciphertext_is_invalid(kms: Any, key: dict[str, Any]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"tamper-proof", EncryptionContext={})[
        "CiphertextBlob"
    ]
    for bit in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        code = _code(kms.decrypt, CiphertextBlob=bytes(flipped))
        assert code == "InvalidCiphertextException", f"bit {bit} of byte {bit // 8}"
    # And so is a blob cut short or lengthened
    for changed in (blob[:-1], blob[:HEADER], blob + b"\x00"):
        assert _code(kms.decrypt, CiphertextBlob=changed) == "InvalidCiphertextException"


def test_decrypt_with_the_key_id_of_another_key_is_an_incorrect_key(
    kms: Any, key: dict[str, Any]
) -> None:
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"mine")["CiphertextBlob"]
    code = _code(lambda: kms.decrypt(CiphertextBlob=blob, KeyId=other["KeyId"]))
    assert code == "IncorrectKeyException"
    # Naming the right key, in any form, or no key at all, opens it
    for reference in (key["KeyId"], key["Arn"]):
        assert kms.decrypt(CiphertextBlob=blob, KeyId=reference)["Plaintext"] == b"mine"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"mine"


def test_plaintext_must_be_1_to_4096_bytes(raw_kms: Any, key: dict[str, Any]) -> None:
    largest = os.urandom(4096)
    blob = raw_kms.encrypt(KeyId=key["KeyId"], Plaintext=largest)["CiphertextBlob"]
    assert raw_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == largest
    for size in (4097, 0):
        code = _code(raw_kms.encrypt, KeyId=key["KeyId"], Plaintext=b"p" * size)
        assert code == "ValidationException", size


def test_an_asymmetric_encryption_algorithm_is_an_invalid_key_usage(
    kms: Any, key: dict[str, Any]
) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    for algorithm in ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"):
        code = _code(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm=algorithm)
        assert code == "InvalidKeyUsageException", algorithm
        code = _code(kms.decrypt, CiphertextBlob=blob, EncryptionAlgorithm=algorithm)
        assert code == "InvalidKeyUsageException", algorithm
    sealed = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="SYMMETRIC_DEFAULT"
    )
    assert sealed["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


# -- data keys, random bytes, ReEncrypt --------------------------------------------------


@pytest.mark.parametrize(
    ("options", "size"),
    [({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 64}, 64)],
    ids=["AES_256", "AES_128", "64-bytes"],
)
def test_generate_data_key_returns_a_key_and_its_ciphertext(
    kms: Any, key: dict[str, Any], options: dict[str, Any], size: int
) -> None:
    context = {"file": "report.pdf"}
    answer = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=context, **options)
    assert answer["KeyId"] == key["Arn"]
    assert len(answer["Plaintext"]) == size
    assert len(answer["CiphertextBlob"]) == HEADER + size + TAG
    opened = kms.decrypt(CiphertextBlob=answer["CiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == answer["Plaintext"]
    code = _code(lambda: kms.decrypt(CiphertextBlob=answer["CiphertextBlob"]))
    assert code == "InvalidCiphertextException"


def test_generate_data_key_needs_exactly_one_of_key_spec_and_number_of_bytes(
    raw_kms: Any, key: dict[str, Any]
) -> None:
    both = {"KeySpec": "AES_256", "NumberOfBytes": 32}
    for options in (both, {}, {"KeySpec": "AES_512"}, {"NumberOfBytes": 1025}):
        code = _code(raw_kms.generate_data_key, KeyId=key["KeyId"], **options)
        assert code == "ValidationException", options


def test_generate_data_key_without_plaintext_returns_only_the_ciphertext(
    kms: Any, key: dict[str, Any]
) -> None:
    answer = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in answer
    assert answer["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=answer["CiphertextBlob"])["Plaintext"]) == 32


def test_generate_random_gives_1_to_1024_bytes(kms: Any, raw_kms: Any) -> None:
    assert len(kms.generate_random(NumberOfBytes=1)["Plaintext"]) == 1
    first = kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    second = kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    assert len(first) == len(second) == 1024 and first != second
    for size in (0, 1025):
        code = _code(raw_kms.generate_random, NumberOfBytes=size)
        assert code == "ValidationException", size


def test_re_encrypt_moves_a_ciphertext_to_another_key_and_context(
    kms: Any, key: dict[str, Any]
) -> None:
    # Given a ciphertext under one key and context, and a second key
    target = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"moving", EncryptionContext={"v": "1"})[
        "CiphertextBlob"
    ]
    # When it is re-encrypted under the second key with a new context
    answer = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"v": "1"},
        DestinationKeyId=target["KeyId"],
        DestinationEncryptionContext={"v": "2"},
    )
    # Then the answer names both keys by ARN, and the new blob is the second key's
    assert answer["SourceKeyId"] == key["Arn"]
    assert answer["KeyId"] == target["Arn"]
    assert answer["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert answer["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    moved = answer["CiphertextBlob"]
    assert moved[1:17] == uuid.UUID(target["KeyId"]).bytes
    assert "Plaintext" not in answer
    # And it decrypts to the original plaintext under the new context only
    opened = kms.decrypt(CiphertextBlob=moved, EncryptionContext={"v": "2"})
    assert (opened["Plaintext"], opened["KeyId"]) == (b"moving", target["Arn"])
    code = _code(lambda: kms.decrypt(CiphertextBlob=moved, EncryptionContext={"v": "1"}))
    assert code == "InvalidCiphertextException"
    # And the source context is checked
    code = _code(lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=target["KeyId"]))
    assert code == "InvalidCiphertextException"


# -- key states --------------------------------------------------------------------------


def test_a_disabled_key_refuses_cryptography_until_enabled(kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    # When the key is disabled
    kms.disable_key(KeyId=key_id)
    # Then every cryptographic operation is DisabledException
    calls = {
        "Encrypt": lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext": lambda: kms.generate_data_key_without_plaintext(
            KeyId=key_id, KeySpec="AES_256"
        ),
        "ReEncrypt": lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id),
    }
    for operation, call in calls.items():
        assert _code(call) == "DisabledException", operation
    # But DescribeKey still answers, saying it is disabled
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "Disabled")
    # When it is enabled again, Then it works again, old ciphertexts too
    kms.enable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (True, "Enabled")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


def test_schedule_key_deletion_sets_a_deletion_date_days_ahead(
    kms: Any, key: dict[str, Any]
) -> None:
    # When deletion is scheduled in 7 days
    now = datetime.now(UTC)
    answer = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    # Then the answer and DescribeKey say PendingDeletion and a date about 7 days ahead
    assert answer["KeyId"] == key["Arn"]
    assert answer["KeyState"] == "PendingDeletion"
    assert answer["PendingWindowInDays"] == 7
    assert _near(answer["DeletionDate"], now + timedelta(days=7))
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "PendingDeletion")
    assert meta["DeletionDate"] == answer["DeletionDate"]
    assert meta["PendingDeletionWindowInDays"] == 7
    # And scheduling it again is an invalid state
    code = _code(lambda: kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7))
    assert code == "KMSInvalidStateException"


def test_the_pending_window_is_7_to_30_days_and_30_by_default(kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    for days in (6, 31):
        code = _code(kms.schedule_key_deletion, KeyId=meta["KeyId"], PendingWindowInDays=days)
        assert code == "ValidationException", days
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    now = datetime.now(UTC)
    answer = kms.schedule_key_deletion(KeyId=meta["KeyId"])
    assert answer["PendingWindowInDays"] == 30
    assert _near(answer["DeletionDate"], now + timedelta(days=30))


def test_a_key_pending_deletion_refuses_use_until_cancelled_then_is_disabled(
    kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"keep me")["CiphertextBlob"]
    # Cancelling a deletion that was never scheduled is an invalid state
    assert _code(lambda: kms.cancel_key_deletion(KeyId=key_id)) == "KMSInvalidStateException"
    # When deletion is scheduled
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    # Then cryptography, EnableKey, DisableKey and CreateAlias are invalid in that state
    calls = {
        "Encrypt": lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key_id, NumberOfBytes=8),
        "EnableKey": lambda: kms.enable_key(KeyId=key_id),
        "DisableKey": lambda: kms.disable_key(KeyId=key_id),
        "CreateAlias": lambda: kms.create_alias(
            AliasName=f"alias/{_name('late')}", TargetKeyId=key_id
        ),
    }
    for operation, call in calls.items():
        assert _code(call) == "KMSInvalidStateException", operation
    # When the deletion is cancelled, Then the key is Disabled, with no deletion date
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == key["Arn"]
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "Disabled")
    assert "DeletionDate" not in meta and "PendingDeletionWindowInDays" not in meta
    assert _code(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x")) == "DisabledException"
    # And once enabled it opens what it sealed before
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"keep me"


# -- aliases -----------------------------------------------------------------------------


def test_aliases_are_created_listed_retargeted_and_deleted(kms: Any, key: dict[str, Any]) -> None:
    # Given an alias of a key
    other = kms.create_key()["KeyMetadata"]
    alias = f"alias/{_name('app')}"
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["Arn"])
    # Then it is listed with its ARN and target, among all and among the key's own
    listed = [a for a in _aliases(kms) if a["AliasName"] == alias]
    assert [(a["AliasArn"], a["TargetKeyId"]) for a in listed] == [(arn, key["KeyId"])]
    assert "CreationDate" in listed[0]
    assert [a["AliasName"] for a in _aliases(kms, KeyId=key["KeyId"])] == [alias]
    assert _aliases(kms, KeyId=other["KeyId"]) == []
    # And a second alias of that name is refused
    code = _code(lambda: kms.create_alias(AliasName=alias, TargetKeyId=other["KeyId"]))
    assert code == "AlreadyExistsException"
    # When it is pointed at another key, Then Encrypt through it uses that key
    kms.update_alias(AliasName=alias, TargetKeyId=other["KeyId"])
    assert kms.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == other["Arn"]
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == other["KeyId"]
    assert [a["AliasName"] for a in _aliases(kms, KeyId=other["KeyId"])] == [alias]
    assert _aliases(kms, KeyId=key["KeyId"]) == []
    # When it is deleted, Then it names nothing, and deleting it again is NotFound
    kms.delete_alias(AliasName=alias)
    assert _code(lambda: kms.encrypt(KeyId=alias, Plaintext=b"x")) == "NotFoundException"
    assert alias not in [a["AliasName"] for a in _aliases(kms)]
    assert _code(lambda: kms.delete_alias(AliasName=alias)) == "NotFoundException"
    code = _code(lambda: kms.update_alias(AliasName=alias, TargetKeyId=key["KeyId"]))
    assert code == "NotFoundException"
    # And the keys themselves are untouched
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_an_alias_name_without_the_alias_prefix_is_a_validation_error(
    kms: Any, key: dict[str, Any]
) -> None:
    # AWS answers ValidationException 'Alias must start with the prefix "alias/"' (as
    # observed from AWS in aws-controllers-k8s/community#1878, and as LocalStack and
    # local-kms answer); botocore's model lists InvalidAliasNameException for CreateAlias
    # but AWS does not use it for this check.
    code, message = _error(
        lambda: kms.create_alias(AliasName=_name("noprefix"), TargetKeyId=key["KeyId"])
    )
    assert (code, 'must start with the prefix "alias/"' in message) == (
        "ValidationException",
        True,
    )


def test_bad_alias_names_and_targets_are_refused(kms: Any, key: dict[str, Any]) -> None:
    # Names reserved for AWS managed keys
    code = _code(lambda: kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key["KeyId"]))
    assert code in ("InvalidAliasNameException", "NotAuthorizedException")
    # Characters outside [a-zA-Z0-9:/_-]
    code = _code(
        lambda: kms.create_alias(AliasName=f"alias/{_name('a.b')}", TargetKeyId=key["KeyId"])
    )
    assert code == "ValidationException"
    # A target named by an alias: an alias can only point to a key
    alias = f"alias/{_name('first')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for target in (alias, f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"):
        code = _code(kms.create_alias, AliasName=f"alias/{_name('x')}", TargetKeyId=target)
        assert code == "NotFoundException", target
    # A target that does not exist
    code = _code(
        lambda: kms.create_alias(AliasName=f"alias/{_name('x')}", TargetKeyId=str(uuid.uuid4()))
    )
    assert code == "NotFoundException"


# -- rotation ----------------------------------------------------------------------------


def test_automatic_rotation_is_enabled_for_90_to_2560_days_and_disabled(
    kms: Any, raw_kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    # When rotation is enabled without a period, Then it is every 365 days
    now = datetime.now(UTC)
    kms.enable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 365)
    assert _near(status["NextRotationDate"], now + timedelta(days=365))
    # And a period must be 90 to 2560 days
    for days in (89, 2561):
        code = _code(raw_kms.enable_key_rotation, KeyId=key_id, RotationPeriodInDays=days)
        assert code == "ValidationException", days
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    assert kms.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 90
    # When it is disabled, Then the status says so
    kms.disable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False
    assert "RotationPeriodInDays" not in status and "NextRotationDate" not in status
    # And a disabled key's rotation cannot be changed
    kms.disable_key(KeyId=key_id)
    assert _code(lambda: kms.enable_key_rotation(KeyId=key_id)) == "DisabledException"


def test_rotate_on_demand_adds_a_backing_key_and_old_ciphertexts_still_open(
    kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    before = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    assert _version(before) == 1
    # When the key is rotated on demand
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key["Arn"]
    # Then one ON_DEMAND rotation is listed
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [(r["KeyId"], r["RotationType"]) for r in rotations] == [(key_id, "ON_DEMAND")]
    assert _near(rotations[0]["RotationDate"], datetime.now(UTC), 60)
    # And new ciphertexts use the new backing key while old ones still open
    after = kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert after[:17] == before[:17] and _version(after) == 2
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old"
    assert kms.decrypt(CiphertextBlob=after)["Plaintext"] == b"new"
    # And a blob that claims the old version for the new sealed bytes does not open
    forged = after[:17] + struct.pack(">I", 1) + after[21:]
    assert _code(lambda: kms.decrypt(CiphertextBlob=forged)) == "InvalidCiphertextException"


# -- tags --------------------------------------------------------------------------------


def test_tags_are_added_replaced_listed_and_removed(kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    kms.tag_resource(
        KeyId=key_id,
        Tags=[{"TagKey": "team", "TagValue": "blue"}, {"TagKey": "env", "TagValue": "dev"}],
    )
    kms.tag_resource(KeyId=key["Arn"], Tags=[{"TagKey": "team", "TagValue": "red"}])
    answer = kms.list_resource_tags(KeyId=key_id)
    assert answer["Tags"] == [
        {"TagKey": "env", "TagValue": "dev"},
        {"TagKey": "team", "TagValue": "red"},
    ]
    assert answer["Truncated"] is False
    kms.untag_resource(KeyId=key_id, TagKeys=["team", "absent"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "env", "TagValue": "dev"}]


def test_tag_keys_beginning_with_aws_are_reserved(kms: Any, key: dict[str, Any]) -> None:
    reserved = [{"TagKey": "aws:owner", "TagValue": "me"}]
    assert _code(lambda: kms.tag_resource(KeyId=key["KeyId"], Tags=reserved)) == "TagException"
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []
    assert _code(lambda: kms.create_key(Tags=reserved)) == "TagException"


# -- authorization within the account ---------------------------------------------------


def test_an_iam_user_uses_a_default_policy_key_only_as_its_iam_policy_allows(
    server: HeraldProcess, iam: Any, key: dict[str, Any]
) -> None:
    # Given a user with no policy, Then the default key policy alone does not let it in
    user_arn, bare = _user(server, iam)
    code, message = _error(lambda: bare.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))
    assert code == "AccessDeniedException"
    assert user_arn in message and "kms:Encrypt" in message
    # Given a user whose IAM policy allows kms:Encrypt on the key, Then it may encrypt
    encryptor_arn, encryptor = _user(server, iam, _identity("kms:Encrypt", key["Arn"]))
    blob = encryptor.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    # But not decrypt, nor touch another key
    assert _code(lambda: encryptor.decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    other = server.client("kms").create_key()["KeyMetadata"]  # type: ignore[attr-defined]
    code = _code(lambda: encryptor.encrypt(KeyId=other["KeyId"], Plaintext=b"x"))
    assert code == "AccessDeniedException"
    # When its IAM policy is removed, Then it is denied at once
    iam.delete_user_policy(UserName=encryptor_arn.rsplit("/", 1)[1], PolicyName="p")
    code = _code(lambda: encryptor.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))
    assert code == "AccessDeniedException"


def test_an_iam_policy_can_condition_on_the_encryption_context(
    server: HeraldProcess, iam: Any, key: dict[str, Any]
) -> None:
    policy = _identity(
        ["kms:Encrypt", "kms:Decrypt"],
        Condition={"StringEquals": {"kms:EncryptionContext:tenant": "blue"}},
    )
    _, user = _user(server, iam, policy)
    blob = user.encrypt(KeyId=key["KeyId"], Plaintext=b"b", EncryptionContext={"tenant": "blue"})[
        "CiphertextBlob"
    ]
    opened = user.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "blue"})
    assert opened["Plaintext"] == b"b"
    for context in ({"tenant": "red"}, {}):
        code = _code(user.encrypt, KeyId=key["KeyId"], Plaintext=b"b", EncryptionContext=context)
        assert code == "AccessDeniedException", context


def test_a_key_policy_naming_only_a_user_lets_it_in_and_shuts_out_iam_admins_and_the_root(
    server: HeraldProcess, kms: Any, iam: Any
) -> None:
    # Given a key whose policy names one user and not the account (no delegation to IAM)
    named_arn, named = _user(server, iam)
    _, admin = _user(server, iam, _identity("kms:*"))
    meta = kms.create_key(
        Policy=_policy(_allow(named_arn, "kms:*")), BypassPolicyLockoutSafetyCheck=True
    )["KeyMetadata"]
    # Then the named user uses it without any identity policy
    blob = named.encrypt(KeyId=meta["KeyId"], Plaintext=b"only me")["CiphertextBlob"]
    assert named.decrypt(CiphertextBlob=blob)["Plaintext"] == b"only me"
    assert named.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["Arn"] == meta["Arn"]
    # But an IAM user allowed kms:* on everything is denied, and so is the account root
    for caller in (admin, kms):
        code = _code(caller.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")
        assert code == "AccessDeniedException"
        assert _code(caller.decrypt, CiphertextBlob=blob) == "AccessDeniedException"
        code = _code(caller.schedule_key_deletion, KeyId=meta["KeyId"])
        assert code == "AccessDeniedException"


def test_a_key_policy_for_the_root_itself_does_not_delegate_to_iam(
    server: HeraldProcess, kms: Any, iam: Any
) -> None:
    # Given a key policy that names the account root but only for the root's own requests
    own_requests = {"StringEquals": {"aws:PrincipalType": "Account"}}
    policy = _policy(_allow(ROOT, "kms:*", Condition=own_requests))
    meta = kms.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    _, admin = _user(server, iam, _identity("kms:*"))
    # Then the root uses it, and an IAM admin is denied
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"root")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"root"
    code = _code(lambda: admin.encrypt(KeyId=meta["KeyId"], Plaintext=b"x"))
    assert code == "AccessDeniedException"


def test_an_explicit_deny_in_the_key_policy_wins_over_iam(
    server: HeraldProcess, kms: Any, iam: Any
) -> None:
    user_arn, user = _user(server, iam, _identity("kms:*"))
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": user_arn},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    meta = kms.create_key(Policy=_policy(_allow(ROOT, "kms:*"), deny))["KeyMetadata"]
    blob = user.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert _code(lambda: user.decrypt(CiphertextBlob=blob)) == "AccessDeniedException"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


# AWS's "Required permissions" for the alias operations (KMS API reference; "Controlling
# access to aliases"): the caller needs the permission on the alias in an IAM policy, and on
# each KMS key involved in its key policy (here the default one, delegating to IAM).


def _alias_arn(alias: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"


def test_create_alias_needs_iam_permission_on_the_alias_as_well_as_the_key(
    server: HeraldProcess, kms: Any, iam: Any, key: dict[str, Any]
) -> None:
    alias = f"alias/{_name('guarded')}"
    _, key_only = _user(server, iam, _identity("kms:CreateAlias", key["Arn"]))
    code = _code(lambda: key_only.create_alias(AliasName=alias, TargetKeyId=key["KeyId"]))
    assert code == "AccessDeniedException"
    assert _aliases(kms, KeyId=key["KeyId"]) == []
    _, both = _user(server, iam, _identity("kms:CreateAlias", [key["Arn"], _alias_arn(alias)]))
    both.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_update_alias_needs_permission_on_the_alias_the_current_key_and_the_new_key(
    server: HeraldProcess, kms: Any, iam: Any, key: dict[str, Any]
) -> None:
    new = kms.create_key()["KeyMetadata"]
    alias = f"alias/{_name('moving')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for resources in ([_alias_arn(alias), new["Arn"]], [key["Arn"], new["Arn"]]):
        _, user = _user(server, iam, _identity("kms:UpdateAlias", resources))
        code = _code(user.update_alias, AliasName=alias, TargetKeyId=new["KeyId"])
        assert code == "AccessDeniedException", resources
        assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key["KeyId"]
    everything = [_alias_arn(alias), key["Arn"], new["Arn"]]
    _, user = _user(server, iam, _identity("kms:UpdateAlias", everything))
    user.update_alias(AliasName=alias, TargetKeyId=new["KeyId"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == new["KeyId"]


def test_delete_alias_needs_iam_permission_on_the_alias_as_well_as_the_key(
    server: HeraldProcess, kms: Any, iam: Any, key: dict[str, Any]
) -> None:
    alias = f"alias/{_name('doomed')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    _, key_only = _user(server, iam, _identity("kms:DeleteAlias", key["Arn"]))
    assert _code(lambda: key_only.delete_alias(AliasName=alias)) == "AccessDeniedException"
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key["KeyId"]
    _, both = _user(server, iam, _identity("kms:DeleteAlias", [key["Arn"], _alias_arn(alias)]))
    both.delete_alias(AliasName=alias)
    assert _code(lambda: kms.describe_key(KeyId=alias)) == "NotFoundException"


def test_operations_on_no_key_follow_iam_alone(server: HeraldProcess, iam: Any) -> None:
    # Given a user without policies, Then CreateKey, ListKeys, ListAliases and
    # GenerateRandom are denied
    _, bare = _user(server, iam)
    calls = {
        "CreateKey": lambda: bare.create_key(),
        "ListKeys": lambda: bare.list_keys(),
        "ListAliases": lambda: bare.list_aliases(),
        "GenerateRandom": lambda: bare.generate_random(NumberOfBytes=8),
    }
    for operation, call in calls.items():
        assert _code(call) == "AccessDeniedException", operation
    # Given a user allowed kms:CreateKey, Then it creates a key with the default policy,
    # which it may not use until its IAM policy allows that too
    _, maker = _user(server, iam, _identity("kms:CreateKey"))
    meta = maker.create_key()["KeyMetadata"]
    assert meta["AWSAccountId"] == ACCOUNT
    assert _code(lambda: maker.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")) == (
        "AccessDeniedException"
    )


# -- authorization across accounts ------------------------------------------------------


def _shared_key(kms: Any, other: str) -> dict[str, Any]:
    """A key whose policy also lets account ``other`` Encrypt and Decrypt."""
    policy = _policy(
        _allow(ROOT, "kms:*"),
        _allow(f"arn:aws:iam::{other}:root", ["kms:Encrypt", "kms:Decrypt"]),
    )
    return dict(kms.create_key(Policy=policy)["KeyMetadata"])


def test_another_account_uses_a_key_only_by_arn_and_only_when_the_key_policy_names_it(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    other = new_account(server)
    theirs = client_for(server, other, "kms")
    # Given a key with the default policy, Then the other account's root is denied
    code = _code(lambda: theirs.encrypt(KeyId=key["Arn"], Plaintext=b"x"))
    assert code == "AccessDeniedException"
    # Given a key whose policy also names the other account for Encrypt and Decrypt
    shared = _shared_key(kms, other)
    alias = f"alias/{_name('shared')}"
    kms.create_alias(AliasName=alias, TargetKeyId=shared["KeyId"])
    # Then its root encrypts by key ARN, and decrypts
    blob = theirs.encrypt(KeyId=shared["Arn"], Plaintext=b"across")["CiphertextBlob"]
    assert theirs.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across"
    # But not by key id or alias name, which name keys of its own account
    for reference in (shared["KeyId"], alias):
        code = _code(theirs.encrypt, KeyId=reference, Plaintext=b"x")
        assert code == "NotFoundException", reference
    # And only what the key policy grants
    code = _code(lambda: theirs.schedule_key_deletion(KeyId=shared["Arn"]))
    assert code == "AccessDeniedException"
    code = _code(lambda: theirs.describe_key(KeyId=shared["Arn"]))
    assert code == "AccessDeniedException"


def test_another_account_may_name_a_shared_key_by_its_alias_arn(
    server: HeraldProcess, kms: Any
) -> None:
    # AWS (Encrypt, "Cross-account use"): "specify the key ARN or alias ARN in the value
    # of the KeyId parameter".
    other = new_account(server)
    theirs = client_for(server, other, "kms")
    shared = _shared_key(kms, other)
    alias = f"alias/{_name('shared')}"
    kms.create_alias(AliasName=alias, TargetKeyId=shared["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    sealed = theirs.encrypt(KeyId=alias_arn, Plaintext=b"by alias")
    assert sealed["KeyId"] == shared["Arn"]
    assert kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"])["Plaintext"] == b"by alias"


def test_a_user_of_another_account_needs_both_the_key_policy_and_its_iam_policy(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    other = new_account(server)
    their_iam = client_for(server, other, "iam")
    shared = kms.create_key(Policy=_policy(_allow(ROOT, "kms:*"), _allow(other, "kms:Encrypt")))[
        "KeyMetadata"
    ]
    # A user of that account without an IAM policy is denied
    _, bare = _user(server, their_iam)
    code = _code(lambda: bare.encrypt(KeyId=shared["Arn"], Plaintext=b"x"))
    assert code == "AccessDeniedException"
    # A user whose IAM policy allows kms:Encrypt on the key may encrypt
    _, allowed = _user(server, their_iam, _identity("kms:Encrypt", "*"))
    assert allowed.encrypt(KeyId=shared["Arn"], Plaintext=b"x")["KeyId"] == shared["Arn"]
    # But not with a key whose policy does not name its account
    code = _code(lambda: allowed.encrypt(KeyId=key["Arn"], Plaintext=b"x"))
    assert code == "AccessDeniedException"


# -- the AWS CLI -------------------------------------------------------------------------


def test_the_aws_cli_creates_a_key(aws: Callable[..., Any]) -> None:
    meta = aws("kms", "create-key", "--description", "from the cli")["KeyMetadata"]
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{meta['KeyId']}"
    assert (meta["KeyState"], meta["KeySpec"], meta["Description"]) == (
        "Enabled",
        "SYMMETRIC_DEFAULT",
        "from the cli",
    )
    described = aws("kms", "describe-key", "--key-id", meta["Arn"])["KeyMetadata"]
    assert described["KeyId"] == meta["KeyId"]


def test_the_aws_cli_encrypts_and_decrypts_a_binary_file(
    aws: Callable[..., Any], key: dict[str, Any], tmp_path: Path
) -> None:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(300) + b"\x00\n\r\xff")
    # When the CLI encrypts the file and prints the blob as base64 text
    done = aws(
        "kms", "encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{plain}",
        "--encryption-context", "purpose=cli", "--query", "CiphertextBlob", "--output", "text",
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sealed = tmp_path / "sealed.bin"
    sealed.write_bytes(base64.b64decode(done.stdout.strip(), validate=True))
    # Then decrypting that blob gives the file back
    done = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{sealed}",
        "--encryption-context", "purpose=cli", "--query", "Plaintext", "--output", "text",
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert base64.b64decode(done.stdout.strip(), validate=True) == plain.read_bytes()
    # And without the context the CLI reports InvalidCiphertextException
    done = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{sealed}", check=False)
    assert done.returncode != 0 and "InvalidCiphertextException" in done.stderr


# -- the data folder ---------------------------------------------------------------------


def test_keys_aliases_and_ciphertexts_survive_a_restart(own_herald: HeraldProcess) -> None:
    # Given keys, an alias, a rotation, tags and ciphertexts on a server of our own
    herald = own_herald.start()
    kms: Any = herald.client("kms")
    meta = kms.create_key(Description="durable")["KeyMetadata"]
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    kms.create_alias(AliasName="alias/durable", TargetKeyId=meta["KeyId"])
    kms.tag_resource(KeyId=meta["KeyId"], Tags=[{"TagKey": "k", "TagValue": "v"}])
    context = {"file": "a"}
    old = kms.encrypt(KeyId="alias/durable", Plaintext=b"v1", EncryptionContext=context)
    kms.rotate_key_on_demand(KeyId=meta["KeyId"])
    new = kms.encrypt(KeyId="alias/durable", Plaintext=b"v2", EncryptionContext=context)
    data_key = kms.generate_data_key(KeyId=meta["Arn"], KeySpec="AES_256")
    # When it is stopped with SIGTERM and started again on the same folder
    assert herald.stop() == 0
    herald.start()
    kms = herald.client("kms")
    # Then everything is there, and every ciphertext opens
    assert kms.describe_key(KeyId="alias/durable")["KeyMetadata"] == meta
    state = kms.describe_key(KeyId=disabled["KeyId"])["KeyMetadata"]["KeyState"]
    assert state == "Disabled"
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "k", "TagValue": "v"}]
    assert len(kms.list_key_rotations(KeyId=meta["KeyId"])["Rotations"]) == 1
    for sealed, plaintext in ((old, b"v1"), (new, b"v2")):
        opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext=context)
        assert opened["Plaintext"] == plaintext
    opened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
    assert opened["Plaintext"] == data_key["Plaintext"]
    # And new ciphertexts still use the newest backing key
    after = kms.encrypt(KeyId="alias/durable", Plaintext=b"v3")["CiphertextBlob"]
    assert _version(after) == 2


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _holding(files: dict[Path, bytes], secret: bytes) -> list[str]:
    forms = (secret, base64.b64encode(secret), secret.hex().encode())
    return [p.name for p, data in files.items() if any(f in data for f in forms)]


def test_no_plaintext_or_data_key_reaches_any_file_of_the_data_folder(
    own_herald: HeraldProcess,
) -> None:
    # Given a server of our own that encrypts a distinctive value and makes a data key
    herald = own_herald.start()
    kms: Any = herald.client("kms")
    meta = kms.create_key()["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    secret = os.urandom(64)
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=secret)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == secret
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other["KeyId"])
    data_key = kms.generate_data_key(KeyId=meta["KeyId"], KeySpec="AES_256")["Plaintext"]
    kms.rotate_key_on_demand(KeyId=meta["KeyId"])
    for moment in ("while running", "after stopping"):
        # When every file of the data folder is read (database, WAL, shared memory, ...)
        files = _files(herald.data_dir)
        names = {p.name for p in files}
        assert "herald.db" in names, names
        if moment == "while running":
            assert {"herald.db-wal", "herald.db-shm"} <= names, names
        # Then the scan sees the data (the key ids are stored)...
        assert any(meta["KeyId"].encode() in data for data in files.values()), moment
        # ...and neither the plaintext nor the data key is anywhere, in any common encoding
        assert _holding(files, secret) == [], moment
        assert _holding(files, data_key) == [], moment
        if moment == "while running":
            assert herald.stop() == 0


def test_a_data_folder_sealed_with_another_root_key_refuses_to_start(
    own_herald: HeraldProcess,
) -> None:
    # Given a data folder with a key and a ciphertext, stopped
    herald = own_herald.start()
    kms: Any = herald.client("kms")
    meta = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"sealed")["CiphertextBlob"]
    assert herald.stop() == 0
    root_file = herald.data_dir / "root.key"
    original = root_file.read_bytes()
    assert len(original) == 32
    command = [
        sys.executable, "-m", "herald.cli", "serve", "--data-dir", str(herald.data_dir),
        "--port", "0", "--tls-port", "0",
    ]  # fmt: skip

    def serve(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env = {**herald.env(), **extra_env}
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    # When the root key file holds 32 other bytes, or HERALD_ROOT_KEY gives another key
    root_file.write_bytes(os.urandom(32))
    wrong_file = serve({})
    root_file.write_bytes(original)
    wrong_env = serve({"HERALD_ROOT_KEY": base64.b64encode(os.urandom(32)).decode()})
    for done in (wrong_file, wrong_env):
        # Then Herald exits non-zero before listening, with one line about the root key
        assert done.returncode != 0, done.stdout + done.stderr
        assert "listening" not in done.stdout
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if "root key" in line]
        assert len(lines) == 1, done.stderr
        assert done.stderr.strip().splitlines()[-1] == lines[0]
    # And with its own root key back the folder starts and opens its ciphertexts
    herald.start()
    kms = herald.client("kms")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"sealed"
