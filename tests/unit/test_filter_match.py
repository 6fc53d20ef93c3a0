"""Filter policy matching against a corpus of AWS's documented examples, plus properties.

tests/vectors/filter_policy_corpus.json holds the cases: a policy, its scope, a message
(attributes as published, or the body text) and whether SNS delivers it, each naming the AWS
page and section it comes from. Every policy must pass filter_policy.check, as it would when
set on a subscription, and matches() must give AWS's answer. Hypothesis then checks the
plain operators against one-line references.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.sns import filter_policy
from herald.sns.filter_match import SCOPES, matches

CORPUS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "filter_policy_corpus.json").read_text("utf-8")
)
CASES: list[dict[str, Any]] = CORPUS["cases"]


def _message(case: dict[str, Any]) -> tuple[dict[str, dict[str, str]], str]:
    return case.get("attributes", {}), case.get("body", "")


def test_corpus_shape() -> None:
    assert len(CASES) >= 160
    names = [case["name"] for case in CASES]
    assert len(set(names)) == len(names), "case names must be unique"
    assert {case["match"] for case in CASES} == {True, False}
    assert {case["scope"] for case in CASES} == set(SCOPES)
    for case in CASES:
        message_key = "attributes" if case["scope"] == "MessageAttributes" else "body"
        assert set(case) == {"name", "policy", "scope", message_key, "match", "source"}
        assert case["source"].strip(), case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    # Given a policy SNS accepts for the case's scope
    text = json.dumps(case["policy"])
    policy = filter_policy.check(text)
    if case["scope"] == "MessageAttributes":
        assert not filter_policy.is_nested(text)
    attributes, body = _message(case)

    # When the message is matched against it
    delivered = matches(policy, case["scope"], attributes, body)

    # Then the answer is AWS's
    assert delivered is case["match"]


# Wildcard is accepted by filter_policy but documented only for EventBridge ("Wildcard
# matching" in the EventBridge event patterns guide): "*" for any run of characters, "\*"
# for a literal star.
WILDCARDS = [
    ("dir/*.png", "dir/a.png", True),
    ("dir/*.png", "dir/.png", True),
    ("dir/*.png", "dir/a.jpg", False),
    ("*/*.png", "a/b/c.png", True),
    ("a*b*c", "abc", True),
    ("a*b*c", "acb", False),
    ("a*a", "a", False),
    ("exact", "exact", True),
    ("exact", "exactly", False),
    ("star\\*", "star*", True),
    ("star\\*", "starry", False),
    ("*", "", True),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), WILDCARDS)
def test_wildcard(pattern: str, value: str, expected: bool) -> None:
    policy = filter_policy.check(json.dumps({"file": [{"wildcard": pattern}]}))
    attributes = {"file": {"Type": "String", "Value": value}}
    assert matches(policy, "MessageAttributes", attributes, "") is expected
    assert matches(policy, "MessageBody", {}, json.dumps({"file": value})) is expected


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown filter policy scope"):
        matches({"a": ["b"]}, "MessageHeaders", {}, "{}")


def test_deeply_nested_body_matches_nothing() -> None:
    body = "[" * 100_000 + "]" * 100_000
    assert matches({"a": [{"exists": False}]}, "MessageBody", {}, body) is False


# Properties: the operators agree with direct references.

_words = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
_numbers = st.decimals(
    min_value=-(10**9), max_value=10**9, places=5, allow_nan=False, allow_infinity=False
)


def _string(value: str) -> dict[str, dict[str, str]]:
    return {"key": {"Type": "String", "Value": value}}


@given(allowed=st.lists(_words, min_size=1, max_size=5), value=_words)
def test_exact_strings_match_as_membership(allowed: list[str], value: str) -> None:
    policy = filter_policy.check(json.dumps({"key": allowed}))
    assert matches(policy, "MessageAttributes", _string(value), "") is (value in allowed)
    body = json.dumps({"key": value})
    assert matches(policy, "MessageBody", {}, body) is (value in allowed)


@given(allowed=st.lists(_words, min_size=1, max_size=5), values=st.lists(_words, max_size=5))
def test_string_arrays_match_if_any_element_does(allowed: list[str], values: list[str]) -> None:
    policy = filter_policy.check(json.dumps({"key": allowed}))
    attributes = {"key": {"Type": "String.Array", "Value": json.dumps(values)}}
    expected = any(value in allowed for value in values)
    assert matches(policy, "MessageAttributes", attributes, "") is expected


@given(excluded=st.lists(_words, min_size=1, max_size=5), value=_words)
def test_anything_but_is_the_negation_of_exact(excluded: list[str], value: str) -> None:
    exact = filter_policy.check(json.dumps({"key": excluded}))
    negated = filter_policy.check(json.dumps({"key": [{"anything-but": excluded}]}))
    attributes = _string(value)
    assert matches(negated, "MessageAttributes", attributes, "") is not matches(
        exact, "MessageAttributes", attributes, ""
    )


@given(affix=_words, value=_words)
def test_string_operators_agree_with_str_methods(affix: str, value: str) -> None:
    expected = {
        "prefix": value.startswith(affix),
        "suffix": value.endswith(affix),
        "equals-ignore-case": value.lower() == affix.lower(),
    }
    for name, outcome in expected.items():
        policy = filter_policy.check(json.dumps({"key": [{name: affix}]}))
        assert matches(policy, "MessageAttributes", _string(value), "") is outcome, name


@given(
    value=_numbers,
    bounds=st.lists(_numbers, min_size=2, max_size=2, unique=True).map(sorted),
    lower=st.sampled_from([">", ">="]),
    upper=st.sampled_from(["<", "<="]),
)
def test_numeric_ranges_agree_with_comparison(
    value: Decimal, bounds: list[Decimal], lower: str, upper: str
) -> None:
    low, high = bounds
    rule = [lower, float(low), upper, float(high)]
    policy = filter_policy.check(json.dumps({"price": [{"numeric": rule}]}))
    above = value > low if lower == ">" else value >= low
    below = value < high if upper == "<" else value <= high
    attributes = {"price": {"Type": "Number", "Value": str(value)}}
    assert matches(policy, "MessageAttributes", attributes, "") is (above and below)
    assert matches(policy, "MessageBody", {}, f'{{"price": {value}}}') is (above and below)


@given(value=_numbers, other=_numbers)
def test_numeric_equality_agrees_with_comparison(value: Decimal, other: Decimal) -> None:
    policy = filter_policy.check(json.dumps({"price": [{"numeric": ["=", float(other)]}]}))
    attributes = {"price": {"Type": "Number", "Value": str(value)}}
    assert matches(policy, "MessageAttributes", attributes, "") is (value == other)
