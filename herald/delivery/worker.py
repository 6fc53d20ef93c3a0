"""The delivery worker: takes due deliveries from the store, builds each body, sends it and
records the outcome.

A delivery row is written with its message before the publish is acknowledged (and with
a subscription's confirmation message when it is subscribed or unsubscribed); the worker
holds it under a lease while it works, removes it once delivered, and otherwise schedules
the next attempt by the subscription's retry policy (``herald.delivery.retry``). A worker
that dies leaves its leased rows to be taken again when the leases end, so every
acknowledged message is delivered at least once.

Deliveries run as independent tasks, up to ``max_in_flight`` at once, so a slow endpoint
holds up only its own deliveries. Client-side failures are not retried; when a policy is
exhausted, or after a client-side failure, a notification goes to the subscription's
dead-letter queue if it has one, else it is dropped ("Amazon SNS dead-letter queues").
Encrypted bodies are opened only now, in memory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from herald import ids
from herald.clock import Clock
from herald.delivery import retry
from herald.delivery.email import (
    CONFIRMATION_SUBJECT,
    NOTIFICATION_SUBJECT,
    EmailSender,
    SMTPSettings,
    confirmation_text,
    notification_text,
)
from herald.delivery.failures import DeliveryFailed
from herald.delivery.http import HttpSender
from herald.errors import CallerFault, HeraldError, StoreUnavailable
from herald.kms import signing
from herald.sns import notifications
from herald.sns.encryption import MessageOpener
from herald.sns.metrics import DELIVERED, FAILED, NOT_REDRIVEN, REDRIVEN, TopicMetrics
from herald.sqs.service import Outgoing, SQSService
from herald.store.base import MessageRecord, Store, SubscriptionRecord, TopicRecord
from herald.store.base_delivery import DeliveryRecord
from herald.store.base_sqs import QueuedMessage
from herald.types import Principal, RequestContext

log = logging.getLogger("herald.delivery")
LEASE_SECONDS = 30.0  # well over the 15 s an HTTP attempt may take
BATCH = 200
MAX_IN_FLIGHT = 1024
ATTEMPT_SECONDS = 25.0  # the longest one attempt may take (under LEASE_SECONDS)
# Handed-over deliveries are leased this much longer, for the publisher's commit: once
# launched they have a whole claimed lease left, or they are left for a claim.
HANDOFF_SLACK_SECONDS = 10.0
HOLD_SECONDS = 5.0  # how long a delivery waits when Herald's own store failed it
STOP_SECONDS = 10.0  # how long a stopping worker lets deliveries in flight finish
SNS_PRINCIPAL = "sns.amazonaws.com"
NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
T = TypeVar("T")


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        sqs: SQSService,
        opener: MessageOpener,
        public_url: str,
        metrics: TopicMetrics | None = None,
        *,
        http: HttpSender | None = None,
        smtp: SMTPSettings | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        """``public_url`` is Herald's HTTPS endpoint, for SigningCertURL, SubscribeURL and
        UnsubscribeURL."""
        self._store = store
        self._clock = clock
        self._sqs = sqs
        self._sns_principals: dict[str, Principal] = {}  # by topic ARN
        self._opener = opener
        self._public_url = public_url.rstrip("/")
        self._wake = asyncio.Event()
        self._signatures: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._keys = signing.Keys(store, clock)
        self.metrics = metrics or TopicMetrics()
        self._http = http or HttpSender()
        self._email = EmailSender(smtp or SMTPSettings(host=None))
        self._throttle = retry.Throttle()
        self._max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[str] = []
        self._in_flight: set[str] = set()
        self._stopping = False
        self._reserved = 0
        self._handed: list[tuple[list[DeliveryRecord], Handed]] = []
        # Claims are made when deliveries were written for claiming, when the last claim
        # filled its batch, and once a second (retries come due, other nodes' rows).
        self._claim_wanted = True
        self._last_claim = 0.0

    def wake(self) -> None:
        """New deliveries were written, for any worker to claim."""
        self._claim_wanted = True
        self._wake.set()

    def reserve(self, count: int) -> float | None:
        """Room for ``count`` deliveries a publisher is about to write: the time their
        lease is to end (they are written leased to this node and handed over by ``take``,
        which spares claiming them), or None when there is no room (they are written
        unleased, for any node to claim)."""
        waiting = sum(len(d) for d, _ in self._handed)
        # A sixteenth of the room stays for claims (retries come due, FIFO, other nodes'
        # rows), which publishers would otherwise crowd out under sustained load.
        limit = self._max_in_flight - self._max_in_flight // 16
        if self._stopping or len(self._tasks) + waiting + self._reserved + count > limit:
            return None
        self._reserved += count
        return self._clock.now() + LEASE_SECONDS + HANDOFF_SLACK_SECONDS

    def unreserve(self, count: int) -> None:
        """The reserved deliveries were not written."""
        self._reserved -= count

    def take(
        self,
        deliveries: list[DeliveryRecord],
        leased_until: float,
        messages: Sequence[MessageRecord],
        topic: TopicRecord,
        subscriptions: Sequence[SubscriptionRecord],
    ) -> None:
        """Deliveries written under the lease ``reserve`` gave, with the records the
        publisher had at hand (its messages, their topic, the subscriptions)."""
        self._reserved -= len(deliveries)
        known = Handed(leased_until, messages, topic, subscriptions)
        self._handed.append((deliveries, known))
        self._wake.set()

    async def to_queues(
        self,
        topic: TopicRecord,
        messages: Sequence[MessageRecord],
        deliveries: Sequence[DeliveryRecord],
    ) -> list[tuple[DeliveryRecord, QueuedMessage]]:
        """Those of a publisher's deliveries (of ``messages``, still in clear) that can be
        written as queue messages in the publisher's own transaction, each with its
        queue message: a notification to a standard queue of this Herald that takes it.
        They need no delivery row, no claim and no commit of their own. The others stay
        deliveries, for this worker to send (or fail, as AWS would)."""
        direct: list[tuple[DeliveryRecord, QueuedMessage]] = []
        if self._stopping or not any(d.protocol == "sqs" for d in deliveries):
            return direct
        batch = _Batch(self._store)
        batch.know(Handed(0.0, messages, topic, ()))
        by_id = {m.message_id: m for m in messages}
        region = topic.arn.split(":")[3]
        version = topic.attributes.get("SignatureVersion") or "1"
        for delivery in deliveries:
            if delivery.protocol != "sqs" or delivery.kind != NOTIFICATION:
                continue
            message = by_id[delivery.message_id]
            ctx = self._sns_context(delivery)
            try:
                queue = await self._sqs.delivery_queue(ctx, delivery.endpoint)
                if queue is None:
                    continue
                text = await self._text(message, region, "sqs", batch)
                document = ""
                if not delivery.raw:
                    document = await self._document(message, text, delivery, version, region, batch)
                outgoing = _queue_outgoing(delivery, message, text, document, batch)
                queued = self._sqs.prepare_delivery(ctx, queue, outgoing)
            except (HeraldError, OSError, ValueError):
                continue  # the worker's attempt reports it
            except Exception:
                # Never the publish's failure: the delivery stays a row for the worker.
                log.exception("delivery %s left to the worker", delivery.delivery_id)
                continue
            if queued is not None:
                direct.append((delivery, queued))
        return direct

    def delivered(self, direct: Sequence[tuple[DeliveryRecord, QueuedMessage]]) -> None:
        """The deliveries ``to_queues`` gave are committed: counted, and the queues'
        long polls woken."""
        for delivery, _ in direct:
            self.metrics.add(DELIVERED, delivery.topic_arn)
        for queue_arn in {queued.queue_arn for _, queued in direct}:
            self._sqs.arrived(queue_arn)

    async def run(self) -> None:
        """Deliver until cancelled: claim what is due while there is room, send each as
        its own task, and remove finished rows in batches."""
        try:
            while not self._stopping:
                self._wake.clear()
                failed = False
                try:
                    self._launch_handed()
                    await self._flush()
                    room = min(BATCH, self._max_in_flight - len(self._tasks) - self._reserved)
                    if room > 0 and (
                        self._claim_wanted or time.monotonic() - self._last_claim >= 1.0
                    ):
                        self._claim_wanted = False
                        self._last_claim = time.monotonic()
                        claimed = await self._store.claim_deliveries(
                            self._clock.now(), room, LEASE_SECONDS
                        )
                        self._launch(claimed)
                        # A full batch: more may be due at once.
                        self._claim_wanted = self._claim_wanted or len(claimed) == room
                except Exception:
                    log.exception("delivery round failed; trying again")
                    failed = True  # the store is in trouble: wait before the next round
                busy = len(self._tasks) >= self._max_in_flight
                if not failed and (self._handed or (self._claim_wanted and not busy)):
                    continue
                await self._idle()
        finally:
            # Deliveries in flight may finish (a while), then their rows go; the rest stay
            # leased and are taken again after a restart.
            self._launch_handed()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=STOP_SECONDS)
            for task in self._tasks:
                task.cancel()
            try:
                await self._flush()
            except Exception:
                log.exception("finished deliveries could not be recorded; they may repeat")
            await self._http.close()

    def stop(self) -> None:
        """Claim nothing more; ``run`` returns once what is in flight is done."""
        self._stopping = True
        self._wake.set()

    async def _idle(self) -> None:
        """Until new deliveries are written, a task finishes, or a second passes."""
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
        if self._tasks:
            waiters.add(
                asyncio.ensure_future(
                    asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
                )
            )
        try:
            await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> int:
        """Deliver what is due now and wait for the outcomes; the number handled."""
        handed = self._launch_handed()
        claimed = await self._store.claim_deliveries(self._clock.now(), BATCH, LEASE_SECONDS)
        tasks = handed + self._launch(claimed)
        if tasks:
            await asyncio.wait(tasks)
        await self._flush()
        return len(tasks)

    async def close(self) -> None:
        await self._http.close()

    def _launch_handed(self) -> list[asyncio.Task[None]]:
        """Start what publishers handed over since the last round, as one batch."""
        if not self._handed:
            return []
        handed, self._handed = self._handed, []
        # An attempt and its bookkeeping must end within the lease, or another node may
        # take the row while it is being sent: launched, a delivery has at least the lease
        # a claim gives. One whose lease is too far gone (a slow commit) is left to run
        # out, and is claimed then.
        latest = self._clock.now() + LEASE_SECONDS
        late = sum(len(d) for d, known in handed if known.leased_until < latest)
        if late:
            log.warning("%d handed-over deliveries are left for a claim (slow commit)", late)
        handed = [(d, known) for d, known in handed if known.leased_until >= latest]
        batch = _Batch(self._store)
        for _, known in handed:
            batch.know(known)
        return self._launch([d for deliveries, _ in handed for d in deliveries], batch)

    def _launch(
        self, claimed: list[DeliveryRecord], batch: _Batch | None = None
    ) -> list[asyncio.Task[None]]:
        # One read per message, subscription and topic for the batch, not per delivery.
        batch = batch or _Batch(self._store)
        # A row still in flight here (its lease ran out under a slow store) is not sent
        # twice at once.
        fresh = [d for d in claimed if d.delivery_id not in self._in_flight]
        self._in_flight.update(d.delivery_id for d in fresh)
        tasks = [asyncio.create_task(self._run_one(d, batch)) for d in fresh]
        self._tasks.update(tasks)
        for task in tasks:
            task.add_done_callback(self._tasks.discard)
        return tasks

    async def _run_one(self, delivery: DeliveryRecord, batch: _Batch) -> None:
        try:
            if await self._attempt(delivery, batch):
                self._finished.append(delivery.delivery_id)
                if delivery.sequence is not None:
                    # The next delivery of its FIFO group becomes due once this row goes.
                    self._claim_wanted = True
        except Exception:
            # Left leased: it is tried again when the lease ends.
            log.exception("delivery %s failed unexpectedly", delivery.delivery_id)
        finally:
            self._in_flight.discard(delivery.delivery_id)

    async def _flush(self) -> None:
        if self._finished:
            done, self._finished = self._finished, []
            try:
                await self._store.finish_deliveries(done)
            except Exception:
                self._finished.extend(done)
                raise

    async def _attempt(self, delivery: DeliveryRecord, batch: _Batch) -> bool:
        """Whether the delivery is done with (delivered, dropped or dead-lettered)."""
        topic = await batch.topic(delivery.topic_arn)
        sub: SubscriptionRecord | None = None
        if delivery.kind != UNSUBSCRIBE_CONFIRMATION:
            sub = await batch.subscription(delivery.subscription_arn)
            if sub is None or topic is None:
                return True  # unsubscribed, or the topic is gone: nothing to deliver
            if delivery.kind == SUBSCRIPTION_CONFIRMATION and sub.confirmed:
                return True
        policy = batch.policy(delivery, topic, sub)
        now = self._clock.now()
        when = self._throttle.admit(
            delivery.subscription_arn, delivery.delivery_id, policy.max_per_second, now
        )
        if when > now:
            await self._store.retry_delivery(
                delivery.delivery_id, when, "throttled by maxReceivesPerSecond", failed=False
            )
            return False
        message: MessageRecord | None = None
        if delivery.kind == NOTIFICATION:
            message = await batch.message(delivery.message_id)
            if message is None:
                return True
        try:
            try:
                # Well within the lease, so no other worker takes the row meanwhile.
                async with asyncio.timeout(ATTEMPT_SECONDS):
                    await self._send(delivery, topic, sub, message, policy, batch)
            except TimeoutError:
                raise DeliveryFailed(
                    "Timeout", "The delivery attempt took too long", client_side=False
                ) from None
        except DeliveryFailed as exc:
            return await self._failed(delivery, sub, message, policy, exc, batch)
        except StoreUnavailable as exc:
            # Herald's own trouble, not the endpoint's: try again soon, no attempt spent.
            await self._hold(delivery, exc.message)
            return False
        except (HeraldError, OSError, ValueError) as exc:
            # A CallerFault (the queue is gone, its policy or key refuses SNS, the message
            # does not fit it) is client-side; anything else may pass.
            reason = exc.message if isinstance(exc, HeraldError) else str(exc)
            failure = DeliveryFailed(
                type(exc).__name__, reason or type(exc).__name__,
                client_side=isinstance(exc, CallerFault),
            )  # fmt: skip
            return await self._failed(delivery, sub, message, policy, failure, batch)
        if delivery.kind == NOTIFICATION:
            self.metrics.add(DELIVERED, delivery.topic_arn)
        return True

    async def _failed(
        self,
        delivery: DeliveryRecord,
        sub: SubscriptionRecord | None,
        message: MessageRecord | None,
        policy: retry.EndpointPolicy,
        failure: DeliveryFailed,
        batch: _Batch,
    ) -> bool:
        notification = delivery.kind == NOTIFICATION
        http = delivery.protocol in retry.HTTP_PROTOCOLS
        if notification and http:
            # For HTTP/S CloudWatch counts every failed attempt, retries included.
            self.metrics.add(FAILED, delivery.topic_arn)
        if not failure.client_side:
            delay = policy.retry.delay(delivery.attempts + 1)
            if delay is not None:
                log.info(
                    "delivery %s to %s failed (attempt %d), retrying in %.0f s: %s",
                    delivery.delivery_id,
                    delivery.endpoint if delivery.protocol == "sqs" else delivery.protocol,
                    delivery.attempts + 1,
                    delay,
                    failure.message,
                )
                await self._store.retry_delivery(
                    delivery.delivery_id, self._clock.now() + delay, failure.message
                )
                return False
        if notification and not http:
            self.metrics.add(FAILED, delivery.topic_arn)
        log.warning(
            "delivery %s to %s given up after %d attempts: %s",
            delivery.delivery_id,
            delivery.subscription_arn,
            delivery.attempts + 1,
            failure.message,
        )
        if notification and sub is not None and message is not None:
            try:
                await self._dead_letter(delivery, sub, message, failure, batch)
            except StoreUnavailable as exc:
                await self._hold(delivery, exc.message)  # kept, not dropped
                return False
        return True

    async def _hold(self, delivery: DeliveryRecord, reason: str) -> None:
        log.warning("delivery %s held back: %s", delivery.delivery_id, reason)
        await self._store.retry_delivery(
            delivery.delivery_id, self._clock.now() + HOLD_SECONDS, reason, failed=False
        )

    # -- sending -------------------------------------------------------------------------

    async def _send(
        self,
        delivery: DeliveryRecord,
        topic: TopicRecord | None,
        sub: SubscriptionRecord | None,
        message: MessageRecord | None,
        policy: retry.EndpointPolicy,
        batch: _Batch,
    ) -> None:
        region = delivery.topic_arn.split(":")[3]
        version = (topic.attributes.get("SignatureVersion") if topic else None) or "1"
        protocol = delivery.protocol
        if message is None:
            document = await self._confirmation(delivery, version, region)
            text = ""
        else:
            text = await self._text(message, region, protocol, batch)
            # A raw delivery carries the message alone: no JSON document, no signature.
            document = ""
            if not delivery.raw:
                document = await self._document(message, text, delivery, version, region, batch)
        if protocol == "sqs":
            await self._to_queue(delivery, message, text, document, batch)
        elif protocol in retry.HTTP_PROTOCOLS:
            raw = delivery.raw and message is not None
            headers = {
                "Content-Type": policy.content_type,
                "x-amz-sns-message-type": delivery.kind,
                "x-amz-sns-message-id": message.message_id if message else delivery.message_id,
                "x-amz-sns-topic-arn": delivery.topic_arn,
            }
            if delivery.kind != SUBSCRIPTION_CONFIRMATION:
                headers["x-amz-sns-subscription-arn"] = delivery.subscription_arn
            if raw:
                # AWS sends this header with raw notifications only, never "false".
                headers["x-amz-sns-rawdelivery"] = "true"
            body = text if raw else document
            await self._http.send(delivery.endpoint, body.encode(), headers)
        elif protocol in ("email", "email-json"):
            await self._to_mailbox(delivery, topic, message, text, document)
        else:
            raise DeliveryFailed(
                "UnsupportedProtocol",
                f"Herald does not deliver to {protocol} endpoints",
                client_side=True,
            )

    async def _to_queue(
        self,
        delivery: DeliveryRecord,
        message: MessageRecord | None,
        text: str,
        document: str,
        batch: _Batch,
    ) -> None:
        outgoing = _queue_outgoing(delivery, message, text, document, batch)
        await self._sqs.deliver(self._sns_context(delivery), delivery.endpoint, outgoing)

    async def _to_mailbox(
        self,
        delivery: DeliveryRecord,
        topic: TopicRecord | None,
        message: MessageRecord | None,
        text: str,
        document: str,
    ) -> None:
        from_name = (topic.attributes.get("DisplayName") if topic else None) or "AWS Notifications"
        if delivery.protocol == "email-json":
            subject = (message.subject if message else None) or (
                NOTIFICATION_SUBJECT if message else CONFIRMATION_SUBJECT
            )
            body = document
        elif message is None:
            subject = CONFIRMATION_SUBJECT
            body = confirmation_text(delivery.topic_arn, self._subscribe_url(delivery))
        else:
            subject = message.subject or NOTIFICATION_SUBJECT
            body = notification_text(text, self._unsubscribe_url(delivery.subscription_arn))
        await self._email.send(delivery.endpoint, subject, body, from_name)

    async def _dead_letter(
        self,
        delivery: DeliveryRecord,
        sub: SubscriptionRecord,
        message: MessageRecord,
        failure: DeliveryFailed,
        batch: _Batch,
    ) -> None:
        """Move a notification that could not be delivered to the subscription's
        dead-letter queue, with ErrorCode, ErrorMessage and RequestID attributes."""
        redrive = sub.attributes.get("RedrivePolicy")
        if not redrive:
            return
        target = str(json.loads(redrive).get("deadLetterTargetArn", ""))
        region = delivery.topic_arn.split(":")[3]
        errors: dict[str, dict[str, object]] = {
            "RequestID": {"DataType": "String", "StringValue": ids.uuid4()},
            "ErrorCode": {"DataType": "String", "StringValue": failure.code or "Unknown"},
            "ErrorMessage": {"DataType": "String", "StringValue": failure.message or "-"},
        }
        try:
            text = await self._text(message, region, delivery.protocol, batch)
            if delivery.raw:
                own = _sqs_attributes(batch.attributes(message))
                body = text
                attributes = {**dict(list(own.items())[:7]), **errors}
            else:
                topic = await batch.topic(delivery.topic_arn)
                version = (topic.attributes.get("SignatureVersion") if topic else None) or "1"
                body = await self._document(message, text, delivery, version, region, batch)
                attributes = errors
            outgoing = Outgoing(
                body,
                attributes=attributes,
                group_id=message.group_id,
                dedup_id=message.deduplication_id,
            )
            await self._sqs.deliver(self._sns_context(delivery), target, outgoing)
        except StoreUnavailable:
            raise
        except (HeraldError, OSError, ValueError) as exc:
            self.metrics.add(NOT_REDRIVEN, delivery.topic_arn)
            log.warning(
                "delivery %s could not be moved to the dead-letter queue %s: %s",
                delivery.delivery_id,
                target,
                exc.message if isinstance(exc, HeraldError) else exc,
            )
            return
        self.metrics.add(REDRIVEN, delivery.topic_arn)

    def _sns_context(self, delivery: DeliveryRecord) -> RequestContext:
        """SNS itself, sending for the topic (aws:SourceArn), as queue policies see it:
        one principal object per topic, which the authorizer's caches find by identity."""
        topic_arn = delivery.topic_arn
        principal = self._sns_principals.get(topic_arn)
        if principal is None:
            if len(self._sns_principals) >= 10_000:
                self._sns_principals.clear()
            principal = self._sns_principals[topic_arn] = Principal(
                account_id=topic_arn.split(":")[4],
                arn=SNS_PRINCIPAL,
                user_id=SNS_PRINCIPAL,
                access_key_id="sns-delivery",
                service=SNS_PRINCIPAL,
                source_arn=topic_arn,
            )
        return RequestContext(
            principal=principal,
            region=topic_arn.split(":")[3],
            request_id=f"delivery-{delivery.delivery_id}",
            secure_transport=True,
            sigv4=True,
        )

    # -- documents -----------------------------------------------------------------------

    async def _text(self, message: MessageRecord, region: str, protocol: str, batch: _Batch) -> str:
        # Opened (decrypted) once per batch, however many subscriptions it goes to; the
        # plaintext stays in memory only.
        body = await batch.body(message, lambda: self._opener.body(message, region))
        return notifications.per_protocol(body, message.message_structure, protocol)

    def _unsubscribe_url(self, subscription_arn: str) -> str:
        return f"{self._public_url}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"

    def _subscribe_url(self, delivery: DeliveryRecord) -> str:
        query = urllib.parse.urlencode(
            {
                "Action": "ConfirmSubscription",
                "TopicArn": delivery.topic_arn,
                "Token": delivery.token or "",
            },
            safe=":",
        )
        return f"{self._public_url}/?{query}"

    async def _document(
        self,
        message: MessageRecord,
        text: str,
        delivery: DeliveryRecord,
        version: str,
        region: str,
        batch: _Batch,
    ) -> str:
        # A FIFO topic's notification (the only kind with a sequence number) is not
        # signed: no signing key is needed, and ``notification`` leaves the fields out.
        fifo = message.sequence_number is not None
        key = None if fifo else await self._keys.for_region(region)
        fields = notifications.notification(
            message_id=message.message_id,
            topic_arn=message.topic_arn,
            subject=message.subject,
            message=text,
            published_at=message.published_at,
            attributes=batch.attributes(message),
            sequence_number=message.sequence_number,
            signature_version=version,
            signing_cert_url="" if key is None else self._cert_url(key.name),
            unsubscribe_url=self._unsubscribe_url(delivery.subscription_arn),
        )
        if key is None:
            return notifications.rendered(fields)
        # The signed fields do not depend on the subscription: sign once per message (and
        # per protocol when MessageStructure=json gives each protocol its own body).
        per = delivery.protocol if message.message_structure == "json" else ""
        return notifications.signed(
            fields, self._signature(key, fields, (message.message_id, version, per))
        )

    async def _confirmation(self, delivery: DeliveryRecord, version: str, region: str) -> str:
        key = await self._keys.for_region(region)
        fields = notifications.confirmation(
            kind=delivery.kind,
            message_id=delivery.message_id,
            token=delivery.token or "",
            topic_arn=delivery.topic_arn,
            subscription_arn=delivery.subscription_arn,
            subscribe_url=self._subscribe_url(delivery),
            created_at=delivery.created_at,
            signature_version=version,
            signing_cert_url=self._cert_url(key.name),
        )
        return notifications.signed(
            fields, self._signature(key, fields, (delivery.message_id, version, ""))
        )

    def _cert_url(self, name: str) -> str:
        return f"{self._public_url}/SimpleNotificationService-{name}.pem"

    def _signature(
        self, key: signing.RegionKey, fields: Mapping[str, Any], slot: tuple[str, str, str]
    ) -> str:
        signature = self._signatures.get(slot)
        if signature is None:
            raw = key.signer.sign(notifications.string_to_sign(fields), slot[1])
            signature = base64.b64encode(raw).decode()
            self._signatures[slot] = signature
            while len(self._signatures) > 10_000:
                self._signatures.popitem(last=False)
        return signature

    async def certificate(self, name: str) -> bytes | None:
        """The PEM certificate served at SigningCertURL, if ``name`` is one of ours."""
        return await self._keys.certificate(name)


