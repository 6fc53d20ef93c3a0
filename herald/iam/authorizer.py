"""Decisions for every service: the caller's identity and session policies plus the
resource's policy, evaluated by the policy engine, with a decision cache.

A decision depends on the policies involved, the principal, the action, the resource and
the context keys those policies read (``Policy.context_keys``). The cache key holds all of
them: the identity side through ``Identities.generation`` (advanced on every change of a
user's, group's, role's or managed policy), the resource policy through a key its owner
supplies (the policy text), and the values of exactly the context keys the policies read.
Decisions under policies that read the time are never cached.

A second, first-level cache answers a repeated request without gathering the policies at
all: its key is everything a decision can depend on besides the policies (the generation,
the principal, the request's transport, region and source address, the action, resource,
resource policy key and the whole context the caller passes). Only decisions whose
policies read neither the time nor the resource's tags go into it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping

from herald.auth.policy import Decision, Policy, PolicySet, Request, evaluate
from herald.auth.policy.matching import ContextValue
from herald.clock import Clock
from herald.iam.identities import Identities, principal_info
from herald.types import RequestContext

CACHE_SIZE = 65_536
_TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
_RESOURCE_TAG = "aws:resourcetag/"

# Reads a resource's tags (a store read), called only when a policy needs them.
TagSource = Callable[[], Awaitable[Mapping[str, str]]]


def request_context(ctx: RequestContext, now: float) -> dict[str, ContextValue]:
    """The global condition keys every request carries (IAM "AWS global condition context
    keys"); services add their own."""
    context: dict[str, ContextValue] = {
        "aws:SecureTransport": ctx.secure_transport,
        "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "aws:EpochTime": int(now),
        "aws:RequestedRegion": ctx.region,
    }
    if ctx.source_ip is not None:
        context["aws:SourceIp"] = ctx.source_ip
    principal = ctx.principal
    if principal.service is not None:
        # A service acting for a resource names it, as AWS services do when they call
        # another service on a customer's behalf ("aws:SourceArn", "aws:SourceAccount").
        context["aws:SourceAccount"] = principal.account_id
        if principal.source_arn is not None:
            context["aws:SourceArn"] = principal.source_arn
    return context


def request_tags(tags: Mapping[str, str]) -> dict[str, ContextValue]:
    """aws:RequestTag/* and aws:TagKeys for a request that sets ``tags``."""
    if not tags:
        return {}
    context: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = list(tags)
    return context


class Authorizer:
    def __init__(self, identities: Identities, clock: Clock) -> None:
        self.identities = self._identities = identities
        self.clock = self._clock = clock
        self._cache: OrderedDict[Hashable, Decision] = OrderedDict()
        self._requests: dict[Hashable, Decision] = {}
        self.hits = 0
        self.misses = 0

    async def decide(
        self,
        ctx: RequestContext,
        action: str,
        resource: str,
        *,
        resource_account: str | None = None,
        resource_policy: Policy | None = None,
        resource_policy_key: Hashable = None,
        context: Mapping[str, ContextValue] | None = None,
        resource_required: bool = False,
        resource_tags: TagSource | None = None,
    ) -> Decision:
        """Decide ``action`` ("sns:Publish") on ``resource`` for the caller.

        ``resource_policy_key`` identifies ``resource_policy`` for the cache (its text);
        without it a decision under a resource policy is not cached. ``resource_tags``
        reads the resource's tags, called only when a policy reads aws:ResourceTag/*.
        """
        principal = ctx.principal
        generation = self._identities.generation
        cacheable = resource_policy is None or resource_policy_key is not None
        request_key: Hashable = None
        if cacheable:
            request_key = (
                generation,
                principal,
                ctx.secure_transport,
                ctx.region,
                ctx.source_ip,
                action,
                resource,
                resource_account,
                resource_policy_key,
                resource_required,
                _frozen(context) if context else (),
            )
            answered = self._requests.get(request_key)
            if answered is not None:
                self.hits += 1
                return answered
        identity = await self._identities.policies_for(principal)
        session = await self._identities.session_policies(principal)
        merged = {**request_context(ctx, self._clock.now()), **(context or {})}
        policies = PolicySet(identity, resource_policy, session, resource_required)
        keys = _keys(policies)
        if resource_tags is not None and any(k.startswith(_RESOURCE_TAG) for k in keys):
            for name, value in (await resource_tags()).items():
                merged[f"aws:ResourceTag/{name}"] = value
        relevant = _relevant(keys, merged) if cacheable else None
        key: Hashable = None
        if relevant is not None:
            key = (
                generation,
                principal.access_key_id,
                principal.arn,
                action.lower(),
                resource,
                resource_account,
                resource_policy_key,
                resource_required,
                relevant,
            )
            cached = self._cache.get(key)
            if cached is not None:
                self.hits += 1
                self._cache.move_to_end(key)
                self._remember(request_key, keys, cached)
                return cached
        self.misses += 1
        request = Request(
            principal=principal_info(principal),
            action=action,
            resource=resource,
            resource_account=resource_account or principal.account_id,
            context=merged,
        )
        decision = evaluate(request, policies)
        if key is not None:
            self._cache[key] = decision
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            self._remember(request_key, keys, decision)
        return decision

    def _remember(self, request_key: Hashable, keys: set[str], decision: Decision) -> None:
        """Keep ``decision`` for the exact request, unless its policies read the
        resource's tags (which the request key does not hold)."""
        if request_key is None or any(k.startswith(_RESOURCE_TAG) for k in keys):
            return
        if len(self._requests) >= CACHE_SIZE:
            self._requests.clear()
        self._requests[request_key] = decision


def _keys(policies: PolicySet) -> set[str]:
    """The context keys the policies read, in lower case."""
    keys: set[str] = set()
    for policy in (*policies.identity, *(policies.session or ())):
        keys |= policy.context_keys
    if policies.resource is not None:
        keys |= policies.resource.context_keys
    return keys


def _relevant(keys: set[str], context: Mapping[str, ContextValue]) -> tuple[Hashable, ...] | None:
    """The values of the context keys the policies read; None if one reads the time."""
    if not keys:
        return ()
    if keys & _TIME_KEYS:
        return None
    lowered = {k.lower(): v for k, v in context.items()}
    return tuple(_hashable(lowered.get(k)) for k in sorted(keys))


def _frozen(context: Mapping[str, ContextValue]) -> tuple[Hashable, ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in context.items())


def _hashable(value: ContextValue | None) -> Hashable:
    return tuple(value) if isinstance(value, list) else value
