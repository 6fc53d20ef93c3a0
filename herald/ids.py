"""Random identifiers (UUID versions 4 and 7), drawn from a pooled buffer of OS randomness.

One getrandom() call per 256 identifiers instead of one per identifier: on some kernels
and sandboxes that system call costs more than the rest of a small request.

Rows written at a high rate (messages, deliveries, queued messages) get version 7 ids
(RFC 9562: a millisecond timestamp, then 74 random bits): new keys land at the end of
their primary-key index instead of on a random page, which halves the cost of an insert
into a large table and the pages each commit writes.
"""

from __future__ import annotations

import os
import secrets
import string
import threading
import time
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


def _random16() -> bytes:
    global _pool, _offset
    with _lock:
        if _offset >= len(_pool):
            _pool = os.urandom(16 * _POOL_IDS)
            _offset = 0
        raw = _pool[_offset : _offset + 16]
        _offset += 16
    return raw


def uuid4() -> str:
    """A random (version 4) UUID in its canonical text form."""
    return str(uuid.UUID(bytes=_random16(), version=4))


def uuid7(now: float | None = None) -> str:
    """A time-ordered (version 7) UUID in its canonical text form: the Unix time in
    milliseconds (``now``, seconds, or the current time), the version, 12 random bits,
    the variant and 62 random bits."""
    millis = int((time.time() if now is None else now) * 1000) & 0xFFFF_FFFF_FFFF
    value = (millis << 80) | (int.from_bytes(_random16()[:10], "big"))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iam_id(prefix: str) -> str:
    """An IAM-style identifier: a four-letter kind (AKIA, AIDA, AGPA, ...) and 16 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def secret_access_key() -> str:
    """40 random characters, as AWS secret access keys are."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
