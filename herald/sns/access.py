"""Who may do what to a topic: the caller's identity side and the topic's Policy, decided
by the policy engine (``herald.auth.policy``) as AWS decides it.

Topic policies are parsed once per distinct document (a bounded cache keyed by the text).
The identity side is the caller's own policies (``herald.iam.identities``); an account
root's permissions are implicit.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

from herald.auth.policy import parse_policy
from herald.auth.policy.document import Effect, Kind, Policy
from herald.auth.policy.matching import ContextValue
from herald.errors import AccessDenied, InvalidSecurity, MalformedPolicy
from herald.iam.authorizer import Authorizer
from herald.sns import policy as topic_policy
from herald.store.base import TopicRecord
from herald.types import RequestContext

log = logging.getLogger("herald.sns.access")
CACHE_SIZE = 4096


class TopicAccess:
    def __init__(
        self, authorizer: Authorizer, tags_of: Callable[[str], Awaitable[Mapping[str, str]]]
    ) -> None:
        self._authorizer = authorizer
        self._tags_of = tags_of
        self._parsed: OrderedDict[str, Policy | None] = OrderedDict()

    async def check(
        self,
        ctx: RequestContext,
        action: str,
        resource: str,
        topic: TopicRecord | None,
        context: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """Allow ``SNS:action`` on ``resource`` or raise AccessDenied (AuthorizationError).

        ``topic`` is the topic whose Policy applies (None for account-level actions).
        """
        if topic is not None and topic.attributes.get("KmsMasterKeyId"):
            require_secure(ctx)
        resource_policy, key = self._policy(topic) if topic is not None else (None, None)
        owner = topic.account_id if topic else ctx.principal.account_id
        if (
            ctx.principal.is_root
            and ctx.principal.account_id == owner
            and (resource_policy is None or not _denies(resource_policy))
        ):
            # An account's root holds every permission in its account, and only an explicit
            # Deny could take one away: with none in the topic policy, the answer is known.
            return
        decision = await self._authorizer.decide(
            ctx,
            f"sns:{action}",
            resource,
            resource_account=owner,
            resource_policy=resource_policy,
            resource_policy_key=key,
            context=context,
            resource_tags=(lambda: self._tags_of(topic.arn)) if topic is not None else None,
        )
        if not decision.allowed:
            log.info(
                "denied %s sns:%s on %s: %s",
                ctx.principal.arn,
                action,
                resource,
                "; ".join(decision.reasons),
            )
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: SNS:{action} "
                f"on resource: {resource}"
            )

    def _policy(self, topic: TopicRecord) -> tuple[Policy | None, str]:
        # A topic without a Policy of its own is keyed by its ARN, so the default document
        # is rendered once per topic, not on every publish.
        own = topic.attributes.get("Policy")
        key = own or f"default {topic.arn}"
        if key in self._parsed:
            self._parsed.move_to_end(key)
            return self._parsed[key], key
        text = own or topic_policy.default_policy(topic.arn, topic.account_id)
        try:
            parsed: Policy | None = parse_policy(text, Kind.RESOURCE, "topic policy")
        except MalformedPolicy as exc:
            # Stored before policies were checked this strictly: it grants nothing.
            log.warning("the policy of %s cannot be read (%s); it grants nothing", topic.arn, exc)
            parsed = None
        self._parsed[key] = parsed
        while len(self._parsed) > CACHE_SIZE:
            self._parsed.popitem(last=False)
        return parsed, key


def require_secure(ctx: RequestContext) -> None:
    """Requests about an encrypted topic must use HTTPS and Signature Version 4 (SNS
    "Encryption at rest")."""
    if not (ctx.secure_transport and ctx.sigv4):
        raise InvalidSecurity(
            "The credential signature isn't valid. You must use an HTTPS endpoint and sign "
            "your request using Signature Version 4."
        )


def _denies(policy: Policy) -> bool:
    return any(s.effect is Effect.DENY for s in policy.statements)
