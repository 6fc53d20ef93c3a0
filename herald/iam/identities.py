"""The identity side of every decision: a principal's own policies, parsed once.

Policies are cached per principal ARN and dropped when this process changes them
(``forget``); the account root has no policies (its permissions are implicit).
"""

from __future__ import annotations

from collections import OrderedDict

from herald.auth.policy import Policy, PrincipalInfo, parse_policy
from herald.auth.policy.document import Kind
from herald.errors import MalformedPolicy
from herald.store.base import Store
from herald.types import Principal

CACHE_SIZE = 10_000


def principal_info(principal: Principal) -> PrincipalInfo:
    """The caller as the policy engine sees it, from the ARN SigV4 established."""
    arn = principal.arn
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    if resource == "root":
        kind, name = "Account", None
    elif resource.startswith("user/"):
        kind, name = "User", resource.rsplit("/", 1)[1]
    elif resource.startswith("assumed-role/"):
        kind, name = "AssumedRole", None
    else:
        kind, name = "User", None
    role_arn = None
    if kind == "AssumedRole":
        role = resource.split("/")[1]
        role_arn = f"arn:aws:iam::{principal.account_id}:role/{role}"
    return PrincipalInfo(
        arn=arn,
        account=principal.account_id,
        type=kind,
        userid=principal.user_id,
        username=name,
        role_arn=role_arn,
    )


class Identities:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: OrderedDict[str, tuple[Policy, ...]] = OrderedDict()

    async def policies_for(self, principal: Principal) -> tuple[Policy, ...]:
        """The identity policies that apply to ``principal``."""
        if principal.is_root:
            return ()
        cached = self._cache.get(principal.arn)
        if cached is not None:
            self._cache.move_to_end(principal.arn)
            return cached
        documents = dict(await self._store.get_inline_policies(principal.arn))
        if principal.arn.split(":", 5)[-1].startswith("user/"):
            user = principal.arn.rsplit("/", 1)[-1]
            for group in await self._store.list_groups_for_user(principal.account_id, user):
                for name, text in (await self._store.get_inline_policies(group.arn)).items():
                    documents[f"{group.name}/{name}"] = text
        policies = []
        for name, text in documents.items():
            try:
                policies.append(parse_policy(text, Kind.IDENTITY, f"inline policy {name}"))
            except MalformedPolicy:
                continue  # checked when it was put; a document that no longer parses grants nothing
        result = tuple(policies)
        self._cache[principal.arn] = result
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def forget(self, principal_arn: str) -> None:
        self._cache.pop(principal_arn, None)

    def forget_all(self) -> None:
        """A group's policies changed: every member's set may have."""
        self._cache.clear()
