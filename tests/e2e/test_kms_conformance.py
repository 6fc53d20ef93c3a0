"""The key service's answers where a conformance audit found them to differ from AWS's, end
to end with boto3 against a real server: tags, on-demand rotation, DryRun, custom key
stores, the operations of other kinds of keys, RetireGrant by the key's account, repeated
CreateGrant by name, and AWS's validation messages.

The expected answers are AWS's, as recorded in LocalStack's
tests/aws/services/kms/test_kms.snapshot.json, or as botocore's kms/2014-11-01 model
documents them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import HeraldProcess
from tests.e2e.test_kms_operations import _user

DRY_RUN = "The request would have succeeded, but the DryRun option is set."


def _error(call: Callable[..., object], /, **params: Any) -> tuple[str, int, str]:
    """The error code, HTTP status and message ``call(**params)`` is refused with."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    error = response["Error"]
    return error["Code"], response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def _code(call: Callable[..., object], /, **params: Any) -> str:
    return _error(call, **params)[0]


def _allow(*actions: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    return dict(kms.create_key()["KeyMetadata"])


# -- tags --------------------------------------------------------------------------------


def test_duplicate_tag_keys_in_one_request_are_refused(kms: Any, key: dict[str, Any]) -> None:
    twice = [{"TagKey": "tag1", "TagValue": "value1"}, {"TagKey": "tag1", "TagValue": "v2"}]
    refused = ("TagException", 400, "Duplicate tag keys")
    assert _error(kms.tag_resource, KeyId=key["KeyId"], Tags=twice) == refused
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []
    assert _error(kms.create_key, Tags=twice) == refused


@pytest.mark.parametrize("tag_key", ["aws:key1", "AWS:key1", "Aws:key1"])
def test_the_aws_prefix_is_reserved_in_any_case(
    kms: Any, key: dict[str, Any], tag_key: str
) -> None:
    tags = [{"TagKey": tag_key, "TagValue": "value1"}]
    refused = ("TagException", 400, "Tags beginning with aws: are reserved")
    assert _error(kms.create_key, Tags=tags) == refused
    assert _error(kms.tag_resource, KeyId=key["KeyId"], Tags=tags) == refused


def test_tag_lengths_are_the_models_constraints(kms: Any, key: dict[str, Any]) -> None:
    long_key = [{"TagKey": "a" * 129, "TagValue": "value1"}]
    code, status, message = _error(kms.create_key, Tags=long_key)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"1 validation error detected: Value '{'a' * 129}' at 'tags.1.member.tagKey' failed "
        "to satisfy constraint: Member must have length less than or equal to 128"
    )
    long_value = [{"TagKey": "ok", "TagValue": "v"}, {"TagKey": "tag2", "TagValue": "v" * 257}]
    code, _, message = _error(kms.tag_resource, KeyId=key["KeyId"], Tags=long_value)
    assert code == "ValidationException"
    assert message == (
        f"1 validation error detected: Value '{'v' * 257}' at 'tags.2.member.tagValue' failed "
        "to satisfy constraint: Member must have length less than or equal to 256"
    )
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_more_than_50_tags_are_too_many(kms: Any, key: dict[str, Any]) -> None:
    tags = [{"TagKey": f"key{i}", "TagValue": f"value{i}"} for i in range(51)]
    assert _error(kms.create_key, Tags=tags) == ("TagException", 400, "Too many tags")
    kms.tag_resource(KeyId=key["KeyId"], Tags=tags[:50])
    extra = [{"TagKey": "one-more", "TagValue": "x"}]
    assert _error(kms.tag_resource, KeyId=key["KeyId"], Tags=extra) == (
        "TagException",
        400,
        "Too many tags",
    )


# -- rotation ----------------------------------------------------------------------------


def test_on_demand_rotation_answers_the_key_arn_and_stops_at_25(
    kms: Any, key: dict[str, Any]
) -> None:
    # Given a key rotated on demand 25 times (botocore's RotateKeyOnDemand: "a maximum of
    # 25 times per KMS key"), each answer naming the key by its ARN
    for _ in range(25):
        assert kms.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    # When it is rotated once more, Then it is refused and no rotation is added
    assert _error(kms.rotate_key_on_demand, KeyId=key["KeyId"]) == (
        "LimitExceededException",
        400,
        "The on-demand rotations limit has been reached for the given keyId. No more "
        f"on-demand rotations can be performed for this key: {key['Arn']}",
    )
    rotations = kms.list_key_rotations(KeyId=key["KeyId"], Limit=1000)["Rotations"]
    assert len(rotations) == 25


