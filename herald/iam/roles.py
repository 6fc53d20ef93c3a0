"""IAM roles: trust policies (who may assume the role), role inline policies, tags.

Limits are IAM's default quotas: a trust policy of at most 2,048 characters and role
inline policies of at most 10,240 together (white space not counted), a maximum session
duration of 1 to 12 hours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from herald import ids
from herald.auth.policy import Policy, parse_policy
from herald.auth.policy.document import Kind
from herald.auth.policy.matching import ContextValue
from herald.clock import Clock
from herald.errors import AlreadyExists, LimitExceeded, MalformedPolicy, NotFound, ValidationFailed
from herald.iam.authorizer import request_tags
from herald.iam.service import (
    MAX_TAGS,
    IAMService,
    tags_from,
    valid_name,
    valid_path,
)
from herald.store.base import Store, UserRecord
from herald.store.base_iam import RoleRecord
from herald.types import RequestContext

MAX_TRUST_POLICY_CHARS = 2048
MAX_ROLE_INLINE_CHARS = 10_240
DEFAULT_MAX_SESSION = 3600
_DESCRIPTION = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]{0,1000}")


_IAM_PRINCIPAL = re.compile(r"arn:aws:iam::(\d{12}):(user|role)(?:/[^:]*)?/([^/:]+)")


class RoleNotFound(NotFound):
    pass


class Roles:
    def __init__(self, store: Store, clock: Clock, iam: IAMService) -> None:
        self._store = store
        self._clock = clock
        self._iam = iam
        self._identities = iam.identities

    async def create(
        self,
        ctx: RequestContext,
        name: str | None,
        path: str | None,
        trust_policy: str | None,
        description: str | None,
        max_session: str | None,
        tags: Sequence[tuple[str | None, str | None]],
    ) -> RoleRecord:
        """Raises ValidationFailed, MalformedPolicy, LimitExceeded, AlreadyExists."""
        name = valid_name("roleName", name)
        path = valid_path(path)
        trust_policy, parsed = valid_trust_policy(trust_policy)
        await self._principals_exist(parsed)
        account = ctx.principal.account_id
        arn = f"arn:aws:iam::{account}:role{path}{name}"
        role = RoleRecord(
            account_id=account,
            name=name,
            role_id=ids.iam_id("AROA"),
            arn=arn,
            path=path,
            trust_policy=trust_policy,
            description=_description(description),
            max_session_duration=_max_session(max_session),
            tags=tags_from(tags),
            created_at=self._clock.now(),
        )
        await self._iam.authorize(ctx, "iam:CreateRole", arn, request_tags(role.tags))
        if not await self._store.create_role(role):
            raise AlreadyExists(f"Role with name {name} already exists.")
        return role

    async def get(self, ctx: RequestContext, name: str | None) -> RoleRecord:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        await self._iam.authorize(ctx, "iam:GetRole", role.arn, tags=role.tags)
        return role

    async def list_roles(self, ctx: RequestContext, path_prefix: str | None) -> list[RoleRecord]:
        account = ctx.principal.account_id
        await self._iam.authorize(ctx, "iam:ListRoles", f"arn:aws:iam::{account}:role/")
        prefix = path_prefix or "/"
        return [r for r in await self._store.list_roles(account) if r.path.startswith(prefix)]

    async def delete(self, ctx: RequestContext, name: str | None) -> None:
        """Raises NotFound, InvalidState (DeleteConflict: policies remain)."""
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        await self._iam.authorize(ctx, "iam:DeleteRole", role.arn, tags=role.tags)
        await self._store.delete_role(role.account_id, role.name)
        self._identities.forget(role.arn)

    async def update_trust(
        self, ctx: RequestContext, name: str | None, document: str | None
    ) -> None:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        document, parsed = valid_trust_policy(document)
        await self._principals_exist(parsed)
        await self._iam.authorize(ctx, "iam:UpdateAssumeRolePolicy", role.arn, tags=role.tags)
        await self._store.update_role(role.account_id, role.name, trust_policy=document)

    async def update(
        self,
        ctx: RequestContext,
        name: str | None,
        description: str | None,
        max_session: str | None,
        action: str = "UpdateRole",
    ) -> RoleRecord:
        """UpdateRole, or UpdateRoleDescription (``action``); the role as it now is."""
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        described = None if description is None else _description(description)
        seconds = None if max_session is None else _max_session(max_session)
        await self._iam.authorize(ctx, f"iam:{action}", role.arn, tags=role.tags)
        # None leaves a field as it is, in the store and in the answer.
        await self._store.update_role(
            role.account_id, role.name, description=described, max_session_duration=seconds
        )
        return replace(
            role,
            description=role.description if described is None else described,
            max_session_duration=role.max_session_duration if seconds is None else seconds,
        )

    async def tag(
        self, ctx: RequestContext, name: str | None, tags: Sequence[tuple[str | None, str | None]]
    ) -> None:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        added = tags_from(tags)
        await self._iam.authorize(ctx, "iam:TagRole", role.arn, request_tags(added), tags=role.tags)
        await self._store.edit_iam_tags(role.arn, added, (), MAX_TAGS)

    async def untag(self, ctx: RequestContext, name: str | None, keys: Sequence[str]) -> None:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        context: dict[str, ContextValue] = {"aws:TagKeys": list(keys)}
        await self._iam.authorize(ctx, "iam:UntagRole", role.arn, context, tags=role.tags)
        await self._store.edit_iam_tags(role.arn, {}, keys, MAX_TAGS)

    async def list_tags(self, ctx: RequestContext, name: str | None) -> dict[str, str]:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        await self._iam.authorize(ctx, "iam:ListRoleTags", role.arn, tags=role.tags)
        return dict(role.tags)

    # -- inline policies ---------------------------------------------------------------

    async def put_policy(
        self, ctx: RequestContext, name: str | None, policy: str | None, document: str | None
    ) -> None:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        policy = valid_name("policyName", policy)
        if not document:
            raise MalformedPolicy("Syntax errors in policy.")
        parse_policy(document, Kind.IDENTITY, policy)
        await self._iam.authorize(ctx, "iam:PutRolePolicy", role.arn, tags=role.tags)
        await self._store.put_inline_policy(role.arn, policy, document, MAX_ROLE_INLINE_CHARS)
        self._identities.forget(role.arn)

    async def get_policy(
        self, ctx: RequestContext, name: str | None, policy: str | None
    ) -> tuple[str, str, str]:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        policy = valid_name("policyName", policy)
        await self._iam.authorize(ctx, "iam:GetRolePolicy", role.arn, tags=role.tags)
        document = (await self._store.get_inline_policies(role.arn)).get(policy)
        if document is None:
            raise NotFound(f"The role policy with name {policy} cannot be found.")
        return role.name, policy, document

    async def list_policies(self, ctx: RequestContext, name: str | None) -> list[str]:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        await self._iam.authorize(ctx, "iam:ListRolePolicies", role.arn, tags=role.tags)
        return list(await self._store.get_inline_policies(role.arn))

    async def delete_policy(
        self, ctx: RequestContext, name: str | None, policy: str | None
    ) -> None:
        role = await self.role(ctx.principal.account_id, valid_name("roleName", name))
        policy = valid_name("policyName", policy)
        await self._iam.authorize(ctx, "iam:DeleteRolePolicy", role.arn, tags=role.tags)
        await self._store.delete_inline_policy(role.arn, policy)
        self._identities.forget(role.arn)

    # -- helpers -----------------------------------------------------------------------

    async def _principals_exist(self, policy: Policy) -> None:
        """IAM refuses a trust policy naming a user or role that does not exist (it keeps
        a principal by its unique id): MalformedPolicyDocument, "Invalid principal in
        policy". Account roots and services are not looked up."""
        for statement in policy.statements:
            for entry in statement.principal.aws if statement.principal else ():
                match = _IAM_PRINCIPAL.fullmatch(entry)
                if match is None:
                    continue
                account, kind, name = match.group(1), match.group(2), match.group(3)
                record: UserRecord | RoleRecord | None = (
                    await self._store.get_user(account, name)
                    if kind == "user"
                    else await self._store.get_role(account, name)
                )
                if record is None or record.arn != entry:
                    raise MalformedPolicy(f'Invalid principal in policy: "AWS":"{entry}"')

    async def role(self, account_id: str, name: str) -> RoleRecord:
        """Raises NotFound (NoSuchEntity)."""
        role = await self._store.get_role(account_id, name)
        if role is None:
            raise RoleNotFound(f"The role with name {name} cannot be found.")
        return role


