"""The policy engine against a corpus of AWS's documented decisions.

tests/vectors/policy_corpus.json holds the cases: each names the AWS documentation page and
section it is drawn from, the policies in play (identity, resource, session, and whether the
resource policy is required, as for KMS keys), a request, and the decision AWS documents.
Every policy is parsed with parse_policy as it would be where it is attached, then the
request is evaluated; the outcome must be AWS's. A second test checks that decisions explain
themselves: an Allow or an explicit Deny names a statement that really says so.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from herald.auth.policy import (
    Decision,
    Effect,
    Outcome,
    Policy,
    PolicySet,
    PrincipalInfo,
    Request,
    evaluate,
    parse_policy,
)
from herald.auth.policy.document import Kind

CORPUS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "policy_corpus.json").read_text("utf-8")
)
CASES: list[dict[str, Any]] = CORPUS["cases"]
BY_ID = {case["id"]: case for case in CASES}

# A statement named in a decision's reasons: "<policy name>: statement 'Sid' allows ..." or
# "<policy name>: statement #2 denies".
_REASON = re.compile(
    r"^(?P<policy>.+): statement (?:'(?P<sid>[^']*)'|#(?P<index>\d+)) (?P<verb>\w+)"
)


def test_corpus_shape() -> None:
    assert len(CASES) >= 220
    assert len(BY_ID) == len(CASES), "case ids must be unique"
    outcomes = {case["expected"] for case in CASES}
    assert outcomes == {o.value for o in Outcome}
    for case in CASES:
        assert set(case) == {"id", "doc", "policies", "request", "expected"}, case["id"]
        assert case["doc"].strip(), case["id"]
        assert set(case["policies"]) == {"identity", "resource", "session", "resource_required"}
        assert set(case["request"]) == {
            "principal",
            "action",
            "resource",
            "resource_account",
            "context",
        }


@cache
def _policies(case_id: str) -> PolicySet:
    spec = BY_ID[case_id]["policies"]
    identity = tuple(
        parse_policy(doc, Kind.IDENTITY, f"identity[{i}]") for i, doc in enumerate(spec["identity"])
    )
    resource = (
        None
        if spec["resource"] is None
        else parse_policy(spec["resource"], Kind.RESOURCE, "resource")
    )
    session = (
        None
        if spec["session"] is None
        else tuple(
            parse_policy(doc, Kind.IDENTITY, f"session[{i}]")
            for i, doc in enumerate(spec["session"])
        )
    )
    return PolicySet(
        identity=identity,
        resource=resource,
        session=session,
        resource_required=spec["resource_required"],
    )


def _request(case: dict[str, Any]) -> Request:
    spec = case["request"]
    who = spec["principal"]
    principal = PrincipalInfo(
        arn=who["arn"],
        account=who["account"],
        type=who["type"],
        userid=who["userid"],
        username=who.get("username"),
        role_arn=who.get("role_arn"),
        service=who.get("service"),
    )
    return Request(
        principal=principal,
        action=spec["action"],
        resource=spec["resource"],
        resource_account=spec["resource_account"],
        context=spec["context"],
    )


def _decide(case: dict[str, Any]) -> Decision:
    return evaluate(_request(case), _policies(case["id"]))


@pytest.mark.parametrize("case_id", list(BY_ID))
def test_case(case_id: str) -> None:
    case = BY_ID[case_id]
    decision = _decide(case)
    assert decision.outcome.value == case["expected"], (
        f"{case_id}: expected {case['expected']}, got {decision.outcome.value} "
        f"(AWS: {case['doc']}); reasons: {decision.reasons}"
    )
    assert decision.allowed is (decision.outcome is Outcome.ALLOW)


def _named_statements(decision: Decision, policies: PolicySet) -> list[tuple[str, Effect]]:
    """The (reason, effect) of every statement the reasons name; unknown names fail."""
    by_name: dict[str, Policy] = {
        p.name: p for p in (*policies.identity, *(policies.session or ()))
    }
    if policies.resource is not None:
        by_name[policies.resource.name] = policies.resource
    named = []
    for reason in decision.reasons:
        match = _REASON.match(reason)
        if match is None:
            continue
        policy = by_name.get(match["policy"])
        assert policy is not None, f"reason names an unknown policy: {reason!r}"
        if match["index"] is not None:
            index = int(match["index"])
            assert index < len(policy.statements), f"no such statement: {reason!r}"
            statement = policy.statements[index]
        else:
            found = [s for s in policy.statements if s.sid == match["sid"]]
            assert found, f"no statement with that Sid: {reason!r}"
            statement = found[0]
        named.append((reason, statement.effect))
    return named


def test_decisions_name_their_statements() -> None:
    """Every Allow and explicit Deny names a statement with that effect.

    The one Allow no statement grants is the account root's within its own account (AWS: the
    root user has full access); its reason says so instead.
    """
    problems = []
    for case in CASES:
        decision = _decide(case)
        if decision.outcome is Outcome.IMPLICIT_DENY:
            continue
        policies = _policies(case["id"])
        named = _named_statements(decision, policies)
        want = Effect.ALLOW if decision.outcome is Outcome.ALLOW else Effect.DENY
        if any(effect is want for _, effect in named):
            continue
        request = case["request"]
        root_at_home = (
            request["principal"]["type"] == "Account"
            and request["resource_account"] in (None, request["principal"]["account"])
            and not case["policies"]["resource_required"]
        )
        if decision.outcome is Outcome.ALLOW and root_at_home and decision.reasons:
            continue
        problems.append(f"{case['id']}: {decision.outcome.value} with reasons {decision.reasons}")
    assert not problems, "\n".join(problems)
