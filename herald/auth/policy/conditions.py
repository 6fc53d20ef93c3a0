"""Condition operators, as IAM documents them ("IAM JSON policy elements: Condition
operators").

The rules of this module:

- A condition block is AND over operators, AND over the keys of one operator, OR over the
  values listed for one key.
- Keys are looked up without regard to case; a key missing from the request makes a
  positive operator false, a negated one (StringNotEquals, NotIpAddress, ...) true, an
  ``...IfExists`` operator true, and ``Null`` compares presence itself.
- A request value that is a list (a multivalued key) is tested with the set operators:
  ``ForAnyValue:`` (some request value matches some policy value; false when missing)
  and ``ForAllValues:`` (every request value matches some policy value; true when
  missing or empty). Without a set prefix, a list matches when any of its values does.

Each operator is a row in ``_OPERATORS``: how to compare one request value with one
policy value, and whether the result is negated.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from herald.auth.policy.matching import ContextValue, Lookup, arn_matches, matches, resolve
from herald.errors import MalformedPolicy

Compare = Callable[[ContextValue, str, Lookup | None], bool]


@dataclass(frozen=True)
class Operator:
    name: str
    compare: Compare
    negated: bool = False


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: Operator
    key: str
    values: tuple[str, ...]
    if_exists: bool
    set_operator: str | None  # "ForAnyValue", "ForAllValues" or None

    def holds(self, lookup: Lookup, variables: Lookup | None) -> bool:
        """Whether the condition holds; ``variables`` resolves policy variables in its
        values (None for policies of Version 2008-10-17, which have none)."""
        value = lookup(self.key)
        if self.base.name == "Null":
            missing = value is None or value == []
            return any((v.lower() == "true") == missing for v in self.values)
        if value is None or (isinstance(value, list) and not value):
            if self.set_operator == "ForAllValues":
                return True
            if self.set_operator == "ForAnyValue":
                return False
            return self.if_exists or self.base.negated
        items = value if isinstance(value, list) else [value]
        if self.set_operator == "ForAllValues":
            return all(self._one(item, variables) for item in items)
        return any(self._one(item, variables) for item in items)

    def _one(self, item: ContextValue, variables: Lookup | None) -> bool:
        hit = any(self.base.compare(item, wanted, variables) for wanted in self.values)
        return not hit if self.base.negated else hit


def _text(value: ContextValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_equals(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    resolved = resolve(wanted, lookup)
    return resolved is not None and _text(value) == resolved


def _string_equals_ignore_case(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    resolved = resolve(wanted, lookup)
    return resolved is not None and _text(value).casefold() == resolved.casefold()


def _string_like(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    return matches(wanted, _text(value), lookup)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(test: Callable[[float, float], bool]) -> Compare:
    def compare(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
        have, want = _number(_text(value)), _number(wanted)
        return have is not None and want is not None and test(have, want)

    return compare


def _date(text: str) -> float | None:
    try:
        return float(text)  # epoch seconds are a date too
    except ValueError:
        pass
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _dates(test: Callable[[float, float], bool]) -> Compare:
    def compare(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
        have, want = _date(_text(value)), _date(wanted)
        return have is not None and want is not None and test(have, want)

    return compare


def _bool(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    return _text(value).lower() == wanted.lower()


def _binary(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    try:
        return base64.b64decode(_text(value), validate=True) == base64.b64decode(
            wanted, validate=True
        )
    except (binascii.Error, ValueError):
        return False


def _ip(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    try:
        address = ipaddress.ip_address(_text(value))
        network = ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    return arn_matches(wanted, _text(value), lookup)


def _never(value: ContextValue, wanted: str, lookup: Lookup | None) -> bool:
    return False


def _lt(a: float, b: float) -> bool:
    return a < b


def _le(a: float, b: float) -> bool:
    return a <= b


def _gt(a: float, b: float) -> bool:
    return a > b


def _ge(a: float, b: float) -> bool:
    return a >= b


def _eq(a: float, b: float) -> bool:
    return a == b


_OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("StringEquals", _string_equals),
        Operator("StringNotEquals", _string_equals, negated=True),
        Operator("StringEqualsIgnoreCase", _string_equals_ignore_case),
        Operator("StringNotEqualsIgnoreCase", _string_equals_ignore_case, negated=True),
        Operator("StringLike", _string_like),
        Operator("StringNotLike", _string_like, negated=True),
        Operator("NumericEquals", _numeric(_eq)),
        Operator("NumericNotEquals", _numeric(_eq), negated=True),
        Operator("NumericLessThan", _numeric(_lt)),
        Operator("NumericLessThanEquals", _numeric(_le)),
        Operator("NumericGreaterThan", _numeric(_gt)),
        Operator("NumericGreaterThanEquals", _numeric(_ge)),
        Operator("DateEquals", _dates(_eq)),
        Operator("DateNotEquals", _dates(_eq), negated=True),
        Operator("DateLessThan", _dates(_lt)),
        Operator("DateLessThanEquals", _dates(_le)),
        Operator("DateGreaterThan", _dates(_gt)),
        Operator("DateGreaterThanEquals", _dates(_ge)),
        Operator("Bool", _bool),
        Operator("BinaryEquals", _binary),
        Operator("IpAddress", _ip),
        Operator("NotIpAddress", _ip, negated=True),
        Operator("ArnEquals", _arn),
        Operator("ArnLike", _arn),
        Operator("ArnNotEquals", _arn, negated=True),
        Operator("ArnNotLike", _arn, negated=True),
        Operator("Null", _never),
    )
}
_SET_OPERATORS = ("ForAnyValue", "ForAllValues")


def parse_conditions(block: Any) -> tuple[Condition, ...]:
    """Parse a statement's Condition element; raise MalformedPolicy naming the problem."""
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise MalformedPolicy("Condition must be an object")
    conditions = []
    for written, keys in block.items():
        base, if_exists, set_operator = _operator(written)
        if not isinstance(keys, dict) or not keys:
            raise MalformedPolicy(f"Condition operator {written} needs an object of keys")
        for key, raw in keys.items():
            values = _values(written, key, raw)
            conditions.append(Condition(written, base, key, values, if_exists, set_operator))
    return tuple(conditions)


def _operator(written: str) -> tuple[Operator, bool, str | None]:
    set_operator, _, name = written.rpartition(":")
    if set_operator and set_operator not in _SET_OPERATORS:
        raise MalformedPolicy(f"Invalid Condition type : {written}")
    if_exists = name.endswith("IfExists") and name != "Null"
    base = _OPERATORS.get(name[: -len("IfExists")] if if_exists else name)
    if base is None or (if_exists and base.name == "Null"):
        raise MalformedPolicy(f"Invalid Condition type : {written}")
    return base, if_exists, set_operator or None


def _values(written: str, key: str, raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise MalformedPolicy(f"Condition {written} {key} needs at least one value")
    values = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            values.append(str(item))
        else:
            raise MalformedPolicy(f"Condition {written} {key} values must be strings")
    return tuple(values)


def all_hold(conditions: tuple[Condition, ...], lookup: Lookup, variables: Lookup | None) -> bool:
    return all(c.holds(lookup, variables) for c in conditions)
