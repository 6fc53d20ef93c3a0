"""The delivery worker: takes due deliveries from the store, builds each body, sends it and
records the outcome.

A delivery row is written with its message before the publish is acknowledged; the worker
holds it under a lease while it works, removes it once delivered, and otherwise schedules
the next attempt with AWS's retry policy for AWS-managed endpoints (SQS): three immediate
retries, two after a second, ten with backoff from 1 to 20 s, then every 20 s, for up to
23 days. A worker that dies leaves its leased rows to be taken again when the leases end,
so every acknowledged message is delivered at least once.

This version delivers to SQS queues; the queue's policy must let sns.amazonaws.com send
for the topic (aws:SourceArn), as in AWS. Encrypted bodies are opened only now.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from herald.clock import Clock
from herald.errors import CallerFault, HeraldError
from herald.kms import signing
from herald.sns import notifications
from herald.sns.encryption import MessageOpener
from herald.sns.metrics import DELIVERED, FAILED, TopicMetrics
from herald.sqs.service import Outgoing, SQSService
from herald.store.base import MessageRecord, Store, SubscriptionRecord, TopicRecord
from herald.store.base_delivery import DeliveryRecord
from herald.types import Principal, RequestContext

log = logging.getLogger("herald.delivery")
LEASE_SECONDS = 60.0
BATCH = 200
GIVE_UP_SECONDS = 23 * 86400
SNS_PRINCIPAL = "sns.amazonaws.com"
T = TypeVar("T")


def next_attempt(attempts: int, now: float) -> float:
    """When to try again after ``attempts`` failed ones (AWS's managed-endpoint policy)."""
    if attempts < 3:
        return now
    if attempts < 5:
        return now + 1
    if attempts < 15:
        return now + min(20.0, 2.0 ** (attempts - 5))
    return now + 20


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        sqs: SQSService,
        opener: MessageOpener,
        public_url: str,
        metrics: TopicMetrics | None = None,
    ) -> None:
        """``public_url`` is Herald's HTTPS endpoint, for SigningCertURL and
        UnsubscribeURL."""
        self._store = store
        self._clock = clock
        self._sqs = sqs
        self._opener = opener
        self._public_url = public_url.rstrip("/")
        self._wake = asyncio.Event()
        self._signatures: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._keys = signing.Keys(store, clock)
        self.metrics = metrics or TopicMetrics()
        self._round = _Round(store)

    def wake(self) -> None:
        """New deliveries were written."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                done = await self.run_once()
            except Exception:
                log.exception("delivery round failed; trying again")
                done = 0
            if done == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        """Deliver what is due now; the number of deliveries handled."""
        claimed = await self._store.claim_deliveries(self._clock.now(), BATCH, LEASE_SECONDS)
        if not claimed:
            return 0
        # One read per message and subscription for the whole round, not per delivery.
        self._round = _Round(self._store)
        outcomes = await asyncio.gather(
            *(self._attempt(d) for d in claimed), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                log.error("a delivery failed unexpectedly", exc_info=outcome)
        await self._store.finish_deliveries([d for d in outcomes if isinstance(d, str)])
        return len(claimed)

    async def _attempt(self, delivery: DeliveryRecord) -> str | None:
        """The delivery's id when it is done with (delivered or given up), else None."""
        try:
            await self._deliver(delivery)
        except CallerFault as exc:
            # A client-side error (the queue is gone, its policy or key refuses SNS, the
            # message does not fit it): SNS does not retry these ("Amazon SNS dead-letter
            # queues"); without a subscription dead-letter queue the message is dropped.
            self.metrics.add(FAILED, delivery.topic_arn)
            log.warning("delivery %s dropped: %s", delivery.delivery_id, exc.message)
            return delivery.delivery_id
        except (HeraldError, OSError, ValueError) as exc:
            self.metrics.add(FAILED, delivery.topic_arn)
            now = self._clock.now()
            if now - delivery.created_at > GIVE_UP_SECONDS:
                log.warning("giving up delivery %s: %s", delivery.delivery_id, exc)
                return delivery.delivery_id
            reason = exc.message if isinstance(exc, HeraldError) else type(exc).__name__
            await self._store.retry_delivery(
                delivery.delivery_id, next_attempt(delivery.attempts + 1, now), reason
            )
            return None
        self.metrics.add(DELIVERED, delivery.topic_arn)
        return delivery.delivery_id

    async def _deliver(self, delivery: DeliveryRecord) -> None:
        message = await self._round.message(delivery.message_id)
        subscription = await self._round.subscription(delivery.subscription_arn)
        if message is None or subscription is None:
            return  # unsubscribed (or the message is gone): nothing to deliver
        region = delivery.topic_arn.split(":")[3]
        body = (await self._opener.body(message, region)).decode()
        text = notifications.per_protocol(body, message.message_structure, "sqs")
        attributes: Mapping[str, Mapping[str, str]] = json.loads(message.attributes)
        group, dedup = message.group_id, message.deduplication_id
        if delivery.raw:
            outgoing = Outgoing(
                text, attributes=_sqs_attributes(attributes), group_id=group, dedup_id=dedup
            )
        else:
            document = await self._document(message, text, attributes, delivery, region)
            outgoing = Outgoing(document, group_id=group, dedup_id=dedup)
        ctx = RequestContext(
            principal=Principal(
                account_id=delivery.topic_arn.split(":")[4],
                arn=SNS_PRINCIPAL,
                user_id=SNS_PRINCIPAL,
                access_key_id="sns-delivery",
                service=SNS_PRINCIPAL,
                source_arn=delivery.topic_arn,
            ),
            region=region,
            request_id=f"delivery-{delivery.delivery_id}",
            secure_transport=True,
            sigv4=True,
        )
        await self._sqs.deliver(ctx, delivery.endpoint, outgoing)

    async def _document(
        self,
        message: MessageRecord,
        text: str,
        attributes: Mapping[str, Mapping[str, str]],
        delivery: DeliveryRecord,
        region: str,
    ) -> str:
        topic = await self._round.topic(message.topic_arn)
        version = (topic.attributes.get("SignatureVersion") if topic else None) or "1"
        key = await self._keys.for_region(region)
        fields = notifications.notification(
            message_id=message.message_id,
            topic_arn=message.topic_arn,
            subject=message.subject,
            message=text,
            published_at=message.published_at,
            attributes=attributes,
            sequence_number=message.sequence_number,
            signature_version=version,
            signing_cert_url=f"{self._public_url}/SimpleNotificationService-{key.name}.pem",
            unsubscribe_url=(
                f"{self._public_url}/?Action=Unsubscribe&SubscriptionArn="
                f"{delivery.subscription_arn}"
            ),
        )
        # The signed fields do not depend on the subscription: sign once per message.
        slot = (message.message_id, version)
        signature = self._signatures.get(slot)
        if signature is None:
            raw = key.signer.sign(notifications.string_to_sign(fields), version)
            signature = base64.b64encode(raw).decode()
            self._signatures[slot] = signature
            while len(self._signatures) > 10_000:
                self._signatures.popitem(last=False)
        return notifications.signed(fields, signature)

    async def certificate(self, name: str) -> bytes | None:
        """The PEM certificate served at SigningCertURL, if ``name`` is one of ours."""
        return await self._keys.certificate(name)


