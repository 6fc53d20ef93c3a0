"""The keys SNS signs notifications with: an RSA key and a self-signed certificate per
region, made on first use and kept in the store (the private key sealed by the root
key), so the certificate at SigningCertURL is stable across restarts."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field

from herald.clock import Clock
from herald.kms import _aead
from herald.store.base import Store
from herald.store.base_delivery import SigningKey


@dataclass(frozen=True)
class RegionKey:
    name: str  # the certificate's SHA-256 fingerprint, hex: part of SigningCertURL
    signer: _aead.Signer = field(repr=False)
    certificate: bytes


class Keys:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._by_region: dict[str, RegionKey] = {}
        self._by_name: dict[str, RegionKey] = {}
        self._lock = asyncio.Lock()
        self._looked_at = float("-inf")  # when the store was last read for an unknown name

    async def for_region(self, region: str) -> RegionKey:
        key = self._by_region.get(region)
        if key is not None:
            return key
        async with self._lock:  # one key per region, made once, however many ask
            key = self._by_region.get(region)
            if key is not None:
                return key
            stored = await self._store.get_signing_key(region)
            if stored is None:
                stored = await self._store.signing_key(region, await self._make(region))
            return self._remember(stored)

    async def certificate(self, name: str) -> bytes | None:
        """The certificate whose SigningCertURL names ``name``, also of keys made before
        a restart."""
        key = self._by_name.get(name)
        now = self._clock.now()
        # Anyone may ask (no credentials): an unknown name reads the store at most every
        # 10 s, and only regions not seen yet are loaded.
        if key is None and now - self._looked_at >= 10.0:
            self._looked_at = now
            for stored in await self._store.list_signing_keys():
                if stored.region not in self._by_region:
                    self._remember(stored)
            key = self._by_name.get(name)
        return None if key is None else key.certificate

    async def _make(self, region: str) -> SigningKey:
        # RSA key generation takes tens of milliseconds: not on the event loop.
        private = await asyncio.to_thread(_aead.new_signing_key)
        certificate = _aead.self_signed_certificate(private, f"sns.{region}.amazonaws.com")
        return SigningKey(region, private, certificate, self._clock.now())

    def _remember(self, stored: SigningKey) -> RegionKey:
        key = RegionKey(
            hashlib.sha256(stored.certificate).hexdigest()[:32],
            _aead.Signer(stored.private_key),
            stored.certificate,
        )
        self._by_region[stored.region] = key
        self._by_name[key.name] = key
        return key
