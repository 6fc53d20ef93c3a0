"""IAM over the AWS Query protocol: users, access keys, groups and their inline policies
(roles and managed policies in ``iam_roles_api`` and ``iam_policies_api``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from herald.iam.facade import IAM
from herald.iam.service import AccessKeyRecord, UserRecord
from herald.protocols import iam_policies_api, iam_roles_api, xml
from herald.protocols._iam_shapes import (
    Result,
    date,
    inline_policy,
    paged,
    policy_names,
    refuse_boundary,
    tags_in,
    tags_out,
    tags_page,
)
from herald.protocols.query import QueryParams
from herald.store.base import GroupRecord
from herald.types import RequestContext

NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
VERSION = "2010-05-08"

Handler = Callable[[IAM, RequestContext, QueryParams], Awaitable[Result]]


def _user(name: str, user: UserRecord) -> xml.Node:
    children = [
        xml.el("Path", user.path),
        xml.el("UserName", user.name or None),
        xml.el("UserId", user.user_id),
        xml.el("Arn", user.arn),
        xml.el("CreateDate", date(user.created_at)),
    ]
    # ListUsers leaves tags out of its members, as AWS does (ListUserTags has them).
    if user.tags and name == "User":
        children.append(tags_out(dict(user.tags)))
    return xml.node(name, children)


def _key(name: str, user: str, key: AccessKeyRecord, secret: bool) -> xml.Node:
    return xml.node(
        name,
        [
            xml.el("UserName", user),
            xml.el("AccessKeyId", key.access_key_id),
            xml.el("Status", key.status.value),
            xml.el("SecretAccessKey", key.secret_access_key if secret else None),
            xml.el("CreateDate", date(key.created_at)),
        ],
    )


async def create_user(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    refuse_boundary(p)
    user = await iam.users.create_user(ctx, p.get("UserName"), p.get("Path"), tags_in(p))
    return [_user("User", user)]


async def get_user(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    return [_user("User", await iam.users.get_user(ctx, p.get("UserName")))]


async def list_users(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    users = await iam.users.list_users(ctx, p.get("PathPrefix"))
    return paged(p, users, _by_name, _user_member, "Users")


async def delete_user(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.delete_user(ctx, p.get("UserName"))
    return None


async def update_user(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.update_user(ctx, p.get("UserName"), p.get("NewUserName"), p.get("NewPath"))
    return None


async def tag_user(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.tag_user(ctx, p.get("UserName"), tags_in(p))
    return None


async def untag_user(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.untag_user(ctx, p.get("UserName"), p.scalars("TagKeys.member"))
    return None


async def list_user_tags(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    return tags_page(p, await iam.users.list_user_tags(ctx, p.get("UserName")))


async def create_access_key(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    key = await iam.users.create_access_key(ctx, p.get("UserName"))
    name = key.principal_arn.rsplit("/", 1)[-1]
    return [_key("AccessKey", name, key, secret=True)]


async def list_access_keys(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    user, keys = await iam.users.list_access_keys(ctx, p.get("UserName"))
    return paged(
        p,
        keys,
        lambda k: k.access_key_id,
        lambda k: _key("member", user.name, k, secret=False),
        "AccessKeyMetadata",
    )


async def update_access_key(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.update_access_key(ctx, p.get("UserName"), p.get("AccessKeyId"), p.get("Status"))
    return None


async def delete_access_key(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.delete_access_key(ctx, p.get("UserName"), p.get("AccessKeyId"))
    return None


async def get_access_key_last_used(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    user, use = await iam.users.access_key_last_used(ctx, p.get("AccessKeyId"))
    # A key never used: ServiceName and Region "N/A" and no LastUsedDate (AccessKeyLastUsed
    # in the IAM API reference).
    return [
        xml.el("UserName", user),
        xml.node(
            "AccessKeyLastUsed",
            [
                xml.el("LastUsedDate", None if use is None else date(use.used_at)),
                xml.el("ServiceName", "N/A" if use is None else use.service),
                xml.el("Region", "N/A" if use is None else use.region),
            ],
        ),
    ]


async def put_user_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.put_user_policy(
        ctx, p.get("UserName"), p.get("PolicyName"), p.get("PolicyDocument")
    )
    return None


async def get_user_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    user, name, document = await iam.users.get_user_policy(
        ctx, p.get("UserName"), p.get("PolicyName")
    )
    return inline_policy("UserName", user, name, document)


async def list_user_policies(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    names = await iam.users.list_user_policies(ctx, p.get("UserName"))
    return policy_names(p, names)


async def delete_user_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.users.delete_user_policy(ctx, p.get("UserName"), p.get("PolicyName"))
    return None


def _group(group: GroupRecord, name: str = "Group") -> xml.Node:
    return xml.node(
        name,
        [
            xml.el("Path", group.path),
            xml.el("GroupName", group.name),
            xml.el("GroupId", group.group_id),
            xml.el("Arn", group.arn),
            xml.el("CreateDate", date(group.created_at)),
        ],
    )


async def create_group(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    return [_group(await iam.groups.create(ctx, p.get("GroupName"), p.get("Path")))]


async def get_group(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    group, users = await iam.groups.get(ctx, p.get("GroupName"))
    return [_group(group), *paged(p, users, _by_name, _user_member, "Users")]


async def list_groups(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    groups = await iam.groups.list_groups(ctx, p.get("PathPrefix"))
    return paged(p, groups, _by_name, _group_member, "Groups")


async def delete_group(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.groups.delete(ctx, p.get("GroupName"))
    return None


async def update_group(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.groups.update(ctx, p.get("GroupName"), p.get("NewGroupName"), p.get("NewPath"))
    return None


async def add_user_to_group(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.groups.add_user(ctx, p.get("GroupName"), p.get("UserName"))
    return None


async def remove_user_from_group(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.groups.remove_user(ctx, p.get("GroupName"), p.get("UserName"))
    return None


async def list_groups_for_user(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    groups = await iam.groups.for_user(ctx, p.get("UserName"))
    return paged(p, groups, _by_name, _group_member, "Groups")


async def put_group_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.groups.put_policy(
        ctx, p.get("GroupName"), p.get("PolicyName"), p.get("PolicyDocument")
    )
    return None


async def get_group_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    group, name, document = await iam.groups.get_policy(
        ctx, p.get("GroupName"), p.get("PolicyName")
    )
    return inline_policy("GroupName", group, name, document)


async def list_group_policies(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    names = await iam.groups.list_policies(ctx, p.get("GroupName"))
    return policy_names(p, names)


async def delete_group_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.groups.delete_policy(ctx, p.get("GroupName"), p.get("PolicyName"))
    return None


def _by_name(record: UserRecord | GroupRecord) -> str:
    return record.name


def _user_member(user: UserRecord) -> xml.Node:
    return _user("member", user)


def _group_member(group: GroupRecord) -> xml.Node:
    return _group(group, "member")


ACTIONS: dict[str, Handler] = {
    **iam_roles_api.ACTIONS,
    **iam_policies_api.ACTIONS,
    "CreateGroup": create_group,
    "GetGroup": get_group,
    "ListGroups": list_groups,
    "DeleteGroup": delete_group,
    "UpdateGroup": update_group,
    "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group,
    "ListGroupsForUser": list_groups_for_user,
    "PutGroupPolicy": put_group_policy,
    "GetGroupPolicy": get_group_policy,
    "ListGroupPolicies": list_group_policies,
    "DeleteGroupPolicy": delete_group_policy,
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "UpdateUser": update_user,
    "TagUser": tag_user,
    "UntagUser": untag_user,
    "ListUserTags": list_user_tags,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "GetAccessKeyLastUsed": get_access_key_last_used,
    "PutUserPolicy": put_user_policy,
    "GetUserPolicy": get_user_policy,
    "ListUserPolicies": list_user_policies,
    "DeleteUserPolicy": delete_user_policy,
}
