"""Key management: creating keys, their life cycle (enable, disable, scheduled deletion),
aliases, key policies, tags and rotation, with AWS KMS's rules and errors.

Times are epoch seconds. A key's backing keys are made here, wrapped by the root key
before they reach the store, and destroyed when a scheduled deletion falls due (``tick``).
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import NoReturn

from herald.clock import Clock
from herald.errors import (
    AlreadyExists,
    CallerFault,
    Conflict,
    CustomKeyStoreNotFound,
    InvalidAliasName,
    InvalidKeyUsage,
    LimitExceeded,
    MalformedPolicy,
    NotFound,
    TagFault,
    UnsupportedOperation,
    ValidationFailed,
)
from herald.kms import _aead
from herald.kms import policy as key_policy
from herald.kms.access import KeyAccess
from herald.kms.keys import AliasRecord, KeyManager, KeyRecord, KeyState, Use, require_state
from herald.kms.rootkey import RootKey
from herald.store.base import Store
from herald.store.base_kms import WrappedVersion
from herald.types import RequestContext

DAY = 86400.0
MAX_ALIASES = 10_000
MAX_TAGS = 50
# "You can perform on-demand key rotation a maximum of 25 times per KMS key"
# (RotateKeyOnDemand in botocore's kms/2014-11-01 model; older recordings show 10).
MAX_ON_DEMAND_ROTATIONS = 25
ROTATION_ATTEMPTS = 10  # of one on-demand rotation, against other nodes' of the same key
_ALIAS = re.compile(r"alias/[a-zA-Z0-9:/_-]{1,250}")
_SYMMETRIC = "SYMMETRIC_DEFAULT"
_KEY_SPECS = (
    "RSA_2048 RSA_3072 RSA_4096 ECC_NIST_P256 ECC_NIST_P384 ECC_NIST_P521 ECC_SECG_P256K1 "
    "SYMMETRIC_DEFAULT HMAC_224 HMAC_256 HMAC_384 HMAC_512 SM2 ML_DSA_44 ML_DSA_65 ML_DSA_87"
).split()
_USAGES = ("SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT")
_ORIGINS = ("AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")


class KMSService:
    def __init__(self, store: Store, clock: Clock, access: KeyAccess, root: RootKey) -> None:
        self._store = store
        self._clock = clock
        self.access = access
        self._root = root
        self._rotating: dict[str, asyncio.Lock] = {}

    # -- keys --------------------------------------------------------------------------

    async def create_key(
        self,
        ctx: RequestContext,
        *,
        description: str | None,
        key_usage: str | None,
        key_spec: str | None,
        origin: str | None,
        policy: str | None,
        bypass_lockout_check: bool,
        tags: Sequence[tuple[str | None, str | None]],
        multi_region: bool,
        custom_key_store: str | None = None,
    ) -> KeyRecord:
        """A new symmetric encryption key (SYMMETRIC_DEFAULT, AES-256-GCM).

        Raises ValidationFailed, CustomKeyStoreNotFound (Herald has no custom key stores),
        UnsupportedOperation (other key specs, origins, multi-Region keys),
        MalformedPolicy, TagFault, AccessDenied.
        """
        _tag_shapes(tags)
        spec = _enum("keySpec", key_spec or _SYMMETRIC, _KEY_SPECS)
        usage = _enum("keyUsage", key_usage or "ENCRYPT_DECRYPT", _USAGES)
        origin = _enum("origin", origin or "AWS_KMS", _ORIGINS)
        if spec != _SYMMETRIC and key_usage is None:
            raise ValidationFailed(
                "You must specify a KeyUsage value for all KMS keys except for symmetric "
                "encryption keys."
            )
        if custom_key_store is not None:
            raise CustomKeyStoreNotFound(f"Custom key store '{custom_key_store}' does not exist.")
        if spec != _SYMMETRIC:
            raise UnsupportedOperation(f"Herald supports only SYMMETRIC_DEFAULT keys, not {spec}.")
        if usage != "ENCRYPT_DECRYPT":
            raise ValidationFailed(f"KeyUsage {usage} is not compatible with KeySpec {spec}")
        if origin != "AWS_KMS":
            raise UnsupportedOperation(
                f"Herald supports only keys of origin AWS_KMS, not {origin}."
            )
        if multi_region:
            raise UnsupportedOperation("Herald does not support multi-Region keys.")
        account = ctx.principal.account_id
        text = policy if policy is not None else key_policy.default_policy(account)
        key_policy.checked(text)
        await self.access.authorize_account(ctx, "CreateKey")
        key_id = str(uuid.uuid4())
        arn = f"arn:aws:kms:{ctx.region}:{account}:key/{key_id}"
        if policy is not None and not bypass_lockout_check:
            await self._lockout_check(ctx, arn, account, text)
        key = KeyRecord(
            key_id=key_id,
            account_id=account,
            region=ctx.region,
            arn=arn,
            description=_description(description),
            key_usage=usage,
            key_spec=spec,
            origin=origin,
            manager=KeyManager.CUSTOMER,
            state=KeyState.ENABLED,
            policy=text,
            created_at=self._clock.now(),
            deletion_date=None,
            pending_window_days=None,
            rotation_period_days=None,
            next_rotation=None,
            tags=_tags(tags),
        )
        await self._store.create_key(key, self._new_version(key_id, 1, on_demand=False))
        return key

    async def managed_key(self, account: str, region: str, service: str) -> KeyRecord:
        """The AWS managed key alias/aws/<service> of the account and region, created the
        first time a service asks for it."""
        name = f"alias/aws/{service}"
        alias = await self._store.get_alias(account, region, name)
        if alias is not None:
            key = await self._store.get_key(alias.key_id)
            if key is not None:
                return key
        key_id = str(uuid.uuid4())
        now = self._clock.now()
        key = KeyRecord(
            key_id=key_id,
            account_id=account,
            region=region,
            arn=f"arn:aws:kms:{region}:{account}:key/{key_id}",
            description=f"Default key that protects my {service.upper()} data when no other "
            "key is defined",
            key_usage="ENCRYPT_DECRYPT",
            key_spec=_SYMMETRIC,
            origin="AWS_KMS",
            manager=KeyManager.AWS,
            state=KeyState.ENABLED,
            policy=key_policy.managed_policy(account, region, service),
            created_at=now,
            deletion_date=None,
            pending_window_days=None,
            rotation_period_days=365,
            next_rotation=now + 365 * DAY,
            tags={},
        )
        await self._store.create_key(key, self._new_version(key_id, 1, on_demand=False))
        record = AliasRecord(account, region, name, key_id, now, now)
        created = await self._store.create_alias(record, MAX_ALIASES + 1)
        self.access.forget_aliases()
        if not created:
            # Another request made it first: use theirs, drop ours.
            await self._store.delete_key(key_id)
            return await self.managed_key(account, region, service)
        return key

    async def describe(self, ctx: RequestContext, reference: str | None) -> KeyRecord:
        """The key's metadata. DescribeKey on a predefined AWS alias (alias/aws/sns) creates
        the AWS managed key when it does not exist yet, as AWS does."""
        try:
            key = await self.access.resolve(ctx, reference)
        except NotFound:
            service = _predefined_service(ctx, reference)
            if service is None:
                raise
            key = await self.managed_key(ctx.principal.account_id, ctx.region, service)
        await self.access.authorize(ctx, "DescribeKey", key)
        return key

    async def list_keys(self, ctx: RequestContext) -> list[KeyRecord]:
        await self.access.authorize_account(ctx, "ListKeys")
        return await self._store.list_keys(ctx.principal.account_id, ctx.region)

    async def update_description(
        self, ctx: RequestContext, reference: str | None, description: str | None
    ) -> None:
        key = await self._customer_key(ctx, reference, "UpdateKeyDescription", Use.MANAGE)
        await self._update(key.key_id, {"description": _description(description)})

    async def enable(self, ctx: RequestContext, reference: str | None) -> None:
        key = await self._customer_key(ctx, reference, "EnableKey", Use.MANAGE)
        await self._update(key.key_id, {"state": KeyState.ENABLED})

    async def disable(self, ctx: RequestContext, reference: str | None) -> None:
        key = await self._customer_key(ctx, reference, "DisableKey", Use.MANAGE)
        await self._update(key.key_id, {"state": KeyState.DISABLED})

    async def schedule_deletion(
        self, ctx: RequestContext, reference: str | None, days: int | None
    ) -> KeyRecord:
        """Pending deletion for ``days`` (7 to 30, default 30); the key material is
        destroyed when the date passes."""
        window = 30 if days is None else days
        if not 7 <= window <= 30:
            raise ValidationFailed(
                f"1 validation error detected: Value '{window}' at 'pendingWindowInDays' "
                "failed to satisfy constraint: Member must have value "
                + ("greater than or equal to 7" if window < 7 else "less than or equal to 30")
            )
        key = await self._customer_key(ctx, reference, "ScheduleKeyDeletion", Use.SCHEDULE)
        return await self._update(
            key.key_id,
            {
                "state": KeyState.PENDING_DELETION,
                "deletion_date": self._clock.now() + window * DAY,
                "pending_window_days": window,
            },
        )

    async def cancel_deletion(self, ctx: RequestContext, reference: str | None) -> KeyRecord:
        """The key becomes Disabled, as in AWS."""
        key = await self._customer_key(ctx, reference, "CancelKeyDeletion", Use.CANCEL)
        return await self._update(
            key.key_id,
            {"state": KeyState.DISABLED, "deletion_date": None, "pending_window_days": None},
        )

    async def tick(self) -> list[str]:
        """Destroy keys whose deletion date has passed and rotate keys that are due; the
        ids of the keys destroyed. Called periodically by the server."""
        now = self._clock.now()
        destroyed = []
        for key in await self._store.keys_due(now):
            if key.state is KeyState.PENDING_DELETION and key.deletion_date is not None:
                if key.deletion_date <= now:
                    await self._store.delete_key(key.key_id)
                    self.access.forget(key.key_id)
                    self.access.forget_aliases()
                    destroyed.append(key.key_id)
            elif (
                key.next_rotation is not None
                and key.next_rotation <= now
                and key.state is KeyState.ENABLED
            ):
                await self._rotate(key, on_demand=False)
        return destroyed

    # -- aliases -----------------------------------------------------------------------

    async def create_alias(self, ctx: RequestContext, name: str | None, target: str | None) -> None:
        name = _alias_name(name)
        key = await self._alias_target(ctx, target)
        alias_arn = f"arn:aws:kms:{ctx.region}:{ctx.principal.account_id}:{name}"
        # Both the alias (IAM) and the key (its key policy) must allow CreateAlias.
        await self.access.authorize_alias(ctx, "CreateAlias", alias_arn)
        await self.access.authorize(ctx, "CreateAlias", key)
        now = self._clock.now()
        record = AliasRecord(ctx.principal.account_id, ctx.region, name, key.key_id, now, now)
        created = await self._store.create_alias(record, MAX_ALIASES)
        self.access.forget_aliases()
        if not created:
            raise AlreadyExists(f"An alias with the name {record.arn} already exists")

    async def update_alias(self, ctx: RequestContext, name: str | None, target: str | None) -> None:
        name = _alias_name(name)
        account = ctx.principal.account_id
        alias = await self._store.get_alias(account, ctx.region, name)
        if alias is None:
            raise NotFound(f"Alias arn:aws:kms:{ctx.region}:{account}:{name} is not found.")
        key = await self._alias_target(ctx, target)
        # UpdateAlias needs permission on the alias, the key it leaves and the key it joins.
        await self.access.authorize_alias(ctx, "UpdateAlias", alias.arn)
        current = await self._store.get_key(alias.key_id)
        if current is not None:
            await self.access.authorize(ctx, "UpdateAlias", current)
        await self.access.authorize(ctx, "UpdateAlias", key)
        await self._store.retarget_alias(account, ctx.region, name, key.key_id, self._clock.now())
        self.access.forget_aliases()

    async def delete_alias(self, ctx: RequestContext, name: str | None) -> None:
        name = _alias_name(name)
        account = ctx.principal.account_id
        alias = await self._store.get_alias(account, ctx.region, name)
        if alias is None:
            raise NotFound(f"Alias arn:aws:kms:{ctx.region}:{account}:{name} is not found.")
        await self.access.authorize_alias(ctx, "DeleteAlias", alias.arn)
        key = await self._store.get_key(alias.key_id)
        if key is not None:
            await self.access.authorize(ctx, "DeleteAlias", key)
        await self._store.delete_alias(account, ctx.region, name)
        self.access.forget_aliases()

    async def list_aliases(self, ctx: RequestContext, reference: str | None) -> list[AliasRecord]:
        key_id = None
        if reference is not None:
            key = await self.access.resolve(ctx, reference)
            await self.access.authorize(ctx, "ListAliases", key)
            key_id = key.key_id
        else:
            await self.access.authorize_account(ctx, "ListAliases")
        return await self._store.list_aliases(ctx.principal.account_id, ctx.region, key_id)

    async def _alias_target(self, ctx: RequestContext, target: str | None) -> KeyRecord:
        if target is None or target.startswith("alias/") or ":alias/" in target:
            raise NotFound("An alias can only point to a key, named by its key id or key ARN.")
        key = await self.access.resolve(ctx, target)
        if key.account_id != ctx.principal.account_id:
            raise NotFound(f"Key '{key.arn}' does not exist")
        if key.manager is KeyManager.AWS:
            raise UnsupportedOperation(f"{key.arn} is an AWS managed key; it cannot be aliased.")
        require_state(key.arn, key.state, Use.MANAGE)
        return key

    # -- policies and tags -------------------------------------------------------------

    async def get_policy(self, ctx: RequestContext, reference: str | None, name: str | None) -> str:
        key = await self.access.resolve(ctx, reference)
        _policy_name(name)
        await self.access.authorize(ctx, "GetKeyPolicy", key)
        return key.policy

    async def list_policies(self, ctx: RequestContext, reference: str | None) -> list[str]:
        key = await self.access.resolve(ctx, reference)
        await self.access.authorize(ctx, "ListKeyPolicies", key)
        return ["default"]

    async def put_policy(
        self,
        ctx: RequestContext,
        reference: str | None,
        name: str | None,
        text: str | None,
        bypass_lockout_check: bool,
    ) -> None:
        """Raises MalformedPolicy (also when the policy would lock the caller out)."""
        _policy_name(name)
        key = await self._customer_key(ctx, reference, "PutKeyPolicy", Use.MANAGE)
        document, _ = key_policy.checked(text)
        if not bypass_lockout_check:
            await self._lockout_check(ctx, key.arn, key.account_id, document)
        await self._update(key.key_id, {"policy": document})

    async def tag(
        self,
        ctx: RequestContext,
        reference: str | None,
        tags: Sequence[tuple[str | None, str | None]],
    ) -> None:
        _tag_shapes(tags)
        key = await self._customer_key(ctx, reference, "TagResource", Use.MANAGE)
        merged = {**key.tags, **_tags(tags)}
        if len(merged) > MAX_TAGS:
            raise TagFault("Too many tags")
        await self._update(key.key_id, {"tags": merged})

    async def untag(self, ctx: RequestContext, reference: str | None, keys: Sequence[str]) -> None:
        key = await self._customer_key(ctx, reference, "UntagResource", Use.MANAGE)
        remaining = {k: v for k, v in key.tags.items() if k not in set(keys)}
        await self._update(key.key_id, {"tags": remaining})

    async def list_tags(self, ctx: RequestContext, reference: str | None) -> Mapping[str, str]:
        key = await self.access.resolve(ctx, reference)
        await self.access.authorize(ctx, "ListResourceTags", key)
        return key.tags

    # -- rotation ----------------------------------------------------------------------

    async def enable_rotation(
        self, ctx: RequestContext, reference: str | None, period_days: int | None
    ) -> None:
        """Rotate every ``period_days`` (90 to 2,560, default 365)."""
        period = 365 if period_days is None else period_days
        if not 90 <= period <= 2560:
            raise ValidationFailed(
                f"1 validation error detected: Value '{period}' at 'rotationPeriodInDays' "
                "failed to satisfy constraint: Member must have value "
                + ("greater than or equal to 90" if period < 90 else "less than or equal to 2560")
            )
        key = await self._customer_key(ctx, reference, "EnableKeyRotation", Use.ROTATE)
        await self._update(
            key.key_id,
            {"rotation_period_days": period, "next_rotation": self._clock.now() + period * DAY},
        )

    async def disable_rotation(self, ctx: RequestContext, reference: str | None) -> None:
        key = await self._customer_key(ctx, reference, "DisableKeyRotation", Use.ROTATE)
        await self._update(key.key_id, {"rotation_period_days": None, "next_rotation": None})

    async def rotation_status(self, ctx: RequestContext, reference: str | None) -> KeyRecord:
        key = await self.access.resolve(ctx, reference)
        await self.access.authorize(ctx, "GetKeyRotationStatus", key)
        return key

    async def rotate_now(self, ctx: RequestContext, reference: str | None) -> KeyRecord:
        """A new backing key now. Raises LimitExceeded after MAX_ON_DEMAND_ROTATIONS."""
        key = await self._customer_key(ctx, reference, "RotateKeyOnDemand", Use.ROTATE)
        await self._rotate(key, on_demand=True)
        return key

    async def rotations(
        self, ctx: RequestContext, reference: str | None
    ) -> tuple[KeyRecord, list[WrappedVersion]]:
        """The key and its rotations (every backing key after the first)."""
        key = await self.access.resolve(ctx, reference)
        await self.access.authorize(ctx, "ListKeyRotations", key)
        return key, (await self._store.key_versions(key.key_id))[1:]

    async def _rotate(self, key: KeyRecord, on_demand: bool) -> None:
        # One rotation of a key at a time on this node; _rotate_once settles races with
        # other nodes.
        lock = self._rotating.setdefault(key.key_id, asyncio.Lock())
        try:
            async with lock:
                await self._rotate_once(key, on_demand)
        finally:
            if not lock.locked():
                self._rotating.pop(key.key_id, None)

    async def _rotate_once(self, key: KeyRecord, on_demand: bool) -> None:
        """A new backing key for ``key``. Its version number is read, then written in a
        transaction that checks it is still the next (rotations of one key on several
        nodes): an on-demand rotation that loses the race is made again with the next
        number, and counted against the limit again; a scheduled one that another node
        made first is not made twice."""
        for _ in range(ROTATION_ATTEMPTS):
            versions = await self._store.key_versions(key.key_id)
            if on_demand and sum(v.on_demand for v in versions) >= MAX_ON_DEMAND_ROTATIONS:
                raise LimitExceeded(
                    "The on-demand rotations limit has been reached for the given keyId. No "
                    f"more on-demand rotations can be performed for this key: {key.arn}",
                    resource=key.arn,
                )
            number = versions[-1].version + 1 if versions else 1
            next_rotation = key.next_rotation  # an on-demand rotation leaves it
            if not on_demand and key.rotation_period_days is not None:
                next_rotation = self._clock.now() + key.rotation_period_days * DAY
            added = await self._store.add_key_version(
                self._new_version(key.key_id, number, on_demand),
                next_rotation,
                due_at=None if on_demand else key.next_rotation,
                max_on_demand=MAX_ON_DEMAND_ROTATIONS,
            )
            if added:
                self.access.forget(key.key_id)
            if added or not on_demand:
                return
            # A random pause, so that nodes rotating the same key in step fall out of it.
            await asyncio.sleep(random.uniform(0.001, 0.02))
        raise Conflict(f"Too many rotations of {key.arn} at once; retry the request.")

    # -- what Herald's keys cannot do --------------------------------------------------

    async def refuse(self, ctx: RequestContext, reference: str | None, action: str) -> NoReturn:
        """An operation of REFUSED: once the key is found and the caller allowed, the
        refusal AWS gives for a symmetric encryption key of origin AWS_KMS (every Herald
        key), or for GenerateDataKeyPair*, which such a key supports, Herald's own."""
        key = await self.access.resolve(ctx, reference)
        await self.access.authorize(ctx, action, key)
        error, text = REFUSED[action]
        raise error(
            text.format(arn=key.arn, usage=key.key_usage, origin=key.origin, action=action),
            resource=key.arn,
        )

    async def describe_custom_key_stores(
        self, ctx: RequestContext, store_id: str | None, name: str | None
    ) -> None:
        """Herald has no custom key stores: a caller allowed to list them lists none, and
        one that names a store gets CustomKeyStoreNotFound."""
        await self.access.authorize_account(ctx, "DescribeCustomKeyStores")
        if store_id is not None or name is not None:
            raise CustomKeyStoreNotFound(f"Custom key store '{store_id or name}' does not exist.")

    # -- helpers -----------------------------------------------------------------------

    async def _update(self, key_id: str, changes: Mapping[str, object]) -> KeyRecord:
        updated = await self._store.update_key(key_id, changes)
        self.access.forget(key_id)
        return updated

    async def _customer_key(
        self, ctx: RequestContext, reference: str | None, action: str, use: Use
    ) -> KeyRecord:
        key = await self.access.resolve(ctx, reference)
        await self.access.authorize(ctx, action, key)
        if key.manager is KeyManager.AWS:
            raise UnsupportedOperation(
                f"{key.arn} is an AWS managed key; only the service that uses it manages it."
            )
        require_state(key.arn, key.state, use)
        return key

    def _new_version(self, key_id: str, number: int, on_demand: bool) -> WrappedVersion:
        material = _aead.new_key()
        wrapped = self._root.wrap(f"{key_id}/{number}", material)
        return WrappedVersion(key_id, number, wrapped, self._clock.now(), on_demand)

    async def _lockout_check(self, ctx: RequestContext, arn: str, account: str, text: str) -> None:
        # "The key policy must allow the principal that is making the CreateKey request to
        # make a subsequent PutKeyPolicy request on the KMS key" (policy lockout safety
        # check): the caller, with its IAM policies, under the new key policy.
        _, parsed = key_policy.checked(text)
        if not await self.access.would_allow(ctx, "PutKeyPolicy", arn, account, parsed):
            raise MalformedPolicy(
                "The new key policy will not allow you to update the key policy in the future."
            )