# -- DryRun ------------------------------------------------------------------------------


def test_a_dry_run_of_a_cryptographic_operation_that_would_succeed(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    key_id, context = key["KeyId"], {"app": "orders"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=context)["CiphertextBlob"]
    would = ("DryRunOperationException", 400, DRY_RUN)
    assert _error(kms.encrypt, KeyId=key_id, Plaintext=b"x", DryRun=True) == would
    assert _error(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context, DryRun=True) == (
        would
    )
    assert (
        _error(
            kms.re_encrypt,
            CiphertextBlob=blob,
            SourceEncryptionContext=context,
            DestinationKeyId=key_id,
            DryRun=True,
        )
        == would
    )
    assert _error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", DryRun=True) == would
    assert (
        _error(kms.generate_data_key_without_plaintext, KeyId=key_id, NumberOfBytes=16, DryRun=True)
        == would
    )
    # And the audit trail tells the dry runs from the requests
    rows = server.query(
        "SELECT event_name, request_parameters FROM kms_audit WHERE key_arn = ? "
        "AND error_code = 'DryRunOperationException'",
        (key["Arn"],),
    )
    assert sorted(str(name) for name, _ in rows) == [
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
    ]  # fmt: skip
    assert all(json.loads(str(parameters))["DryRun"] is True for _, parameters in rows)


def test_a_dry_run_that_would_fail_gets_the_failure(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"a": "1"})["CiphertextBlob"]
    # The wrong encryption context, a caller with no permission, a disabled key
    assert _code(kms.decrypt, CiphertextBlob=blob, DryRun=True) == "InvalidCiphertextException"
    _, stranger = _user(server)
    assert _code(stranger.encrypt, KeyId=key["Arn"], Plaintext=b"x", DryRun=True) == (
        "AccessDeniedException"
    )
    kms.disable_key(KeyId=key_id)
    assert _code(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", DryRun=True) == (
        "DisabledException"
    )
    # And modifiers Herald does not offer are refused, not ignored
    kms.enable_key(KeyId=key_id)
    assert (
        _code(kms.decrypt, CiphertextBlob=blob, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
        == "UnsupportedOperationException"
    )


def test_dry_runs_of_grant_operations_check_everything_and_change_nothing(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    arn, grantee = _user(server)
    would = ("DryRunOperationException", 400, DRY_RUN)
    # CreateGrant: would succeed, makes no grant; a caller without permission is refused
    asked = {"KeyId": key_id, "GranteePrincipal": arn, "Operations": ["Encrypt"]}
    assert _error(kms.create_grant, **asked, DryRun=True) == would
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    assert _code(grantee.create_grant, **{**asked, "KeyId": key["Arn"]}, DryRun=True) == (
        "AccessDeniedException"
    )
    # RetireGrant and RevokeGrant: would succeed, the grant stays
    grant = kms.create_grant(**asked, RetiringPrincipal=arn)
    assert _error(grantee.retire_grant, GrantToken=grant["GrantToken"], DryRun=True) == would
    assert _error(kms.revoke_grant, KeyId=key_id, GrantId=grant["GrantId"], DryRun=True) == would
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == [grant["GrantId"]]
    # And a grant that does not exist is not found
    assert _code(kms.revoke_grant, KeyId=key_id, GrantId="0" * 64, DryRun=True) == (
        "NotFoundException"
    )


# -- custom key stores ------------------------------------------------------------------


def test_there_are_no_custom_key_stores(kms: Any) -> None:
    store_id = "cks-1234567890abcdef0"
    missing = (
        "CustomKeyStoreNotFoundException",
        400,
        f"Custom key store '{store_id}' does not exist.",
    )
    assert _error(kms.create_key, CustomKeyStoreId=store_id) == missing
    answer = kms.describe_custom_key_stores()
    assert (answer["CustomKeyStores"], answer["Truncated"]) == ([], False)
    assert _error(kms.describe_custom_key_stores, CustomKeyStoreId=store_id) == missing


# -- operations of other kinds of keys ---------------------------------------------------

USAGE_OPERATIONS: dict[str, Callable[[Any, str], object]] = {
    "Sign": lambda kms, key: kms.sign(
        KeyId=key, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"
    ),
    "Verify": lambda kms, key: kms.verify(
        KeyId=key, Message=b"m", Signature=b"s", SigningAlgorithm="RSASSA_PSS_SHA_256"
    ),
    "GenerateMac": lambda kms, key: kms.generate_mac(
        KeyId=key, Message=b"m", MacAlgorithm="HMAC_SHA_256"
    ),
    "VerifyMac": lambda kms, key: kms.verify_mac(
        KeyId=key, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=b"m"
    ),
    "GetPublicKey": lambda kms, key: kms.get_public_key(KeyId=key),
    "DeriveSharedSecret": lambda kms, key: kms.derive_shared_secret(
        KeyId=key, KeyAgreementAlgorithm="ECDH", PublicKey=b"p"
    ),
}
IMPORT_OPERATIONS: dict[str, Callable[[Any, str], object]] = {
    "GetParametersForImport": lambda kms, key: kms.get_parameters_for_import(
        KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    ),
    "ImportKeyMaterial": lambda kms, key: kms.import_key_material(
        KeyId=key, ImportToken=b"t", EncryptedKeyMaterial=b"m"
    ),
    "DeleteImportedKeyMaterial": lambda kms, key: kms.delete_imported_key_material(KeyId=key),
}


@pytest.mark.parametrize("operation", list(USAGE_OPERATIONS))
def test_operations_of_other_key_usages_are_invalid_for_a_symmetric_key(
    server: HeraldProcess, kms: Any, key: dict[str, Any], operation: str
) -> None:
    call = USAGE_OPERATIONS[operation]
    assert _error(lambda: call(kms, key["KeyId"])) == (
        "InvalidKeyUsageException",
        400,
        f"{key['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for {operation}.",
    )
    assert _code(lambda: call(kms, str(uuid.uuid4()))) == "NotFoundException"
    _, stranger = _user(server)
    assert _code(lambda: call(stranger, key["Arn"])) == "AccessDeniedException"


@pytest.mark.parametrize("operation", list(IMPORT_OPERATIONS))
def test_import_operations_are_unsupported_for_a_key_of_origin_aws_kms(
    kms: Any, key: dict[str, Any], operation: str
) -> None:
    call = IMPORT_OPERATIONS[operation]
    assert _error(lambda: call(kms, key["KeyId"])) == (
        "UnsupportedOperationException",
        400,
        f"{key['Arn']} origin is AWS_KMS which is not valid for this operation.",
    )
    assert _code(lambda: call(kms, str(uuid.uuid4()))) == "NotFoundException"


def test_data_key_pairs_are_unsupported_but_known(kms: Any, key: dict[str, Any]) -> None:
    for call in (kms.generate_data_key_pair, kms.generate_data_key_pair_without_plaintext):
        assert _code(call, KeyId=key["KeyId"], KeyPairSpec="RSA_2048") == (
            "UnsupportedOperationException"
        )
        assert _code(call, KeyId=str(uuid.uuid4()), KeyPairSpec="RSA_2048") == "NotFoundException"


# -- grants ------------------------------------------------------------------------------


def test_the_keys_account_may_retire_a_grant(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    arn, grantee = _user(server)
    # Given grants the grantee cannot retire (no RetireGrant, no retiring principal)
    first = kms.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Encrypt"])
    second = kms.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Decrypt"])
    assert _code(grantee.retire_grant, GrantToken=first["GrantToken"]) == "AccessDeniedException"
    # Then the account's root may retire them
    kms.retire_grant(KeyId=key_id, GrantId=first["GrantId"])
    # And so may an IAM user of the account it delegates kms:RetireGrant to, and no other
    _, idle = _user(server, _allow("kms:Encrypt"))
    assert _code(idle.retire_grant, GrantToken=second["GrantToken"]) == "AccessDeniedException"
    _, delegate = _user(server, _allow("kms:RetireGrant"))
    delegate.retire_grant(GrantToken=second["GrantToken"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []


def test_an_explicit_deny_stops_a_grants_own_retiring_principal(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    deny = {"Effect": "Deny", "Action": "kms:RetireGrant", "Resource": "*"}
    denied_arn, denied = _user(server, {"Version": "2012-10-17", "Statement": [deny]})
    allowed_arn, allowed = _user(server)
    # Given grants whose retiring principal is each user, and which the grantee may retire
    grants = {
        arn: kms.create_grant(
            KeyId=key_id,
            GranteePrincipal=arn,
            RetiringPrincipal=arn,
            Operations=["Encrypt", "RetireGrant"],
        )
        for arn in (denied_arn, allowed_arn)
    }
    # Then the user whose IAM policy denies kms:RetireGrant may not retire its grant
    assert _code(denied.retire_grant, GrantToken=grants[denied_arn]["GrantToken"]) == (
        "AccessDeniedException"
    )
    # While a user with no policy at all retires its own, as the grant allows
    allowed.retire_grant(GrantToken=grants[allowed_arn]["GrantToken"])
    remaining = kms.list_grants(KeyId=key_id)["Grants"]
    assert [g["GrantId"] for g in remaining] == [grants[denied_arn]["GrantId"]]


def test_create_grant_with_the_name_and_parameters_of_a_grant_returns_it(
    server: HeraldProcess, kms: Any, key: dict[str, Any]
) -> None:
    key_id = key["KeyId"]
    arn, grantee = _user(server)
    asked = {"KeyId": key_id, "GranteePrincipal": arn, "Operations": ["Encrypt", "Decrypt"]}
    first = kms.create_grant(**asked, RetiringPrincipal=arn, Name="orders")
    # When the same request is made again, Then the grant is the same, its token new
    again = kms.create_grant(**asked, RetiringPrincipal=arn, Name="orders")
    assert again["GrantId"] == first["GrantId"] and again["GrantToken"] != first["GrantToken"]
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == [first["GrantId"]]
    # And a request with the same name but other parameters makes a grant of its own
    other = kms.create_grant(**{**asked, "Operations": ["Encrypt"]}, Name="orders")
    assert other["GrantId"] != first["GrantId"]
    assert len(kms.list_grants(KeyId=key_id)["Grants"]) == 2
    # And a token made up from the grant's ids, with or without a MAC, finds nothing
    nonce, _, _, mac = again["GrantToken"].split(".")
    for forged in (
        f"made-up.{key_id}.{first['GrantId']}",
        f"made-up.{key_id}.{first['GrantId']}.{mac}",
        f"{nonce}.{key_id}.{first['GrantId']}.{'0' * len(mac)}",
    ):
        assert _code(grantee.retire_grant, GrantToken=forged) == "ValidationException"
    # And either genuine token retires the grant
    grantee.retire_grant(GrantToken=again["GrantToken"])
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == [other["GrantId"]]


# -- validation messages -----------------------------------------------------------------


@pytest.mark.parametrize("spec", ["HMAC_256", "RSA_2048"])
def test_keys_other_than_symmetric_need_a_key_usage(kms: Any, spec: str) -> None:
    assert _error(kms.create_key, KeySpec=spec) == (
        "ValidationException",
        400,
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    )


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (None, "NumberOfBytes is required."),
        (0, "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"),
        (1025, "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
               "constraint: Member must have value less than or equal to 1024"),
    ],
)  # fmt: skip
def test_number_of_bytes_messages_are_aws_s(
    raw_kms: Any, key: dict[str, Any], size: int | None, message: str
) -> None:
    params = {} if size is None else {"NumberOfBytes": size}
    assert _error(raw_kms.generate_random, **params) == ("ValidationException", 400, message)
    if size is not None:
        assert _error(raw_kms.generate_data_key, KeyId=key["KeyId"], NumberOfBytes=size) == (
            "ValidationException",
            400,
            message,
        )


def test_a_plaintext_over_4096_bytes_is_refused_in_aws_words(
    raw_kms: Any, key: dict[str, Any]
) -> None:
    assert _error(raw_kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x" * 4097) == (
        "ValidationException",
        400,
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096",
    )
