"""IAM users, access keys and user inline policies, with IAM's rules and limits.

Every action is authorised like any other: the caller's identity policies (the account
root may do everything in its account). IAM is global: ARNs carry no region.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from herald import ids
from herald.auth.policy import parse_policy
from herald.auth.policy.document import Kind
from herald.auth.policy.matching import ContextValue
from herald.clock import Clock
from herald.errors import (
    AccessDenied,
    AlreadyExists,
    InvalidClientTokenId,
    InvalidParameter,
    LimitExceeded,
    MalformedPolicy,
    NotFound,
    ValidationFailed,
)
from herald.iam.authorizer import Authorizer, request_tags
from herald.store.base import AccessKeyRecord, KeyStatus, Store, UserRecord
from herald.store.base_iam import KeyUse, SessionKind
from herald.types import RequestContext

MAX_KEYS_PER_USER = 2
MAX_USER_INLINE_CHARS = 2048
MAX_TAGS = 50
_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
_PATH = re.compile(r"/([\x21-\x7e]{0,510}/)?")
_KEY_ID = re.compile(r"[\w]{16,128}", re.ASCII)


class UserNotFound(NotFound):
    pass


class IAMService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        authorizer: Authorizer,
        on_key_change: Callable[[str], None] = lambda key_id: None,
        on_principal_renamed: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_principal_renamed``: a user was renamed, and the resource policies naming
        it with it (the caches of topics, queues and keys must forget them)."""
        self._store = store
        self._clock = clock
        self._authorizer = authorizer
        self.identities = self._identities = authorizer.identities
        self._on_key_change = on_key_change
        self._on_principal_renamed = on_principal_renamed

    # -- users -------------------------------------------------------------------------

    async def create_user(
        self,
        ctx: RequestContext,
        name: str | None,
        path: str | None,
        tags: Sequence[tuple[str | None, str | None]],
    ) -> UserRecord:
        """Raises InvalidParameter, AlreadyExists (EntityAlreadyExists), AccessDenied."""
        name = valid_name("userName", name)
        path = valid_path(path)
        tag_map = tags_from(tags)
        account = ctx.principal.account_id
        arn = f"arn:aws:iam::{account}:user{path}{name}"
        await self.authorize(ctx, "iam:CreateUser", arn, request_tags(tag_map))
        user = UserRecord(account, name, ids.iam_id("AIDA"), arn, path, tag_map, self._clock.now())
        if not await self._store.create_user(user):
            raise AlreadyExists(f"User with name {name} already exists.")
        return user

    async def get_user(self, ctx: RequestContext, name: str | None) -> UserRecord:
        """The named user, or the caller's own when no name is given."""
        if name is None:
            if ctx.principal.is_root:
                account = ctx.principal.account_id
                return UserRecord(account, "", account, ctx.principal.arn, "/", {}, 0.0)
            name = _own_name(ctx)
        user = await self.user(ctx, name)
        await self.authorize(ctx, "iam:GetUser", user.arn, tags=user.tags)
        return user

    async def list_users(self, ctx: RequestContext, path_prefix: str | None) -> list[UserRecord]:
        account = ctx.principal.account_id
        await self.authorize(ctx, "iam:ListUsers", f"arn:aws:iam::{account}:user/")
        prefix = path_prefix or "/"
        return [u for u in await self._store.list_users(account) if u.path.startswith(prefix)]

    async def delete_user(self, ctx: RequestContext, name: str | None) -> None:
        """Raises NotFound, InvalidState (DeleteConflict: keys or policies remain)."""
        user = await self.user(ctx, valid_name("userName", name))
        await self.authorize(ctx, "iam:DeleteUser", user.arn, tags=user.tags)
        await self._store.delete_user(user.account_id, user.name)

    async def update_user(
        self,
        ctx: RequestContext,
        name: str | None,
        new_name: str | None,
        new_path: str | None,
    ) -> UserRecord:
        """Rename user ``name`` and/or give it ``new_path`` (None: unchanged); the user as
        it now is. Its unique id, tags, groups, policies and access keys follow it: its
        keys sign as its new ARN from the next request on. Resource policies and grants
        that name it as a principal follow it; identity policies that name its old ARN as
        a resource do not (IAM, "Renaming an IAM user"). The caller needs iam:UpdateUser
        on the old ARN and on the new one.

        Raises ValidationFailed, NotFound, AlreadyExists (EntityAlreadyExists),
        AccessDenied.
        """
        name = valid_name("userName", name)
        new_name = None if new_name is None else valid_name("newUserName", new_name)
        new_path = None if new_path is None else valid_path(new_path, "newPath")
        user = await self.user(ctx, name)
        new_name, new_path = new_name or user.name, new_path or user.path
        arn = f"arn:aws:iam::{user.account_id}:user{new_path}{new_name}"
        renamed = replace(user, name=new_name, path=new_path, arn=arn)
        await self.authorize(ctx, "iam:UpdateUser", user.arn, tags=user.tags)
        if renamed.arn != user.arn:
            await self.authorize(ctx, "iam:UpdateUser", renamed.arn, tags=user.tags)
        moved = await self._store.rename_user(
            user.account_id, user.name, renamed.name, renamed.path, renamed.arn
        )
        # The policies cached for the old ARN, and the principal each key signed as.
        self._identities.forget(user.arn)
        self._identities.forget(renamed.arn)
        for key_id in moved:
            self._on_key_change(key_id)
        if renamed.arn != user.arn:
            self._on_principal_renamed()
        return renamed

    async def tag_user(
        self,
        ctx: RequestContext,
        name: str | None,
        tags: Sequence[tuple[str | None, str | None]],
    ) -> None:
        user = await self.user(ctx, valid_name("userName", name))
        added = tags_from(tags)
        await self.authorize(ctx, "iam:TagUser", user.arn, request_tags(added), tags=user.tags)
        await self._store.edit_iam_tags(user.arn, added, (), MAX_TAGS)

    async def untag_user(self, ctx: RequestContext, name: str | None, keys: Sequence[str]) -> None:
        user = await self.user(ctx, valid_name("userName", name))
        context: dict[str, ContextValue] = {"aws:TagKeys": list(keys)}
        await self.authorize(ctx, "iam:UntagUser", user.arn, context, tags=user.tags)
        await self._store.edit_iam_tags(user.arn, {}, keys, MAX_TAGS)

    async def list_user_tags(self, ctx: RequestContext, name: str | None) -> dict[str, str]:
        user = await self.user(ctx, valid_name("userName", name))
        await self.authorize(ctx, "iam:ListUserTags", user.arn, tags=user.tags)
        return dict(user.tags)

    # -- access keys -------------------------------------------------------------------

    async def create_access_key(
        self, ctx: RequestContext, user_name: str | None
    ) -> AccessKeyRecord:
        """A new key for a user (or the caller); the secret is shown only now."""
        user = await self._key_owner(ctx, user_name)
        await self.authorize(ctx, "iam:CreateAccessKey", user.arn, tags=user.tags)
        key = AccessKeyRecord(
            access_key_id=ids.iam_id("AKIA"),
            secret_access_key=ids.secret_access_key(),
            account_id=user.account_id,
            principal_arn=user.arn,
            user_id=user.user_id,
            status=KeyStatus.ACTIVE,
            created_at=self._clock.now(),
        )
        await self._store.add_access_key(key, MAX_KEYS_PER_USER)
        return key

    async def list_access_keys(
        self, ctx: RequestContext, user_name: str | None
    ) -> tuple[UserRecord, list[AccessKeyRecord]]:
        user = await self._key_owner(ctx, user_name)
        await self.authorize(ctx, "iam:ListAccessKeys", user.arn, tags=user.tags)
        return user, await self._store.list_access_keys(user.arn)

    async def update_access_key(
        self, ctx: RequestContext, user_name: str | None, key_id: str | None, status: str | None
    ) -> None:
        """Active or Inactive; an inactive key is refused from the next request on."""
        user = await self._key_owner(ctx, user_name)
        if status not in ("Active", "Inactive"):
            raise ValidationFailed(
                f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Active, Inactive]"
            )
        key_id = valid_name("accessKeyId", key_id, _KEY_ID)
        await self.authorize(ctx, "iam:UpdateAccessKey", user.arn, tags=user.tags)
        await self._store.set_access_key_status(user.arn, key_id, KeyStatus(status))
        self._on_key_change(key_id)

    async def delete_access_key(
        self, ctx: RequestContext, user_name: str | None, key_id: str | None
    ) -> None:
        user = await self._key_owner(ctx, user_name)
        key_id = valid_name("accessKeyId", key_id, _KEY_ID)
        await self.authorize(ctx, "iam:DeleteAccessKey", user.arn, tags=user.tags)
        await self._store.delete_access_key(user.arn, key_id)
        self._on_key_change(key_id)

    async def access_key_last_used(
        self, ctx: RequestContext, key_id: str | None
    ) -> tuple[str, KeyUse | None]:
        """The name of the IAM user that owns access key ``key_id``, and when (epoch s),
        for which service and in which region the key last signed a request (None: never
        since it was made). Uses are recorded at most once a minute per key and node, so
        the time is accurate to about a minute, as AWS's is approximate.

        Raises ValidationFailed, NotFound (no key of an IAM user of the caller's account:
        the account root's keys and temporary credentials are not IAM users' keys),
        AccessDenied.
        """
        key_id = valid_name("accessKeyId", key_id, _KEY_ID)
        key = await self._store.get_access_key(key_id)
        if (
            key is None
            or key.account_id != ctx.principal.account_id
            or not key.principal_arn.split(":", 5)[-1].startswith("user/")
        ):
            raise NotFound(f"The Access Key with id {key_id} cannot be found.")
        user = await self.user(ctx, key.principal_arn.rsplit("/", 1)[-1])
        await self.authorize(ctx, "iam:GetAccessKeyLastUsed", user.arn, tags=user.tags)
        return user.name, await self._store.get_key_use(key_id)

    # -- inline policies ---------------------------------------------------------------

    async def put_user_policy(
        self, ctx: RequestContext, user_name: str | None, name: str | None, document: str | None
    ) -> None:
        """Raises MalformedPolicy (MalformedPolicyDocument), LimitExceeded, NotFound."""
        user = await self.user(ctx, valid_name("userName", user_name))
        name = valid_name("policyName", name, _POLICY_NAME)
        if not document:
            raise MalformedPolicy("Syntax errors in policy.")
        parse_policy(document, Kind.IDENTITY, name)
        await self.authorize(ctx, "iam:PutUserPolicy", user.arn, tags=user.tags)
        await self._store.put_inline_policy(user.arn, name, document, MAX_USER_INLINE_CHARS)
        self._identities.forget(user.arn)

    async def get_user_policy(
        self, ctx: RequestContext, user_name: str | None, name: str | None
    ) -> tuple[str, str, str]:
        user = await self.user(ctx, valid_name("userName", user_name))
        name = valid_name("policyName", name, _POLICY_NAME)
        await self.authorize(ctx, "iam:GetUserPolicy", user.arn, tags=user.tags)
        document = (await self._store.get_inline_policies(user.arn)).get(name)
        if document is None:
            raise NotFound(f"The user policy with name {name} cannot be found.")
        return user.name, name, document

    async def list_user_policies(self, ctx: RequestContext, user_name: str | None) -> list[str]:
        user = await self.user(ctx, valid_name("userName", user_name))
        await self.authorize(ctx, "iam:ListUserPolicies", user.arn, tags=user.tags)
        return list(await self._store.get_inline_policies(user.arn))

    async def delete_user_policy(
        self, ctx: RequestContext, user_name: str | None, name: str | None
    ) -> None:
        user = await self.user(ctx, valid_name("userName", user_name))
        name = valid_name("policyName", name, _POLICY_NAME)
        await self.authorize(ctx, "iam:DeleteUserPolicy", user.arn, tags=user.tags)
        await self._store.delete_inline_policy(user.arn, name)
        self._identities.forget(user.arn)

    # -- helpers -----------------------------------------------------------------------

    async def user(self, ctx: RequestContext, name: str) -> UserRecord:
        """The caller's account's user ``name``; raises NotFound."""
        user = await self._store.get_user(ctx.principal.account_id, name)
        if user is None:
            raise UserNotFound(f"The user with name {name} cannot be found.")
        return user

    async def _key_owner(self, ctx: RequestContext, user_name: str | None) -> UserRecord:
        if user_name is not None:
            return await self.user(ctx, valid_name("userName", user_name))
        if ctx.principal.is_root:
            raise InvalidParameter(
                "Herald issues the account root's keys with `herald admin access-keys`; "
                "name a UserName."
            )
        return await self.user(ctx, _own_name(ctx))

    async def authorize(
        self,
        ctx: RequestContext,
        action: str,
        resource: str,
        context: Mapping[str, ContextValue] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Allow ``action`` on ``resource`` by the caller's identity policies, or raise
        AccessDenied (InvalidClientTokenId for GetSessionToken credentials: IAM refuses
        them unless they carry MFA, which Herald does not issue)."""
        if ctx.principal.session == SessionKind.SESSION_TOKEN:
            raise InvalidClientTokenId("The security token included in the request is invalid")
        decision = await self._authorizer.decide(
            ctx,
            action,
            resource,
            context=context,
            resource_tags=None if tags is None else _tag_source(tags),
        )
        if not decision.allowed:
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: {action} "
                f"on resource: {resource} because no identity-based policy allows the "
                f"{action} action"
            )


def _tag_source(tags: Mapping[str, str]) -> Callable[[], Awaitable[Mapping[str, str]]]:
    async def read() -> Mapping[str, str]:
        return tags

    return read


def _own_name(ctx: RequestContext) -> str:
    """The caller's user name, for actions whose UserName defaults to the caller."""
    if not ctx.principal.arn.split(":", 5)[-1].startswith("user/"):
        raise ValidationFailed("Must specify userName when calling with non-User credentials")
    return ctx.principal.arn.rsplit("/", 1)[-1]


def valid_name(field: str, value: str | None, pattern: re.Pattern[str] = _NAME) -> str:
    if value is None:
        raise ValidationFailed(
            f"1 validation error detected: Value null at '{field}' failed to satisfy "
            "constraint: Member must not be null"
        )
    longest = _MAX_LENGTHS.get(field)
    if longest is not None and len(value) > longest:
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must have length less than or equal to {longest}"
        )
    if not pattern.fullmatch(value):
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {pattern.pattern}"
        )
    return value


# Lengths from botocore's IAM model (userNameType, groupNameType, policyNameType,
# roleNameType).
_MAX_LENGTHS = {
    "userName": 64,
    "newUserName": 64,
    "groupName": 128,
    "newGroupName": 128,
    "policyName": 128,
    "roleName": 64,
}


def valid_path(value: str | None, field: str = "path") -> str:
    if value is None:
        return "/"
    if not _PATH.fullmatch(value):
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: (\\u002F)|"
            "(\\u002F[\\u0021-\\u007E]+\\u002F)"
        )
    return value


def tags_from(pairs: Sequence[tuple[str | None, str | None]]) -> Mapping[str, str]:
    result: dict[str, str] = {}
    for key, value in pairs:
        if not key or len(key) > 128 or value is None or len(value) > 256:
            raise InvalidParameter("Tag keys must be 1-128 characters and values at most 256.")
        result[key] = value
    if len(result) > MAX_TAGS:
        raise LimitExceeded(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    return result


__all__ = ["AccessKeyRecord", "IAMService", "UserRecord"]
