"""IAM groups: membership and group inline policies, which apply to every member."""

from __future__ import annotations

from herald import ids
from herald.auth.policy import parse_policy
from herald.auth.policy.document import Kind
from herald.clock import Clock
from herald.errors import AlreadyExists, MalformedPolicy, NotFound
from herald.iam.identities import Identities
from herald.iam.service import IAMService, valid_name, valid_path
from herald.store.base import GroupRecord, Store, UserRecord
from herald.types import RequestContext

MAX_GROUP_INLINE_CHARS = 5120


class Groups:
    def __init__(self, store: Store, clock: Clock, identities: Identities, iam: IAMService) -> None:
        self._store = store
        self._clock = clock
        self._identities = identities
        self._iam = iam

    async def create(self, ctx: RequestContext, name: str | None, path: str | None) -> GroupRecord:
        name = valid_name("groupName", name)
        path = valid_path(path)
        account = ctx.principal.account_id
        arn = f"arn:aws:iam::{account}:group{path}{name}"
        await self._iam.authorize(ctx, "iam:CreateGroup", arn)
        group = GroupRecord(account, name, ids.iam_id("AGPA"), arn, path, self._clock.now())
        if not await self._store.create_group(group):
            raise AlreadyExists(f"Group with name {name} already exists.")
        return group

    async def list_groups(self, ctx: RequestContext, path_prefix: str | None) -> list[GroupRecord]:
        account = ctx.principal.account_id
        await self._iam.authorize(ctx, "iam:ListGroups", f"arn:aws:iam::{account}:group/")
        prefix = path_prefix or "/"
        return [g for g in await self._store.list_groups(account) if g.path.startswith(prefix)]

    async def get(
        self, ctx: RequestContext, name: str | None
    ) -> tuple[GroupRecord, list[UserRecord]]:
        group = await self._group(ctx, name)
        await self._iam.authorize(ctx, "iam:GetGroup", group.arn)
        return group, await self._store.list_group_members(group.account_id, group.name)

    async def delete(self, ctx: RequestContext, name: str | None) -> None:
        group = await self._group(ctx, name)
        await self._iam.authorize(ctx, "iam:DeleteGroup", group.arn)
        await self._store.delete_group(group.account_id, group.name)

    async def update(
        self, ctx: RequestContext, name: str | None, new_name: str | None, new_path: str | None
    ) -> None:
        """Rename group ``name`` and/or give it ``new_path`` (None: unchanged); its members
        and its inline and attached policies follow it, policies that name its old ARN are
        not rewritten. The caller needs iam:UpdateGroup on the old ARN and on the new one.

        Raises ValidationFailed, NotFound, AlreadyExists, AccessDenied.
        """
        name = valid_name("groupName", name)
        new_name = None if new_name is None else valid_name("newGroupName", new_name)
        new_path = None if new_path is None else valid_path(new_path, "newPath")
        group = await self._group(ctx, name)
        new_name, new_path = new_name or group.name, new_path or group.path
        arn = f"arn:aws:iam::{group.account_id}:group{new_path}{new_name}"
        await self._iam.authorize(ctx, "iam:UpdateGroup", group.arn)
        if arn != group.arn:
            await self._iam.authorize(ctx, "iam:UpdateGroup", arn)
        await self._store.rename_group(group.account_id, group.name, new_name, new_path, arn)
        self._identities.forget_all()  # every member's policies came through the old ARN

    async def add_user(self, ctx: RequestContext, name: str | None, user: str | None) -> None:
        group = await self._group(ctx, name)
        member = await self._iam.user(ctx, valid_name("userName", user))
        await self._iam.authorize(ctx, "iam:AddUserToGroup", group.arn)
        await self._store.add_group_member(group.account_id, group.name, member.name)
        self._identities.forget(member.arn)

    async def remove_user(self, ctx: RequestContext, name: str | None, user: str | None) -> None:
        group = await self._group(ctx, name)
        member = await self._iam.user(ctx, valid_name("userName", user))
        await self._iam.authorize(ctx, "iam:RemoveUserFromGroup", group.arn)
        await self._store.remove_group_member(group.account_id, group.name, member.name)
        self._identities.forget(member.arn)

    async def for_user(self, ctx: RequestContext, user: str | None) -> list[GroupRecord]:
        member = await self._iam.user(ctx, valid_name("userName", user))
        await self._iam.authorize(ctx, "iam:ListGroupsForUser", member.arn)
        return await self._store.list_groups_for_user(member.account_id, member.name)

    async def put_policy(
        self, ctx: RequestContext, name: str | None, policy: str | None, document: str | None
    ) -> None:
        group = await self._group(ctx, name)
        policy = valid_name("policyName", policy)
        if not document:
            raise MalformedPolicy("Syntax errors in policy.")
        parse_policy(document, Kind.IDENTITY, policy)
        await self._iam.authorize(ctx, "iam:PutGroupPolicy", group.arn)
        await self._store.put_inline_policy(group.arn, policy, document, MAX_GROUP_INLINE_CHARS)
        self._identities.forget_all()

    async def get_policy(
        self, ctx: RequestContext, name: str | None, policy: str | None
    ) -> tuple[str, str, str]:
        group = await self._group(ctx, name)
        policy = valid_name("policyName", policy)
        await self._iam.authorize(ctx, "iam:GetGroupPolicy", group.arn)
        document = (await self._store.get_inline_policies(group.arn)).get(policy)
        if document is None:
            raise NotFound(f"The group policy with name {policy} cannot be found.")
        return group.name, policy, document

    async def list_policies(self, ctx: RequestContext, name: str | None) -> list[str]:
        group = await self._group(ctx, name)
        await self._iam.authorize(ctx, "iam:ListGroupPolicies", group.arn)
        return list(await self._store.get_inline_policies(group.arn))

    async def delete_policy(
        self, ctx: RequestContext, name: str | None, policy: str | None
    ) -> None:
        group = await self._group(ctx, name)
        policy = valid_name("policyName", policy)
        await self._iam.authorize(ctx, "iam:DeleteGroupPolicy", group.arn)
        await self._store.delete_inline_policy(group.arn, policy)
        self._identities.forget_all()

    async def _group(self, ctx: RequestContext, name: str | None) -> GroupRecord:
        name = valid_name("groupName", name)
        group = await self._store.get_group(ctx.principal.account_id, name)
        if group is None:
            raise NotFound(f"The group with name {name} cannot be found.")
        return group
