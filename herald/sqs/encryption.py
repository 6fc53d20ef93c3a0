"""Server-side encryption of queues with the key service (SQS SSE-KMS): bodies of a queue
whose KmsMasterKeyId names a key are sealed before they are stored, with data keys reused
for the queue's KmsDataKeyReusePeriodSeconds; senders need kms:GenerateDataKey and
kms:Decrypt, receivers kms:Decrypt. The encryption context is {"aws:sqs:arn": QUEUE_ARN}.
Message attributes, ids and digests stay in clear, as in SQS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from herald.clock import Clock
from herald.errors import (
    AccessDenied,
    CallerFault,
    KeyDisabled,
    KeyInvalidState,
    NotFound,
    OptInRequired,
    Throttled,
)
from herald.kms import envelope
from herald.kms.data_keys import DataKeyOpener, DataKeys, KeyService, Translated, key_reference
from herald.store.base_sqs import QueuedMessage, QueueRecord
from herald.types import RequestContext

QUEUE_CONTEXT_KEY = "aws:sqs:arn"


class KmsFault(CallerFault):
    """The key service refused a request SQS made for the caller."""


class KmsAccessDenied(KmsFault):
    pass


class KmsDisabled(KmsFault):
    pass


class KmsInvalidState(KmsFault):
    pass


class KmsNotFound(KmsFault):
    pass


class KmsOptInRequired(KmsFault):
    pass


class KmsThrottled(KmsFault):
    pass


_TRANSLATIONS: tuple[tuple[type[CallerFault], type[KmsFault]], ...] = (
    (NotFound, KmsNotFound),
    (AccessDenied, KmsAccessDenied),
    (KeyDisabled, KmsDisabled),
    (KeyInvalidState, KmsInvalidState),
    (Throttled, KmsThrottled),
    (OptInRequired, KmsOptInRequired),
)


class QueueEncryption:
    def __init__(self, keys: KeyService, clock: Clock) -> None:
        self._data_keys = DataKeys(keys, clock)
        self._opener = DataKeyOpener(keys, clock)

    async def seal(
        self, ctx: RequestContext, queue: QueueRecord, messages: Sequence[QueuedMessage]
    ) -> list[QueuedMessage]:
        reference = key_reference(
            queue.attributes.get("KmsMasterKeyId"), queue.region, queue.account_id
        )
        if reference is None:
            return list(messages)
        context = {QUEUE_CONTEXT_KEY: queue.arn}
        with Translated(_TRANSLATIONS, KmsInvalidState):
            held = await self._data_keys.get(ctx, queue.arn, reference, context, _reuse(queue))
        return [
            replace(
                m,
                body=envelope.seal(
                    held.cipher, held.header, m.body, body_aad(queue.arn, m.message_id)
                ),
                body_format=envelope.FORMAT,
            )
            for m in messages
        ]

    async def open(self, ctx: RequestContext, queue: QueueRecord, message: QueuedMessage) -> bytes:
        """The body in clear, decrypted for the receiver (who needs kms:Decrypt)."""
        if message.body_format != envelope.FORMAT:
            return message.body
        sealed = envelope.read(message.body)
        # A message moved to a dead-letter queue was sealed for the queue it came from.
        sealed_for = message.dead_letter_source or message.queue_arn
        context = {QUEUE_CONTEXT_KEY: sealed_for}
        with Translated(_TRANSLATIONS, KmsInvalidState):
            data_key = await self._opener.plaintext(
                ctx, sealed.data_key_blob, context, _reuse(queue)
            )
        return envelope.open_body(data_key, sealed, body_aad(sealed_for, message.message_id))


def body_aad(queue_arn: str, message_id: str) -> bytes:
    parts = [b"herald-sqs-body-v1", queue_arn.encode(), message_id.encode()]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _reuse(queue: QueueRecord) -> int:
    return int(queue.attributes.get("KmsDataKeyReusePeriodSeconds", "300"))
