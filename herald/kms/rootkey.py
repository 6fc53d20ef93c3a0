"""The root key: it wraps every backing key, so key material never reaches disk in clear.

A root key is anything with ``wrap`` and ``unwrap`` (``RootKey``), so a PKCS#11 token can
serve later; ``FileRootKey`` is the default: 32 random bytes, from HERALD_ROOT_KEY
(base64) or a 0600 file created in the data folder on first start. Wrapping is AES-256-GCM
with the key id as associated data, so a wrapped key cannot be moved to another id.

On start, ``check`` opens a value sealed under the root key the first time; a wrong root
key fails there, before any request is served or any data written.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Protocol

from herald.kms import _aead

_CHECK_NAME = "kms-root-key-check"
_CHECK_TEXT = b"herald root key check, version 1"


class WrongRootKey(Exception):
    """The root key is not the one this data was sealed with."""


class RootKey(Protocol):
    def wrap(self, key_id: str, material: bytes) -> bytes: ...

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        """Raises WrongRootKey when ``wrapped`` was not made by this root key for ``key_id``."""
        ...


class FileRootKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != _aead.KEY_BYTES:
            raise ValueError(f"a root key is {_aead.KEY_BYTES} bytes, not {len(key)}")
        self._key = key

    def __repr__(self) -> str:
        return "FileRootKey(<hidden>)"

    def wrap(self, key_id: str, material: bytes) -> bytes:
        nonce, sealed = _aead.seal(self._key, material, _aad(key_id))
        return nonce + sealed

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        nonce, sealed = wrapped[: _aead.NONCE_BYTES], wrapped[_aead.NONCE_BYTES :]
        try:
            return _aead.open_sealed(self._key, nonce, sealed, _aad(key_id))
        except _aead.OpenFailed:
            raise WrongRootKey() from None


def load(encoded: str | None, path: Path, create: bool = True) -> FileRootKey:
    """The root key from base64 text (HERALD_ROOT_KEY) or ``path``, created when absent
    (unless ``create`` is False).

    Raises ValueError with a message fit for the operator.
    """
    if encoded is not None:
        try:
            return FileRootKey(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("HERALD_ROOT_KEY must be the base64 of 32 bytes") from None
    if not path.exists():
        if not create:
            raise ValueError(f"there is no root key at {path} and HERALD_ROOT_KEY is not set")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(_aead.new_key())
            out.flush()
            os.fsync(out.fileno())
    data = path.read_bytes()
    if len(data) != _aead.KEY_BYTES:
        raise ValueError(f"{path} must hold exactly {_aead.KEY_BYTES} bytes")
    return FileRootKey(data)


def check_value(root: RootKey) -> bytes:
    return root.wrap(_CHECK_NAME, _CHECK_TEXT)


def verify(root: RootKey, stored: bytes) -> None:
    """Raises WrongRootKey unless ``stored`` (from ``check_value``) opens under ``root``."""
    if root.unwrap(_CHECK_NAME, stored) != _CHECK_TEXT:
        raise WrongRootKey()


CHECK_NAME = _CHECK_NAME


class SecretSealer:
    """Seals credential secrets under the root key for the store ("sealed1:" + base64 of
    the wrapped bytes, bound to the secret's purpose). Values stored before sealing
    existed are read as they are."""

    PREFIX = "sealed1:"

    def __init__(self, root: RootKey) -> None:
        self._root = root

    def seal(self, purpose: str, secret: str) -> str:
        wrapped = self._root.wrap("secret:" + purpose, secret.encode())
        return self.PREFIX + base64.b64encode(wrapped).decode()

    def open(self, purpose: str, stored: str) -> str:
        if not stored.startswith(self.PREFIX):
            return stored
        wrapped = base64.b64decode(stored[len(self.PREFIX) :])
        return self._root.unwrap("secret:" + purpose, wrapped).decode()


def _aad(key_id: str) -> bytes:
    return b"herald-kms-backing-key:" + key_id.encode()
