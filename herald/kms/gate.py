"""What every request to the key service passes through, from a client or from a service
acting for one: the account's opt-in, the request quotas, the audit trail and the
request counters.

Quotas are token buckets per account and region (AWS KMS "Request quotas"): one shared by
the cryptographic operations, one by everything else; over either, ThrottlingException.
The audit trail records every request, allowed or refused, with CloudTrail's fields; only
an allowlist of parameters is kept, never plaintext, ciphertext or key material.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from herald import ids
from herald.clock import Clock
from herald.errors import HeraldError, OptInRequired, ServiceFault, Throttled
from herald.iam.identities import principal_info
from herald.store.base import Store
from herald.store.base_kms import AuditEvent
from herald.types import RequestContext

CRYPTO_OPERATIONS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
    }
)
AUDITED_PARAMETERS = frozenset(
    {
        "KeyId", "SourceKeyId", "DestinationKeyId", "EncryptionContext",
        "SourceEncryptionContext", "DestinationEncryptionContext", "KeySpec",
        "NumberOfBytes", "KeyUsage", "Description", "AliasName", "TargetKeyId",
        "PendingWindowInDays", "RotationPeriodInDays", "GrantId", "GranteePrincipal",
        "RetiringPrincipal", "Operations", "Name", "PolicyName", "TagKeys",
        "EncryptionAlgorithm", "Origin", "BypassPolicyLockoutSafetyCheck", "DryRun",
        "CustomKeyStoreId",
    }
)  # fmt: skip
OPT_IN_TTL_SECONDS = 30.0
TOPIC_CONTEXT_KEY = "aws:sns:topicArn"
Result = dict[str, Any]


class TokenBucket:
    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Quotas:
    """Requests per second per account and region; ``crypto_rps`` for the cryptographic
    operations together, ``management_rps`` for the rest."""

    def __init__(
        self,
        crypto_rps: float = 10_000,
        management_rps: float = 100,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rates = {True: crypto_rps, False: management_rps}
        self._now = now
        self._buckets: dict[tuple[str, str, bool], TokenBucket] = {}

    def take(self, account: str, region: str, operation: str) -> None:
        crypto = operation in CRYPTO_OPERATIONS
        now = self._now()
        bucket = self._buckets.get((account, region, crypto))
        if bucket is None:
            bucket = self._buckets[(account, region, crypto)] = TokenBucket(
                self._rates[crypto], now
            )
        if not bucket.take(now):
            raise Throttled(
                "You have exceeded the rate at which you may call KMS. Reduce the frequency "
                "of your calls."
            )


class Gate:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        quotas: Quotas,
        error_code: Callable[[BaseException], str],
    ) -> None:
        self._store = store
        self._clock = clock
        self._quotas = quotas
        self._error_code = error_code
        self._opted_out: dict[str, tuple[bool, float]] = {}
        self.epoch = 0  # advanced whenever the per-account switch may have changed
        # (operation, key ARN, topic ARN, caller ARN) -> requests; the topic is the
        # aws:sns:topicArn of the encryption context, "-" for requests about no topic.
        self.counts: Counter[tuple[str, str, str, str]] = Counter()

    def forget_accounts(self) -> None:
        """The key service was switched on or off for an account through another node."""
        self.epoch += 1
        self._opted_out.clear()

    async def run(
        self,
        ctx: RequestContext,
        operation: str,
        parameters: Mapping[str, object],
        call: Callable[[], Awaitable[Result]],
        via_service: str | None = None,
    ) -> Result:
        """Run ``call`` for ``operation`` if the account may, recording it either way."""
        try:
            await self.require_enabled(ctx.principal.account_id)
            self._quotas.take(ctx.principal.account_id, ctx.region, operation)
            result = await call()
        except HeraldError as exc:
            await self._record(ctx, operation, parameters, via_service, exc.resource, None, exc)
            raise
        except Exception as exc:
            failure = ServiceFault(f"{type(exc).__name__} while serving {operation}")
            await self._record(ctx, operation, parameters, via_service, None, None, failure)
            raise
        response_key = _response_key(result)
        await self._record(
            ctx, operation, parameters, via_service, response_key, response_key, None
        )
        return result

    async def require_enabled(self, account: str) -> None:
        """Raises OptInRequired when the operator switched the key service off."""
        now = self._clock.now()
        cached = self._opted_out.get(account)
        if cached is None or now - cached[1] >= OPT_IN_TTL_SECONDS:
            cached = (not await self._store.kms_enabled(account), now)
            self._opted_out[account] = cached
            self.epoch += 1
        if cached[0]:
            raise OptInRequired(
                f"The key service is switched off for account {account}; an operator can "
                "switch it on with `herald admin accounts kms --enable`."
            )

    async def _record(
        self,
        ctx: RequestContext,
        operation: str,
        parameters: Mapping[str, object],
        via_service: str | None,
        key: object,
        response_key: str | None,
        error: HeraldError | None,
    ) -> None:
        principal = ctx.principal
        info = principal_info(principal)
        key_arn = key if isinstance(key, str) else None
        context = parameters.get("EncryptionContext")
        topic = context.get(TOPIC_CONTEXT_KEY) if isinstance(context, dict) else None
        self.counts[(operation, key_arn or "-", str(topic or "-"), principal.arn)] += 1
        await self._store.append_audit(
            AuditEvent(
                event_id=ids.uuid4(),
                event_time=self._clock.now(),
                event_name=operation,
                account_id=principal.account_id,
                region=ctx.region,
                key_arn=key_arn,
                principal_type=_IDENTITY_TYPES.get(info.type, info.type),
                principal_arn=principal.arn,
                principal_account=principal.account_id,
                source_ip=ctx.source_ip,
                user_agent=ctx.user_agent[:512] if ctx.user_agent else None,
                request_parameters={
                    k: _capped(v) for k, v in parameters.items() if k in AUDITED_PARAMETERS
                },
                response_key_id=response_key,
                error_code=None if error is None else self._error_code(error),
                error_message=None if error is None else error.message[:1024],
                via_service=via_service,
                request_id=ctx.request_id,
            )
        )


# CloudTrail's userIdentity.type values.
_IDENTITY_TYPES = {
    "Account": "Root",
    "User": "IAMUser",
    "AssumedRole": "AssumedRole",
    "AWSService": "AWSService",
}


def _capped(value: object) -> object:
    """Audited values are kept, but not without bound (a KeyId of megabytes)."""
    if isinstance(value, str):
        return value[:2048]
    if isinstance(value, dict):
        return {str(k)[:256]: _capped(v) for k, v in list(value.items())[:64]}
    if isinstance(value, list):
        return [_capped(v) for v in value[:64]]
    return value


def _response_key(result: Result) -> str | None:
    metadata = result.get("KeyMetadata")
    if isinstance(metadata, dict):
        arn = metadata.get("Arn")
        return arn if isinstance(arn, str) else None
    key = result.get("KeyId")
    return key if isinstance(key, str) and key.startswith("arn:") else None
