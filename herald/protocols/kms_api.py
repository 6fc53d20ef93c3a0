"""The key service over the AWS JSON 1.1 protocol (TrentService.*): one small function per
operation, shapes from botocore's KMS model (kms/2014-11-01)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from herald.errors import DryRunSucceeded, InvalidParameter, UnsupportedOperation, ValidationFailed
from herald.kms import crypto
from herald.kms.crypto import Crypto
from herald.kms.gate import Gate
from herald.kms.grants import DRY_RUN, Grants
from herald.kms.keys import KeyRecord, KeyState
from herald.kms.service import REFUSED, KMSService
from herald.protocols.json import Params, blob
from herald.store.base_kms import GrantRecord
from herald.types import RequestContext

TARGET_PREFIX = "TrentService"
T = TypeVar("T")
Result = dict[str, Any]


@dataclass(frozen=True)
class KMS:
    keys: KMSService
    crypto: Crypto
    gate: Gate
    grants: Grants


Handler = Callable[[KMS, RequestContext, Params], Awaitable[Result]]


def metadata(key: KeyRecord) -> Result:
    shape: Result = {
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.created_at,
        "Enabled": key.state is KeyState.ENABLED,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state.value,
        "Origin": key.origin,
        "KeyManager": key.manager.value,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "EncryptionAlgorithms": [crypto.ALGORITHM],
        "MultiRegion": False,
    }
    if key.deletion_date is not None:
        shape["DeletionDate"] = key.deletion_date
        shape["PendingDeletionWindowInDays"] = key.pending_window_days
    return shape


def _page(p: Params, items: Sequence[T], key: Callable[[T], str], name: str,
          render: Callable[[T], Any], limits: tuple[int, int] = (1000, 100)) -> Result:  # fmt: skip
    """A page of a list; ``limits`` is (largest Limit, default Limit) of the operation."""
    limit = p.integer("Limit")
    if limit is not None and not 1 <= limit <= limits[0]:
        raise ValidationFailed(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            f"constraint: Member must have value between 1 and {limits[0]}"
        )
    limit = limit or limits[1]
    marker = p.string("Marker")
    start = 0
    if marker is not None:
        try:
            after = base64.urlsafe_b64decode(marker.encode("ascii")).decode()
        except (UnicodeError, binascii.Error, ValueError):
            raise InvalidParameter("Invalid marker.") from None
        if not after or base64.urlsafe_b64encode(after.encode()).decode() != marker:
            raise InvalidParameter("Invalid marker.")
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    chosen = items[start : start + limit]
    result: Result = {name: [render(i) for i in chosen], "Truncated": start + limit < len(items)}
    if result["Truncated"]:
        result["NextMarker"] = base64.urlsafe_b64encode(key(chosen[-1]).encode()).decode()
    return result


# -- keys --------------------------------------------------------------------------------


async def create_key(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    key = await kms.keys.create_key(
        ctx,
        description=p.string("Description"),
        key_usage=p.string("KeyUsage"),
        key_spec=p.string("KeySpec") or p.string("CustomerMasterKeySpec"),
        origin=p.string("Origin"),
        policy=p.string("Policy"),
        bypass_lockout_check=p.boolean("BypassPolicyLockoutSafetyCheck"),
        tags=p.tags(),
        multi_region=p.boolean("MultiRegion"),
        custom_key_store=p.string("CustomKeyStoreId"),
    )
    return {"KeyMetadata": metadata(key)}


async def describe_key(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    return {"KeyMetadata": metadata(await kms.keys.describe(ctx, p.string("KeyId")))}


async def list_keys(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    keys = await kms.keys.list_keys(ctx)
    return _page(
        p, keys, lambda k: k.key_id, "Keys", lambda k: {"KeyId": k.key_id, "KeyArn": k.arn}
    )


async def update_key_description(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.update_description(ctx, p.string("KeyId"), p.string("Description"))
    return {}


async def enable_key(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.enable(ctx, p.string("KeyId"))
    return {}


async def disable_key(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.disable(ctx, p.string("KeyId"))
    return {}


async def schedule_key_deletion(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    key = await kms.keys.schedule_deletion(ctx, p.string("KeyId"), p.integer("PendingWindowInDays"))
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": key.state.value,
        "PendingWindowInDays": key.pending_window_days,
    }


async def cancel_key_deletion(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    key = await kms.keys.cancel_deletion(ctx, p.string("KeyId"))
    return {"KeyId": key.arn}


# -- aliases -----------------------------------------------------------------------------


async def create_alias(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.create_alias(ctx, p.string("AliasName"), p.string("TargetKeyId"))
    return {}


async def update_alias(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.update_alias(ctx, p.string("AliasName"), p.string("TargetKeyId"))
    return {}


async def delete_alias(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.delete_alias(ctx, p.string("AliasName"))
    return {}


async def list_aliases(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    aliases = await kms.keys.list_aliases(ctx, p.string("KeyId"))
    return _page(
        p,
        aliases,
        lambda a: a.name,
        "Aliases",
        limits=(100, 50),
        render=lambda a: {
            "AliasName": a.name,
            "AliasArn": a.arn,
            "TargetKeyId": a.key_id,
            "CreationDate": a.created_at,
            "LastUpdatedDate": a.updated_at,
        },
    )


# -- policies, tags, rotation ------------------------------------------------------------


async def get_key_policy(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    text = await kms.keys.get_policy(ctx, p.string("KeyId"), p.string("PolicyName"))
    return {"Policy": text, "PolicyName": "default"}


async def put_key_policy(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.put_policy(
        ctx,
        p.string("KeyId"),
        p.string("PolicyName"),
        p.string("Policy"),
        p.boolean("BypassPolicyLockoutSafetyCheck"),
    )
    return {}


async def list_key_policies(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    return {
        "PolicyNames": await kms.keys.list_policies(ctx, p.string("KeyId")),
        "Truncated": False,
    }


async def tag_resource(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.tag(ctx, p.string("KeyId"), p.tags())
    return {}


async def untag_resource(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.untag(ctx, p.string("KeyId"), p.strings("TagKeys"))
    return {}


async def list_resource_tags(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    tags = sorted((await kms.keys.list_tags(ctx, p.string("KeyId"))).items())
    return _page(
        p, tags, lambda t: t[0], "Tags", lambda t: {"TagKey": t[0], "TagValue": t[1]}, (50, 50)
    )


async def enable_key_rotation(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.enable_rotation(ctx, p.string("KeyId"), p.integer("RotationPeriodInDays"))
    return {}


async def disable_key_rotation(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.disable_rotation(ctx, p.string("KeyId"))
    return {}


async def get_key_rotation_status(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    key = await kms.keys.rotation_status(ctx, p.string("KeyId"))
    result: Result = {"KeyRotationEnabled": key.rotation_period_days is not None}
    result["KeyId"] = key.key_id
    if key.rotation_period_days is not None:
        result["RotationPeriodInDays"] = key.rotation_period_days
        result["NextRotationDate"] = key.next_rotation
    return result


async def rotate_key_on_demand(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    key = await kms.keys.rotate_now(ctx, p.string("KeyId"))
    # AWS answers the key ARN here (LocalStack's test_rotate_on_demand_returns_arn_for_key_id,
    # recorded against AWS).
    return {"KeyId": key.arn}


async def list_key_rotations(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    key, versions = await kms.keys.rotations(ctx, p.string("KeyId"))
    return _page(
        p,
        versions,
        lambda v: f"{v.version:010d}",
        "Rotations",
        lambda v: {
            "KeyId": key.key_id,
            "RotationDate": v.created_at,
            "RotationType": "ON_DEMAND" if v.on_demand else "AUTOMATIC",
        },
    )


# -- cryptographic operations ------------------------------------------------------------


def _required_blob(p: Params, name: str) -> bytes:
    value = p.blob(name)
    if value is None:
        raise ValidationFailed(
            f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' "
            "failed to satisfy constraint: Member must not be null"
        )
    return value


async def encrypt(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    sealed = await kms.crypto.encrypt(
        ctx,
        p.string("KeyId"),
        _required_blob(p, "Plaintext"),
        p.string_map("EncryptionContext"),
        p.string("EncryptionAlgorithm"),
    )
    return {
        "CiphertextBlob": blob(sealed.blob),
        "KeyId": sealed.key.arn,
        "EncryptionAlgorithm": crypto.ALGORITHM,
    }


async def decrypt(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    opened = await kms.crypto.decrypt(
        ctx,
        _required_blob(p, "CiphertextBlob"),
        p.string_map("EncryptionContext"),
        p.string("KeyId"),
        p.string("EncryptionAlgorithm"),
    )
    return {
        "KeyId": opened.key.arn,
        "Plaintext": blob(opened.plaintext),
        "EncryptionAlgorithm": crypto.ALGORITHM,
    }


async def re_encrypt(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    sealed, source = await kms.crypto.re_encrypt(
        ctx,
        _required_blob(p, "CiphertextBlob"),
        p.string_map("SourceEncryptionContext"),
        p.string("SourceKeyId"),
        p.string("DestinationKeyId"),
        p.string_map("DestinationEncryptionContext"),
    )
    return {
        "CiphertextBlob": blob(sealed.blob),
        "SourceKeyId": source.arn,
        "KeyId": sealed.key.arn,
        "SourceEncryptionAlgorithm": crypto.ALGORITHM,
        "DestinationEncryptionAlgorithm": crypto.ALGORITHM,
    }


async def generate_data_key(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    data_key = await kms.crypto.generate_data_key(
        ctx,
        p.string("KeyId"),
        p.string_map("EncryptionContext"),
        p.string("KeySpec"),
        p.integer("NumberOfBytes"),
    )
    return {
        "CiphertextBlob": blob(data_key.blob),
        "Plaintext": blob(data_key.plaintext),
        "KeyId": data_key.key.arn,
    }


async def generate_data_key_without_plaintext(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    data_key = await kms.crypto.generate_data_key(
        ctx,
        p.string("KeyId"),
        p.string_map("EncryptionContext"),
        p.string("KeySpec"),
        p.integer("NumberOfBytes"),
        with_plaintext=False,
    )
    return {"CiphertextBlob": blob(data_key.blob), "KeyId": data_key.key.arn}


async def generate_random(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.access.authorize_account(ctx, "GenerateRandom")
    return {"Plaintext": blob(crypto.generate_random(p.integer("NumberOfBytes")))}


# -- grants ------------------------------------------------------------------------------


def _grant(key_arn: str, grant: GrantRecord) -> Result:
    shape: Result = {
        "KeyId": key_arn,
        "GrantId": grant.grant_id,
        "CreationDate": grant.created_at,
        "GranteePrincipal": grant.grantee_principal,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
    }
    if grant.name is not None:
        shape["Name"] = grant.name
    if grant.retiring_principal is not None:
        shape["RetiringPrincipal"] = grant.retiring_principal
    if grant.constraints:
        shape["Constraints"] = dict(grant.constraints)
    return shape


async def create_grant(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    grant_id, token = await kms.grants.create(
        ctx,
        p.string("KeyId"),
        p.string("GranteePrincipal"),
        p.strings("Operations"),
        p.string("RetiringPrincipal"),
        p.raw.get("Constraints"),
        p.string("Name"),
        p.boolean("DryRun"),
    )
    return {"GrantToken": token, "GrantId": grant_id}


async def list_grants(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    key, grants = await kms.grants.list_grants(
        ctx, p.string("KeyId"), p.string("GrantId"), p.string("GranteePrincipal")
    )
    return _page(p, grants, lambda g: f"{g.created_at:020.6f}{g.grant_id}", "Grants",
                 lambda g: _grant(key.arn, g), limits=(100, 50))  # fmt: skip


async def list_retirable_grants(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    grants = await kms.grants.retirable(ctx, p.string("RetiringPrincipal"))
    arns = {g.key_id: await kms.grants.key_arn(g.key_id) for g in grants}

    def render(g: GrantRecord) -> Result:
        return _grant(arns[g.key_id], g)

    return _page(p, grants, lambda g: f"{g.created_at:020.6f}{g.grant_id}", "Grants", render,
                 limits=(100, 50))  # fmt: skip


async def retire_grant(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.grants.retire(
        ctx, p.string("GrantToken"), p.string("KeyId"), p.string("GrantId"), p.boolean("DryRun")
    )
    return {}


async def revoke_grant(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.grants.revoke(ctx, p.string("KeyId"), p.string("GrantId"), p.boolean("DryRun"))
    return {}


# -- what Herald's keys cannot do --------------------------------------------------------


def _refused(name: str) -> Handler:
    """An operation Herald's keys cannot do (``KMSService.refuse``)."""

    async def handler(kms: KMS, ctx: RequestContext, p: Params) -> Result:
        await kms.keys.refuse(ctx, p.string("KeyId"), name)

    return handler


