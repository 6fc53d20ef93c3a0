"""The cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+
WithoutPlaintext), GenerateRandom, with AWS KMS's limits and errors.

Ciphertexts are ``ciphertext`` blobs sealed with the key's newest backing key; any older
backing key of the key still opens its own. The encryption context is bound as
associated data and offered to policies as kms:EncryptionContext:* and
kms:EncryptionContextKeys. Every failure to open is one InvalidCiphertext.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from herald.auth.policy.matching import ContextValue
from herald.errors import (
    HeraldError,
    IncorrectKey,
    InvalidCiphertext,
    InvalidKeyUsage,
    NotFound,
    ValidationFailed,
)
from herald.kms import _aead, ciphertext
from herald.kms.access import KeyAccess
from herald.kms.keys import KeyRecord, Use, require_state
from herald.store.base import Store
from herald.types import RequestContext

log = logging.getLogger("herald.kms")
MAX_PLAINTEXT = 4096
MAX_DATA_KEY = 1024
ALGORITHM = "SYMMETRIC_DEFAULT"
_ALGORITHMS = ("SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE")
_DATA_KEY_SPECS = {"AES_256": 32, "AES_128": 16}


@dataclass(frozen=True)
class Sealed:
    blob: bytes
    key: KeyRecord


@dataclass(frozen=True)
class Opened:
    plaintext: bytes = field(repr=False)
    key: KeyRecord


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes = field(repr=False)
    blob: bytes
    key: KeyRecord


class Crypto:
    def __init__(self, store: Store, access: KeyAccess) -> None:
        self._store = store
        self._access = access

    async def encrypt(
        self,
        ctx: RequestContext,
        reference: str | None,
        plaintext: bytes,
        context: Mapping[str, str],
        algorithm: str | None = None,
    ) -> Sealed:
        """Raises NotFound, KeyDisabled, KeyInvalidState, AccessDenied, ValidationFailed."""
        if not 1 <= len(plaintext) <= MAX_PLAINTEXT:
            bound = (
                "greater than or equal to 1" if not plaintext
                else f"less than or equal to {MAX_PLAINTEXT}"
            )  # fmt: skip
            raise ValidationFailed(
                "1 validation error detected: Value at 'plaintext' failed to satisfy "
                f"constraint: Member must have length {bound}"
            )
        _algorithm(algorithm)
        key = await self._usable(ctx, reference, "Encrypt", context)
        return Sealed(await self._seal(key, plaintext, context), key)

    async def decrypt(
        self,
        ctx: RequestContext,
        blob: bytes,
        context: Mapping[str, str],
        reference: str | None = None,
        algorithm: str | None = None,
        action: str = "Decrypt",
        via: str | None = None,
    ) -> Opened:
        """Raises InvalidCiphertext, IncorrectKey, NotFound, KeyDisabled, KeyInvalidState,
        AccessDenied."""
        _algorithm(algorithm)
        parsed = ciphertext.parse(blob)
        key = await self._store.get_key(parsed.key_id)
        if reference is not None:
            named = await self._access.resolve(ctx, reference)
            if key is None or named.key_id != key.key_id:
                raise IncorrectKey(
                    "The key ID in the request does not identify a CMK that can perform "
                    "this operation."
                )
        if key is None or key.region != ctx.region:
            log.info(
                "Decrypt: the ciphertext names key %s, which does not exist here", parsed.key_id
            )
            raise InvalidCiphertext("The ciphertext is invalid.")
        try:
            return Opened(await self._open(ctx, key, parsed, context, action, via), key)
        except HeraldError as exc:
            exc.resource = exc.resource or key.arn
            raise

    async def _open(
        self,
        ctx: RequestContext,
        key: KeyRecord,
        parsed: ciphertext.Blob,
        context: Mapping[str, str],
        action: str,
        via: str | None,
    ) -> bytes:
        await self._access.authorize(ctx, action, key, policy_context(context, via), context)
        require_state(key.arn, key.state, Use.CRYPTO)
        versions = {v.version: v for v in await self._access.versions(key)}
        version = versions.get(parsed.key_version)
        if version is None:
            raise InvalidCiphertext("The ciphertext is invalid.")
        aad = ciphertext.aad(parsed.header(), context)
        try:
            return _aead.open_sealed(version.material, parsed.nonce, parsed.sealed, aad)
        except _aead.OpenFailed:
            raise InvalidCiphertext("The ciphertext is invalid.") from None

    async def re_encrypt(
        self,
        ctx: RequestContext,
        blob: bytes,
        source_context: Mapping[str, str],
        source_reference: str | None,
        destination_reference: str | None,
        destination_context: Mapping[str, str],
    ) -> tuple[Sealed, KeyRecord]:
        """The plaintext of ``blob`` sealed under the destination key; never returned."""
        opened = await self.decrypt(
            ctx, blob, source_context, source_reference, action="ReEncryptFrom"
        )
        key = await self._usable(ctx, destination_reference, "ReEncryptTo", destination_context)
        sealed = Sealed(await self._seal(key, opened.plaintext, destination_context), key)
        return sealed, opened.key

    async def generate_data_key(
        self,
        ctx: RequestContext,
        reference: str | None,
        context: Mapping[str, str],
        key_spec: str | None,
        number_of_bytes: int | None,
        with_plaintext: bool = True,
        via: str | None = None,
    ) -> DataKey:
        """A fresh data key and its ciphertext under the named key."""
        size = _data_key_size(key_spec, number_of_bytes)
        action = "GenerateDataKey" if with_plaintext else "GenerateDataKeyWithoutPlaintext"
        key = await self._usable(ctx, reference, action, context, via)
        plaintext = os.urandom(size)
        blob = await self._seal(key, plaintext, context)
        return DataKey(plaintext if with_plaintext else b"", blob, key)

    async def _usable(
        self,
        ctx: RequestContext,
        reference: str | None,
        action: str,
        context: Mapping[str, str],
        via: str | None = None,
    ) -> KeyRecord:
        key = await self._access.resolve(ctx, reference)
        await self._access.authorize(ctx, action, key, policy_context(context, via), context)
        require_state(key.arn, key.state, Use.CRYPTO)
        return key

    async def _seal(self, key: KeyRecord, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        versions = await self._access.versions(key)
        if not versions:
            raise NotFound(f"Key '{key.arn}' does not exist")
        newest = versions[-1]
        header = ciphertext.header(key.key_id, newest.version)
        nonce, sealed = _aead.seal(newest.material, plaintext, ciphertext.aad(header, context))
        return header + nonce + sealed


def generate_random(number_of_bytes: int | None) -> bytes:
    if number_of_bytes is None:
        raise ValidationFailed("NumberOfBytes is required.")
    _number_of_bytes(number_of_bytes)
    return os.urandom(number_of_bytes)


def _number_of_bytes(value: int) -> None:
    """NumberOfBytesType: 1 to MAX_DATA_KEY, in the words of AWS's model validation."""
    if not 1 <= value <= MAX_DATA_KEY:
        bound = (
            "greater than or equal to 1" if value < 1 else f"less than or equal to {MAX_DATA_KEY}"
        )
        raise ValidationFailed(
            f"1 validation error detected: Value '{value}' at 'numberOfBytes' failed to "
            f"satisfy constraint: Member must have value {bound}"
        )