def valid_trust_policy(document: str | None) -> tuple[str, Policy]:
    """A role's AssumeRolePolicyDocument, checked as IAM checks it (text that is not a
    JSON object gets AWS's words for a trust policy, which differ from those for identity
    policies), and the policy it holds."""
    if not document:
        raise MalformedPolicy("Syntax errors in policy.")
    try:
        loaded = json.loads(document)
    except (ValueError, RecursionError):
        loaded = None
    if not isinstance(loaded, dict):
        raise MalformedPolicy("This policy contains invalid Json")
    policy = trust_policy(loaded)
    if len("".join(document.split())) > MAX_TRUST_POLICY_CHARS:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_CHARS}")
    return document, policy


def trust_policy(document: str | dict[str, Any]) -> Policy:
    policy = parse_policy(document, Kind.TRUST, "trust policy")
    for statement in policy.statements:
        if statement.resources is not None or statement.not_resources is not None:
            raise MalformedPolicy("Has prohibited field Resource")
        if statement.not_principal is not None:
            # IAM: "You cannot use NotPrincipal in a role trust policy".
            raise MalformedPolicy("Has prohibited field NotPrincipal")
    return policy


def _description(value: str | None) -> str | None:
    if value is not None and not _DESCRIPTION.fullmatch(value):
        raise ValidationFailed(
            "1 validation error detected: Value at 'description' failed to satisfy "
            "constraint: Member must have length less than or equal to 1000"
        )
    return value


def _max_session(value: str | None) -> int:
    if value is None:
        return DEFAULT_MAX_SESSION
    seconds = int(value) if value.isascii() and value.isdigit() and len(value) < 10 else -1
    if not 3600 <= seconds <= 43200:
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to "
            "satisfy constraint: Member must have value "
            + ("greater than or equal to 3600" if seconds < 3600 else "less than or equal to 43200")
        )
    return seconds
