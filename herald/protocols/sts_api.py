"""STS over the AWS Query protocol: GetCallerIdentity, AssumeRole, GetSessionToken."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable

from herald.errors import AccessDenied, InvalidParameter
from herald.protocols import xml
from herald.protocols.query import QueryParams
from herald.sts.service import Credentials, STSService
from herald.types import RequestContext

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"

Result = list[xml.Node] | None
Handler = Callable[[STSService, RequestContext, QueryParams], Awaitable[Result]]


def _date(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _credentials(credentials: Credentials) -> xml.Node:
    session = credentials.session
    return xml.node(
        "Credentials",
        [
            xml.el("AccessKeyId", session.access_key_id),
            xml.el("SecretAccessKey", session.secret_access_key),
            xml.el("SessionToken", credentials.session_token),
            xml.el("Expiration", _date(credentials.expiration)),
        ],
    )


async def get_caller_identity(service: STSService, ctx: RequestContext, p: QueryParams) -> Result:
    # Always allowed, as in AWS: no policy can deny a caller its own identity.
    principal = ctx.principal
    return [
        xml.el("Arn", principal.arn),
        xml.el("UserId", principal.user_id),
        xml.el("Account", principal.account_id),
    ]


async def assume_role(service: STSService, ctx: RequestContext, p: QueryParams) -> Result:
    if p.members("Tags.member") or p.scalars("TransitiveTagKeys.member"):
        raise InvalidParameter("Herald does not support session tags.")
    if p.get("SourceIdentity") is not None:
        # Never dropped: the caller would believe the session carries it.
        raise InvalidParameter("Herald does not support SourceIdentity.")
    _no_mfa(p)
    role = await service.assume_role(
        ctx,
        p.get("RoleArn"),
        p.get("RoleSessionName"),
        p.get("DurationSeconds"),
        p.get("Policy"),
        [m.get("arn") for m in p.members("PolicyArns.member")],
        p.get("ExternalId"),
    )
    result = [
        _credentials(role.credentials),
        xml.node(
            "AssumedRoleUser",
            [xml.el("AssumedRoleId", role.assumed_role_id), xml.el("Arn", role.arn)],
        ),
    ]
    if role.packed_policy_size is not None:
        result.append(xml.el("PackedPolicySize", str(role.packed_policy_size)))
    return result


def _no_mfa(p: QueryParams) -> None:
    """An MFA code cannot be checked here, so it fails as a wrong code fails in AWS."""
    if p.get("SerialNumber") is not None or p.get("TokenCode") is not None:
        raise AccessDenied(
            "MultiFactorAuthentication failed: Herald has no MFA devices to check a code against."
        )


async def get_session_token(service: STSService, ctx: RequestContext, p: QueryParams) -> Result:
    _no_mfa(p)
    return [_credentials(await service.get_session_token(ctx, p.get("DurationSeconds")))]


ACTIONS: dict[str, Handler] = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
}
