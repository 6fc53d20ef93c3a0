"""The key service as another Herald service uses it on a caller's behalf (SNS for a
publisher): every request goes through the gate (opt-in, quotas, audit, counters) and
carries kms:ViaService = SERVICE.REGION.amazonaws.com, and a predefined alias such as
alias/aws/sns gets its AWS managed key on first use.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from herald.errors import NotFound
from herald.kms.access import KeyAccess
from herald.kms.crypto import Crypto, policy_context
from herald.kms.gate import Gate
from herald.kms.keys import KeyRecord, Use, require_state
from herald.kms.service import KMSService
from herald.types import RequestContext


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes = field(repr=False)
    blob: bytes
    key_arn: str


class ServiceKeys:
    def __init__(
        self, keys: KMSService, crypto: Crypto, access: KeyAccess, gate: Gate, service: str
    ) -> None:
        self._keys = keys
        self._crypto = crypto
        self._access = access
        self._gate = gate
        self._service = service
        # The condition keys of a (caller account, region, encryption context): the same
        # for every publish to a topic, built once.
        self._conditions: dict[tuple[str, str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
        # may_generate's answers, by request and the stamp they were worked out under.
        self._allowed: dict[tuple[Any, ...], tuple[tuple[int, ...], str, float]] = {}

    def via(self, ctx: RequestContext) -> str:
        return f"{self._service}.{ctx.region}.amazonaws.com"

    async def generate_data_key(
        self, ctx: RequestContext, reference: str, context: Mapping[str, str]
    ) -> DataKey:
        """A fresh AES-256 data key under the key ``reference`` names (a KMS request). The
        caller must also be allowed kms:Decrypt, which delivery will need."""
        await self._gate.require_enabled(ctx.principal.account_id)
        await self._ensure_managed(ctx, reference)
        made: list[DataKey] = []

        async def call() -> dict[str, Any]:
            await self.may_generate(ctx, reference, context)
            data_key = await self._crypto.generate_data_key(
                ctx, reference, context, "AES_256", None, via=self.via(ctx)
            )
            made.append(DataKey(data_key.plaintext, data_key.blob, data_key.key.arn))
            return {"KeyId": data_key.key.arn}

        parameters = {"KeyId": reference, "KeySpec": "AES_256", "EncryptionContext": dict(context)}
        await self._gate.run(
            ctx, "GenerateDataKey", parameters, call, f"{self._service}.amazonaws.com"
        )
        return made[0]

    async def may_generate(
        self, ctx: RequestContext, reference: str, context: Mapping[str, str]
    ) -> str:
        """Check, without a KMS request, that the caller could get a data key now (the key
        exists, is enabled, and policies or grants allow GenerateDataKey through the
        service); the key's ARN. Lets a reused data key honour a revocation at once."""
        await self._gate.require_enabled(ctx.principal.account_id)
        # The same request in the same second, with nothing changed that the checks
        # read (key, alias, grant and policy caches, identity policies, the switch), gets
        # the same answer: publishes reusing a data key are answered from here.
        stamp = (*self._access.stamp(), self._gate.epoch)
        slot = (
            ctx.principal, ctx.secure_transport, ctx.source_ip, ctx.region, reference,
            tuple(context.items()),
        )  # fmt: skip
        known = self._allowed.get(slot)
        # At most a second old in real time too, so the caches' own expiry (on monotonic
        # time) is never stretched by more than that.
        if known is not None and known[0] == stamp and time.monotonic() < known[2]:
            return known[1]
        key = await self._resolve(ctx, reference)
        keys = self._condition_keys(ctx, context)
        await self._access.authorize(ctx, "GenerateDataKey", key, keys, context)
        # AWS: publishing to an encrypted topic needs kms:Decrypt besides
        # kms:GenerateDataKey; checked now, so a message nobody could open is not stored.
        await self._access.authorize(ctx, "Decrypt", key, keys, context)
        require_state(key.arn, key.state, Use.CRYPTO)
        if (*self._access.stamp(), self._gate.epoch) == stamp:  # nothing changed meanwhile
            if len(self._allowed) >= 10_000:
                self._allowed.clear()
            self._allowed[slot] = (stamp, key.arn, time.monotonic() + 1.0)
        return key.arn

    def _condition_keys(self, ctx: RequestContext, context: Mapping[str, str]) -> dict[str, Any]:
        """kms:CallerAccount, kms:ViaService and the encryption context's keys (shared:
        callers must not change the mapping returned)."""
        slot = (ctx.principal.account_id, ctx.region, tuple(context.items()))
        keys = self._conditions.get(slot)
        if keys is None:
            if len(self._conditions) >= 10_000:
                self._conditions.clear()
            keys = {"kms:CallerAccount": slot[0], **policy_context(context, self.via(ctx))}
            self._conditions[slot] = keys
        return keys

    async def decrypt(self, ctx: RequestContext, blob: bytes, context: Mapping[str, str]) -> bytes:
        """The plaintext of a data key's ciphertext (a KMS request)."""
        opened: list[bytes] = []

        async def call() -> dict[str, Any]:
            result = await self._crypto.decrypt(ctx, blob, context, via=self.via(ctx))
            opened.append(result.plaintext)
            return {"KeyId": result.key.arn}

        parameters = {"EncryptionContext": dict(context)}
        await self._gate.run(ctx, "Decrypt", parameters, call, f"{self._service}.amazonaws.com")
        return opened[0]

    async def _resolve(self, ctx: RequestContext, reference: str) -> KeyRecord:
        try:
            return await self._access.resolve(ctx, reference)
        except NotFound:
            await self._ensure_managed(ctx, reference)
            return await self._access.resolve(ctx, reference)

    async def _ensure_managed(self, ctx: RequestContext, reference: str) -> None:
        """Create the AWS managed key of the account ``reference`` names, if it names the
        service's predefined alias (alias/aws/sns) and the key does not exist yet."""
        account, region, name = ctx.principal.account_id, ctx.region, reference
        parts = reference.split(":", 5)
        if len(parts) == 6 and parts[:3] == ["arn", "aws", "kms"]:
            region, account, name = parts[3], parts[4], parts[5]
        # Only the caller's own account: a reference to another account's alias/aws/sns
        # must not create keys there (that account's key is made by its own use).
        if (
            name == f"alias/aws/{self._service}"
            and region == ctx.region
            and account == ctx.principal.account_id
        ):
            await self._keys.managed_key(account, region, self._service)
