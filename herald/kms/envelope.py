"""The envelope a service stores an encrypted body in: the body sealed with a data key
(AES-256-GCM), and that data key's ciphertext from the key service beside it.

    offset  size  field
    0       1     format version, 0x01
    1       2     n, length of the key ARN (big-endian)
    3       n     the ARN of the key that encrypted the data key
    3+n     2     m, length of the data key's ciphertext blob
    5+n     m     the data key's ciphertext blob (docs/ciphertext-format.md)
    5+n+m   12    nonce
    17+n+m  ...   the sealed body and its 16-byte tag

Version 2 ("kms-envelope-v2") leaves the data key's ciphertext out: the body names it
by a sealing id, under which the caller stores the key ARN and the data key's
ciphertext once for all the bodies sealed with it (SNS: ``SealingKeyRecord``), 29 bytes
before the sealed body instead of about 200:

    offset  size  field
    0       1     format version, 0x02
    1       16    the sealing id
    17      12    nonce
    29      ...   the sealed body and its 16-byte tag

The caller chooses the associated data (SNS binds the topic ARN and message id, so a
body cannot be moved to another message). Sans-IO.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from herald.errors import InvalidCiphertext
from herald.kms import _aead

FORMAT = "kms-envelope-v1"
FORMAT_V2 = "kms-envelope-v2"
SEALING_ID_BYTES = 16
Cipher = _aead.Cipher
_VERSION = 1
_VERSION_2 = 2


@dataclass(frozen=True)
class Envelope:
    key_arn: str
    data_key_blob: bytes
    nonce: bytes
    sealed: bytes = field(repr=False)


@dataclass(frozen=True)
class Referring:
    """A version 2 envelope: its data key is found by ``sealing_id``."""

    sealing_id: bytes
    nonce: bytes
    sealed: bytes = field(repr=False)


def cipher(data_key: bytes) -> Cipher:
    """A cipher for ``seal`` that many bodies under one data key share."""
    return _aead.Cipher(data_key)


def header(key_arn: str, data_key_blob: bytes) -> bytes:
    """The envelope's fields before the nonce, the same for every body sealed under one
    data key: made once per data key, not per body."""
    arn = key_arn.encode()
    return b"".join(
        [
            struct.pack(">BH", _VERSION, len(arn)),
            arn,
            struct.pack(">H", len(data_key_blob)),
            data_key_blob,
        ]
    )


def referring_header(sealing_id: bytes) -> bytes:
    """A version 2 envelope's fields before the nonce."""
    if len(sealing_id) != SEALING_ID_BYTES:
        raise ValueError("a sealing id is 16 bytes")
    return bytes([_VERSION_2]) + sealing_id


def seal(data_key: Cipher, header: bytes, body: bytes, aad: bytes) -> bytes:
    """``body`` sealed under ``data_key``, in the envelope whose ``header`` (``header``
    or ``referring_header``) names it."""
    nonce, sealed = data_key.seal(body, aad)
    return b"".join([header, nonce, sealed])


def read(stored: bytes) -> Envelope:
    """Raises InvalidCiphertext."""
    try:
        version, arn_length = struct.unpack_from(">BH", stored)
        if version != _VERSION:
            raise ValueError("version")
        offset = 3 + arn_length
        arn = stored[3:offset].decode()
        (blob_length,) = struct.unpack_from(">H", stored, offset)
        offset += 2
        blob = stored[offset : offset + blob_length]
        offset += blob_length
        nonce = stored[offset : offset + _aead.NONCE_BYTES]
        sealed = stored[offset + _aead.NONCE_BYTES :]
        if len(blob) != blob_length or len(nonce) != _aead.NONCE_BYTES or len(sealed) < 16:
            raise ValueError("short")
    except (struct.error, ValueError, UnicodeDecodeError):
        raise InvalidCiphertext("The stored envelope is not readable.") from None
    return Envelope(arn, blob, nonce, sealed)


def read_referring(stored: bytes) -> Referring:
    """Raises InvalidCiphertext."""
    start = 1 + SEALING_ID_BYTES
    if len(stored) < start + _aead.NONCE_BYTES + 16 or stored[0] != _VERSION_2:
        raise InvalidCiphertext("The stored envelope is not readable.")
    return Referring(
        stored[1:start], stored[start : start + _aead.NONCE_BYTES],
        stored[start + _aead.NONCE_BYTES :],
    )  # fmt: skip


def open_body(data_key: bytes, envelope: Envelope | Referring, aad: bytes) -> bytes:
    """Raises InvalidCiphertext."""
    try:
        return _aead.open_sealed(data_key, envelope.nonce, envelope.sealed, aad)
    except _aead.OpenFailed:
        raise InvalidCiphertext("The stored body does not open with its data key.") from None