# Operations of other kinds of keys than Herald's, and what they are answered; AWS's words
# for a symmetric encryption key as recorded in LocalStack's test_kms.snapshot.json
# (test_error_messaging_for_invalid_keys, test_derive_shared_secret,
# test_get_parameters_for_import).
_USAGE = (InvalidKeyUsage, "{arn} key usage is {usage} which is not valid for {action}.")
_ORIGIN = (UnsupportedOperation, "{arn} origin is {origin} which is not valid for this operation.")
_NOT_YET = (UnsupportedOperation, "Herald does not support {action} yet.")
REFUSED: dict[str, tuple[type[CallerFault], str]] = {
    "Sign": _USAGE,
    "Verify": _USAGE,
    "GenerateMac": _USAGE,
    "VerifyMac": _USAGE,
    "GetPublicKey": _USAGE,
    "DeriveSharedSecret": _USAGE,
    "GetParametersForImport": _ORIGIN,
    "ImportKeyMaterial": _ORIGIN,
    "DeleteImportedKeyMaterial": _ORIGIN,
    "GenerateDataKeyPair": _NOT_YET,
    "GenerateDataKeyPairWithoutPlaintext": _NOT_YET,
}

# Services of Herald that use AWS managed keys, by their predefined alias.
MANAGED_KEY_SERVICES = ("sns", "sqs")


