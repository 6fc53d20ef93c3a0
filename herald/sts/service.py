"""STS: temporary credentials by AssumeRole and GetSessionToken.

AssumeRole follows IAM's rules for role trust ("How IAM roles differ from resource-based
policies", "Cross-account policy evaluation logic"): the role's trust policy is the
resource policy and must allow the caller, either by naming it (enough on its own) or by
naming its account (then the caller's identity policies must allow sts:AssumeRole too);
across accounts both sides must allow. An account's root cannot assume roles. A role
session that assumes a role ("role chaining") gets at most one hour.

Session tokens are random, shown once, and kept only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from herald import ids
from herald.auth.policy import parse_policy
from herald.auth.policy.document import Kind
from herald.clock import Clock
from herald.errors import (
    AccessDenied,
    InvalidParameter,
    PackedPolicyTooLarge,
    ValidationFailed,
)
from herald.iam.authorizer import Authorizer
from herald.iam.roles import trust_policy
from herald.store.base import Store
from herald.store.base_iam import SessionKind, SessionRecord
from herald.types import RequestContext

MAX_SESSION_POLICY_CHARS = 2048
MAX_POLICY_ARNS = 10
CHAINED_MAX_SECONDS = 3600
ROOT_SESSION_MAX_SECONDS = 3600
_ROLE_ARN = re.compile(
    r"arn:aws:iam::(\d{12}):role(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,64})", re.ASCII
)
# The model's patterns, quoted as AWS quotes them; lengths are checked apart.
_SESSION_NAME = re.compile(r"[\w+=,.@-]*", re.ASCII)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]*", re.ASCII)


@dataclass(frozen=True)
class Credentials:
    session: SessionRecord
    session_token: str = field(repr=False)  # shown to the caller once, never stored

    @property
    def expiration(self) -> float:
        return self.session.expires_at


@dataclass(frozen=True)
class AssumedRole:
    credentials: Credentials
    assumed_role_id: str
    arn: str
    packed_policy_size: int | None  # percent of the allowed size, when a policy was given


class STSService:
    def __init__(self, store: Store, clock: Clock, authorizer: Authorizer) -> None:
        self._store = store
        self._clock = clock
        self._authorizer = authorizer

    async def assume_role(
        self,
        ctx: RequestContext,
        role_arn: str | None,
        session_name: str | None,
        duration: str | None,
        policy: str | None,
        policy_arns: list[str | None],
        external_id: str | None,
    ) -> AssumedRole:
        """Credentials for a session of the role; ``duration`` in seconds (900 to 43,200,
        within the role's MaxSessionDuration). Raises AccessDenied, ValidationFailed,
        MalformedPolicy (MalformedPolicyDocument)."""
        arn = _required("roleArn", role_arn)
        if not _arn_syntax(arn):
            raise ValidationFailed(f"{arn} is invalid")
        name = _valid("roleSessionName", session_name, _SESSION_NAME, 2, 64)
        seconds = _seconds(duration, 900, 43200, default=3600)
        if external_id is not None:
            _valid("externalId", external_id, _EXTERNAL_ID, 2, 1224)
        session_policies = self._session_policies(policy, policy_arns)
        packed = _packed_size(session_policies)
        principal = ctx.principal
        if principal.is_root:
            raise AccessDenied("Roles may not be assumed by root accounts.")
        denied = AccessDenied(
            f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )
        if principal.service is not None:
            raise denied
        match = _ROLE_ARN.fullmatch(arn)
        role = None
        if match is not None:
            role = await self._store.get_role(match.group(1), match.group(3))
        if role is None or role.arn != arn:
            raise denied
        context: dict[str, Any] = {"sts:RoleSessionName": name}
        if external_id is not None:
            context["sts:ExternalId"] = external_id
        decision = await self._authorizer.decide(
            ctx,
            "sts:AssumeRole",
            role.arn,
            resource_account=role.account_id,
            resource_policy=trust_policy(role.trust_policy),
            resource_policy_key=("trust", role.trust_policy),
            context=context,
            resource_required=True,
        )
        if not decision.allowed:
            raise denied
        for arn in session_policies:
            if arn.startswith("arn:"):
                await self._require_managed(arn, role.account_id)
        if seconds > role.max_session_duration:
            raise ValidationFailed(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        if principal.session == SessionKind.ASSUMED_ROLE and seconds > CHAINED_MAX_SECONDS:
            raise ValidationFailed(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining."
            )
        session_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{name}"
        role_id = f"{role.role_id}:{name}"
        credentials = await self._issue(
            SessionKind.ASSUMED_ROLE,
            role.account_id,
            session_arn,
            role_id,
            role.arn,
            session_policies,
            seconds,
        )
        return AssumedRole(credentials, role_id, session_arn, packed)

    async def get_session_token(self, ctx: RequestContext, duration: str | None) -> Credentials:
        """Temporary credentials with the caller's own permissions; ``duration`` in seconds
        (900 to 129,600; an account root's sessions last at most one hour)."""
        seconds = _seconds(duration, 900, 129600, default=43200)
        principal = ctx.principal
        if principal.session is not None or principal.service is not None:
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        if principal.is_root:
            seconds = min(seconds, ROOT_SESSION_MAX_SECONDS)
        return await self._issue(
            SessionKind.SESSION_TOKEN,
            principal.account_id,
            principal.arn,
            principal.user_id,
            None,
            (),
            seconds,
        )

    async def _issue(
        self,
        kind: SessionKind,
        account: str,
        arn: str,
        user_id: str,
        role_arn: str | None,
        session_policies: tuple[str, ...],
        seconds: int,
    ) -> Credentials:
        now = self._clock.now()
        token = "HRLD" + secrets.token_urlsafe(96)
        session = SessionRecord(
            access_key_id=ids.iam_id("ASIA"),
            secret_access_key=ids.secret_access_key(),
            token_sha256=token_digest(token),
            account_id=account,
            principal_arn=arn,
            user_id=user_id,
            kind=kind,
            role_arn=role_arn,
            session_policies=session_policies,
            expires_at=float(int(now) + seconds),
            created_at=now,
        )
        await self._store.put_session(session, now)
        return Credentials(session, token)

    def _session_policies(
        self, policy: str | None, policy_arns: list[str | None]
    ) -> tuple[str, ...]:
        """The inline session policy (checked now) and the managed ones by ARN (their
        current default version applies each time the session is used)."""
        documents: list[str] = []
        if policy is not None:
            if len(policy) > MAX_SESSION_POLICY_CHARS:
                raise ValidationFailed(
                    "1 validation error detected: Value at 'policy' failed to satisfy "
                    f"constraint: Member must have length less than or equal to "
                    f"{MAX_SESSION_POLICY_CHARS}"
                )
            if not policy:
                raise ValidationFailed(
                    "1 validation error detected: Value '' at 'policy' failed to satisfy "
                    "constraint: Member must have length greater than or equal to 1"
                )
            parse_policy(policy, Kind.IDENTITY, "session policy")
            documents.append(policy)
        if len(policy_arns) > MAX_POLICY_ARNS:
            raise ValidationFailed(
                "1 validation error detected: Value at 'policyArns' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_POLICY_ARNS}"
            )
        for arn in policy_arns:
            if arn is None or not 20 <= len(arn) <= 2048 or not arn.startswith("arn:"):
                raise ValidationFailed(f"Invalid policy ARN: {str(arn)[:64]}")
            documents.append(arn)
        return tuple(documents)

    async def _require_managed(self, arn: str, account: str) -> None:
        managed = await self._store.get_managed_policy(arn)
        if managed is None or managed.account_id != account:
            raise InvalidParameter(
                f"Policy {arn} does not exist or is not attachable: session policies must be "
                "managed policies of the role's account."
            )


def _packed_size(session_policies: tuple[str, ...]) -> int | None:
    """The packed size of the session policies in percent of what STS allows; raises
    PackedPolicyTooLarge above 100. Managed policies count by ARN, as AWS packs them."""
    if not session_policies:
        return None
    compact = sum(
        len(t) if t.startswith("arn:") else len(json.dumps(json.loads(t), separators=(",", ":")))
        for t in session_policies
    )
    packed = max(1, -(-compact * 100 // MAX_SESSION_POLICY_CHARS))
    if packed > 100:
        raise PackedPolicyTooLarge(
            f"Packed size of the session policies is {packed}% of the allowed size."
        )
    return packed


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _required(field: str, value: str | None) -> str:
    if value is None:
        raise ValidationFailed(
            f"1 validation error detected: Value null at '{field}' failed to satisfy "
            "constraint: Member must not be null"
        )
    if not 20 <= len(value) <= 2048:
        raise ValidationFailed(
            f"1 validation error detected: Value '{value[:64]}' at '{field}' failed to satisfy "
            "constraint: Member must have length between 20 and 2048"
        )
    return value


def _arn_syntax(arn: str) -> bool:
    """Whether ``arn`` parses as an ARN at all (arn:partition:service:region:account:
    resource): AWS answers one that does not with ValidationError, and a well-formed one
    that names no role it may assume with AccessDenied."""
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and all(parts[i] for i in (1, 2, 5))


def _valid(field: str, value: str | None, pattern: re.Pattern[str], low: int, high: int) -> str:
    if value is None:
        raise ValidationFailed(
            f"1 validation error detected: Value null at '{field}' failed to satisfy "
            "constraint: Member must not be null"
        )
    if len(value) < low or len(value) > high:
        bound = (
            f"greater than or equal to {low}"
            if len(value) < low
            else (f"less than or equal to {high}")
        )
        raise ValidationFailed(
            f"1 validation error detected: Value '{value[:64]}' at '{field}' failed to satisfy "
            f"constraint: Member must have length {bound}"
        )
    if not pattern.fullmatch(value):
        raise ValidationFailed(
            f"1 validation error detected: Value '{value[:64]}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {pattern.pattern}"
        )
    return value


def _seconds(value: str | None, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.lstrip("-").isdigit() and len(value) < 12):
        raise ValidationFailed(f"Invalid value for DurationSeconds: {value[:32]}")
    seconds = int(value)
    if seconds < low:
        bound = f"greater than or equal to {low}"
    elif seconds > high:
        bound = f"less than or equal to {high}"
    else:
        return seconds
    raise ValidationFailed(
        f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to "
        f"satisfy constraint: Member must have value {bound}"
    )
