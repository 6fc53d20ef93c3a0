"""The AWS Query protocol's request side: form-encoded parameters, flattened.

AWS Query flattens lists and maps into dotted names: ``Tags.member.1.Key``,
``Attributes.entry.2.value``, ``MessageAttributes.entry.1.Value.DataType``. ``QueryParams``
keeps the flat names and hands out nested views (``members()``) for lists and maps, so an
action handler reads the shape it expects and nothing else. Sans-IO: bytes in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl

from herald.errors import InvalidParameter, MalformedRequest

MAX_FIELDS = 2000
# List indices are small positive ASCII numbers; anything else is a malformed name.
_INDEX = re.compile(r"^[1-9][0-9]{0,5}$")


class QueryParams:
    """A read-only view of flattened AWS Query parameters."""

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        values: dict[str, str] = {}
        for key, value in pairs:
            values.setdefault(key, value)
        self._values = values

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def names(self) -> list[str]:
        return list(self._values)

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def required(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            raise InvalidParameter(
                f"Invalid parameter: {name} Reason: no value for required parameter"
            )
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._values.get(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise InvalidParameter(f"Invalid parameter: {name} Reason: must be true or false")
        return lowered == "true"

    def members(self, prefix: str) -> list[QueryParams]:
        """The elements of the flattened list ``prefix.N.*``, ordered by N."""
        groups: dict[int, list[tuple[str, str]]] = {}
        start = prefix + "."
        for key, value in self._values.items():
            if not key.startswith(start):
                continue
            index, _, rest = key[len(start) :].partition(".")
            if not _INDEX.fullmatch(index):
                raise InvalidParameter(f"Invalid parameter: {key} Reason: bad list index")
            groups.setdefault(int(index), []).append((rest, value))
        return [QueryParams(groups[i]) for i in sorted(groups)]

    def scalars(self, prefix: str) -> list[str]:
        """The elements of the flattened list of strings ``prefix.N``."""
        items: dict[int, str] = {}
        start = prefix + "."
        for key, value in self._values.items():
            if key.startswith(start):
                index = key[len(start) :]
                if not _INDEX.fullmatch(index):
                    raise InvalidParameter(f"Invalid parameter: {key} Reason: bad list index")
                items[int(index)] = value
        return [items[i] for i in sorted(items)]

    def string_map(self, prefix: str, key: str = "key", value: str = "value") -> dict[str, str]:
        """A flattened map ``prefix.entry.N.key`` / ``prefix.entry.N.value``."""
        result: dict[str, str] = {}
        for entry in self.members(prefix + ".entry"):
            name = entry.get(key)
            if name is None:
                raise InvalidParameter(
                    f"Invalid parameter: {prefix} Reason: map entry without a key"
                )
            result[name] = entry.get(value) or ""
        return result


def parse_form(body: bytes, query: str = "") -> QueryParams:
    """Parse a form body (and the URL's query string) into ``QueryParams``.

    Raises MalformedRequest for bytes that are not UTF-8 or for too many fields.
    """
    pairs: list[tuple[str, str]] = []
    for source in (query.encode("latin-1", "replace"), body):
        if not source:
            continue
        try:
            pairs.extend(
                parse_qsl(
                    source.decode("utf-8", "strict"),
                    keep_blank_values=True,
                    strict_parsing=False,
                    errors="strict",
                    max_num_fields=MAX_FIELDS - len(pairs),
                )
            )
        except UnicodeDecodeError as exc:
            raise MalformedRequest("The request is not valid UTF-8.") from exc
        except ValueError as exc:
            raise MalformedRequest(f"The request has more than {MAX_FIELDS} fields.") from exc
    return QueryParams(pairs)
