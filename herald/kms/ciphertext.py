"""Herald's ciphertext blob, version 1 (specified in docs/ciphertext-format.md).

    offset  size  field
    0       1     format version, 0x01
    1       16    key id (the UUID's 16 bytes)
    17      4     backing-key version, unsigned big-endian, from 1
    21      12    AES-GCM nonce
    33      n+16  AES-256-GCM ciphertext of the n plaintext bytes, then the tag

The associated data is the first 21 bytes (so the header cannot be altered) followed by
the canonical encoding of the encryption context: the number of pairs, then for each pair
in order of the UTF-8 bytes of its key, the key and the value, each as a 4-byte
big-endian length and its UTF-8 bytes. All values are big-endian.

Sans-IO: values in, values out. Every failure to read a blob is one InvalidCiphertext.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from herald.errors import InvalidCiphertext

VERSION = 1
HEADER = struct.Struct(">B16sI")
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_BLOB = 6144  # AWS's CiphertextType maximum


@dataclass(frozen=True)
class Blob:
    key_id: str  # the UUID, as text
    key_version: int
    nonce: bytes
    sealed: bytes

    def header(self) -> bytes:
        return HEADER.pack(VERSION, uuid.UUID(self.key_id).bytes, self.key_version)

    def to_bytes(self) -> bytes:
        return self.header() + self.nonce + self.sealed


def header(key_id: str, key_version: int) -> bytes:
    return HEADER.pack(VERSION, uuid.UUID(key_id).bytes, key_version)


def parse(data: bytes) -> Blob:
    """Read a blob's fields; raises InvalidCiphertext."""
    if not HEADER.size + NONCE_BYTES + TAG_BYTES <= len(data) <= MAX_BLOB:
        raise InvalidCiphertext("The ciphertext is invalid.")
    version, key_bytes, key_version = HEADER.unpack_from(data)
    if version != VERSION or key_version < 1:
        raise InvalidCiphertext("The ciphertext is invalid.")
    nonce = data[HEADER.size : HEADER.size + NONCE_BYTES]
    return Blob(
        str(uuid.UUID(bytes=key_bytes)), key_version, nonce, data[HEADER.size + NONCE_BYTES :]
    )


def context_bytes(context: Mapping[str, str]) -> bytes:
    """The canonical, length-prefixed encoding of an encryption context."""
    pairs = sorted((k.encode(), v.encode()) for k, v in context.items())
    parts = [struct.pack(">I", len(pairs))]
    for key, value in pairs:
        parts += [struct.pack(">I", len(key)), key, struct.pack(">I", len(value)), value]
    return b"".join(parts)


def aad(blob_header: bytes, context: Mapping[str, str]) -> bytes:
    return blob_header + context_bytes(context)
