"""IAM roles over the AWS Query protocol."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from herald.errors import ValidationFailed
from herald.iam.facade import IAM
from herald.protocols import xml
from herald.protocols._iam_shapes import (
    Result,
    date,
    document,
    inline_policy,
    paged,
    policy_names,
    refuse_boundary,
    tags_in,
    tags_out,
    tags_page,
)
from herald.protocols.query import QueryParams
from herald.store.base_iam import RoleRecord
from herald.types import RequestContext

Handler = Callable[[IAM, RequestContext, QueryParams], Awaitable[Result]]


def _role(role: RoleRecord, name: str = "Role", created: bool = False) -> xml.Node:
    """A role as GetRole (``name`` "Role"), CreateRole (``created``) or ListRoles
    ("member") describe it: AWS's CreateRole answer has no MaxSessionDuration, and only
    GetRole's has RoleLastUsed (empty: Herald does not track when roles are used)."""
    children = [
        xml.el("Path", role.path),
        xml.el("RoleName", role.name),
        xml.el("RoleId", role.role_id),
        xml.el("Arn", role.arn),
        xml.el("CreateDate", date(role.created_at)),
        xml.el("AssumeRolePolicyDocument", document(role.trust_policy)),
        xml.el("Description", role.description),
    ]
    if not created:
        children.append(xml.el("MaxSessionDuration", str(role.max_session_duration)))
    if role.tags and name == "Role":
        # ListRoles leaves tags out of its members, as AWS does (ListRoleTags has them).
        children.append(tags_out(dict(role.tags)))
    if name == "Role" and not created:
        children.append(xml.node("RoleLastUsed", []))
    return xml.node(name, children)


async def create_role(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    refuse_boundary(p)
    role = await iam.roles.create(
        ctx,
        p.get("RoleName"),
        p.get("Path"),
        p.get("AssumeRolePolicyDocument"),
        p.get("Description"),
        p.get("MaxSessionDuration"),
        tags_in(p),
    )
    return [_role(role, created=True)]


async def get_role(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    return [_role(await iam.roles.get(ctx, p.get("RoleName")))]


async def list_roles(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    roles = await iam.roles.list_roles(ctx, p.get("PathPrefix"))
    return paged(p, roles, lambda r: r.name, lambda r: _role(r, "member"), "Roles")


async def delete_role(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.roles.delete(ctx, p.get("RoleName"))
    return None


async def update_assume_role_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.roles.update_trust(ctx, p.get("RoleName"), p.get("PolicyDocument"))
    return None


async def update_role(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.roles.update(
        ctx, p.get("RoleName"), p.get("Description"), p.get("MaxSessionDuration")
    )
    return []


async def update_role_description(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    description = p.get("Description")
    if description is None:
        raise ValidationFailed(
            "1 validation error detected: Value null at 'description' failed to satisfy "
            "constraint: Member must not be null"
        )
    role = await iam.roles.update(
        ctx, p.get("RoleName"), description, None, action="UpdateRoleDescription"
    )
    return [_role(role)]


async def tag_role(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.roles.tag(ctx, p.get("RoleName"), tags_in(p))
    return None


async def untag_role(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.roles.untag(ctx, p.get("RoleName"), p.scalars("TagKeys.member"))
    return None


async def list_role_tags(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    return tags_page(p, await iam.roles.list_tags(ctx, p.get("RoleName")))


async def put_role_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.roles.put_policy(ctx, p.get("RoleName"), p.get("PolicyName"), p.get("PolicyDocument"))
    return None


async def get_role_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    role, name, text = await iam.roles.get_policy(ctx, p.get("RoleName"), p.get("PolicyName"))
    return inline_policy("RoleName", role, name, text)


async def list_role_policies(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    names = await iam.roles.list_policies(ctx, p.get("RoleName"))
    return policy_names(p, names)


async def delete_role_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.roles.delete_policy(ctx, p.get("RoleName"), p.get("PolicyName"))
    return None


ACTIONS: dict[str, Handler] = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "UpdateRole": update_role,
    "UpdateRoleDescription": update_role_description,
    "TagRole": tag_role,
    "UntagRole": untag_role,
    "ListRoleTags": list_role_tags,
    "PutRolePolicy": put_role_policy,
    "GetRolePolicy": get_role_policy,
    "ListRolePolicies": list_role_policies,
    "DeleteRolePolicy": delete_role_policy,
}