@dataclass(frozen=True)
class Handed:
    """Records a publisher hands over with its deliveries, so they are not read again."""

    leased_until: float
    messages: Sequence[MessageRecord]
    topic: TopicRecord
    subscriptions: Sequence[SubscriptionRecord]


class _Batch:
    """Records read once per batch of deliveries (a message fans out to many)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._messages: dict[str, asyncio.Future[MessageRecord | None]] = {}
        self._subscriptions: dict[str, asyncio.Future[SubscriptionRecord | None]] = {}
        self._topics: dict[str, asyncio.Future[TopicRecord | None]] = {}
        self._bodies: dict[str, asyncio.Future[str]] = {}
        self._attributes: dict[str, dict[str, Any]] = {}
        self._policies: dict[tuple[str, str], retry.EndpointPolicy] = {}

    def know(self, known: Handed) -> None:
        """Records already at hand: they are not read from the store."""
        for message in known.messages:
            _known(self._messages, message.message_id, message)
        _known(self._topics, known.topic.arn, known.topic)
        for sub in known.subscriptions:
            _known(self._subscriptions, sub.arn, sub)

    async def message(self, message_id: str) -> MessageRecord | None:
        return await _once(self._messages, message_id, self._store.get_message)

    async def subscription(self, arn: str) -> SubscriptionRecord | None:
        return await _once(self._subscriptions, arn, self._store.get_subscription)

    async def topic(self, arn: str) -> TopicRecord | None:
        return await _once(self._topics, arn, self._store.get_topic)

    async def body(self, message: MessageRecord, open_: Callable[[], Awaitable[bytes]]) -> str:
        async def opened(_: str) -> str:
            return (await open_()).decode()

        return await _once(self._bodies, message.message_id, opened)

    def attributes(self, message: MessageRecord) -> dict[str, Any]:
        """The message attributes, parsed once per batch (callers do not change them)."""
        found = self._attributes.get(message.message_id)
        if found is None:
            found = self._attributes[message.message_id] = json.loads(message.attributes)
        return found

    def policy(
        self,
        delivery: DeliveryRecord,
        topic: TopicRecord | None,
        sub: SubscriptionRecord | None,
    ) -> retry.EndpointPolicy:
        """The endpoint's retry, throttle and request policy, worked out once per batch."""
        slot = (delivery.protocol, delivery.subscription_arn)
        found = self._policies.get(slot)
        if found is None:
            found = self._policies[slot] = retry.for_subscription(
                delivery.protocol,
                topic.attributes if topic else {},
                sub.attributes if sub else {},
            )
        return found


def _known(cache: dict[str, asyncio.Future[T]], key: str, value: T) -> None:
    if key not in cache:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.set_result(value)
        cache[key] = future


async def _once(
    cache: dict[str, asyncio.Future[T]], key: str, read: Callable[[str], Awaitable[T]]
) -> T:
    future = cache.get(key)
    if future is None:
        future = cache[key] = asyncio.ensure_future(read(key))
    return await future


def _queue_outgoing(
    delivery: DeliveryRecord,
    message: MessageRecord | None,
    text: str,
    document: str,
    batch: _Batch,
) -> Outgoing:
    """What a delivery puts in its queue: the message alone with its attributes (raw),
    or the JSON document."""
    # A confirmation to a FIFO queue is a group and deduplication id of its own.
    group = message.group_id if message else delivery.message_id
    dedup = message.deduplication_id if message else delivery.message_id
    if delivery.raw and message is not None:
        attributes = _sqs_attributes(batch.attributes(message))
        return Outgoing(text, attributes=attributes, group_id=group, dedup_id=dedup)
    return Outgoing(document, group_id=group, dedup_id=dedup)


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
