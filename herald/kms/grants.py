"""Grants: permissions to use one key, given to a principal without editing policies
(AWS KMS "Grants in AWS KMS"). A grant lists operations, a grantee, optionally a retiring
principal and encryption-context constraints; it takes part in authorisation at once
(Herald's grants need no grant tokens to be effective, so the GrantTokens parameter is
accepted and has nothing to do).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence

from herald.clock import Clock
from herald.errors import AccessDenied, DryRunSucceeded, LimitExceeded, NotFound, ValidationFailed
from herald.kms.access import KeyAccess
from herald.kms.keys import KeyRecord, Use, require_state
from herald.store.base import Store
from herald.store.base_kms import GrantRecord
from herald.types import RequestContext

MAX_GRANTS_PER_KEY = 50_000
SYMMETRIC_OPERATIONS = (
    "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom", "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
)  # fmt: skip
ALL_OPERATIONS = (
    *SYMMETRIC_OPERATIONS, "Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac",
    "DeriveSharedSecret",
)  # fmt: skip
_PRINCIPAL = re.compile(r"[\w+=,.@:/-]{1,256}", re.ASCII)
_NAME = re.compile(r"[a-zA-Z0-9:/_-]{1,256}")
DRY_RUN = "The request would have succeeded, but the DryRun option is set."


class Grants:
    def __init__(self, store: Store, clock: Clock, access: KeyAccess) -> None:
        self._store = store
        self._clock = clock
        self._access = access

    async def create(
        self,
        ctx: RequestContext,
        reference: str | None,
        grantee: str | None,
        operations: Sequence[str],
        retiring: str | None,
        constraints: object,
        name: str | None,
        dry_run: bool = False,
    ) -> tuple[str, str]:
        """(grant id, grant token). A request naming a grant of the key that has the same
        name and parameters gets that grant's id and a token of its own, and makes no
        grant (CreateGrant, Name). Raises ValidationFailed, NotFound, KeyDisabled,
        KeyInvalidState, AccessDenied, LimitExceeded; DryRunSucceeded, having written
        nothing, when ``dry_run`` and all of that passes."""
        grantee = _principal("granteePrincipal", grantee)
        if retiring is not None:
            _principal("retiringPrincipal", retiring)
        if not operations:
            raise ValidationFailed("Operations must name at least one operation.")
        for operation in operations:
            if operation not in ALL_OPERATIONS:
                raise ValidationFailed(
                    f"1 validation error detected: Value '{operation}' at 'operations' failed "
                    "to satisfy constraint: Member must satisfy enum value set: "
                    f"[{', '.join(ALL_OPERATIONS)}]"
                )
        if name is not None and not _NAME.fullmatch(name):
            raise ValidationFailed(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
            )
        checked = _constraints(constraints)
        key = await self._access.resolve(ctx, reference)
        unsupported = [o for o in operations if o not in SYMMETRIC_OPERATIONS]
        if unsupported:
            raise ValidationFailed(
                f"Grant operations {unsupported} are not supported by this key: it is a "
                "symmetric encryption key."
            )
        await self._access.authorize(
            ctx,
            "CreateGrant",
            key,
            {
                "kms:GrantOperations": list(operations),
                "kms:GranteePrincipal": grantee,
                **({"kms:RetiringPrincipal": retiring} if retiring else {}),
            },
            # A grant that allows CreateGrant passes on no more than it holds: the new
            # grant's operations are among its own, and its constraints are kept.
            grant_allows=lambda parent: (
                set(operations) <= set(parent.operations)
                and (not parent.constraints or dict(parent.constraints) == (checked or {}))
            ),
        )
        require_state(key.arn, key.state, Use.CRYPTO)
        token = "HRLDGRANT" + secrets.token_urlsafe(48)
        grant = GrantRecord(
            grant_id=secrets.token_hex(32),
            key_id=key.key_id,
            name=name,
            grantee_principal=grantee,
            retiring_principal=retiring,
            operations=tuple(dict.fromkeys(operations)),
            constraints=checked,
            issuing_account=f"arn:aws:iam::{ctx.principal.account_id}:root",
            token_sha256=_digest(token),
            created_at=self._clock.now(),
        )
        if dry_run:
            existing = await self._store.list_grants(key.key_id)
            same = next((g for g in existing if name is not None and _same(g, grant)), None)
            if same is None and len(existing) >= MAX_GRANTS_PER_KEY:
                raise LimitExceeded(f"A key can have at most {MAX_GRANTS_PER_KEY} grants.")
            raise DryRunSucceeded(DRY_RUN, resource=key.arn)
        # A grant of the same name and parameters is looked for in the transaction that
        # would store this one, so identical concurrent requests make one grant.
        stored = await self._store.create_grant(
            grant, MAX_GRANTS_PER_KEY, None if name is None else lambda g: _same(g, grant)
        )
        if stored is not grant:
            # Every CreateGrant answers a token of its own, and all of a grant's tokens
            # retire it. Only the first token's digest is stored, so this one names the
            # grant and is authenticated with that digest, which never leaves the store:
            # no one can make such a token for a grant from its ids alone.
            return stored.grant_id, _repeat_token(token, stored)
        self._access.forget_grants(key.key_id)
        return grant.grant_id, token

    async def list_grants(
        self,
        ctx: RequestContext,
        reference: str | None,
        grant_id: str | None,
        grantee: str | None,
    ) -> tuple[KeyRecord, list[GrantRecord]]:
        key = await self._access.resolve(ctx, reference)
        await self._access.authorize(ctx, "ListGrants", key)
        grants = await self._store.list_grants(key.key_id)
        return key, [
            g
            for g in grants
            if (grant_id is None or g.grant_id == grant_id)
            and (grantee is None or g.grantee_principal == grantee)
        ]

    async def retirable(self, ctx: RequestContext, retiring: str | None) -> list[GrantRecord]:
        retiring = _principal("retiringPrincipal", retiring)
        await self._access.authorize_account(ctx, "ListRetirableGrants")
        parts = retiring.split(":")
        if len(parts) < 5 or parts[4] != ctx.principal.account_id:
            # AWS: the retiring principal must be a principal of the caller's account.
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to list the grants retirable "
                f"by {retiring}"
            )
        return await self._store.list_retirable_grants(retiring)

    async def key_arn(self, key_id: str) -> str:
        key = await self._store.get_key(key_id)
        return key.arn if key is not None else key_id

    async def retire(
        self,
        ctx: RequestContext,
        token: str | None,
        reference: str | None,
        grant_id: str | None,
        dry_run: bool = False,
    ) -> None:
        """By token, or by key and grant id. "This operation can be called by the retiring
        principal for a grant, by the grantee principal if the grant allows the RetireGrant
        operation, and by the Amazon Web Services account in which the grant is created"
        (RetireGrant), which is the account that owns the key: its root, and the IAM
        principals it delegates kms:RetireGrant to ("Retiring and revoking grants"); so
        too an account named as retiring principal. Raises DryRunSucceeded instead of
        retiring when ``dry_run``."""
        grant = None
        if token is not None:
            grant = await self._by_token(token)
            if grant is None:
                raise ValidationFailed("The grant token is not valid.")
        elif reference is not None and grant_id is not None:
            key = await self._access.resolve(ctx, reference)
            grant = next(
                (g for g in await self._store.list_grants(key.key_id) if g.grant_id == grant_id),
                None,
            )
            if grant is None:
                raise NotFound(f"Grant ID {grant_id} not found")
        else:
            raise ValidationFailed("Give a GrantToken, or a KeyId and a GrantId.")
        owner = await self._store.get_key(grant.key_id)
        if not await self._may_retire(ctx, grant, owner):
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: kms:RetireGrant "
                f"on grant {grant.grant_id}"
            )
        if dry_run:
            raise DryRunSucceeded(DRY_RUN, resource=None if owner is None else owner.arn)
        await self._store.delete_grant(grant.key_id, grant.grant_id)
        self._access.forget_grants(grant.key_id)

    async def _may_retire(
        self, ctx: RequestContext, grant: GrantRecord, owner: KeyRecord | None
    ) -> bool:
        if owner is not None and await self._access.denies(ctx, "RetireGrant", owner):
            return False  # an explicit Deny is final, for the grant's own principals too
        names = {ctx.principal.arn, ctx.principal.role_arn} - {None}
        if grant.retiring_principal in names or (
            grant.grantee_principal in names and "RetireGrant" in grant.operations
        ):
            return True
        # The account that owns the key, or one named as retiring principal, retires
        # through its root or the IAM principals it delegates kms:RetireGrant to.
        account_root = f"arn:aws:iam::{ctx.principal.account_id}:root"
        if owner is None or (
            owner.account_id != ctx.principal.account_id
            and grant.retiring_principal != account_root
        ):
            return False
        return await self._access.identity_allows(ctx, "RetireGrant", owner.arn)

    async def _by_token(self, token: str) -> GrantRecord | None:
        grant = await self._store.find_grant_by_token(_digest(token))
        parts = token.split(".")
        if grant is None and len(parts) == 4:  # the token of a repeated CreateGrant
            grants = await self._store.list_grants(parts[1])
            grant = next((g for g in grants if g.grant_id == parts[2]), None)
            if grant is None or not hmac.compare_digest(_repeat_token(parts[0], grant), token):
                return None
        return grant

    async def revoke(
        self,
        ctx: RequestContext,
        reference: str | None,
        grant_id: str | None,
        dry_run: bool = False,
    ) -> None:
        """Raises NotFound, AccessDenied; DryRunSucceeded instead of revoking when
        ``dry_run``."""
        key = await self._access.resolve(ctx, reference)
        await self._access.authorize(ctx, "RevokeGrant", key)
        if dry_run:
            grants = await self._store.list_grants(key.key_id)
            if not any(g.grant_id == grant_id for g in grants):
                raise NotFound(f"Grant ID {grant_id} not found")
            raise DryRunSucceeded(DRY_RUN, resource=key.arn)
        if grant_id is None or not await self._store.delete_grant(key.key_id, grant_id):
            raise NotFound(f"Grant ID {grant_id} not found")
        self._access.forget_grants(key.key_id)


def _principal(field: str, value: str | None) -> str:
    if value is None or not _PRINCIPAL.fullmatch(value):
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
        )
    return value


def _constraints(value: object) -> dict[str, dict[str, str]] | None:
    if value is None:
        return None
    allowed = {"EncryptionContextSubset", "EncryptionContextEquals"}
    if not isinstance(value, Mapping) or set(value) - allowed:
        raise ValidationFailed(
            "Constraints may hold EncryptionContextSubset and EncryptionContextEquals only."
        )
    result: dict[str, dict[str, str]] = {}
    for name, pairs in value.items():
        if not isinstance(pairs, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()
        ):
            raise ValidationFailed(f"{name} must be a map of strings to strings.")
        result[name] = dict(pairs)
    return result


def _same(grant: GrantRecord, other: GrantRecord) -> bool:
    """Whether two grants of a key were asked for with the same parameters."""
    return (
        grant.name == other.name
        and grant.grantee_principal == other.grantee_principal
        and grant.retiring_principal == other.retiring_principal
        and set(grant.operations) == set(other.operations)
        and _plain(grant.constraints) == _plain(other.constraints)
        and grant.issuing_account == other.issuing_account
    )


def _plain(constraints: Mapping[str, Mapping[str, str]] | None) -> dict[str, dict[str, str]]:
    return {name: dict(pairs) for name, pairs in (constraints or {}).items()}


def _repeat_token(nonce: str, grant: GrantRecord) -> str:
    """A further token of ``grant``: a fresh random part, the ids, and a MAC of them keyed
    with the digest of the grant's first token."""
    named = f"{nonce}.{grant.key_id}.{grant.grant_id}"
    mac = hmac.new(bytes.fromhex(grant.token_sha256), named.encode(), hashlib.sha256)
    return f"{named}.{mac.hexdigest()}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
