"""Wildcards and policy variables, as IAM defines them.

A pattern is compiled once into a regular expression: ``*`` matches any run of characters,
``?`` any one character, everything else itself. Policy variables (``${aws:username}``)
are substituted from the request before matching; ``${*}``, ``${?}`` and ``${$}`` stand
for the literal characters, which then match only themselves. A variable with no value in
the request makes the pattern match nothing (IAM: the element does not match), unless it
names a default (``${aws:username, 'guest'}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

ContextValue = str | bool | int | float | list[str]
Lookup = Callable[[str], ContextValue | None]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERALS = {"*": "*", "?": "?", "$": "$"}
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")


class _Literal(str):
    """Text from ${*}, ${?} or ${$}: matched as itself, never as a wildcard."""


def has_variables(pattern: str) -> bool:
    return "${" in pattern


def variable_names(pattern: str) -> set[str]:
    """The context keys that the policy variables in ``pattern`` read."""
    names = set()
    for match in _VARIABLE.finditer(pattern):
        name = match.group(1).strip()
        with_default = _DEFAULT.match(name)
        if with_default:
            name = with_default.group(1)
        if name not in _LITERALS:
            names.add(name)
    return names


def substitute(pattern: str, lookup: Lookup) -> list[str] | None:
    """Split ``pattern`` into pieces with variables replaced; None if one has no value.

    Pieces that came from ``${*}``-style escapes are ``_Literal`` instances.
    """
    pieces: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(pattern):
        pieces.append(pattern[position : match.start()])
        name = match.group(1).strip()
        if name in _LITERALS:
            pieces.append(_Literal(_LITERALS[name]))
        else:
            default = None
            with_default = _DEFAULT.match(name)
            if with_default:
                name, default = with_default.group(1), with_default.group(2)
            value = lookup(name)
            if isinstance(value, list) or value is None:
                if default is None:
                    return None
                value = default
            text = str(value).lower() if isinstance(value, bool) else str(value)
            pieces.append(_Literal(text))
        position = match.end()
    pieces.append(pattern[position:])
    return pieces


def compile_pattern(pieces: list[str], ignore_case: bool = False) -> re.Pattern[str]:
    parts = []
    for piece in pieces:
        if isinstance(piece, _Literal):
            parts.append(re.escape(piece))
            continue
        for char in piece:
            if char == "*":
                parts.append(".*")
            elif char == "?":
                parts.append(".")
            else:
                parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


@lru_cache(maxsize=65536)
def _static(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return compile_pattern([pattern], ignore_case)


def matches(
    pattern: str, value: str, lookup: Lookup | None = None, ignore_case: bool = False
) -> bool:
    """Whether ``value`` matches the IAM wildcard ``pattern`` (variables from ``lookup``)."""
    if lookup is not None and has_variables(pattern):
        pieces = substitute(pattern, lookup)
        if pieces is None:
            return False
        return compile_pattern(pieces, ignore_case).fullmatch(value) is not None
    return _static(pattern, ignore_case).fullmatch(value) is not None


def resolve(text: str, lookup: Lookup | None) -> str | None:
    """``text`` with its variables replaced (for exact comparisons); None if one has none.

    With no ``lookup`` (a policy of Version 2008-10-17) the text is taken literally.
    """
    if lookup is None or not has_variables(text):
        return text
    pieces = substitute(text, lookup)
    return None if pieces is None else "".join(pieces)


def arn_matches(pattern: str, arn: str, lookup: Lookup | None = None) -> bool:
    """ArnLike: the six colon-separated parts match one by one (the last may hold colons)."""
    wanted = pattern.split(":", 5)
    have = arn.split(":", 5)
    if len(wanted) != 6 or len(have) != 6:
        return False
    return all(matches(w, h, lookup) for w, h in zip(wanted, have, strict=True))


def lookup_in(context: Mapping[str, ContextValue]) -> Lookup:
    """A case-insensitive lookup of context keys (IAM condition keys ignore case)."""
    lowered = {k.lower(): v for k, v in context.items()}
    return lambda key: lowered.get(key.lower())
