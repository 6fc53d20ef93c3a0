"""Finding a key from what a caller names, deciding whether the caller may use it, and
keeping its backing keys in memory once unwrapped.

A KeyId parameter may be a key id or an alias name (the caller's account and region), or
a key ARN or alias ARN (any account: using another account's key needs its ARN, as in
AWS). Whether the caller may use the key is the key policy's decision first ("the key
policy must allow, directly or by delegating to the account"), then the caller's IAM
policies, evaluated by the policy engine with the KMS condition keys.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from herald.auth.policy import Decision, Outcome, Policy
from herald.auth.policy.matching import ContextValue
from herald.errors import AccessDenied, MalformedPolicy, NotFound, ValidationFailed
from herald.iam.authorizer import Authorizer
from herald.kms import policy as key_policy
from herald.kms.keys import KeyRecord, KeyVersion
from herald.kms.rootkey import RootKey
from herald.store.base import Store
from herald.store.base_kms import GrantRecord
from herald.types import RequestContext

CACHE_SIZE = 10_000
GRANT_TTL_SECONDS = 5.0
RECORD_TTL_SECONDS = 5.0
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEY_ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):(\d{12}):key/(.+)")
_ALIAS_ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):(\d{12}):(alias/.+)")


class KeyAccess:
    def __init__(self, store: Store, authorizer: Authorizer, root: RootKey) -> None:
        self._store = store
        self._authorizer = authorizer
        self._root = root
        self._versions: OrderedDict[str, tuple[KeyVersion, ...]] = OrderedDict()
        self._policies: OrderedDict[str, Policy | None] = OrderedDict()
        self._grants: dict[str, tuple[list[GrantRecord], float]] = {}
        # Keys and alias targets read recently; changes through this process drop them at
        # once (``forget``), others are seen within RECORD_TTL_SECONDS.
        self._keys: dict[str, tuple[KeyRecord | None, float]] = {}
        self._aliases: dict[tuple[str, str, str], tuple[str | None, float]] = {}
        # Advanced whenever what these caches hold may have changed (a read from the
        # store, a change heard): an answer worked out from them is good while it stands.
        self._epoch = 0

    def stamp(self) -> tuple[int, int, int]:
        """Changes whenever an authorization worked out now could come out differently
        for the same request within the same second: the caches here, the identity
        policies, and (the second) the time that time conditions read."""
        authorizer = self._authorizer
        return (self._epoch, authorizer.identities.generation, int(authorizer.clock.now()))

    async def resolve(self, ctx: RequestContext, reference: str | None) -> KeyRecord:
        """The key ``reference`` names. Raises NotFound (NotFoundException)."""
        if not reference:
            raise ValidationFailed(
                "1 validation error detected: Value null at 'keyId' failed to satisfy "
                "constraint: Member must not be null"
            )
        if len(reference) > 2048:
            raise ValidationFailed(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: "
                "Member must have length less than or equal to 2048"
            )
        account, region = ctx.principal.account_id, ctx.region
        key_id: str | None = None
        if reference.startswith("alias/"):
            key_id = await self._alias_target(account, region, reference)
        elif match := _ALIAS_ARN.fullmatch(reference):
            account = match.group(2)
            if match.group(1) == region:
                key_id = await self._alias_target(account, region, match.group(3))
            if key_id is None:
                raise NotFound(f"Alias {reference} is not found.")
        elif match := _KEY_ARN.fullmatch(reference):
            account, key_id = match.group(2), match.group(3)
            if match.group(1) != region:
                raise NotFound(f"Key '{reference}' does not exist")
        elif _UUID.fullmatch(reference):
            key_id = reference
        else:
            raise NotFound(f"Invalid keyId '{reference}'")
        if key_id is None:
            raise NotFound(f"Alias arn:aws:kms:{region}:{account}:{reference} is not found.")
        key = await self._key(key_id) if _UUID.fullmatch(key_id) else None
        if key is None or key.account_id != account or key.region != region:
            raise NotFound(f"Key 'arn:aws:kms:{region}:{account}:key/{key_id}' does not exist")
        return key

    async def _alias_target(self, account: str, region: str, name: str) -> str | None:
        now = time.monotonic()
        cached = self._aliases.get((account, region, name))
        if cached is not None and now - cached[1] < RECORD_TTL_SECONDS:
            return cached[0]
        alias = await self._store.get_alias(account, region, name)
        self._epoch += 1
        target = None if alias is None else alias.key_id
        if len(self._aliases) >= CACHE_SIZE:
            self._aliases.clear()
        self._aliases[(account, region, name)] = (target, now)
        return target

    async def _key(self, key_id: str) -> KeyRecord | None:
        now = time.monotonic()
        cached = self._keys.get(key_id)
        if cached is not None and now - cached[1] < RECORD_TTL_SECONDS:
            return cached[0]
        key = await self._store.get_key(key_id)
        self._epoch += 1
        if len(self._keys) >= CACHE_SIZE:
            self._keys.clear()
        self._keys[key_id] = (key, now)
        return key

    async def authorize(
        self,
        ctx: RequestContext,
        action: str,
        key: KeyRecord,
        context: Mapping[str, ContextValue] | None = None,
        encryption_context: Mapping[str, str] | None = None,
        grant_allows: Callable[[GrantRecord], bool] | None = None,
    ) -> None:
        """Allow ``kms:action`` on ``key`` or raise AccessDenied (AccessDeniedException).

        What the key policy and IAM do not allow, a grant may: one for the caller (or the
        role of its session) that lists the operation and whose constraints the
        encryption context meets (or, with ``grant_allows``, that it accepts). An explicit
        Deny is final.
        """
        decision = await self._decide(ctx, action, key, context)
        if decision.outcome is Outcome.IMPLICIT_DENY and await self._granted(
            ctx, action, key, encryption_context or {}, grant_allows
        ):
            return
        if not decision.allowed:
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: kms:{action} on "
                f"resource: {key.arn} because no resource-based policy allows the "
                f"kms:{action} action",
                resource=key.arn,
            )

    async def _decide(
        self,
        ctx: RequestContext,
        action: str,
        key: KeyRecord,
        context: Mapping[str, ContextValue] | None = None,
    ) -> Decision:
        """The decision of the key policy and the caller's IAM policies, without grants."""
        keys: Mapping[str, ContextValue]
        if context is not None and context.get("kms:CallerAccount") == ctx.principal.account_id:
            keys = context  # the caller's condition keys already name the account
        else:
            keys = {"kms:CallerAccount": ctx.principal.account_id, **(context or {})}
        return await self._authorizer.decide(
            ctx,
            f"kms:{action}",
            key.arn,
            resource_account=key.account_id,
            resource_policy=self.policy(key),
            resource_policy_key=("key", key.policy),
            context=keys,
            resource_required=True,
            resource_tags=lambda: _tags(key),
        )

    async def denies(self, ctx: RequestContext, action: str, key: KeyRecord) -> bool:
        """Whether the key policy or the caller's IAM policies explicitly deny
        ``kms:action`` on ``key``: final even where a grant lets the caller act without
        their allow (a grant's retiring principal)."""
        decision = await self._decide(ctx, action, key)
        return decision.outcome is Outcome.EXPLICIT_DENY

    async def would_allow(
        self, ctx: RequestContext, action: str, arn: str, account: str, policy: Policy
    ) -> bool:
        """Whether ``policy`` as the key policy of key ``arn`` would allow the caller
        ``kms:action`` (the lockout safety check); no grants, no decision cache."""
        decision = await self._authorizer.decide(
            ctx,
            f"kms:{action}",
            arn,
            resource_account=account,
            resource_policy=policy,
            context={"kms:CallerAccount": ctx.principal.account_id},
            resource_required=True,
        )
        return decision.allowed

    async def authorize_alias(self, ctx: RequestContext, action: str, alias_arn: str) -> None:
        """Allow ``kms:action`` on an alias: aliases have no policy of their own, so IAM
        decides ("Controlling access to aliases")."""
        decision = await self._authorizer.decide(ctx, f"kms:{action}", alias_arn)
        if not decision.allowed:
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: kms:{action} on "
                f"resource: {alias_arn} because no identity-based policy allows the "
                f"kms:{action} action"
            )

    async def identity_allows(self, ctx: RequestContext, action: str, arn: str) -> bool:
        """Whether the caller's IAM policies allow ``kms:action`` on ``arn`` without the
        key policy: what an account delegates to its principals where AWS lets the account
        act (RetireGrant); the account root always may."""
        decision = await self._authorizer.decide(ctx, f"kms:{action}", arn)
        return decision.allowed

    async def authorize_account(self, ctx: RequestContext, action: str) -> None:
        """Allow an action that names no key (CreateKey, ListKeys, ...) by IAM alone."""
        decision = await self._authorizer.decide(ctx, f"kms:{action}", "*")
        if not decision.allowed:
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: kms:{action} "
                f"because no identity-based policy allows the kms:{action} action"
            )

    async def _granted(
        self,
        ctx: RequestContext,
        action: str,
        key: KeyRecord,
        encryption_context: Mapping[str, str],
        grant_allows: Callable[[GrantRecord], bool] | None,
    ) -> bool:
        principal = ctx.principal
        names = {principal.arn, principal.role_arn} - {None}
        for grant in await self.grants(key.key_id):
            if grant.grantee_principal not in names or action not in grant.operations:
                continue
            if grant_allows is not None:
                if grant_allows(grant):
                    return True
            elif _meets(grant.constraints, encryption_context):
                return True
        return False

    async def grants(self, key_id: str) -> list[GrantRecord]:
        """The key's grants, cached for ``GRANT_TTL_SECONDS`` (changes made through this
        process are seen at once)."""
        now = time.monotonic()
        cached = self._grants.get(key_id)
        if cached is not None and now - cached[1] < GRANT_TTL_SECONDS:
            return cached[0]
        grants = await self._store.list_grants(key_id)
        self._epoch += 1
        if len(self._grants) >= CACHE_SIZE:
            self._grants.clear()
        self._grants[key_id] = (grants, now)
        return grants

    def forget_grants(self, key_id: str) -> None:
        self._epoch += 1
        self._grants.pop(key_id, None)

    def policy(self, key: KeyRecord) -> Policy | None:
        cached = self._policies.get(key.policy, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        try:
            parsed: Policy | None = key_policy.checked(key.policy)[1]
        except MalformedPolicy:
            parsed = None  # grants nothing
        self._policies[key.policy] = parsed
        while len(self._policies) > CACHE_SIZE:
            self._policies.popitem(last=False)
        return parsed

    async def versions(self, key: KeyRecord) -> tuple[KeyVersion, ...]:
        """The key's backing keys, unwrapped, oldest first."""
        cached = self._versions.get(key.key_id)
        if cached is not None:
            self._versions.move_to_end(key.key_id)
            return cached
        stored = await self._store.key_versions(key.key_id)
        versions = tuple(
            KeyVersion(
                v.key_id,
                v.version,
                self._root.unwrap(f"{v.key_id}/{v.version}", v.wrapped),
                v.created_at,
                v.on_demand,
            )
            for v in stored
        )
        self._versions[key.key_id] = versions
        while len(self._versions) > CACHE_SIZE:
            self._versions.popitem(last=False)
        return versions

    def forget(self, key_id: str) -> None:
        """The key changed (state, policy, rotation) or is gone (deletion)."""
        self._epoch += 1
        self._versions.pop(key_id, None)
        self._keys.pop(key_id, None)

    def forget_all(self) -> None:
        """Keys, aliases or grants changed through another node."""
        self._epoch += 1
        self._versions.clear()
        self._keys.clear()
        self._aliases.clear()
        self._grants.clear()

    def forget_aliases(self) -> None:
        self._epoch += 1
        self._aliases.clear()


def _meets(
    constraints: Mapping[str, Mapping[str, str]] | None, encryption_context: Mapping[str, str]
) -> bool:
    """Whether an encryption context satisfies a grant's constraints (AWS KMS
    GrantConstraints: EncryptionContextEquals, EncryptionContextSubset)."""
    if not constraints:
        return True
    equals = constraints.get("EncryptionContextEquals")
    if equals is not None and dict(equals) != dict(encryption_context):
        return False
    subset = constraints.get("EncryptionContextSubset")
    return subset is None or all(encryption_context.get(k) == v for k, v in subset.items())


async def _tags(key: KeyRecord) -> Mapping[str, str]:
    return key.tags
