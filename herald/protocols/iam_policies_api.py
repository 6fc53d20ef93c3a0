"""IAM customer managed policies over the AWS Query protocol."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from herald.iam.facade import IAM
from herald.iam.managed import Holder
from herald.protocols import xml
from herald.protocols._iam_shapes import Result, date, document, page, paged, tags_in, tags_out
from herald.protocols.query import QueryParams
from herald.store.base_iam import AttachedEntity, ManagedPolicyRecord, PolicyVersionRecord
from herald.types import RequestContext

Handler = Callable[[IAM, RequestContext, QueryParams], Awaitable[Result]]

# ListEntitiesForPolicy's lists, in the order of its response; it pages over the groups,
# then the users, then the roles, each by name.
_ENTITY_KINDS = ("Group", "User", "Role")


def _policy(policy: ManagedPolicyRecord, name: str = "Policy") -> xml.Node:
    children = [
        xml.el("PolicyName", policy.name),
        xml.el("PolicyId", policy.policy_id),
        xml.el("Arn", policy.arn),
        xml.el("Path", policy.path),
        xml.el("DefaultVersionId", policy.default_version),
        xml.el("AttachmentCount", str(policy.attachment_count)),
        xml.el("PermissionsBoundaryUsageCount", "0"),
        xml.el("IsAttachable", "true"),
        # ListPolicies leaves descriptions and tags out of its members, as AWS does.
        xml.el("Description", policy.description if name == "Policy" else None),
        xml.el("CreateDate", date(policy.created_at)),
        xml.el("UpdateDate", date(policy.updated_at)),
    ]
    if policy.tags and name == "Policy":
        children.append(tags_out(dict(policy.tags)))
    return xml.node(name, children)


def _version(version: PolicyVersionRecord, name: str = "PolicyVersion") -> xml.Node:
    return xml.node(
        name,
        [
            xml.el("Document", document(version.document)),
            xml.el("VersionId", version.version_id),
            xml.el("IsDefaultVersion", "true" if version.is_default else "false"),
            xml.el("CreateDate", date(version.created_at)),
        ],
    )


async def create_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    policy = await iam.policies.create(
        ctx,
        p.get("PolicyName"),
        p.get("Path"),
        p.get("PolicyDocument"),
        p.get("Description"),
        tags_in(p),
    )
    return [_policy(policy)]


async def get_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    return [_policy(await iam.policies.get(ctx, p.get("PolicyArn")))]


async def list_policies(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    policies = await iam.policies.list_managed(
        ctx, p.get("Scope"), p.get("OnlyAttached"), p.get("PathPrefix")
    )
    return paged(p, policies, lambda x: x.name, lambda x: _policy(x, "member"), "Policies")


async def delete_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.policies.delete(ctx, p.get("PolicyArn"))
    return None


async def get_policy_version(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    version = await iam.policies.get_version(ctx, p.get("PolicyArn"), p.get("VersionId"))
    return [_version(version)]


async def create_policy_version(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    version = await iam.policies.create_version(
        ctx, p.get("PolicyArn"), p.get("PolicyDocument"), p.get("SetAsDefault")
    )
    return [_version(version)]


async def list_policy_versions(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    versions = await iam.policies.list_versions(ctx, p.get("PolicyArn"))
    # Newest first; the marker orders versions by number, zero-padded.
    return paged(
        p,
        versions,
        lambda v: f"{10**9 - int(v.version_id[1:].split('.')[0]):010d}",
        lambda v: _version(v, "member"),
        "Versions",
    )


async def set_default_policy_version(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.policies.set_default_version(ctx, p.get("PolicyArn"), p.get("VersionId"))
    return None


async def delete_policy_version(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    await iam.policies.delete_version(ctx, p.get("PolicyArn"), p.get("VersionId"))
    return None


async def list_entities_for_policy(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
    entities = await iam.policies.entities(
        ctx,
        p.get("PolicyArn"),
        p.get("EntityFilter"),
        p.get("PathPrefix"),
        p.get("PolicyUsageFilter"),
    )
    chosen, trailer = page(p, sorted(entities, key=_entity_key), _entity_key)
    lists = [
        xml.node(f"Policy{kind}s", (_entity(e) for e in chosen if e.kind == kind))
        for kind in _ENTITY_KINDS
    ]
    return [*lists, *trailer]


def _entity_key(entity: AttachedEntity) -> str:
    return f"{_ENTITY_KINDS.index(entity.kind)}/{entity.name}"


def _entity(entity: AttachedEntity) -> xml.Node:
    return xml.node(
        "member",
        [xml.el(f"{entity.kind}Name", entity.name), xml.el(f"{entity.kind}Id", entity.entity_id)],
    )


def _attach(holder: Holder) -> Handler:
    async def handler(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
        await iam.policies.attach(ctx, holder, p.get(f"{holder}Name"), p.get("PolicyArn"))
        return None

    return handler


def _detach(holder: Holder) -> Handler:
    async def handler(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
        await iam.policies.detach(ctx, holder, p.get(f"{holder}Name"), p.get("PolicyArn"))
        return None

    return handler


def _list_attached(holder: Holder) -> Handler:
    async def handler(iam: IAM, ctx: RequestContext, p: QueryParams) -> Result:
        policies = await iam.policies.attached(
            ctx, holder, p.get(f"{holder}Name"), p.get("PathPrefix")
        )
        return paged(
            p,
            policies,
            lambda x: x.name,
            lambda x: xml.node(
                "member", [xml.el("PolicyName", x.name), xml.el("PolicyArn", x.arn)]
            ),
            "AttachedPolicies",
        )

    return handler


ACTIONS: dict[str, Handler] = {
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "GetPolicyVersion": get_policy_version,
    "CreatePolicyVersion": create_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "DeletePolicyVersion": delete_policy_version,
    "ListEntitiesForPolicy": list_entities_for_policy,
    **{f"Attach{h}Policy": _attach(h) for h in Holder},
    **{f"Detach{h}Policy": _detach(h) for h in Holder},
    **{f"ListAttached{h}Policies": _list_attached(h) for h in Holder},
}
