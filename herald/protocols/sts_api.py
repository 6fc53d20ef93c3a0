"""STS over the AWS Query protocol: GetCallerIdentity (more with the IAM work)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from herald.protocols import xml
from herald.protocols.query import QueryParams
from herald.types import RequestContext

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"

Result = list[xml.Node] | None
Handler = Callable[[object, RequestContext, QueryParams], Awaitable[Result]]


async def get_caller_identity(service: object, ctx: RequestContext, p: QueryParams) -> Result:
    # Always allowed, as in AWS: no policy can deny a caller its own identity.
    principal = ctx.principal
    return [
        xml.el("Arn", principal.arn),
        xml.el("UserId", principal.user_id),
        xml.el("Account", principal.account_id),
    ]


ACTIONS: dict[str, Handler] = {
    "GetCallerIdentity": get_caller_identity,
}
