"""Publish and PublishBatch: validate, store durably, answer.

A publish is acknowledged only after its message is committed to the store (the store
groups concurrent commits, so this costs no fsync per request). Every entry of a batch is
validated before anything is written: one bad entry rejects the whole request, as AWS does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from herald import ids
from herald.clock import Clock
from herald.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidParameter,
    TooManyEntriesInBatchRequest,
    UnsupportedOperation,
    ValidationFailed,
)
from herald.sns import arns, metrics, validation
from herald.sns.encryption import Sealed, TopicEncryption
from herald.sns.filter_match import matches as filter_matches
from herald.sns.metrics import TopicMetrics
from herald.sns.topics import Topics
from herald.store.base import (
    DEDUP_SECONDS,
    MessageRecord,
    QueuedDeliveries,
    Store,
    SubscriptionRecord,
    TopicRecord,
)
from herald.store.base_delivery import DeliveryRecord
from herald.store.base_sqs import QueuedMessage
from herald.types import RequestContext

RawAttribute = tuple[str | None, str | None, str | None, str | None]


@dataclass(frozen=True)
class PublishInput:
    """One message as the caller sent it (Publish, or one PublishBatch entry)."""

    message: str | None
    subject: str | None = None
    structure: str | None = None
    attributes: Sequence[RawAttribute] = ()
    group_id: str | None = None
    deduplication_id: str | None = None
    entry_id: str | None = None


@dataclass(frozen=True)
class Published:
    entry_id: str | None
    message_id: str
    sequence_number: str | None


class Handoff(Protocol):
    """A delivery worker in this process that takes deliveries straight from the
    publisher (``DeliveryWorker``): written leased to this node, they need no claim."""

    def reserve(self, count: int) -> float | None: ...

    def unreserve(self, count: int) -> None: ...

    def take(
        self,
        deliveries: list[DeliveryRecord],
        leased_until: float,
        messages: Sequence[MessageRecord],
        topic: TopicRecord,
        subscriptions: Sequence[SubscriptionRecord],
    ) -> None: ...

    async def to_queues(
        self,
        topic: TopicRecord,
        messages: Sequence[MessageRecord],
        deliveries: Sequence[DeliveryRecord],
    ) -> list[tuple[DeliveryRecord, QueuedMessage]]: ...

    def delivered(self, direct: Sequence[tuple[DeliveryRecord, QueuedMessage]]) -> None: ...


Direct = list[tuple[DeliveryRecord, QueuedMessage]]


class Publisher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        topics: Topics,
        encryption: TopicEncryption,
        on_deliveries: Callable[[], None] = lambda: None,
        metrics: TopicMetrics | None = None,
    ) -> None:
        """``on_deliveries`` hears that deliveries were written (to wake a worker)."""
        self._store = store
        self._clock = clock
        self._topics = topics
        self._encryption = encryption
        self._subscribers: dict[str, list[SubscriptionRecord]] = {}
        self._changes: dict[str, int] = {}
        self._generation = 0  # advanced when other nodes' changes are heard
        self.on_deliveries = on_deliveries
        self.handoff: Handoff | None = None
        self.metrics = metrics or TopicMetrics()
        self._sequence = ids.FifoSequence()

    async def publish(
        self,
        ctx: RequestContext,
        topic_arn: str | None,
        target_arn: str | None,
        phone_number: str | None,
        message: PublishInput,
    ) -> Published:
        """Publish one message to a topic; returns its id (and sequence number, FIFO).

        Raises InvalidParameter, InvalidParameterValue, NotFound, AccessDenied,
        UnsupportedOperation (SMS and mobile push), InvalidSecurity and the KMS* errors
        (encrypted topics).
        """
        arn = _target(topic_arn, target_arn, phone_number)
        # An empty TopicArn is still the field named ("...at least 6 elements, not 1").
        topic = await self._topics.resolve(
            ctx, arn, "Publish", field="TopicArn" if topic_arn is not None else "TargetArn"
        )
        record, size = self._record(ctx, topic, message, _limit(topic), batch=None)
        deliveries = await self._deliveries(topic, [record])
        direct = await self._to_queues(topic, [record], deliveries)
        sealed = await self._encryption.seal(ctx, topic, [record])
        (record,) = sealed.records
        duplicates = await self._commit(topic, sealed, deliveries, direct)
        self._count(topic.arn, [size])
        message_id, sequence = duplicates.get(
            record.message_id, (record.message_id, record.sequence_number)
        )
        return Published(None, message_id, sequence)

    async def publish_batch(
        self, ctx: RequestContext, topic_arn: str | None, entries: Sequence[PublishInput]
    ) -> list[Published]:
        """Publish up to 10 messages in one request, all or none.

        Raises EmptyBatchRequest, TooManyEntriesInBatchRequest, BatchEntryIdsNotDistinct,
        InvalidBatchEntryId, BatchRequestTooLong, and whatever Publish raises.
        """
        if not entries:
            raise EmptyBatchRequest("The batch request doesn't contain any entries.")
        if len(entries) > validation.MAX_BATCH_ENTRIES:
            raise TooManyEntriesInBatchRequest(
                "The batch request contains more entries than permissible."
            )
        topic = await self._topics.resolve(ctx, topic_arn, "Publish")
        for index, entry in enumerate(entries, start=1):
            if entry.entry_id is None:
                raise ValidationFailed(
                    f"1 validation error detected: Value null at 'publishBatchRequestEntries."
                    f"{index}.member.id' failed to satisfy constraint: Member must not be null"
                )
        ids = [e.entry_id or "" for e in entries]
        if len(set(ids)) != len(ids):
            raise BatchEntryIdsNotDistinct(
                "Two or more batch entries in the request have the same Id."
            )
        for entry_id in ids:
            validation.batch_entry_id(entry_id)
        limit = _limit(topic)
        built = [
            self._record(ctx, topic, e, limit, batch=index)
            for index, e in enumerate(entries, start=1)
        ]
        records = [record for record, _ in built]
        if sum(size for _, size in built) > limit:
            raise BatchRequestTooLong(
                "The length of all the messages put together is more than the limit."
            )
        deliveries = await self._deliveries(topic, records)
        direct = await self._to_queues(topic, records, deliveries)
        sealed = await self._encryption.seal(ctx, topic, records)
        records = sealed.records
        duplicates = await self._commit(topic, sealed, deliveries, direct)
        self._count(topic.arn, [size for _, size in built])
        published = []
        for e, r in zip(entries, records, strict=True):
            message_id, sequence = duplicates.get(r.message_id, (r.message_id, r.sequence_number))
            published.append(Published(e.entry_id, message_id, sequence))
        return published

    async def _to_queues(
        self, topic: TopicRecord, records: list[MessageRecord], deliveries: list[DeliveryRecord]
    ) -> Direct:
        """Deliveries to standard queues, done in the publish's own transaction (their
        messages are still in clear here); not for FIFO topics, whose deliveries go in
        order through the worker."""
        if self.handoff is None or not deliveries or _dedup_since(topic, records[0]) is not None:
            return []
        return await self.handoff.to_queues(topic, records, deliveries)

    async def _commit(
        self,
        topic: TopicRecord,
        sealed: Sealed,
        deliveries: list[DeliveryRecord],
        direct: Direct,
    ) -> dict[str, tuple[str, str | None]]:
        """Store the messages (and the sealing key they name, until it is stored) and
        their deliveries; ``direct`` ones as queue messages. Other deliveries of a
        standard topic go straight to this process's worker when it has room (written
        leased to it); FIFO deliveries are always claimed, one group member at a time."""
        records = sealed.records
        queued = QueuedDeliveries(direct) if direct else None
        if direct:
            done = {d.delivery_id for d, _ in direct}
            deliveries = [d for d in deliveries if d.delivery_id not in done]
        dedup_since = _dedup_since(topic, records[0])
        handoff = self.handoff if deliveries and dedup_since is None else None  # not FIFO
        lease = handoff.reserve(len(deliveries)) if handoff is not None else None
        try:
            duplicates = await self._store.add_messages(
                records,
                deliveries,
                dedup_since,
                leased_until=lease or 0.0,
                queued=queued,
                sealing_keys=sealed.sealing_keys,
            )
        except BaseException:
            if handoff is not None and lease is not None:
                handoff.unreserve(len(deliveries))
            raise
        sealed.stored()
        self._delivered(queued)
        if handoff is not None and lease is not None:
            subscriptions = self._subscribers.get(topic.arn, [])
            handoff.take(deliveries, lease, records, topic, subscriptions)
        # Rows for any worker to claim: unleased deliveries, and those kept because their
        # queue is gone.
        if (deliveries and lease is None) or (queued is not None and queued.kept):
            self.on_deliveries()
        return duplicates

    def _delivered(self, queued: QueuedDeliveries | None) -> None:
        """Those done in the transaction are counted and their queues' polls woken; a
        delivery kept as a row (its queue gone) is the worker's to fail."""
        if queued is not None and self.handoff is not None:
            done = [p for p in queued.pairs if p[0].delivery_id not in queued.kept]
            if done:
                self.handoff.delivered(done)

    def _count(self, topic_arn: str, sizes: list[int]) -> None:
        self.metrics.add(metrics.PUBLISHED, topic_arn, len(sizes))
        self.metrics.add(metrics.PUBLISH_SIZE, topic_arn, sum(sizes))

    def forget_all(self) -> None:
        """Subscriptions changed through another node (of any topic, cached or not)."""
        self._subscribers.clear()
        self._generation += 1

    def forget(self, topic_arn: str) -> None:
        """The topic's subscriptions changed."""
        self._subscribers.pop(topic_arn, None)
        if len(self._changes) >= 100_000:
            self._changes.clear()
            self._generation += 1  # reads in flight then see a change
        self._changes[topic_arn] = self._changes.get(topic_arn, 0) + 1

    async def _deliveries(
        self, topic: TopicRecord, records: Sequence[MessageRecord]
    ) -> list[DeliveryRecord]:
        """A delivery for each message and each confirmed subscription its filter policy
        admits, written with the message (deliveries exist before the publish is
        acknowledged)."""
        subscribers = await self._confirmed(topic.arn)
        if not subscribers:
            return []
        now = self._clock.now()
        deliveries = []
        for record in records:
            attributes = json.loads(record.attributes)
            for sub in subscribers:
                if not _admits(sub, attributes, record):
                    self.metrics.add(metrics.FILTERED_OUT, topic.arn)
                    continue
                deliveries.append(
                    DeliveryRecord(
                        delivery_id=ids.uuid7(),
                        message_id=record.message_id,
                        topic_arn=topic.arn,
                        subscription_arn=sub.arn,
                        protocol=sub.protocol,
                        endpoint=sub.endpoint,
                        raw=sub.attributes.get("RawMessageDelivery") == "true",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        # FIFO: one at a time per subscription and group, in order. A
                        # standard topic's group id (for SQS fair queues) orders nothing.
                        group_key=(
                            f"{sub.arn}\n{record.group_id}"
                            if record.group_id and record.sequence_number is not None
                            else None
                        ),
                        sequence=record.sequence_number,
                    )
                )
        return deliveries

    async def _confirmed(self, topic_arn: str) -> list[SubscriptionRecord]:
        cached = self._subscribers.get(topic_arn)
        if cached is not None:
            return cached
        # A change while the pages are read must not leave the older list cached.
        change = self._changes.get(topic_arn, 0)
        generation = self._generation
        found: list[SubscriptionRecord] = []
        after: str | None = None
        while True:
            page = await self._store.list_subscriptions_by_topic(topic_arn, after, 1000)
            found += [s for s in page if s.confirmed and s.protocol in DELIVERED_PROTOCOLS]
            if len(page) < 1000:
                break
            after = page[-1].arn
        if self._changes.get(topic_arn, 0) != change or self._generation != generation:
            return found
        if len(self._subscribers) >= 10_000:
            self._subscribers.clear()
        self._subscribers[topic_arn] = found
        return found

    def _record(
        self,
        ctx: RequestContext,
        topic: TopicRecord,
        message: PublishInput,
        limit: int,
        batch: int | None,
    ) -> tuple[MessageRecord, int]:
        """The record to store and its size as SNS counts it (body and attributes).

        ``batch`` is the 1-based position of the entry in a PublishBatch, None for Publish.
        """
        location = (
            "messageAttributes"
            if batch is None
            else f"publishBatchRequestEntries.{batch}.member.messageAttributes"
        )
        attributes = validation.message_attributes(list(message.attributes), location)
        if message.message is None:
            raise InvalidParameter(
                "Invalid parameter: Message Reason: no value for required parameter"
            )
        body = validation.message_body(message.message, message.structure).encode("utf-8")
        subject = validation.subject(message.subject)
        # A batch is measured as a whole (BatchRequestTooLong), not entry by entry.
        size = validation.message_size(
            body, attributes, validation.MAX_MESSAGE_SIZE_LIMIT * 10 if batch is not None else limit
        )
        fifo = topic.attributes.get("FifoTopic") == "true"
        group_id, dedup_id = self._fifo(topic, fifo, message, body)
        now = self._clock.now()
        record = MessageRecord(
            message_id=ids.uuid7(),
            topic_arn=topic.arn,
            subject=subject,
            body=body,
            body_format="plain",
            message_structure=message.structure,
            attributes=json.dumps({n: a.to_json() for n, a in attributes.items()}),
            group_id=group_id,
            deduplication_id=dedup_id,
            sequence_number=self._sequence.next(now) if fifo else None,
            publisher_arn=ctx.principal.arn,
            published_at=now,
        )
        return record, size

    def _fifo(
        self, topic: TopicRecord, fifo: bool, message: PublishInput, body: bytes
    ) -> tuple[str | None, str | None]:
        group_id = message.group_id
        dedup_id = message.deduplication_id
        if group_id is not None:
            validation.fifo_id("MessageGroupId", group_id)
        if not fifo:
            if dedup_id is not None:
                raise InvalidParameter(
                    "Invalid parameter: MessageDeduplicationId Reason: The request includes "
                    "MessageDeduplicationId parameter that is not valid for this topic type"
                )
            return group_id, None
        if not group_id:
            raise InvalidParameter(
                "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
            )
        if dedup_id is not None:
            validation.fifo_id("MessageDeduplicationId", dedup_id)
        elif topic.attributes.get("ContentBasedDeduplication") == "true":
            dedup_id = hashlib.sha256(body).hexdigest()
        else:
            raise InvalidParameter(
                "Invalid parameter: The topic should either have ContentBasedDeduplication "
                "enabled or MessageDeduplicationId provided explicitly"
            )
        return group_id, dedup_id


