"""IAM wildcards and policy variables (herald.auth.policy.matching), and parse errors.

The matcher is checked by Hypothesis against references built here, not from the module:
``fnmatch.fnmatchcase`` (with ``[`` escaped, since IAM has no character classes) for plain
patterns, and a regular expression assembled token by token for patterns with policy
variables, where ``${*}``, ``${?}`` and ``${$}`` are literal characters and a variable
stands for its value, taken literally. Then a table of documents parse_policy must refuse
with MalformedPolicy.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from herald.auth.policy import parse_policy
from herald.auth.policy.document import Kind
from herald.auth.policy.matching import lookup_in, matches
from herald.errors import MalformedPolicy

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# A small alphabet so that random values often match random patterns.
PLAIN = "ab:/.-[]"
WILD = PLAIN + "*?"
CASED = "aAbB:/-"


def reference(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM matching by way of fnmatch: '*' any run, '?' one character, the rest literal."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


@st.composite
def pattern_and_value(draw: st.DrawFn, alphabet: str = WILD) -> tuple[str, str]:
    """A random pattern and a value that is either random or built to match it (then maybe
    changed a little), so both outcomes are common."""
    pattern = draw(st.text(alphabet, max_size=12))
    kind = draw(st.sampled_from(["random", "fitted", "mutated"]))
    if kind == "random":
        return pattern, draw(st.text(alphabet.replace("*", "").replace("?", ""), max_size=12))
    pieces = []
    for char in pattern:
        if char == "*":
            pieces.append(draw(st.text(PLAIN, max_size=4)))
        elif char == "?":
            pieces.append(draw(st.sampled_from(PLAIN)))
        else:
            pieces.append(char)
    value = "".join(pieces)
    if kind == "mutated" and value:
        at = draw(st.integers(0, len(value) - 1))
        change = draw(st.sampled_from(["drop", "swap", "add"]))
        new = draw(st.sampled_from(PLAIN))
        if change == "drop":
            value = value[:at] + value[at + 1 :]
        elif change == "swap":
            value = value[:at] + new + value[at + 1 :]
        else:
            value = value[:at] + new + value[at:]
    return pattern, value


@PROPERTY
@given(pattern_and_value())
@example(("*", ""))
@example(("?", ""))
@example(("a*b?c", "aXXbYc"))
@example(("arn:aws:sns:*:111122223333:*", "arn:aws:sns:us-east-1:111122223333:t"))
@example(("[ab]", "a"))
@example(("[ab]", "[ab]"))
@example(("a.b", "axb"))
def test_matches_like_reference(case: tuple[str, str]) -> None:
    pattern, value = case
    assert matches(pattern, value) is reference(pattern, value)


@PROPERTY
@given(pattern_and_value(CASED + "*?"))
@example(("SNS:Pub*", "sns:publish"))
@example(("sns:PUBLISH", "SNS:Publish"))
def test_matches_ignore_case_like_reference(case: tuple[str, str]) -> None:
    pattern, value = case
    assert matches(pattern, value, ignore_case=True) is reference(pattern, value, True)
    # Case-sensitive matching of the same pair agrees with the case-sensitive reference.
    assert matches(pattern, value) is reference(pattern, value)


def test_case_matters_unless_ignored() -> None:
    assert not matches("arn:aws:sns:*:*:Orders", "arn:aws:sns:us-east-1:1:orders")
    assert matches("arn:aws:sns:*:*:Orders", "arn:aws:sns:us-east-1:1:orders", ignore_case=True)


# ---------------------------------------------------------------- variables

USERNAME = st.text("abcXYZ019+=,.@_-", min_size=1, max_size=6)
TOKENS = [
    *PLAIN.replace("[", "").replace("]", ""),
    "*",
    "?",
    "${*}",
    "${?}",
    "${$}",
    "${aws:username}",
    "${AWS:UserName}",
    "${aws:missing, 'dflt'}",
    "${aws:username, 'dflt'}",
]
MISSING = "${aws:missing}"


def token_regex(tokens: list[str], username: str) -> re.Pattern[str] | None:
    """The meaning of a token list, assembled without the module under test."""
    parts = []
    for token in tokens:
        if token == MISSING:
            return None
        parts.append(
            {
                "*": ".*",
                "?": ".",
                "${*}": re.escape("*"),
                "${?}": re.escape("?"),
                "${$}": re.escape("$"),
                "${aws:username}": re.escape(username),
                "${AWS:UserName}": re.escape(username),
                "${aws:missing, 'dflt'}": "dflt",
                "${aws:username, 'dflt'}": re.escape(username),
            }.get(token, re.escape(token))
        )
    return re.compile("".join(parts), re.DOTALL)


def token_value(draw: st.DrawFn, tokens: list[str], username: str) -> str:
    """A value built to match the tokens (used half of the time)."""
    pieces = []
    for token in tokens:
        if token == "*":
            pieces.append(draw(st.text("ab:*?$", max_size=3)))
        elif token == "?":
            pieces.append(draw(st.sampled_from("ab*?$")))
        elif token in ("${*}", "${?}", "${$}"):
            pieces.append(token[2])
        elif token == "${aws:missing, 'dflt'}":
            pieces.append("dflt")
        elif token.startswith("${"):
            pieces.append(username)
        else:
            pieces.append(token)
    return "".join(pieces)


@st.composite
def variable_case(draw: st.DrawFn) -> tuple[list[str], str, str]:
    tokens = draw(st.lists(st.sampled_from([*TOKENS, MISSING]), max_size=8))
    username = draw(USERNAME)
    if draw(st.booleans()):
        value = token_value(draw, tokens, username)
    else:
        value = draw(st.text("ab:*?$" + username, max_size=10))
    return tokens, username, value


@PROPERTY
@given(variable_case())
@example((["${*}"], "alice", "*"))
@example((["${*}"], "alice", "x"))
@example((["${?}"], "alice", "x"))
@example((["a", "${$}", "*"], "alice", "a$b"))
@example((["home/", "${aws:username}", "/", "*"], "alice", "home/alice/x"))
@example((["home/", "${aws:username}", "/", "*"], "alice", "home/bob/x"))
@example(([MISSING], "alice", ""))
@example((["${aws:missing, 'dflt'}"], "alice", "dflt"))
def test_variables_like_reference(case: tuple[list[str], str, str]) -> None:
    tokens, username, value = case
    pattern = "".join(tokens)
    lookup = lookup_in({"aws:username": username})
    expected = token_regex(tokens, username)
    want = expected is not None and expected.fullmatch(value) is not None
    assert matches(pattern, value, lookup) is want


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("${*}", "*", True),
        ("${*}", "anything", False),
        ("a${?}c", "a?c", True),
        ("a${?}c", "abc", False),
        ("${$}{x}", "${x}", True),
        ("${$}", "$", True),
        ("${$}", "x", False),
        ("home/${aws:username}/*", "home/alice/f", True),
        ("home/${aws:username}/*", "home/alicex/f", False),
        ("${ aws:username }", "alice", True),
        ("${aws:nothing}", "", False),
        ("${aws:nothing}*", "anything", False),
        ("${aws:nothing, 'guest'}", "guest", True),
        ("${aws:username, 'guest'}", "alice", True),
        ("${aws:username, 'guest'}", "guest", False),
        ("${aws:PrincipalAccount}", "111122223333", True),
    ],
)
def test_variable_table(pattern: str, value: str, expected: bool) -> None:
    lookup = lookup_in({"aws:username": "alice", "aws:PrincipalAccount": "111122223333"})
    assert matches(pattern, value, lookup) is expected


def test_variable_value_is_literal() -> None:
    """A value substituted for a variable is text, never wildcards."""
    lookup = lookup_in({"aws:username": "a*"})
    assert matches("${aws:username}", "a*", lookup)
    assert not matches("${aws:username}", "abc", lookup)


# ---------------------------------------------------------------- parse errors


def _doc(*statements: dict[str, Any], version: Any = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


GOOD = {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}
GOOD_RESOURCE = {**GOOD, "Principal": {"AWS": "111122223333"}}


def _with(**changes: Any) -> dict[str, Any]:
    statement = {**GOOD, **changes}
    return {k: v for k, v in statement.items() if v is not None}


def _cond(block: Any) -> dict[str, Any]:
    return _doc(_with(Condition=block))


MALFORMED: list[tuple[str, Any, Kind]] = [
    ("bad-json", '{"Version": "2012-10-17", "Statement": [', Kind.IDENTITY),
    ("json-not-object", '["Version"]', Kind.IDENTITY),
    ("bad-version", _doc(GOOD, version="2012-10-18"), Kind.IDENTITY),
    ("version-not-string", _doc(GOOD, version=2012), Kind.IDENTITY),
    ("missing-statement", {"Version": "2012-10-17"}, Kind.IDENTITY),
    ("empty-statement-list", _doc(), Kind.IDENTITY),
    ("statement-not-object", {"Version": "2012-10-17", "Statement": ["Allow"]}, Kind.IDENTITY),
    ("unknown-top-level", {**_doc(GOOD), "Statements": []}, Kind.IDENTITY),
    ("unknown-statement-element", _doc(_with(Actions="sns:Publish")), Kind.IDENTITY),
    ("bad-effect", _doc(_with(Effect="Permit")), Kind.IDENTITY),
    ("effect-case-sensitive", _doc(_with(Effect="allow")), Kind.IDENTITY),
    ("missing-effect", _doc(_with(Effect=None)), Kind.IDENTITY),
    ("action-without-colon", _doc(_with(Action="Publish")), Kind.IDENTITY),
    ("action-list-without-colon", _doc(_with(Action=["sns:Publish", "Subscribe"])), Kind.IDENTITY),
    ("action-and-notaction", _doc(_with(NotAction="sns:Subscribe")), Kind.IDENTITY),
    ("missing-action", _doc(_with(Action=None)), Kind.IDENTITY),
    ("empty-action-list", _doc(_with(Action=[])), Kind.IDENTITY),
    ("action-not-string", _doc(_with(Action=7)), Kind.IDENTITY),
    ("resource-and-notresource", _doc(_with(NotResource="arn:aws:sns:*:*:x")), Kind.IDENTITY),
    ("missing-resource", _doc(_with(Resource=None)), Kind.IDENTITY),
    ("principal-in-identity", _doc(_with(Principal={"AWS": "111122223333"})), Kind.IDENTITY),
    ("notprincipal-in-identity", _doc(_with(NotPrincipal={"AWS": "111122223333"})), Kind.IDENTITY),
    ("missing-principal-in-resource", _doc(GOOD), Kind.RESOURCE),
    (
        "principal-and-notprincipal",
        _doc({**GOOD_RESOURCE, "NotPrincipal": {"AWS": "444455556666"}}),
        Kind.RESOURCE,
    ),
    (
        "wildcard-in-principal-arn",
        _doc({**GOOD, "Principal": {"AWS": "arn:aws:iam::111122223333:user/*"}}),
        Kind.RESOURCE,
    ),
    (
        "principal-not-arn-or-account",
        _doc({**GOOD, "Principal": {"AWS": "alice"}}),
        Kind.RESOURCE,
    ),
    ("principal-unknown-type", _doc({**GOOD, "Principal": {"Users": "alice"}}), Kind.RESOURCE),
    ("principal-bad-string", _doc({**GOOD, "Principal": "everyone"}), Kind.RESOURCE),
    ("unknown-condition-operator", _cond({"StringEqualz": {"aws:username": "a"}}), Kind.IDENTITY),
    (
        "forsomevalue-prefix",
        _cond({"ForSomeValue:StringEquals": {"aws:TagKeys": "a"}}),
        Kind.IDENTITY,
    ),
    ("null-if-exists", _cond({"NullIfExists": {"aws:TokenIssueTime": "true"}}), Kind.IDENTITY),
    ("condition-not-object", _cond(["StringEquals"]), Kind.IDENTITY),
    ("condition-operator-not-object", _cond({"StringEquals": "aws:username"}), Kind.IDENTITY),
    ("condition-no-keys", _cond({"StringEquals": {}}), Kind.IDENTITY),
    ("condition-value-object", _cond({"StringEquals": {"aws:username": {"a": 1}}}), Kind.IDENTITY),
    ("condition-value-null", _cond({"StringEquals": {"aws:username": None}}), Kind.IDENTITY),
    ("condition-value-nested-list", _cond({"StringLike": {"aws:TagKeys": [["a"]]}}), Kind.IDENTITY),
    ("condition-value-empty-list", _cond({"StringEquals": {"aws:username": []}}), Kind.IDENTITY),
]


@pytest.mark.parametrize(
    ("document", "kind"), [(d, k) for _, d, k in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed(document: Any, kind: Kind) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(MalformedPolicy):
        parse_policy(text, kind)


WELL_FORMED: list[tuple[str, dict[str, Any], Kind]] = [
    ("statement-object", {"Version": "2012-10-17", "Statement": GOOD}, Kind.IDENTITY),
    ("no-version", {"Statement": [GOOD]}, Kind.IDENTITY),
    ("version-2008", _doc(GOOD, version="2008-10-17"), Kind.IDENTITY),
    ("principal-account-id", _doc(GOOD_RESOURCE), Kind.RESOURCE),
    ("principal-star", _doc({**GOOD, "Principal": "*"}), Kind.RESOURCE),
    (
        "principal-service",
        _doc({**GOOD, "Principal": {"Service": ["events.amazonaws.com"]}}),
        Kind.RESOURCE,
    ),
    (
        "principal-session-arn",
        _doc({**GOOD, "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/R/s"}}),
        Kind.RESOURCE,
    ),
    (
        "trust-without-resource",
        _doc({"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}),
        Kind.TRUST,
    ),
    ("for-all-values", _cond({"ForAllValues:StringLike": {"aws:TagKeys": ["a*"]}}), Kind.IDENTITY),
    ("for-any-value", _cond({"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}), Kind.IDENTITY),
    ("if-exists", _cond({"NumericLessThanIfExists": {"s3:max-keys": 10}}), Kind.IDENTITY),
    ("bool-json-value", _cond({"Bool": {"aws:SecureTransport": False}}), Kind.IDENTITY),
    ("null", _cond({"Null": {"aws:TokenIssueTime": "true"}}), Kind.IDENTITY),
    ("action-star", _doc(_with(Action="*")), Kind.IDENTITY),
]


@pytest.mark.parametrize(
    ("document", "kind"), [(d, k) for _, d, k in WELL_FORMED], ids=[w[0] for w in WELL_FORMED]
)
def test_well_formed(document: dict[str, Any], kind: Kind) -> None:
    policy = parse_policy(json.dumps(document), kind)
    assert policy.statements