async def describe_custom_key_stores(kms: KMS, ctx: RequestContext, p: Params) -> Result:
    await kms.keys.describe_custom_key_stores(
        ctx, p.string("CustomKeyStoreId"), p.string("CustomKeyStoreName")
    )
    return {"CustomKeyStores": [], "Truncated": False}


# -- dispatch ----------------------------------------------------------------------------

# DryRun (botocore's model; "Testing your permissions" in the KMS developer guide). The
# cryptographic operations change nothing, so a dry run is the whole operation, every
# check made, with its answer withheld; the grant operations are told and stop before
# they write; the operations Herald cannot do (REFUSED) refuse either way. Dry runs are
# requests like others for the quotas, counters and audit trail, as AWS bills them and
# counts them against its quotas.
_DRY_RUN_WITHHELD = frozenset(
    {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"}
)
_DRY_RUN_TOLD = frozenset({"CreateGrant", "RetireGrant", "RevokeGrant"})
_DRY_RUNS = _DRY_RUN_WITHHELD | _DRY_RUN_TOLD | REFUSED.keys()


def _gated(name: str, handler: Handler) -> Handler:
    async def run(kms: KMS, ctx: RequestContext, p: Params) -> Result:
        dry_run = p.boolean("DryRun")
        if dry_run and name not in _DRY_RUNS:
            raise UnsupportedOperation(f"{name} does not take DryRun.")
        if dry_run and p.raw.get("DryRunModifiers"):
            # IGNORE_CIPHERTEXT asks for the authorization alone, without the ciphertext.
            raise UnsupportedOperation("Herald does not support DryRunModifiers yet.")

        async def call() -> Result:
            result = await handler(kms, ctx, p)
            if dry_run and name in _DRY_RUN_WITHHELD:
                raise DryRunSucceeded(DRY_RUN, resource=result.get("KeyId"))
            return result

        return await kms.gate.run(ctx, name, p.raw, call)

    return run


_HANDLERS: dict[str, Handler] = {
    "CreateKey": create_key,
    "DescribeKey": describe_key,
    "ListKeys": list_keys,
    "UpdateKeyDescription": update_key_description,
    "EnableKey": enable_key,
    "DisableKey": disable_key,
    "ScheduleKeyDeletion": schedule_key_deletion,
    "CancelKeyDeletion": cancel_key_deletion,
    "CreateAlias": create_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
    "GetKeyPolicy": get_key_policy,
    "PutKeyPolicy": put_key_policy,
    "ListKeyPolicies": list_key_policies,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListResourceTags": list_resource_tags,
    "EnableKeyRotation": enable_key_rotation,
    "DisableKeyRotation": disable_key_rotation,
    "GetKeyRotationStatus": get_key_rotation_status,
    "RotateKeyOnDemand": rotate_key_on_demand,
    "ListKeyRotations": list_key_rotations,
    "Encrypt": encrypt,
    "Decrypt": decrypt,
    "ReEncrypt": re_encrypt,
    "GenerateDataKey": generate_data_key,
    "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
    "GenerateRandom": generate_random,
    "CreateGrant": create_grant,
    "ListGrants": list_grants,
    "ListRetirableGrants": list_retirable_grants,
    "RetireGrant": retire_grant,
    "RevokeGrant": revoke_grant,
    "DescribeCustomKeyStores": describe_custom_key_stores,
    **{name: _refused(name) for name in REFUSED},
}

ACTIONS: dict[str, Handler] = {name: _gated(name, h) for name, h in _HANDLERS.items()}