def _target(topic_arn: str | None, target_arn: str | None, phone_number: str | None) -> str:
    given = [v for v in (topic_arn, target_arn, phone_number) if v is not None]
    if not given:
        raise InvalidParameter(
            "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
        )
    if len(given) > 1:
        raise InvalidParameter(
            "Invalid parameter: TopicArn Reason: Only one of TopicArn, TargetArn or PhoneNumber "
            "may be given"
        )
    if phone_number is not None:
        if not validation.is_phone_number(phone_number):
            raise InvalidParameter(
                f"Invalid parameter: PhoneNumber Reason: {phone_number} is not valid to publish to"
            )
        raise UnsupportedOperation(
            "Herald does not send SMS: publishing to a phone number is not supported."
        )
    if target_arn is not None and not arns.is_topic_arn(target_arn):
        if ":endpoint/" in target_arn:
            raise UnsupportedOperation(
                "Herald does not deliver mobile push: publishing to a platform endpoint is not "
                "supported."
            )
        arns.topic_arn(target_arn, "TargetArn")
    return topic_arn if topic_arn is not None else target_arn or ""


# Protocols Herald delivers to; subscriptions of others are kept but not served.
DELIVERED_PROTOCOLS = frozenset({"sqs", "http", "https", "email", "email-json"})


def _admits(sub: SubscriptionRecord, attributes: dict[str, Any], record: MessageRecord) -> bool:
    text = sub.attributes.get("FilterPolicy")
    if not text:
        return True
    scope = sub.attributes.get("FilterPolicyScope", "MessageAttributes")
    body = record.body.decode("utf-8", "replace")
    return bool(filter_matches(json.loads(text), scope, attributes, body))


def _dedup_since(topic: TopicRecord, record: MessageRecord) -> float | None:
    """FIFO topics deduplicate over 5 minutes: a message whose deduplication id was
    published in that interval is accepted but not delivered again ("Message
    deduplication for FIFO topics")."""
    if topic.attributes.get("FifoTopic") != "true":
        return None
    return record.published_at - DEDUP_SECONDS


def _limit(topic: TopicRecord) -> int:
    return int(topic.attributes.get("MaximumMessageSize", validation.MAX_MESSAGE_BYTES))