def _predefined_service(ctx: RequestContext, reference: str | None) -> str | None:
    own_arn = f"arn:aws:kms:{ctx.region}:{ctx.principal.account_id}:"
    name = reference[len(own_arn) :] if reference and reference.startswith(own_arn) else reference
    for service in MANAGED_KEY_SERVICES:
        if name == f"alias/aws/{service}":
            return service
    return None


def _enum(field: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return value


def _description(value: str | None) -> str:
    if value is not None and len(value) > 8192:
        raise ValidationFailed(
            "1 validation error detected: Value at 'description' failed to satisfy "
            "constraint: Member must have length less than or equal to 8192"
        )
    return value or ""


def _alias_name(name: str | None) -> str:
    if name is None or not name.startswith("alias/") or len(name) > 256:
        # AWS answers this one with ValidationException (as recorded in real responses).
        raise ValidationFailed(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if name.startswith("alias/aws/"):
        raise InvalidAliasName("Alias names that begin with alias/aws/ are reserved.")
    if not _ALIAS.fullmatch(name):
        raise ValidationFailed(
            f"1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )
    return name


def _policy_name(name: str | None) -> None:
    if name is not None and name != "default":
        raise NotFound(f"No such policy exists: {name}")


def _tag_shapes(pairs: Sequence[tuple[str | None, str | None]]) -> None:
    """The model's constraints on tags (TagKeyType 1 to 128 characters, TagValueType at
    most 256, both required), checked before anything else as AWS does."""
    problems = []
    for number, (key, value) in enumerate(pairs, start=1):
        for field, text, longest in (("tagKey", key, 128), ("tagValue", value, 256)):
            at = f"at 'tags.{number}.member.{field}' failed to satisfy constraint: Member must"
            if text is None:
                problems.append(f"Value null {at} not be null")
            elif field == "tagKey" and not text:
                problems.append(f"Value '' {at} have length greater than or equal to 1")
            elif len(text) > longest:
                problems.append(f"Value '{text}' {at} have length less than or equal to {longest}")
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''}"
        raise ValidationFailed(f"{count} detected: {'; '.join(problems)}")


def _tags(pairs: Sequence[tuple[str | None, str | None]]) -> dict[str, str]:
    """Tags as a mapping, with AWS KMS's rules (and its messages, which end without a
    period): no key twice, no key beginning with aws: in any case, at most MAX_TAGS."""
    result: dict[str, str] = {}
    for key, value in pairs:
        assert key is not None and value is not None  # _tag_shapes has refused them
        if key in result:
            raise TagFault("Duplicate tag keys")
        if key.lower().startswith("aws:"):
            raise TagFault("Tags beginning with aws: are reserved")
        result[key] = value
    if len(result) > MAX_TAGS:
        raise TagFault("Too many tags")
    return result
