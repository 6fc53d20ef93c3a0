"""The AWS JSON 1.0/1.1 protocol: a JSON object in, a JSON object out, the operation named
by the X-Amz-Target header ("TrentService.Encrypt"). Blobs travel as base64 text.

Sans-IO: bytes in, values out, or MalformedRequest.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from herald.errors import MalformedRequest, ValidationFailed

CONTENT_TYPE = "application/x-amz-json-1.1"


def parse_body(body: bytes) -> dict[str, Any]:
    """The request object; an empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedRequest("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise MalformedRequest("The request body must be a JSON object.")
    return value


def operation(target: str | None, prefix: str) -> str:
    """The operation named by X-Amz-Target ``prefix.Operation``."""
    if not target or not target.startswith(prefix + "."):
        raise MalformedRequest(f"The X-Amz-Target header must name a {prefix} operation.")
    return target[len(prefix) + 1 :]


def response(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def error(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def blob(value: bytes) -> str:
    return base64.b64encode(value).decode()


class Params:
    """Typed access to a request object, with AWS's ValidationException wording."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def raw(self) -> dict[str, Any]:
        return self._data

    def string(self, name: str) -> str | None:
        value = self._data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return _text(name, value)
        raise _wrong(name, "a string")

    def integer(self, name: str) -> int | None:
        value = self._data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(name, "an integer")
        return value

    def boolean(self, name: str) -> bool:
        value = self._data.get(name, False)
        if not isinstance(value, bool):
            raise _wrong(name, "a boolean")
        return value

    def blob(self, name: str) -> bytes | None:
        value = self.string(name)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _wrong(name, "base64-encoded binary data") from None

    def string_map(self, name: str) -> dict[str, str]:
        value = self._data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise _wrong(name, "a map of strings to strings")
        return {_text(name, k): _text(name, v) for k, v in value.items()}

    def strings(self, name: str) -> list[str]:
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _wrong(name, "a list of strings")
        return [_text(name, v) for v in value]

    def tags(self, name: str = "Tags") -> list[tuple[str | None, str | None]]:
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise _wrong(name, "a list of tags")
        pairs: list[tuple[str | None, str | None]] = []
        for tag in value:
            key, text = tag.get("TagKey"), tag.get("TagValue")
            if not (key is None or isinstance(key, str)) or not (
                text is None or isinstance(text, str)
            ):
                raise _wrong(name, "a list of tags with string keys and values")
            pairs.append((None if key is None else _text(name, key),
                          None if text is None else _text(name, text)))  # fmt: skip
        return pairs


def _text(name: str, value: str) -> str:
    """JSON may carry lone surrogates ("\\ud800"), which no UTF-8 text holds."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _wrong(name, "valid Unicode text") from None
    return value


def _wrong(name: str, kind: str) -> ValidationFailed:
    return ValidationFailed(f"The value of {name} must be {kind}.")