class _Round:
    """Records read once per round of deliveries (a message fans out to many)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._messages: dict[str, asyncio.Future[MessageRecord | None]] = {}
        self._subscriptions: dict[str, asyncio.Future[SubscriptionRecord | None]] = {}
        self._topics: dict[str, asyncio.Future[TopicRecord | None]] = {}

    async def message(self, message_id: str) -> MessageRecord | None:
        return await _once(self._messages, message_id, self._store.get_message)

    async def subscription(self, arn: str) -> SubscriptionRecord | None:
        return await _once(self._subscriptions, arn, self._store.get_subscription)

    async def topic(self, arn: str) -> TopicRecord | None:
        return await _once(self._topics, arn, self._store.get_topic)


async def _once(
    cache: dict[str, asyncio.Future[T]], key: str, read: Callable[[str], Awaitable[T]]
) -> T:
    future = cache.get(key)
    if future is None:
        future = cache[key] = asyncio.ensure_future(read(key))
    return await future


def _sqs_attributes(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, object]]:
    """SNS message attributes as SQS message attributes (raw delivery)."""
    result: dict[str, dict[str, object]] = {}
    for name, attribute in attributes.items():
        data_type = attribute["Type"]
        if data_type.startswith("Binary"):
            result[name] = {
                "DataType": data_type,
                "BinaryValue": base64.b64decode(attribute["Value"]),
            }
        else:
            result[name] = {"DataType": data_type.replace("String.Array", "String"),
                            "StringValue": attribute["Value"]}  # fmt: skip
    return result