def policy_context(context: Mapping[str, str], via: str | None = None) -> dict[str, ContextValue]:
    """kms:EncryptionContext:*, kms:EncryptionContextKeys, and kms:ViaService when a service
    ("sns.us-east-1.amazonaws.com") makes the request on the caller's behalf."""
    keys: dict[str, ContextValue] = {f"kms:EncryptionContext:{k}": v for k, v in context.items()}
    keys["kms:EncryptionContextKeys"] = list(context)
    if via is not None:
        keys["kms:ViaService"] = via
    return keys


def _algorithm(value: str | None) -> None:
    if value is None or value == ALGORITHM:
        return
    if value in _ALGORITHMS:
        raise InvalidKeyUsage(
            f"The encryption algorithm {value} is not compatible with a SYMMETRIC_DEFAULT key."
        )
    raise ValidationFailed(
        f"1 validation error detected: Value '{value}' at 'encryptionAlgorithm' failed to "
        f"satisfy constraint: Member must satisfy enum value set: [{', '.join(_ALGORITHMS)}]"
    )


def _data_key_size(key_spec: str | None, number_of_bytes: int | None) -> int:
    if number_of_bytes is not None:
        _number_of_bytes(number_of_bytes)  # the model's constraint, checked first
    if (key_spec is None) == (number_of_bytes is None):
        raise ValidationFailed("Please specify either number of bytes or key spec.")
    if key_spec is not None:
        if key_spec not in _DATA_KEY_SPECS:
            raise ValidationFailed(
                f"1 validation error detected: Value '{key_spec}' at 'keySpec' failed to "
                "satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
            )
        return _DATA_KEY_SPECS[key_spec]
    assert number_of_bytes is not None
    return number_of_bytes
