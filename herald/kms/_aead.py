"""AES-256-GCM, the one authenticated cipher Herald uses, and the only module that
imports ``cryptography.hazmat``. Nonces are made here, 96 random bits each (NIST SP
800-38D, 8.2.2), so no caller can reuse one.
"""

from __future__ import annotations

import itertools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class OpenFailed(Exception):
    """The sealed bytes, the key or the associated data are not the ones sealed."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


class Cipher:
    """AES-256-GCM under one key that seals many messages (a data key), its key schedule
    made once. Nonces follow NIST SP 800-38D's deterministic construction (8.2.1): a
    random 32-bit field fixed for this object, then a 64-bit counter, so no two seals
    under the key share a nonce while the object lives; a data key never leaves the
    object that made it in memory, and a new object gets a new random field."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._fixed = os.urandom(4)
        self._counter = itertools.count()

    def __repr__(self) -> str:
        return "Cipher(<hidden>)"

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce = self._fixed + next(self._counter).to_bytes(8, "big")
        return nonce, self._aead.encrypt(nonce, plaintext, aad)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """(nonce, ciphertext with tag) of ``plaintext`` under ``key``, bound to ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext, or OpenFailed."""
    try:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    except (InvalidTag, ValueError):
        raise OpenFailed() from None
