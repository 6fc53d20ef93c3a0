"""The identity side of every decision: a principal's own policies, parsed once.

A user's policies are its inline policies, the managed policies attached to it, and the
inline and attached policies of its groups; a role session's are its role's. Policies are
cached per policy holder (the user or the role) and dropped when this process changes
them (``forget``); the account root and AWS service principals have none (the root's
permissions are implicit, a service is admitted only by resource policies). Each change
advances ``generation``, which decision caches include in their keys.
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
    if principal.service is not None:
        return PrincipalInfo(
            arn=principal.service,
            account=None,
            type="AWSService",
            userid=principal.service,
            service=principal.service,
        )
    arn = principal.arn
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    role_arn = None
    if resource == "root":
        kind, name = "Account", None
    elif resource.startswith("assumed-role/"):
        kind, name = "AssumedRole", None
        role = resource.split("/")[1]
        role_arn = principal.role_arn or f"arn:aws:iam::{principal.account_id}:role/{role}"
    else:
        kind, name = "User", resource.rsplit("/", 1)[-1] if "/" in resource else None
    return PrincipalInfo(
        arn=arn,
        account=principal.account_id,
        type=kind,
        userid=principal.user_id,
        username=name,
        role_arn=role_arn,
    )


def holder_arn(principal: Principal) -> str | None:
    """The ARN whose policies apply to ``principal``: its own, or its role's."""
    if principal.service is not None or principal.is_root:
        return None
    return principal.role_arn or principal.arn


class Identities:
    def __init__(self, store: Store) -> None:
        self._store = store
        # holder ARN -> (the holder's unique id, its policies)
        self._cache: OrderedDict[str, tuple[str, tuple[Policy, ...]]] = OrderedDict()
        self._sessions: OrderedDict[tuple[object, ...], tuple[Policy, ...]] = OrderedDict()
        self.generation = 0

    async def policies_for(self, principal: Principal) -> tuple[Policy, ...]:
        """The identity policies that apply to ``principal``."""
        holder = holder_arn(principal)
        if holder is None:
            return ()
        unique_id = principal.user_id.split(":", 1)[0]
        cached = self._cache.get(holder)
        if cached is not None and cached[0] == unique_id:
            self._cache.move_to_end(holder)
            return cached[1]
        generation = self.generation
        result: tuple[Policy, ...] = ()
        if await self._current(principal.account_id, holder, unique_id):
            result = tuple(_parsed(await self._documents(principal.account_id, holder)))
        if generation == self.generation:
            # Nothing changed while the store was read: the set is current.
            self._cache[holder] = (unique_id, result)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    async def session_policies(self, principal: Principal) -> tuple[Policy, ...] | None:
        """The session policies that narrow ``principal``, or None when it has none.

        Managed session policies are named by ARN and read at their current default
        version. One that cannot be read or parsed denies everything: a session must
        never end up less narrowed than it was issued.
        """
        if not principal.session_policies:
            return None
        key = (principal.session_policies, self.generation)
        cached = self._sessions.get(key)
        if cached is None:
            policies = []
            for i, entry in enumerate(principal.session_policies):
                text = await self._session_document(entry)
                try:
                    if text is None:
                        raise MalformedPolicy("missing")
                    policies.append(parse_policy(text, Kind.IDENTITY, f"session policy {i}"))
                except MalformedPolicy:
                    policies.append(_DENY_ALL)
            cached = tuple(policies)
            self._sessions[key] = cached
            while len(self._sessions) > CACHE_SIZE:
                self._sessions.popitem(last=False)
        return cached

    async def _session_document(self, entry: str) -> str | None:
        if not entry.startswith("arn:"):
            return entry
        managed = await self._store.get_managed_policy(entry)
        if managed is None:
            return None
        version = await self._store.get_policy_version(entry, managed.default_version)
        return None if version is None else version.document

    async def _current(self, account_id: str, holder: str, unique_id: str) -> bool:
        """Whether the user or role ``holder`` still is the one with ``unique_id``: a
        session of a deleted role must not gain a new role's permissions by its name."""
        kind, _, path = holder.split(":", 5)[-1].partition("/")
        name = path.rsplit("/", 1)[-1]
        if kind == "role":
            role = await self._store.get_role(account_id, name)
            return role is not None and role.role_id == unique_id
        if kind == "user":
            user = await self._store.get_user(account_id, name)
            return user is not None and user.user_id == unique_id
        return False

    async def _documents(self, account_id: str, holder: str) -> dict[str, str]:
        holders = [holder]
        documents = {
            f"inline policy {n}": t
            for n, t in (await self._store.get_inline_policies(holder)).items()
        }
        if holder.split(":", 5)[-1].startswith("user/"):
            user = holder.rsplit("/", 1)[-1]
            for group in await self._store.list_groups_for_user(account_id, user):
                holders.append(group.arn)
                for name, text in (await self._store.get_inline_policies(group.arn)).items():
                    documents[f"group {group.name} inline policy {name}"] = text
        for arn, text in (await self._store.attached_documents(holders)).items():
            documents[f"managed policy {arn}"] = text
        return documents

    def forget(self, holder: str) -> None:
        """The policies of user or role ``holder`` changed."""
        self._cache.pop(holder, None)
        self.generation += 1

    def forget_all(self) -> None:
        """A group's or a managed policy's document changed: any holder's set may have."""
        self._cache.clear()
        self.generation += 1


_DENY_ALL = parse_policy(
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}',
    Kind.IDENTITY,
    "unreadable session policy",
)


def _parsed(documents: dict[str, str]) -> list[Policy]:
    policies = []
    for name, text in documents.items():
        try:
            policies.append(parse_policy(text, Kind.IDENTITY, name))
        except MalformedPolicy:
            continue  # checked when it was put; a document that no longer parses grants nothing
    return policies
