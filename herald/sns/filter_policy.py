"""Filter policies: the shape SNS accepts, with the words SNS refuses one in.

The rules (SNS "Subscription filter policy constraints" and the behaviour recorded against
AWS): an object of at most 5 keys (``$or`` aside), nested at most 5 deep, whose leaves are
arrays of matchers; at most 150 combinations of values. A matcher is a string, number,
true, false or null, or an object with one operator. Matching messages against a policy
belongs to delivery.

Combinations multiply, for each array, its number of values by the depth of its key (1 at
the top): AWS's guide counts {"a": {"b": {"c": [4 values]}}, "d": {"e": [3 values]},
"f": [3 values]} as 3 x 4 x 2 x 3 x 1 x 3 = 216. The branches of an ``$or`` add up, at
the depth of the ``$or`` itself.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from herald.sns import documents

MAX_BYTES = 256 * 1024
MAX_KEYS = 5
MAX_DEPTH = 5
MAX_COMBINATIONS = 150
STRING_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
OPERATORS = frozenset((*STRING_OPERATORS, "anything-but", "numeric", "exists", "cidr"))
LOWER_BOUNDS = (">", ">=")
UPPER_BOUNDS = ("<", "<=")


class FilterPolicyError(ValueError):
    """Why a filter policy is refused, in AWS's words."""


def check(text: str) -> dict[str, Any]:
    """Parse and check a filter policy; raise FilterPolicyError."""
    if len(text.encode()) > MAX_BYTES:
        raise FilterPolicyError("Filter policy is too big")
    try:
        document = documents.parse_object(text)
    except documents.DocumentError as exc:
        raise FilterPolicyError(str(exc)) from None
    if len([k for k in document if k != "$or"]) > MAX_KEYS:
        raise FilterPolicyError(f"Filter policy can not have more than {MAX_KEYS} keys")
    if _combinations(document, depth=1) > MAX_COMBINATIONS:
        raise FilterPolicyError("Filter policy is too complex")
    return document


def is_nested(text: str) -> bool:
    """Whether the policy has object values (only a MessageBody scope allows them)."""
    document = json.loads(text)
    return any(isinstance(v, dict) for k, v in document.items() if k != "$or")


def _combinations(node: dict[str, Any], depth: int) -> int:
    if depth > MAX_DEPTH:
        raise FilterPolicyError("Filter policy is too complex")
    total = 1
    for key, value in node.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPolicyError("$or must be an array of at least two objects")
            total *= sum(_combinations(_object(v), depth) for v in value)
        elif isinstance(value, dict):
            total *= _combinations(value, depth + 1)
        elif isinstance(value, list):
            if not value:
                raise FilterPolicyError("Empty arrays are not allowed")
            for matcher in value:
                _matcher(matcher)
            total *= len(value) * depth
        else:
            raise FilterPolicyError(f'"{key}" must be an object or an array')
    return total


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FilterPolicyError("$or must be an array of at least two objects")
    return value


def _matcher(matcher: Any) -> None:
    if isinstance(matcher, list):
        raise FilterPolicyError("Match value must be String, number, true, false, or null")
    if not isinstance(matcher, dict):
        return
    if len(matcher) != 1:
        raise FilterPolicyError("Only one key allowed in match expression")
    operator, operand = next(iter(matcher.items()))
    if operator not in OPERATORS:
        raise FilterPolicyError(f"Unrecognized match type {operator}")
    _OPERANDS[operator](operator, operand)


def _string(operator: str, operand: Any) -> None:
    if not isinstance(operand, str):
        raise FilterPolicyError(f"{operator} match pattern must be a string")


def _exists(operator: str, operand: Any) -> None:
    if not isinstance(operand, bool):
        raise FilterPolicyError("exists match pattern must be either true or false.")


def _cidr(operator: str, operand: Any) -> None:
    # AWS words a CIDR that is not a string as it words a bad prefix.
    if not isinstance(operand, str):
        raise FilterPolicyError("prefix match pattern must be a string")
    if operand.count("/") != 1:
        raise FilterPolicyError("Malformed CIDR, one '/' required")
    address, _, bits = operand.partition("/")
    if not bits.isascii() or not bits.isdigit() or len(bits) > 3:
        raise FilterPolicyError("Malformed CIDR, mask bits must be an integer")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise FilterPolicyError(f"Nonstandard IP address: {address}") from None
    if int(bits) > parsed.max_prefixlen:
        raise FilterPolicyError(f"Malformed CIDR, mask bits must be at most {parsed.max_prefixlen}")


def _anything_but(operator: str, operand: Any) -> None:
    if isinstance(operand, dict):
        if len(operand) != 1:
            raise FilterPolicyError("Only one key allowed in match expression")
        inner, value = next(iter(operand.items()))
        if inner not in STRING_OPERATORS:
            raise FilterPolicyError(f"Unsupported anything-but pattern: {inner}")
        _string(inner, value)
    elif isinstance(operand, list):
        if not operand:
            raise FilterPolicyError("Empty arrays are not allowed")
        for value in operand:
            if isinstance(value, (list, dict)):
                raise FilterPolicyError(
                    "Inside anything but list, start|null|boolean is not supported."
                )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric(operator: str, operand: Any) -> None:
    if not isinstance(operand, list) or not operand:
        raise FilterPolicyError("Invalid member in numeric match: ]")
    first = operand[0]
    if not isinstance(first, str):
        raise FilterPolicyError(f"Invalid member in numeric match: {first}")
    if first != "=" and first not in LOWER_BOUNDS + UPPER_BOUNDS:
        raise FilterPolicyError(f"Unrecognized numeric range operator: {first}")
    if len(operand) < 2 or not _is_number(operand[1]):
        raise FilterPolicyError(f"Value of {'equals' if first == '=' else first} must be numeric")
    if first == "=" or first in UPPER_BOUNDS:
        if len(operand) > 2:
            raise FilterPolicyError("Too many elements in numeric expression")
        return
    if len(operand) == 2:
        return
    second = operand[2]
    if not isinstance(second, str):
        raise FilterPolicyError(f"Bad value in numeric range: {second}")
    if second not in UPPER_BOUNDS:
        raise FilterPolicyError(f"Bad numeric range operator: {second}")
    if len(operand) < 4 or not _is_number(operand[3]):
        raise FilterPolicyError(f"Value of {second} must be numeric")
    if len(operand) > 4:
        raise FilterPolicyError("Too many terms in numeric range expression")
    if operand[1] >= operand[3]:
        raise FilterPolicyError("Bottom must be less than top")


_OPERANDS = {
    **{name: _string for name in STRING_OPERATORS},
    "exists": _exists,
    "cidr": _cidr,
    "anything-but": _anything_but,
    "numeric": _numeric,
}
