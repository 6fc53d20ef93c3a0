"""Filter policies, matched: whether a subscription takes a message.

The rules (SNS "Subscription filter policies" and the pages under it: string value, numeric
value and key matching, AND/OR logic, filter policy constraints):

- Every property name of a policy must match (AND); ``"$or"`` holds sub-policies of which one
  must match. An object value nests names: only a message body has nested properties.
- A name's array lists matchers, and one matcher meeting one value of the property is
  enough (OR). A property has many values when it is a String.Array attribute or an array in
  the body: each element is matched on its own.
- A matcher is a literal (string, number, true, false or null, equal to values of its own
  kind) or an object with one operator: prefix, suffix, equals-ignore-case, wildcard, cidr,
  numeric, anything-but (which negates a literal, a list of them or a string operator), and
  exists, which asks about the key rather than its values.
- Strings compare case-sensitively; numbers to five digits after the decimal point.

How it works: the message becomes a lookup from a property path to a ``_Field`` (its values
and whether its key counts as present or absent), and the policy is walked once, each array
asking the lookup for its path. Attributes are found by name (Binary ones are ignored, as SNS
ignores them); a body is flattened first, its keys joined with ".", so ``{"a": {"b": 1}}``
and ``{"a.b": 1}`` both give a value at ``a.b`` (undocumented, but what SNS was seen doing).
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from typing import Any

SCOPES = ("MessageAttributes", "MessageBody")

# A value a matcher can meet: JSON's scalars, numbers kept exact as Decimal.
Scalar = str | Decimal | bool | None

_STEP = Decimal("0.00001")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# "Number.Array" is not a type SNS publishes, but the numeric anything-but example in the
# guide filters on one, so it is read as String.Array is.
_ARRAY_TYPES = frozenset({"String.Array", "Number.Array"})


@dataclass(frozen=True)
class _Field:
    """What a message holds at one property path."""

    values: tuple[Scalar, ...]
    present: bool
    absent: bool


_Lookup = Callable[[str], _Field]
_ValueTest = Callable[[Any, Scalar], bool]


def matches(
    policy: dict[str, Any],
    scope: str,
    attributes: Mapping[str, Mapping[str, str]],
    body: str,
) -> bool:
    """Whether a message passes a filter policy.

    Parameters:
        policy: the document filter_policy.check returned.
        scope: "MessageAttributes" or "MessageBody" (the subscription's FilterPolicyScope).
        attributes: the message attributes, each {"Type": ..., "Value": ...} as published.
        body: the message text; in the MessageBody scope it must be a JSON object.

    Raises ValueError for any other scope.
    """
    if scope not in _LOOKUPS:
        raise ValueError(f"Unknown filter policy scope: {scope}")
    lookup = _LOOKUPS[scope](attributes, body)
    return lookup is not None and _satisfies(policy, (), lookup)


# The policy walk.


def _satisfies(policy: Mapping[str, Any], path: tuple[str, ...], lookup: _Lookup) -> bool:
    return all(_holds(key, rule, path, lookup) for key, rule in policy.items())


def _holds(key: str, rule: Any, path: tuple[str, ...], lookup: _Lookup) -> bool:
    # AND/OR logic, "OR operator": "$or" holds alternatives at the level where it stands.
    if key == "$or":
        return any(_satisfies(branch, path, lookup) for branch in rule)
    if isinstance(rule, dict):
        return _satisfies(rule, (*path, key), lookup)
    field = lookup(".".join((*path, key)))
    return any(_meets(matcher, field) for matcher in rule)


def _meets(matcher: Any, field: _Field) -> bool:
    if not isinstance(matcher, dict):
        return any(_equals(matcher, value) for value in field.values)
    ((name, operand),) = matcher.items()
    if name in _KEY_OPERATORS:
        return _KEY_OPERATORS[name](operand, field)
    test = _VALUE_OPERATORS[name]
    return any(test(operand, value) for value in field.values)


# Key matching: "exists".


def _exists(operand: bool, field: _Field) -> bool:
    return field.present if operand else field.absent


# Value matching. Each test takes the operand from the policy and one value of the message.


def _equals(expected: Any, value: Scalar) -> bool:
    # A literal meets values of its own kind only: "10" is not 10, and true is not "true".
    if isinstance(expected, (str, bool)) or expected is None:
        return type(value) is type(expected) and value == expected
    return isinstance(value, Decimal) and value == _policy_number(expected)


def _prefix(operand: str, value: Scalar) -> bool:
    return isinstance(value, str) and value.startswith(operand)


def _suffix(operand: str, value: Scalar) -> bool:
    return isinstance(value, str) and value.endswith(operand)


def _equals_ignore_case(operand: str, value: Scalar) -> bool:
    return isinstance(value, str) and value.lower() == operand.lower()


def _wildcard(operand: str, value: Scalar) -> bool:
    if not isinstance(value, str):
        return False
    segments = _wildcard_segments(operand)
    if len(segments) == 1:
        return value == segments[0]
    first, *middle, last = segments
    if len(value) < len(first) + len(last):
        return False
    if not (value.startswith(first) and value.endswith(last)):
        return False
    return _in_order(middle, value[len(first) : len(value) - len(last)])


def _in_order(segments: list[str], text: str) -> bool:
    # Leftmost placement of each literal run is never worse, so one pass decides.
    start = 0
    for segment in segments:
        found = text.find(segment, start)
        if found < 0:
            return False
        start = found + len(segment)
    return True


def _cidr(operand: str, value: Scalar) -> bool:
    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    # An IPv4 address is never inside an IPv6 network, nor the other way round.
    return address in _network(operand)


def _numeric(operand: list[Any], value: Scalar) -> bool:
    if not isinstance(value, Decimal):
        return False
    pairs = zip(operand[::2], operand[1::2], strict=True)
    return all(_COMPARISONS[op](value, _policy_number(bound)) for op, bound in pairs)


def _anything_but(operand: Any, value: Scalar) -> bool:
    # String value matching, "Anything-but": it matches values, so a missing key (or a null)
    # is not "anything"; the guide pairs it with "exists": false for that.
    if value is None:
        return False
    if isinstance(operand, dict):
        ((name, inner),) = operand.items()
        return isinstance(value, str) and not _VALUE_OPERATORS[name](inner, value)
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_equals(item, value) for item in excluded)


_COMPARISONS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_KEY_OPERATORS: dict[str, Callable[[Any, _Field], bool]] = {"exists": _exists}

_VALUE_OPERATORS: dict[str, _ValueTest] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "cidr": _cidr,
    "numeric": _numeric,
    "anything-but": _anything_but,
}


@lru_cache(maxsize=256)
def _wildcard_segments(pattern: str) -> tuple[str, ...]:
    # EventBridge's wildcard, which SNS's guide does not describe: "*" stands for any run of
    # characters, "\*" for a star and "\\" for a backslash. Literal runs between stars.
    segments = [""]
    characters = iter(pattern)
    for character in characters:
        if character == "\\":
            segments[-1] += next(characters, "\\")
        elif character == "*":
            segments.append("")
        else:
            segments[-1] += character
    return tuple(segments)


@lru_cache(maxsize=256)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


# Numbers. Filter policy constraints: "the value can range from -10^9 to 10^9, with five
# digits of accuracy after the decimal point", so both sides are rounded to five places.


def _policy_number(number: int | float) -> Decimal:
    return _rounded(Decimal(str(number)))


def _rounded(number: Decimal) -> Decimal:
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int) or exponent >= -5:
        return number
    return number.quantize(_STEP, ROUND_HALF_EVEN, Context(prec=len(digits) + 2))


def _text_number(text: str) -> Decimal | None:
    if _NUMBER.fullmatch(text) is None:
        return None
    return _rounded(Decimal(text))


# The message, as a lookup from property path to field.


def _attribute_lookup(attributes: Mapping[str, Mapping[str, str]], body: str) -> _Lookup:
    fields: dict[str, tuple[Scalar, ...]] = {}
    for name, attribute in attributes.items():
        values = _attribute_values(attribute)
        if values is not None:
            fields[name] = values

    def lookup(name: str) -> _Field:
        # Key matching: "exists": false matches only if at least one attribute is present.
        present = name in fields
        return _Field(fields.get(name, ()), present, not present and bool(fields))

    return lookup


def _attribute_values(attribute: Mapping[str, str]) -> tuple[Scalar, ...] | None:
    """An attribute's values, or None for one SNS does not filter on (Binary)."""
    data_type = attribute.get("Type", "")
    value = attribute.get("Value", "")
    if data_type in _ARRAY_TYPES:
        return _array_values(value)
    # Custom types keep their base: "Number.float" is a Number, "String.csv" a String.
    reader = _ATTRIBUTE_READERS.get(data_type.partition(".")[0])
    return None if reader is None else reader(value)


def _number_values(text: str) -> tuple[Scalar, ...]:
    number = _text_number(text)
    return () if number is None else (number,)


def _array_values(text: str) -> tuple[Scalar, ...]:
    # String value matching: each element of a String.Array is matched as a separate value.
    parsed = _parse_json(text)
    if not isinstance(parsed, list):
        return ()
    return tuple(_scalar(item) for item in parsed if not isinstance(item, (list, dict)))


_ATTRIBUTE_READERS: dict[str, Callable[[str], tuple[Scalar, ...]]] = {
    "String": lambda text: (text,),
    "Number": _number_values,
}


def _body_lookup(attributes: Mapping[str, Mapping[str, str]], body: str) -> _Lookup | None:
    # Message filtering: "Filter policies for the message body assume that the message
    # payload is a well-formed JSON object"; anything else matches no policy.
    document = _parse_json(body)
    if not isinstance(document, dict):
        return None
    leaves = _flatten(document)

    def lookup(path: str) -> _Field:
        # Key matching: "exists": true needs a non-null value at a leaf, not an object.
        values = tuple(leaves.get(path, ()))
        present = any(value is not None for value in values)
        return _Field(values, present, not present)

    return lookup


def _flatten(document: dict[str, Any]) -> dict[str, list[Scalar]]:
    """Scalar leaves by dotted path; an array's elements all land on the array's path."""
    leaves: dict[str, list[Scalar]] = {}
    pending: list[tuple[tuple[str, ...], Any]] = [
        ((key,), value) for key, value in document.items()
    ]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            pending.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((path, item) for item in value)
        else:
            leaves.setdefault(".".join(path), []).append(_scalar(value))
    return leaves


def _scalar(value: Any) -> Scalar:
    return _rounded(value) if isinstance(value, Decimal) else value


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_LOOKUPS: dict[str, Callable[[Mapping[str, Mapping[str, str]], str], _Lookup | None]] = {
    "MessageAttributes": _attribute_lookup,
    "MessageBody": _body_lookup,
}
