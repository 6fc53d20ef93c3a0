"""The IAM service as the protocol layer sees it: users (with keys and policies), groups,
roles and managed policies, over one store and one authorizer."""

from __future__ import annotations

from collections.abc import Callable

from herald.clock import Clock
from herald.errors import NotFound
from herald.iam.authorizer import Authorizer
from herald.iam.groups import Groups
from herald.iam.managed import Holder, ManagedPolicies
from herald.iam.roles import Roles
from herald.iam.service import IAMService, valid_name
from herald.store.base import Store
from herald.types import RequestContext


class IAM:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        authorizer: Authorizer,
        on_key_change: Callable[[str], None] = lambda key_id: None,
        on_principal_renamed: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self.users = IAMService(store, clock, authorizer, on_key_change, on_principal_renamed)
        self.groups = Groups(store, clock, authorizer.identities, self.users)
        self.roles = Roles(store, clock, self.users)
        self.policies = ManagedPolicies(store, clock, self.users, self._holder_arn)

    async def _holder_arn(self, ctx: RequestContext, holder: Holder, name: str | None) -> str:
        account = ctx.principal.account_id
        if holder is Holder.USER:
            return (await self.users.user(ctx, valid_name("userName", name))).arn
        if holder is Holder.ROLE:
            return (await self.roles.role(account, valid_name("roleName", name))).arn
        group = await self._store.get_group(account, valid_name("groupName", name))
        if group is None:
            raise NotFound(f"The group with name {name} cannot be found.")
        return group.arn
