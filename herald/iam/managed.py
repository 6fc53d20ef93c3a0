"""Customer managed policies: versioned documents attached to users, groups and roles.

IAM's rules: at most 5 versions, one of them the default (the one that applies); a policy
is deleted only when detached from everything and left with its default version alone;
a user, group or role has at most 10 managed policies; a document is at most 6,144
characters, white space not counted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum

from herald import ids
from herald.auth.policy import parse_policy
from herald.auth.policy.document import Kind
from herald.clock import Clock
from herald.errors import (
    AlreadyExists,
    InvalidParameter,
    LimitExceeded,
    MalformedPolicy,
    NotFound,
    ValidationFailed,
)
from herald.iam.authorizer import request_tags
from herald.iam.service import IAMService, tags_from, valid_name, valid_path
from herald.store.base import Store
from herald.store.base_iam import AttachedEntity, ManagedPolicyRecord, PolicyVersionRecord
from herald.types import RequestContext

MAX_VERSIONS = 5
MAX_ATTACHED = 10
MAX_DOCUMENT_CHARS = 6144
_VERSION = re.compile(r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?")
_DESCRIPTION = re.compile(r"[\s\S]{0,1000}")
_NOT_AN_ARN = "Invalid ARN:  Could not be parsed!"  # AWS's words, two spaces included
# ListEntitiesForPolicy's filters (botocore's EntityType and PolicyUsageType).
_ENTITY_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
_USAGE_FILTERS = ("PermissionsPolicy", "PermissionsBoundary")


class Holder(StrEnum):
    """What a managed policy is attached to."""

    USER = "User"
    GROUP = "Group"
    ROLE = "Role"


# The ARN of a holder by its name, raising NotFound when there is none.
HolderLookup = Callable[[RequestContext, Holder, str | None], Awaitable[str]]


class ManagedPolicies:
    def __init__(self, store: Store, clock: Clock, iam: IAMService, holder: HolderLookup) -> None:
        self._store = store
        self._clock = clock
        self._iam = iam
        self._identities = iam.identities
        self._holder = holder

    async def create(
        self,
        ctx: RequestContext,
        name: str | None,
        path: str | None,
        document: str | None,
        description: str | None,
        tags: Sequence[tuple[str | None, str | None]],
    ) -> ManagedPolicyRecord:
        """Raises ValidationFailed, MalformedPolicy, LimitExceeded, AlreadyExists."""
        name = valid_name("policyName", name)
        path = valid_path(path)
        document = _document(document)
        if description is not None and not _DESCRIPTION.fullmatch(description):
            raise ValidationFailed(
                "1 validation error detected: Value at 'description' failed to satisfy "
                "constraint: Member must have length less than or equal to 1000"
            )
        account = ctx.principal.account_id
        arn = f"arn:aws:iam::{account}:policy{path}{name}"
        now = self._clock.now()
        policy = ManagedPolicyRecord(
            arn, account, name, ids.iam_id("ANPA"), path, description, "v1", 0,
            tags_from(tags), now, now,
        )  # fmt: skip
        await self._iam.authorize(ctx, "iam:CreatePolicy", arn, request_tags(policy.tags))
        if not await self._store.create_managed_policy(policy, document):
            raise AlreadyExists(
                f"A policy called {name} already exists. Duplicate names are not allowed."
            )
        return policy

    async def get(self, ctx: RequestContext, arn: str | None) -> ManagedPolicyRecord:
        policy = await self._policy(ctx, arn)
        await self._iam.authorize(ctx, "iam:GetPolicy", policy.arn)
        return policy

    async def list_managed(
        self,
        ctx: RequestContext,
        scope: str | None,
        only_attached: str | None,
        path_prefix: str | None,
    ) -> list[ManagedPolicyRecord]:
        """Scope All or Local lists the account's policies; AWS (AWS managed policies)
        lists none, as Herald has none."""
        if scope not in (None, "All", "AWS", "Local"):
            raise ValidationFailed(
                f"1 validation error detected: Value '{scope}' at 'scope' failed to satisfy "
                "constraint: Member must satisfy enum value set: [All, AWS, Local]"
            )
        account = ctx.principal.account_id
        await self._iam.authorize(ctx, "iam:ListPolicies", f"arn:aws:iam::{account}:policy/")
        if scope == "AWS":
            return []
        prefix = path_prefix or "/"
        attached_only = (only_attached or "").lower() == "true"
        return [
            p
            for p in await self._store.list_managed_policies(account)
            if p.path.startswith(prefix) and (p.attachment_count or not attached_only)
        ]

    async def delete(self, ctx: RequestContext, arn: str | None) -> None:
        """Raises NotFound, InvalidState (DeleteConflict)."""
        policy = await self._policy(ctx, arn)
        await self._iam.authorize(ctx, "iam:DeletePolicy", policy.arn)
        await self._store.delete_managed_policy(policy.arn)

    # -- versions ----------------------------------------------------------------------

    async def get_version(
        self, ctx: RequestContext, arn: str | None, version_id: str | None
    ) -> PolicyVersionRecord:
        policy = await self._policy(ctx, arn)
        version_id = _version_id(version_id)
        await self._iam.authorize(ctx, "iam:GetPolicyVersion", policy.arn)
        version = await self._store.get_policy_version(policy.arn, version_id)
        if version is None:
            raise NotFound(f"Policy {policy.arn} version {version_id} does not exist.")
        return version

    async def list_versions(
        self, ctx: RequestContext, arn: str | None
    ) -> list[PolicyVersionRecord]:
        policy = await self._policy(ctx, arn)
        await self._iam.authorize(ctx, "iam:ListPolicyVersions", policy.arn)
        return await self._store.list_policy_versions(policy.arn)

    async def create_version(
        self, ctx: RequestContext, arn: str | None, document: str | None, set_default: str | None
    ) -> PolicyVersionRecord:
        """Raises LimitExceeded when the policy has 5 versions."""
        policy = await self._policy(ctx, arn)
        document = _document(document)
        await self._iam.authorize(ctx, "iam:CreatePolicyVersion", policy.arn)
        default = (set_default or "").lower() == "true"
        version = await self._store.create_policy_version(
            policy.arn, document, default, self._clock.now(), MAX_VERSIONS
        )
        if default:
            self._identities.forget_all()
        return version

    async def set_default_version(
        self, ctx: RequestContext, arn: str | None, version_id: str | None
    ) -> None:
        policy = await self._policy(ctx, arn)
        version_id = _version_id(version_id)
        await self._iam.authorize(ctx, "iam:SetDefaultPolicyVersion", policy.arn)
        await self._store.set_default_policy_version(policy.arn, version_id, self._clock.now())
        self._identities.forget_all()

    async def delete_version(
        self, ctx: RequestContext, arn: str | None, version_id: str | None
    ) -> None:
        policy = await self._policy(ctx, arn)
        version_id = _version_id(version_id)
        await self._iam.authorize(ctx, "iam:DeletePolicyVersion", policy.arn)
        await self._store.delete_policy_version(policy.arn, version_id)

    # -- attachments -------------------------------------------------------------------

    async def attach(
        self, ctx: RequestContext, holder: Holder, name: str | None, arn: str | None
    ) -> None:
        """Raises NotFound (no such holder or policy), LimitExceeded."""
        holder_arn = await self._holder(ctx, holder, name)
        policy = await self._policy(ctx, arn, attaching=True)
        context = {"iam:PolicyARN": policy.arn}
        await self._iam.authorize(ctx, f"iam:Attach{holder}Policy", holder_arn, context)
        await self._store.attach_policy(holder_arn, policy.arn, MAX_ATTACHED)
        self._forget(holder, holder_arn)

    async def detach(
        self, ctx: RequestContext, holder: Holder, name: str | None, arn: str | None
    ) -> None:
        holder_arn = await self._holder(ctx, holder, name)
        policy_arn = _arn(arn)
        context = {"iam:PolicyARN": policy_arn}
        await self._iam.authorize(ctx, f"iam:Detach{holder}Policy", holder_arn, context)
        await self._store.detach_policy(holder_arn, policy_arn)
        self._forget(holder, holder_arn)

    async def attached(
        self, ctx: RequestContext, holder: Holder, name: str | None, path_prefix: str | None
    ) -> list[ManagedPolicyRecord]:
        holder_arn = await self._holder(ctx, holder, name)
        await self._iam.authorize(ctx, f"iam:ListAttached{holder}Policies", holder_arn)
        prefix = path_prefix or "/"
        policies = await self._store.list_attached_policies(holder_arn)
        return [p for p in policies if p.path.startswith(prefix)]

    async def entities(
        self,
        ctx: RequestContext,
        arn: str | None,
        entity_filter: str | None,
        path_prefix: str | None,
        usage_filter: str | None,
    ) -> list[AttachedEntity]:
        """The users, groups and roles the policy is attached to (ListEntitiesForPolicy),
        of kind ``entity_filter`` (None: all) and under ``path_prefix``. Herald's policies
        are only ever permissions policies: PolicyUsageFilter PermissionsBoundary finds
        nothing, nor do the entity filters for policies.

        Raises ValidationFailed, InvalidParameter (InvalidInput: not an ARN), NotFound,
        AccessDenied.
        """
        _one_of("entityFilter", entity_filter, _ENTITY_FILTERS)
        _one_of("policyUsageFilter", usage_filter, _USAGE_FILTERS)
        if arn is not None and not _is_arn(arn):
            raise InvalidParameter(_NOT_AN_ARN)
        policy = await self._policy(ctx, arn)
        await self._iam.authorize(ctx, "iam:ListEntitiesForPolicy", policy.arn)
        if usage_filter == "PermissionsBoundary":
            return []
        prefix = path_prefix or "/"
        return [
            e
            for e in await self._store.list_policy_entities(policy.arn)
            if entity_filter in (None, e.kind) and e.path.startswith(prefix)
        ]

    # -- helpers -----------------------------------------------------------------------

    def _forget(self, holder: Holder, holder_arn: str) -> None:
        if holder is Holder.GROUP:
            self._identities.forget_all()  # every member's policies changed
        else:
            self._identities.forget(holder_arn)

    async def _policy(
        self, ctx: RequestContext, arn: str | None, attaching: bool = False
    ) -> ManagedPolicyRecord:
        """Raises NotFound, in AWS's words for the operation (Attach*Policy has its own)."""
        arn = _arn(arn, attaching)
        policy = await self._store.get_managed_policy(arn)
        if policy is None or policy.account_id != ctx.principal.account_id:
            if attaching:
                raise NotFound(f"Policy {arn} does not exist or is not attachable.")
            raise NotFound(f"Policy {arn} was not found.")
        return policy


def _arn(value: str | None, attaching: bool = False) -> str:
    if value is None:
        raise ValidationFailed(
            "1 validation error detected: Value null at 'policyArn' failed to satisfy "
            "constraint: Member must not be null"
        )
    if not _is_arn(value):
        if attaching:
            raise ValidationFailed(_NOT_AN_ARN)
        raise ValidationFailed(f"ARN {value} is not valid.")
    return value


def _is_arn(value: str) -> bool:
    return 20 <= len(value) <= 2048 and value.startswith("arn:")


def _one_of(field: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def _version_id(value: str | None) -> str:
    return valid_name("versionId", value, _VERSION)


def _document(document: str | None) -> str:
    if not document:
        raise MalformedPolicy("Syntax errors in policy.")
    parse_policy(document, Kind.IDENTITY, "managed policy")
    if len("".join(document.split())) > MAX_DOCUMENT_CHARS:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MAX_DOCUMENT_CHARS}")
    return document
