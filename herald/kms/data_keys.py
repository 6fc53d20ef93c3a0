"""Data keys as services hold them for envelope encryption: made by the key service for a
caller, reused for at most a reuse period per (resource, key, caller), and opened again
for readers with a cache of their own. Every reuse is authorised again (without a KMS
request), so a revoked permission or a disabled key takes effect at once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from herald.clock import Clock
from herald.errors import CallerFault
from herald.kms import envelope
from herald.types import RequestContext

CACHE_SIZE = 10_000


def key_reference(value: str | None, region: str, account: str) -> str | None:
    """A KmsMasterKeyId as an ARN in the resource owner's account and region (a reference
    that is not an ARN names the owner's key, never the caller's), or None: no key."""
    if not value:
        return None
    if value.startswith("arn:"):
        return value
    kind = "" if value.startswith("alias/") else "key/"
    return f"arn:aws:kms:{region}:{account}:{kind}{value}"


class Translated:
    """Re-raise the key service's refusals as the service using it reports them: the
    first matching (refusal, report) pair of ``table``, else ``otherwise``. (A class
    rather than a generator: it is entered on every publish to an encrypted topic.)"""

    __slots__ = ("_otherwise", "_table")

    def __init__(
        self,
        table: Sequence[tuple[type[CallerFault], type[CallerFault]]],
        otherwise: type[CallerFault],
    ) -> None:
        self._table = table
        self._otherwise = otherwise

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, CallerFault):
            return
        if isinstance(exc, self._otherwise) or any(
            isinstance(exc, report) for _, report in self._table
        ):
            return
        for source, target in self._table:
            if isinstance(exc, source):
                raise target(f"{exc.message} (Service: AWSKMS)") from exc
        raise self._otherwise(f"{exc.message} (Service: AWSKMS)") from exc


class DataKeyLike(Protocol):
    @property
    def plaintext(self) -> bytes: ...

    @property
    def blob(self) -> bytes: ...

    @property
    def key_arn(self) -> str: ...


class KeyService(Protocol):
    """What a service needs of the key service (``herald.kms.for_services.ServiceKeys``)."""

    async def generate_data_key(
        self, ctx: RequestContext, reference: str, context: Mapping[str, str]
    ) -> DataKeyLike: ...

    async def may_generate(
        self, ctx: RequestContext, reference: str, context: Mapping[str, str]
    ) -> str: ...

    async def decrypt(
        self, ctx: RequestContext, blob: bytes, context: Mapping[str, str]
    ) -> bytes: ...


@dataclass(frozen=True)
class Held:
    cipher: envelope.Cipher = field(repr=False)
    blob: bytes
    key_arn: str
    made_at: float
    header: bytes = field(init=False, repr=False)  # of the envelopes sealed with it

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", envelope.header(self.key_arn, self.blob))


class DataKeys:
    def __init__(self, keys: KeyService, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        self._held: OrderedDict[tuple[str, str, str], Held] = OrderedDict()
        self._making: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def get(
        self,
        ctx: RequestContext,
        resource: str,
        reference: str,
        context: Mapping[str, str],
        reuse_seconds: float,
    ) -> Held:
        """A data key for sealing under ``reference`` for the caller, fresh or reused."""
        slot = (resource, reference, ctx.principal.arn)
        held = self._fresh(slot, reuse_seconds)
        if held is not None:
            if await self._keys.may_generate(ctx, reference, context) == held.key_arn:
                return held
        lock = self._making.setdefault(slot, asyncio.Lock())
        try:
            async with lock:
                # One GenerateDataKey per slot at a time; who waited uses its result, once
                # it is checked too (two sessions may share a principal ARN, not policies).
                waited = self._fresh(slot, reuse_seconds)
                if waited is not None and waited is not held:
                    if await self._keys.may_generate(ctx, reference, context) == waited.key_arn:
                        return waited
                data_key = await self._keys.generate_data_key(ctx, reference, context)
                made = Held(
                    envelope.cipher(data_key.plaintext),
                    data_key.blob,
                    data_key.key_arn,
                    self._clock.now(),
                )
                self._held[slot] = made
                while len(self._held) > CACHE_SIZE:
                    evicted, _ = self._held.popitem(last=False)
                    self._making.pop(evicted, None)
                return made
        finally:
            if slot not in self._held and not lock.locked():
                self._making.pop(slot, None)

    def _fresh(self, slot: tuple[str, str, str], reuse_seconds: float) -> Held | None:
        held = self._held.get(slot)
        # A clock stepped back makes a data key stale too: its bodies must be published
        # within the period its sealing key records (SealingKeyRecord).
        if held is None or not 0 <= self._clock.now() - held.made_at < reuse_seconds:
            return None
        self._held.move_to_end(slot)
        return held


class DataKeyOpener:
    """Plaintext data keys for readers, decrypted by the key service only when this cache
    lacks them, and kept no longer than the reuse period."""

    def __init__(self, keys: KeyService, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        self._held: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()

    async def plaintext(
        self,
        ctx: RequestContext,
        blob: bytes,
        context: Mapping[str, str],
        reuse_seconds: float,
    ) -> bytes:
        now = self._clock.now()
        cached = self._held.get(blob)
        if cached is not None and now - cached[1] < reuse_seconds:
            self._held.move_to_end(blob)
            return cached[0]
        plaintext = await self._keys.decrypt(ctx, blob, context)
        self._held[blob] = (plaintext, now)
        while self._held and (
            len(self._held) > CACHE_SIZE
            or now - next(iter(self._held.values()))[1] >= reuse_seconds
        ):
            self._held.popitem(last=False)
        return plaintext
