"""Random identifiers (UUID version 4), drawn from a pooled buffer of OS randomness.

One getrandom() call per 256 identifiers instead of one per identifier: on some kernels
and sandboxes that system call costs more than the rest of a small request.
"""

from __future__ import annotations

import os
import threading
import uuid

_POOL_IDS = 256
_lock = threading.Lock()
_pool = b""
_offset = 0


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
