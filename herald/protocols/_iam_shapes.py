"""Wire shapes IAM's actions share: dates, tags, policy documents and list pages."""

from __future__ import annotations

import base64
import binascii
import datetime
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from herald.errors import InvalidParameter, ValidationFailed
from herald.protocols import xml
from herald.protocols.query import QueryParams

Result = list[xml.Node] | None
T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100


def date(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refuse_boundary(p: QueryParams) -> None:
    """CreateUser and CreateRole: a permissions boundary Herald would not enforce is
    refused, never dropped (the caller would believe the principal bounded)."""
    if p.get("PermissionsBoundary") is not None:
        raise InvalidParameter(
            "Herald does not support permissions boundaries: PermissionsBoundary cannot be set."
        )


def tags_page(p: QueryParams, tags: dict[str, str]) -> Result:
    """ListUserTags and ListRoleTags: the tags by key, paged."""
    return paged(
        p,
        sorted(tags.items()),
        lambda t: t[0],
        lambda t: xml.node("member", [xml.el("Key", t[0]), xml.el("Value", t[1])]),
        "Tags",
    )


def tags_in(p: QueryParams) -> list[tuple[str | None, str | None]]:
    return [(m.get("Key"), m.get("Value")) for m in p.members("Tags.member")]


def tags_out(tags: dict[str, str] | Iterable[tuple[str, str]], name: str = "Tags") -> xml.Node:
    pairs = tags.items() if isinstance(tags, dict) else tags
    return xml.node(
        name, (xml.node("member", [xml.el("Key", k), xml.el("Value", v)]) for k, v in pairs)
    )


def document(text: str) -> str:
    # IAM returns policy documents URL-encoded (RFC 3986); SDKs decode them.
    return urllib.parse.quote(text, safe="")


def inline_policy(owner_field: str, owner: str, name: str, text: str) -> Result:
    return [
        xml.el(owner_field, owner),
        xml.el("PolicyName", name),
        xml.el("PolicyDocument", document(text)),
    ]


def paged(
    p: QueryParams,
    items: Sequence[T],
    key: Callable[[T], str],
    render: Callable[[T], xml.Node],
    list_name: str,
) -> list[xml.Node]:
    """One page of ``items`` (ordered by ``key``) as IAM lists them: the list element,
    IsTruncated and, when there is more, a Marker that continues after the last item."""
    chosen, trailer = page(p, items, key)
    return [xml.node(list_name, (render(i) for i in chosen)), *trailer]


def page(
    p: QueryParams, items: Sequence[T], key: Callable[[T], str]
) -> tuple[Sequence[T], list[xml.Node]]:
    """The items of one page of ``items`` (ordered by ``key``), and what follows the
    lists they go into: IsTruncated and, when there is more, a Marker.

    MaxItems is 1-1,000 (default 100); a Marker is opaque to the caller.
    """
    limit = _max_items(p.get("MaxItems"))
    marker = p.get("Marker")
    start = 0
    if marker is not None:
        after = _decode_marker(marker)
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    chosen = items[start : start + limit]
    truncated = start + limit < len(items)
    trailer = [xml.el("IsTruncated", "true" if truncated else "false")]
    if truncated:
        trailer.append(xml.el("Marker", _encode_marker(key(chosen[-1]))))
    return chosen, trailer


def policy_names(p: QueryParams, names: list[str]) -> list[xml.Node]:
    return paged(p, names, _itself, _member, "PolicyNames")


def _itself(name: str) -> str:
    return name


def _member(name: str) -> xml.Node:
    return xml.el("member", name)


def _max_items(value: str | None) -> int:
    if value is None:
        return DEFAULT_MAX_ITEMS
    number = int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 0
    if not 1 <= number <= 1000:
        bound = "greater than or equal to 1" if number < 1 else "less than or equal to 1000"
        raise ValidationFailed(
            f"1 validation error detected: Value '{value[:16]}' at 'maxItems' failed to "
            f"satisfy constraint: Member must have value {bound}"
        )
    return number


def _encode_marker(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _decode_marker(marker: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(marker.encode("ascii")).decode()
    except (UnicodeError, binascii.Error, ValueError):
        raise InvalidParameter("Invalid Marker.") from None
    # The decoder skips characters outside its alphabet; only a marker this module made
    # (decoding to a non-empty key that encodes back to it) continues a listing.
    if not decoded or _encode_marker(decoded) != marker:
        raise InvalidParameter("Invalid Marker.")
    return decoded
