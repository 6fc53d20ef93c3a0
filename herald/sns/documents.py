"""JSON documents carried in attributes (policies, filter policies), parsed with the words
AWS uses when one does not parse.

SNS parses these documents with Jackson, and its error messages quote Jackson's own text,
so Herald translates the common failures of Python's parser into that wording (with the
line and column, 1-based, where Jackson reports them).
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_VALUE_KINDS = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


class DocumentError(ValueError):
    """The document is not the JSON object it must be; the message is AWS's wording."""


def parse_object(text: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object; raise DocumentError worded as SNS words it."""
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"failed to parse JSON. {_jackson(exc)}") from None
    except RecursionError:
        raise DocumentError("failed to parse JSON. The document is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit limit
        raise DocumentError(f"failed to parse JSON. {exc}") from None
    if not isinstance(parsed, dict):
        raise DocumentError("failed to parse JSON. The document must be a JSON object")
    return parsed


def _no_constant(name: str) -> Any:
    # Python's parser reads NaN and Infinity; JSON (and Jackson, as SNS runs it) does not.
    raise ValueError(f"Non-standard token '{name}': not a valid JSON value")


def _jackson(exc: json.JSONDecodeError) -> str:
    text, pos = exc.doc, exc.pos
    char = text[pos] if pos < len(text) else ""
    where = _location(exc.lineno, exc.colno)
    if not char:
        return f"Unexpected end-of-input{where}"
    quoted = f"Unexpected character ('{char}' (code {ord(char)}))"
    if exc.msg.startswith("Expecting property name"):
        return f"{quoted}: was expecting double-quote to start field name{where}"
    if exc.msg.startswith("Expecting value"):
        token = _TOKEN.match(text, pos)
        if token is not None:
            end = token.end()
            column = exc.colno + (end - pos)
            return (
                f"Unrecognized token '{token.group()}': was expecting {_VALUE_KINDS}"
                f"{_location(exc.lineno, column)}"
            )
        return f"{quoted}: expected a valid value {_VALUE_KINDS}{where}"
    if exc.msg.startswith("Expecting ',' delimiter"):
        return f"{quoted}: was expecting comma to separate entries{where}"
    if exc.msg.startswith("Expecting ':' delimiter"):
        return f"{quoted}: was expecting a colon to separate field name and value{where}"
    if exc.msg.startswith("Extra data"):
        return f"{quoted}: expected end of input{where}"
    return f"{exc.msg}{where}"


def _location(line: int, column: int) -> str:
    return (
        "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); "
        f"line: {line}, column: {column}]"
    )
