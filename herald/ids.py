"""Random identifiers (UUID version 4), drawn from a pooled buffer of OS randomness.

One getrandom() call per 256 identifiers instead of one per identifier: on some kernels
and sandboxes that system call costs more than the rest of a small request.
"""

from __future__ import annotations

import os
import secrets
import string
import threading
import uuid

_POOL_IDS = 256
_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_lock = threading.Lock()
_pool = b""
_offset = 0


class FifoSequence:
    """FIFO sequence numbers: decimal, 20 digits, increasing within this process."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self, now: float) -> str:
        with self._lock:
            self._last = max(self._last + 1, int(now * 1_000_000) * 1000)
            return f"{self._last:020d}"


def uuid4() -> str:
    """A random (version 4) UUID in its canonical text form."""
    global _pool, _offset
    with _lock:
        if _offset >= len(_pool):
            _pool = os.urandom(16 * _POOL_IDS)
            _offset = 0
        raw = _pool[_offset : _offset + 16]
        _offset += 16
    return str(uuid.UUID(bytes=raw, version=4))


def iam_id(prefix: str) -> str:
    """An IAM-style identifier: a four-letter kind (AKIA, AIDA, AGPA, ...) and 16 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def secret_access_key() -> str:
    """40 random characters, as AWS secret access keys are."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
