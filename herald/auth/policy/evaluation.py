"""AWS's policy evaluation logic, as a pure function of policies and a request.

The rules (IAM "Policy evaluation logic", "Cross-account policy evaluation logic", and the
KMS key-policy rule):

1. An explicit Deny in any policy that applies (identity, session, resource) decides.
2. Within one account, an Allow from the caller's identity policies suffices, and so does
   an Allow from the resource policy that names the caller (or "*"). A resource policy
   that names only the caller's *account* delegates to that account's identity policies.
3. Across accounts both sides must allow: the resource policy (naming the caller or its
   account) and the caller's identity policies.
4. Session policies (an assumed role's) narrow the identity side: it allows only what
   both the identity policies and the session policies allow. A resource policy that
   names the role is narrowed the same way; one that names the session itself is not.
5. When the resource policy is required (KMS key policies), nothing is allowed unless the
   resource policy allows, directly or by delegating to the caller's account.
6. An account's root has every permission of its account on the identity side; an AWS
   service principal or an anonymous caller has no identity side and is admitted only by
   a resource policy that names it (or "*").
7. Policy variables are substituted only in policies of Version 2012-10-17.

Anything not allowed is an implicit deny. A decision names the statements behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from herald.auth.policy.conditions import all_hold
from herald.auth.policy.document import Effect, Policy, Principals, Statement
from herald.auth.policy.matching import ContextValue, Lookup, lookup_in, matches


@dataclass(frozen=True)
class PrincipalInfo:
    """The caller as policies see it."""

    arn: str
    account: str | None  # None for an AWS service
    type: str  # "Account", "User", "AssumedRole", "FederatedUser", "AWSService", "Anonymous"
    userid: str
    username: str | None = None
    role_arn: str | None = None  # for an assumed-role session, the role's ARN
    service: str | None = None  # for an AWS service, e.g. "events.amazonaws.com"

    @property
    def is_root(self) -> bool:
        return self.type == "Account"


@dataclass(frozen=True)
class Request:
    principal: PrincipalInfo
    action: str  # "sns:Publish"
    resource: str  # an ARN, or "*"
    resource_account: str | None
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicySet:
    identity: tuple[Policy, ...] = ()
    resource: Policy | None = None
    session: tuple[Policy, ...] | None = None  # None: the caller has no session policy
    resource_required: bool = False  # KMS: the key policy must allow


class Outcome(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW


class _Grant(Enum):
    NONE = 0
    ACCOUNT = 1  # the resource policy names the caller's account: delegation
    ROLE = 2  # it names the role of the caller's session: session policies still narrow it
    DIRECT = 3  # it names the caller itself (or everyone)


def evaluate(request: Request, policies: PolicySet) -> Decision:
    """Decide ``request`` under ``policies`` (rules in the module docstring)."""
    lookup = lookup_in(_context(request))
    principal = request.principal
    identity = [] if principal.type == "AWSService" else list(policies.identity)
    session = list(policies.session or ())
    resource = policies.resource

    denies = [
        _describe(p, s, "denies")
        for p in (*identity, *session)
        for s in p.statements
        if s.effect is Effect.DENY and _applies(p, s, request, lookup)
    ]
    if resource is not None:
        denies += [
            _describe(resource, s, "denies")
            for s in resource.statements
            if s.effect is Effect.DENY
            and _principal_grant(s, principal) is not _Grant.NONE
            and _applies(resource, s, request, lookup)
        ]
    if denies:
        return Decision(Outcome.EXPLICIT_DENY, tuple(denies))

    reasons: list[str] = []
    identity_allows = _identity_allows(principal, identity, session, request, lookup, reasons)
    grant = _resource_grant(resource, request, lookup, reasons)
    if grant is _Grant.ROLE:
        # A grant to the role reaches the session only as far as its session policies do.
        narrowed = not session or bool(_allowing(session, request, lookup))
        grant = _Grant.DIRECT if narrowed else _Grant.NONE
    same_account = principal.account is not None and principal.account == (
        request.resource_account or principal.account
    )
    if principal.type in ("AWSService", "Anonymous"):
        allowed = grant is _Grant.DIRECT
    elif policies.resource_required:
        if same_account:
            allowed = grant is _Grant.DIRECT or (grant is _Grant.ACCOUNT and identity_allows)
        else:
            allowed = grant is not _Grant.NONE and identity_allows
    elif same_account:
        allowed = identity_allows or grant is _Grant.DIRECT
    else:
        allowed = identity_allows and grant is not _Grant.NONE
    if allowed:
        return Decision(Outcome.ALLOW, tuple(reasons))
    return Decision(Outcome.IMPLICIT_DENY, tuple(reasons) or ("no statement allows",))


def _context(request: Request) -> dict[str, ContextValue]:
    principal = request.principal
    base: dict[str, ContextValue] = {
        "aws:PrincipalArn": principal.role_arn or principal.arn,
        "aws:PrincipalType": principal.type,
        "aws:userid": principal.userid,
    }
    if principal.account is not None:
        base["aws:PrincipalAccount"] = principal.account
    if principal.username is not None:
        base["aws:username"] = principal.username
    if principal.service is not None:
        base["aws:PrincipalServiceName"] = principal.service
    base.update(request.context)
    return base


def _identity_allows(
    principal: PrincipalInfo,
    identity: list[Policy],
    session: list[Policy],
    request: Request,
    lookup: Lookup,
    reasons: list[str],
) -> bool:
    if principal.type in ("AWSService", "Anonymous"):
        return False
    if principal.is_root:
        allowed = True
        reasons.append("the account root holds every permission of its account")
    else:
        found = _allowing(identity, request, lookup)
        reasons.extend(found)
        allowed = bool(found)
    if allowed and session:
        found = _allowing(session, request, lookup)
        if not found:
            reasons.append("no session policy allows")
            return False
        reasons.extend(found)
    return allowed


def _allowing(policies: list[Policy], request: Request, lookup: Lookup) -> list[str]:
    return [
        _describe(p, s, "allows")
        for p in policies
        for s in p.statements
        if s.effect is Effect.ALLOW and _applies(p, s, request, lookup)
    ]


def _resource_grant(
    resource: Policy | None, request: Request, lookup: Lookup, reasons: list[str]
) -> _Grant:
    if resource is None:
        return _Grant.NONE
    best = _Grant.NONE
    for statement in resource.statements:
        if statement.effect is not Effect.ALLOW:
            continue
        grant = _principal_grant(statement, request.principal)
        if grant is _Grant.NONE or not _applies(resource, statement, request, lookup):
            continue
        kind = "allows" if grant is _Grant.DIRECT else "allows the caller's account"
        reasons.append(_describe(resource, statement, kind))
        best = max(best, grant, key=lambda g: g.value)
    return best


def _principal_grant(statement: Statement, principal: PrincipalInfo) -> _Grant:
    if statement.not_principal is not None:
        return _Grant.NONE if _excluded(statement.not_principal, principal) else _Grant.DIRECT
    if statement.principal is None:
        return _Grant.NONE
    return _named(statement.principal, principal)


def _named(principals: Principals, principal: PrincipalInfo) -> _Grant:
    if principals.any and (principals.everyone or principal.type != "AWSService"):
        return _Grant.DIRECT
    if principal.service is not None and principal.service in principals.services:
        return _Grant.DIRECT
    best = _Grant.NONE
    for entry in principals.aws:
        if entry == principal.arn:
            return _Grant.DIRECT
        if entry == principal.role_arn:
            best = _Grant.ROLE
            continue
        account = entry if entry.isdigit() else _root_account(entry)
        if account is not None and account == principal.account:
            grant = _Grant.DIRECT if principal.is_root else _Grant.ACCOUNT
            best = max(best, grant, key=lambda g: g.value)
    return best


def _excluded(principals: Principals, principal: PrincipalInfo) -> bool:
    """Whether NotPrincipal lists the caller. An account listed there stands for its root
    only, not for every principal of the account (NotPrincipal: "IAM user in the same or a
    different account")."""
    if principals.any and (principals.everyone or principal.type != "AWSService"):
        return True
    if principal.service is not None and principal.service in principals.services:
        return True
    for entry in principals.aws:
        if entry in (principal.arn, principal.role_arn):
            return True
        account = entry if entry.isdigit() else _root_account(entry)
        if account is not None and account == principal.account and principal.is_root:
            return True
    return False


def _root_account(arn: str) -> str | None:
    if arn.startswith("arn:aws:iam::") and arn.endswith(":root"):
        return arn[len("arn:aws:iam::") : -len(":root")]
    return None


def _applies(policy: Policy, statement: Statement, request: Request, lookup: Lookup) -> bool:
    # Policy variables exist only in policies of Version 2012-10-17; in older ones "${...}"
    # is literal text (IAM JSON policy elements: Version).
    variables = lookup if policy.version == "2012-10-17" else None
    return (
        _action_matches(statement, request.action)
        and _resource_matches(statement, request.resource, variables)
        and all_hold(statement.conditions, lookup, variables)
    )


def _action_matches(statement: Statement, action: str) -> bool:
    if statement.actions is not None:
        return any(matches(p, action, ignore_case=True) for p in statement.actions)
    assert statement.not_actions is not None
    return not any(matches(p, action, ignore_case=True) for p in statement.not_actions)


def _resource_matches(statement: Statement, resource: str, lookup: Lookup | None) -> bool:
    if statement.resources is not None:
        return any(matches(p, resource, lookup) for p in statement.resources)
    if statement.not_resources is not None:
        return not any(matches(p, resource, lookup) for p in statement.not_resources)
    return True  # trust policies name no resource


def _describe(policy: Policy, statement: Statement, verb: str) -> str:
    sid = f"'{statement.sid}'" if statement.sid else f"#{statement.index}"
    return f"{policy.name}: statement {sid} {verb}"
