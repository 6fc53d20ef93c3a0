"""XML rendering for AWS Query responses: small, fast string building.

Values are escaped for XML 1.0; characters XML 1.0 cannot carry at all are replaced with
U+FFFD, since a response that no parser accepts would fail the whole call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;", '"': "&quot;"})

Node = str  # an already rendered fragment


def text(value: str) -> str:
    return _INVALID.sub("\ufffd", value).translate(_ESCAPES)


def el(name: str, value: str | None) -> Node:
    """An element with text content; None renders nothing."""
    if value is None:
        return ""
    return f"<{name}>{text(value)}</{name}>"


def node(name: str, children: Iterable[Node]) -> Node:
    return f"<{name}>{''.join(children)}</{name}>"


def entries(name: str, mapping: Mapping[str, str]) -> Node:
    """A Query-protocol map: <name><entry><key/><value/></entry>...</name>."""
    return node(
        name,
        (f"<entry>{el('key', k)}{el('value', v)}</entry>" for k, v in mapping.items()),
    )


def response(action: str, namespace: str, result: Iterable[Node] | None, request_id: str) -> bytes:
    """A whole Query response document for ``action``."""
    body = "" if result is None else node(f"{action}Result", result)
    return (
        f'<?xml version="1.0"?>\n<{action}Response xmlns="{namespace}">{body}'
        f"<ResponseMetadata><RequestId>{text(request_id)}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def error(namespace: str, kind: str, code: str, message: str, request_id: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{namespace}"><Error>'
        f"<Type>{kind}</Type><Code>{text(code)}</Code><Message>{text(message)}</Message>"
        f"</Error><RequestId>{text(request_id)}</RequestId></ErrorResponse>"
    ).encode()
