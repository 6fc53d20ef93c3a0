"""Policy documents: parsed and checked once into frozen values.

The grammar is IAM's ("IAM JSON policy element reference"): Version, Id, Statement (one
object or a list); each statement has Sid, Effect, Principal or NotPrincipal, Action or
NotAction, Resource or NotResource, Condition. Which elements a statement needs depends
on where the policy is attached (``Kind``): identity policies name no principal,
resource policies must, trust policies need no resource.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from herald.auth.policy.conditions import Condition, parse_conditions
from herald.auth.policy.matching import variable_names
from herald.errors import MalformedPolicy

VERSIONS = ("2012-10-17", "2008-10-17")


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


class Kind(Enum):
    IDENTITY = "identity"  # attached to a user, group or role; also session policies
    RESOURCE = "resource"  # a topic, key or queue policy
    TRUST = "trust"  # a role's AssumeRolePolicyDocument


@dataclass(frozen=True)
class Principals:
    """Who a statement names: ``any`` for "*", else AWS principals and services."""

    any: bool
    aws: tuple[str, ...] = ()
    # "Principal": "*" names every caller; {"AWS": "*"} names every AWS account and IAM
    # principal but not AWS services (which is why AWS's managed key policies, granting
    # {"AWS": "*"} under kms:CallerAccount, admit no event source).
    everyone: bool = False
    services: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    sid: str | None
    effect: Effect
    principal: Principals | None
    not_principal: Principals | None
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...]
    index: int  # position in the policy, for explanations


@dataclass(frozen=True)
class Policy:
    name: str  # how a decision refers to it ("topic policy", "user inline: admin", ...)
    version: str
    id: str | None
    statements: tuple[Statement, ...]
    # Every request-context key the policy reads (conditions and policy variables), in
    # lower case: what a cached decision under this policy depends on besides the
    # principal, action and resource.
    context_keys: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        keys: set[str] = set()
        for s in self.statements:
            for pattern in (*(s.resources or ()), *(s.not_resources or ())):
                keys |= variable_names(pattern)
            for condition in s.conditions:
                keys.add(condition.key)
                for value in condition.values:
                    keys |= variable_names(value)
        object.__setattr__(self, "context_keys", frozenset(k.lower() for k in keys))


def parse_policy(text: str | dict[str, Any], kind: Kind, name: str = "policy") -> Policy:
    """Parse a policy document; raise MalformedPolicy naming what is wrong."""
    document = _load(text)
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise MalformedPolicy(f"The policy must contain a valid version string, not {version!r}")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise MalformedPolicy(f"Policy document has an unknown element: {sorted(unknown)[0]}")
    raw = document.get("Statement")
    if raw is None:
        raise MalformedPolicy("Missing required field Statement")
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise MalformedPolicy("Policy statement must contain at least one statement")
    statements = tuple(_statement(item, kind, i) for i, item in enumerate(items))
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicy("Id must be a string")
    return Policy(name, version, policy_id, statements)


def _load(text: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedPolicy("Syntax errors in policy.") from None
    if not isinstance(document, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    return document


_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}


def _statement(item: Any, kind: Kind, index: int) -> Statement:
    if not isinstance(item, dict):
        raise MalformedPolicy("Each Statement must be a JSON object")
    unknown = set(item) - _STATEMENT_KEYS
    if unknown:
        raise MalformedPolicy(f"Statement has an unknown element: {sorted(unknown)[0]}")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy("Statement Effect must be Allow or Deny")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy("Sid must be a string")
    actions, not_actions = _pair(item, "Action", "NotAction", required=True)
    resources, not_resources = _pair(
        item, "Resource", "NotResource", required=kind is not Kind.TRUST
    )
    for action in actions or not_actions or ():
        if action != "*" and ":" not in action:
            raise MalformedPolicy(f"Action {action!r} must be of the form service:action")
    principal = _principals(item.get("Principal"), "Principal")
    not_principal = _principals(item.get("NotPrincipal"), "NotPrincipal")
    if principal is not None and not_principal is not None:
        raise MalformedPolicy("A statement cannot have both Principal and NotPrincipal")
    named = principal is not None or not_principal is not None
    if kind is Kind.IDENTITY and named:
        raise MalformedPolicy("Policy document should not specify a principal.")
    if kind is not Kind.IDENTITY and not named:
        raise MalformedPolicy("Missing required field Principal")
    return Statement(
        sid=sid,
        effect=Effect(effect),
        principal=principal,
        not_principal=not_principal,
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        conditions=parse_conditions(item.get("Condition")),
        index=index,
    )


def _strings(value: Any, field: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise MalformedPolicy(f"{field} must be a non-empty string or list of strings")
    return tuple(values)


def _pair(
    item: dict[str, Any], name: str, negated: str, required: bool
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    if name in item and negated in item:
        raise MalformedPolicy(f"A statement cannot have both {name} and {negated}")
    if name in item:
        return _strings(item[name], name), None
    if negated in item:
        return None, _strings(item[negated], negated)
    if required:
        raise MalformedPolicy(f"Missing required field {name}")
    return None, None


def _principals(value: Any, field: str) -> Principals | None:
    if value is None:
        return None
    if value == "*":
        return Principals(any=True, everyone=True)
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy(f'{field} must be "*" or an object')
    unknown = set(value) - {"AWS", "Service", "Federated", "CanonicalUser"}
    if unknown:
        raise MalformedPolicy(f"{field} has an unknown type: {sorted(unknown)[0]}")
    aws = _strings(value["AWS"], f"{field}.AWS") if "AWS" in value else ()
    for entry in aws:
        if (
            entry != "*"
            and not (entry.isascii() and entry.isdigit() and len(entry) == 12)
            and (not entry.startswith("arn:") or "*" in entry)
        ):
            raise MalformedPolicy(f'Invalid principal in policy: "AWS":"{entry}"')
    services = _strings(value["Service"], f"{field}.Service") if "Service" in value else ()
    federated = _strings(value["Federated"], f"{field}.Federated") if "Federated" in value else ()
    return Principals(any="*" in aws, aws=aws, services=services, federated=federated)
