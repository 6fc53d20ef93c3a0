"""AES-256-GCM, the one authenticated cipher Herald uses, and RSA signatures for the
messages SNS signs; the only module that imports ``cryptography.hazmat``. Nonces are made
here, 96 random bits each (NIST SP 800-38D, 8.2.2), so no caller can reuse one.
"""

from __future__ import annotations

import datetime
import itertools
import os

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

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


# -- RSA signatures (SNS message signing) ------------------------------------------------


def new_signing_key() -> bytes:
    """A new RSA-2048 private key, PKCS#8 PEM (to be sealed before it is stored)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def self_signed_certificate(private_pem: bytes, common_name: str, days: int = 3650) -> bytes:
    """A self-signed X.509 certificate (PEM) for the key, for SigningCertURL."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class Signer:
    """RSA PKCS#1 v1.5 signatures with one key: SHA1 (SNS SignatureVersion 1) or SHA256
    (SignatureVersion 2)."""

    def __init__(self, private_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self._key = key

    def __repr__(self) -> str:
        return "Signer(<hidden>)"

    def sign(self, data: bytes, version: str) -> bytes:
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        return self._key.sign(data, padding.PKCS1v15(), algorithm)
