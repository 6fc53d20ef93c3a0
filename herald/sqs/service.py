"""Queues: their life cycle and attributes, sending, receiving with long polling,
visibility, deletion, dead-letter redrive and FIFO ordering and deduplication, with SQS's
rules and limits. Times are epoch seconds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

from herald import ids
from herald.auth.policy import Policy, parse_policy
from herald.auth.policy.document import Kind
from herald.clock import Clock
from herald.errors import (
    AccessDenied,
    CallerFault,
    HeraldError,
    InvalidParameter,
    MalformedPolicy,
    NotFound,
    StoreUnavailable,
)
from herald.iam.authorizer import Authorizer
from herald.kms.data_keys import KeyService
from herald.sqs import attributes as qa
from herald.sqs import permissions
from herald.sqs.encryption import QueueEncryption
from herald.sqs.moves import MessageMoves
from herald.store.base import Store
from herald.store.base_sqs import QueuedMessage, QueueRecord
from herald.types import RequestContext

MAX_TAGS = 50
MAX_ATTRIBUTES = 10
DEDUP_WINDOW_SECONDS = 300
PURGE_INTERVAL_SECONDS = 60
QUEUE_TTL_SECONDS = 5.0
RECHECK_SECONDS = 1.0  # a long poll looks again this often without an arrival
RECREATE_WAIT_SECONDS = 60
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]{1,250})?")
_INVALID_BODY = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FIFO_ID = re.compile(r"[!-~]{1,128}")
_HANDLE = re.compile(r"[A-Za-z0-9_-]{64}")  # what receive issues: 48 random bytes


# "Cross-account permissions don't apply to" these ("Limitations of Amazon SQS custom
# policies"): only the queue's own account may perform them, whatever its policy says.
OWNER_ONLY = frozenset({
    "AddPermission", "CancelMessageMoveTask", "CreateQueue", "DeleteQueue",
    "ListMessageMoveTasks", "ListQueues", "ListQueueTags", "RemovePermission",
    "SetQueueAttributes", "StartMessageMoveTask", "TagQueue", "UntagQueue",
})  # fmt: skip


class QueueDoesNotExist(NotFound):
    pass


class QueueNameExists(CallerFault):
    pass


class ReceiptHandleIsInvalid(InvalidParameter):
    pass


class PurgeQueueInProgress(CallerFault):
    pass


class QueueDeletedRecently(CallerFault):
    pass


class InvalidMessageContents(InvalidParameter):
    pass


class MissingParameter(InvalidParameter):
    pass


class MessageTooLong(InvalidParameter):
    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit  # bytes, the queue's MaximumMessageSize


@dataclass(frozen=True)
class Outgoing:
    """A message to send, as the caller gave it."""

    body: str | None
    delay_seconds: int | None = None
    attributes: Mapping[str, Mapping[str, object]] | None = None
    group_id: str | None = None
    dedup_id: str | None = None
    trace_header: str | None = None  # the AWSTraceHeader message system attribute


Waiters = dict["asyncio.Future[None]", None]  # long polls of a queue, oldest first


class SQSService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        authorizer: Authorizer,
        keys: KeyService | None = None,
    ) -> None:
        """``keys`` serves queues with a KmsMasterKeyId; without it they cannot be used."""
        self._store = store
        self._clock = clock
        self._authorizer = authorizer
        self._encryption = QueueEncryption(keys, clock) if keys is not None else None
        # Long polls waiting on each queue, oldest first: an arrival wakes one of them.
        self._waiting: dict[str, Waiters] = {}
        self._sequence = ids.FifoSequence()
        self._policies: dict[str, Policy | None] = {}
        # Queues read recently: a change through this node drops its entry at once, one
        # through another node (heard from the store) drops them all, and an entry is
        # read again after QUEUE_TTL_SECONDS in any case.
        self._queues: dict[str, tuple[QueueRecord, float]] = {}
        self._queue_changes = 0  # a read that overlaps a change does not fill the cache
        self.moves = MessageMoves(store, clock, self)  # dead-letter queue redrive

    # -- queues ------------------------------------------------------------------------

    async def create_queue(
        self,
        ctx: RequestContext,
        name: str | None,
        attributes: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> QueueRecord:
        """The queue (created now, or the same one made before). Raises InvalidParameter,
        InvalidAttributeName/Value, QueueNameExists (same name, other attributes)."""
        fifo_value = attributes.get("FifoQueue", "false").lower()
        fifo = fifo_value == "true"
        name = qa.queue_name(name, fifo)
        if name.endswith(".fifo") and not fifo:
            raise InvalidParameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
        requested = qa.checked(attributes, fifo, creating=True)
        if len(tags) > MAX_TAGS:
            raise InvalidParameter(f"Too many tags added for queue {name}.")
        account = ctx.principal.account_id
        arn = f"arn:aws:sqs:{ctx.region}:{account}:{name}"
        await self._authorize(ctx, "CreateQueue", arn, None)
        now = self._clock.now()
        if await self._store.deleted_since(arn, now - RECREATE_WAIT_SECONDS):
            raise QueueDeletedRecently(
                "You must wait 60 seconds after deleting a queue before you can create "
                "another queue with the same name."
            )
        await self._check_redrive(requested, fifo, arn)
        wanted = {**qa.DEFAULTS, **(qa.FIFO_DEFAULTS if fifo else {}), **requested}
        if requested.get("KmsMasterKeyId"):
            wanted.setdefault("SqsManagedSseEnabled", "false")
            wanted["SqsManagedSseEnabled"] = requested.get("SqsManagedSseEnabled", "false")
            wanted.setdefault("KmsDataKeyReusePeriodSeconds", "300")
        record = QueueRecord(arn, account, ctx.region, name, wanted, dict(tags), now, now)
        queue, created = await self._store.create_queue(record)
        differing = [k for k, v in requested.items() if queue.attributes.get(k) != v]
        if not created and differing:
            # AWS names one attribute, the one that differs.
            raise QueueNameExists(
                f"A queue already exists with the same name and a different value for "
                f"attribute {differing[0]}"
            )
        return queue

    async def queue(self, ctx: RequestContext, url: str | None, action: str) -> QueueRecord:
        """The queue a QueueUrl names, if the caller may perform ``action`` on it."""
        if not url:
            raise MissingParameter("The request must contain the parameter QueueUrl.")
        arn = queue_arn(ctx, url)
        queue = await self._read_queue(arn) if arn else None
        if queue is None:
            raise QueueDoesNotExist("The specified queue does not exist.")
        await self._authorize(ctx, action, queue.arn, queue)
        return queue

    async def queue_by_name(
        self, ctx: RequestContext, name: str | None, owner: str | None
    ) -> QueueRecord:
        if not name:
            raise MissingParameter("The request must contain the parameter QueueName.")
        account = owner or ctx.principal.account_id
        queue = await self._read_queue(f"arn:aws:sqs:{ctx.region}:{account}:{name}")
        if queue is None:
            raise QueueDoesNotExist("The specified queue does not exist.")
        await self._authorize(ctx, "GetQueueUrl", queue.arn, queue)
        return queue

    async def _read_queue(self, arn: str) -> QueueRecord | None:
        now = time.monotonic()
        cached = self._queues.get(arn)
        if cached is not None and now - cached[1] < QUEUE_TTL_SECONDS:
            return cached[0]
        changes = self._queue_changes
        queue = await self._store.get_queue(arn)
        # A missing queue is not remembered: it may be created at any moment.
        if queue is not None and changes == self._queue_changes:
            if len(self._queues) >= 10_000:
                self._queues.clear()
            self._queues[arn] = (queue, now)
        return queue

    def forget(self, arn: str) -> None:
        """The queue changed through this node."""
        self._queue_changes += 1
        self._queues.pop(arn, None)

    def forget_all(self) -> None:
        """Queues changed through another node."""
        self._queue_changes += 1
        self._queues.clear()

    async def list_queues(self, ctx: RequestContext, prefix: str | None) -> list[QueueRecord]:
        account = ctx.principal.account_id
        await self._authorize(ctx, "ListQueues", f"arn:aws:sqs:{ctx.region}:{account}:*", None)
        return await self._store.list_queues(account, ctx.region, prefix or "")

    async def delete_queue(self, ctx: RequestContext, url: str | None) -> None:
        queue = await self.queue(ctx, url, "DeleteQueue")
        await self._store.delete_queue(queue.arn, self._clock.now())
        self.forget(queue.arn)

    async def get_attributes(
        self, ctx: RequestContext, url: str | None, names: Sequence[str]
    ) -> dict[str, str]:
        queue = await self.queue(ctx, url, "GetQueueAttributes")
        for name in names:
            if name != "All" and name not in qa.CHECKS and name not in qa.READ_ONLY:
                raise qa.InvalidAttributeName(f"Unknown Attribute {name}.")
        counts = await self._store.queue_counts(queue.arn, self._clock.now())
        every = {
            **queue.attributes,
            "ApproximateNumberOfMessages": str(counts.visible),
            "ApproximateNumberOfMessagesNotVisible": str(counts.in_flight),
            "ApproximateNumberOfMessagesDelayed": str(counts.delayed),
            "CreatedTimestamp": str(int(queue.created_at)),
            "LastModifiedTimestamp": str(int(queue.updated_at)),
            "QueueArn": queue.arn,
        }
        if "All" in names:
            return every
        return {n: every[n] for n in names if n in every}

    async def set_attributes(
        self, ctx: RequestContext, url: str | None, attributes: Mapping[str, str]
    ) -> None:
        queue = await self.queue(ctx, url, "SetQueueAttributes")
        fifo = queue.attributes.get("FifoQueue") == "true"
        changes = qa.checked(attributes, fifo, creating=False)
        await self._check_redrive(changes, fifo, queue.arn)
        # One kind of server-side encryption at a time: choosing one turns the other off.
        if changes.get("KmsMasterKeyId"):
            changes.setdefault("SqsManagedSseEnabled", "false")
        elif changes.get("SqsManagedSseEnabled") == "true":
            changes["KmsMasterKeyId"] = ""
        # Without a key its data key reuse period goes too: AWS shows neither.
        if changes.get("KmsMasterKeyId") == "":
            changes["KmsDataKeyReusePeriodSeconds"] = ""
        await self._store.set_queue_attributes(queue.arn, changes, self._clock.now())
        self.forget(queue.arn)

    async def add_permission(
        self,
        ctx: RequestContext,
        url: str | None,
        label: str | None,
        account_ids: Sequence[str],
        actions: Sequence[str],
    ) -> None:
        """Add a statement ``label`` to the queue's Policy allowing ``actions`` to the
        accounts. Raises MissingParameter, InvalidParameter (label in use, bad action),
        TooManyActions (over seven)."""
        queue = await self.queue(ctx, url, "AddPermission")
        for name, given in (("Label", label), ("AWSAccountId", account_ids),
                            ("ActionName", actions)):  # fmt: skip
            if not given:
                raise MissingParameter(f"The request must contain the parameter {name}.")
        assert label is not None
        checked = permissions.checked_label(label)
        await self._edit_policy(
            queue,
            lambda policy: permissions.added(policy, queue.arn, checked, account_ids, actions),
        )

    async def remove_permission(
        self, ctx: RequestContext, url: str | None, label: str | None
    ) -> None:
        """Remove the statement ``label`` from the queue's Policy. Raises MissingParameter,
        InvalidParameter (no such label)."""
        queue = await self.queue(ctx, url, "RemovePermission")
        if not label:
            raise MissingParameter("The request must contain the parameter Label.")
        await self._edit_policy(queue, lambda policy: permissions.removed(policy, label))

    async def _edit_policy(self, queue: QueueRecord, edit: Callable[[str], str]) -> None:
        """Apply ``edit`` to the queue's latest Policy in the store's transaction, so that
        concurrent edits (on this node or another) each keep the others' statements."""

        def changes(attributes: Mapping[str, str]) -> Mapping[str, str]:
            policy = edit(attributes.get("Policy", ""))
            return {"Policy": qa.CHECKS["Policy"]("Policy", policy)}

        try:
            await self._store.set_queue_attributes(queue.arn, changes, self._clock.now())
        except NotFound:
            raise QueueDoesNotExist("The specified queue does not exist.") from None
        self.forget(queue.arn)

    async def tag(self, ctx: RequestContext, url: str | None, tags: Mapping[str, str]) -> None:
        queue = await self.queue(ctx, url, "TagQueue")
        await self._store.edit_queue_tags(queue.arn, tags, (), MAX_TAGS)
        self.forget(queue.arn)

    async def untag(self, ctx: RequestContext, url: str | None, keys: Sequence[str]) -> None:
        queue = await self.queue(ctx, url, "UntagQueue")
        await self._store.edit_queue_tags(queue.arn, {}, keys, MAX_TAGS)
        self.forget(queue.arn)

    async def list_tags(self, ctx: RequestContext, url: str | None) -> Mapping[str, str]:
        return (await self.queue(ctx, url, "ListQueueTags")).tags

    async def purge(self, ctx: RequestContext, url: str | None) -> None:
        """Raises PurgeQueueInProgress within 60 s of the last purge."""
        queue = await self.queue(ctx, url, "PurgeQueue")
        # The store decides, so the interval holds across nodes sharing it.
        if not await self._store.purge_queue(queue.arn, self._clock.now(), PURGE_INTERVAL_SECONDS):
            raise PurgeQueueInProgress(
                f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds."
            )

    async def dead_letter_sources(self, ctx: RequestContext, url: str | None) -> list[QueueRecord]:
        queue = await self.queue(ctx, url, "ListDeadLetterSourceQueues")
        return await self.feeders(queue)

    async def feeders(self, queue: QueueRecord) -> list[QueueRecord]:
        """The queues whose RedrivePolicy names ``queue`` as their dead-letter queue (of
        its account and region, as SQS requires)."""
        every = await self._store.list_queues(queue.account_id, queue.region, "")
        return [
            q
            for q in every
            if json.loads(q.attributes.get("RedrivePolicy", "{}")).get("deadLetterTargetArn")
            == queue.arn
        ]

    async def queue_at(
        self, ctx: RequestContext, arn: str, actions: Sequence[str]
    ) -> QueueRecord | None:
        """The queue of that ARN (None if there is none), if the caller may perform each of
        ``actions`` on it (AccessDenied names the first refused)."""
        queue = await self._read_queue(arn)
        if queue is not None:
            await self.authorize(ctx, queue, actions)
        return queue

    async def authorize(
        self, ctx: RequestContext, queue: QueueRecord, actions: Sequence[str]
    ) -> None:
        """Raises AccessDenied unless the caller may perform each of ``actions``."""
        for action in actions:
            await self._authorize(ctx, action, queue.arn, queue)

    @property
    def encryption(self) -> QueueEncryption | None:
        """What seals and opens bodies of queues with a KMS key (None without a key
        service)."""
        return self._encryption

    def sequence_number(self, now: float) -> str:
        """The next FIFO sequence number this node gives."""
        return self._sequence.next(now)

    # -- messages ----------------------------------------------------------------------

    async def send(
        self, ctx: RequestContext, url: str | None, messages: Sequence[Outgoing]
    ) -> list[QueuedMessage]:
        """Enqueue messages (all or none); a FIFO duplicate returns the earlier message."""
        queue = await self.queue(ctx, url, "SendMessage")
        return await self.enqueue(ctx, queue, messages)

    async def enqueue(
        self, ctx: RequestContext, queue: QueueRecord, messages: Sequence[Outgoing]
    ) -> list[QueuedMessage]:
        """Enqueue without authorising sqs:SendMessage (for senders already authorised),
        all or none; an encrypted queue's bodies are sealed for ``ctx``'s principal."""
        prepared = self._prepared(ctx, queue, messages)
        for outcome in prepared:
            if isinstance(outcome, HeraldError):
                raise outcome
        return await self._put(ctx, queue, cast(list[QueuedMessage], prepared))

    async def enqueue_each(
        self, ctx: RequestContext, queue: QueueRecord, messages: Sequence[Outgoing]
    ) -> list[QueuedMessage | HeraldError]:
        """As ``enqueue``, but a message that is invalid fails alone (SendMessageBatch):
        the rest are written in one store call. What became of each, in order."""
        prepared = self._prepared(ctx, queue, messages)
        valid = [p for p in prepared if not isinstance(p, HeraldError)]
        try:
            stored = iter(await self._put(ctx, queue, valid) if valid else [])
        except StoreUnavailable:
            raise  # Herald's own failure: the whole request fails, as the other batches
        except HeraldError as exc:  # the key service refused them all
            return [p if isinstance(p, HeraldError) else exc for p in prepared]
        return [p if isinstance(p, HeraldError) else next(stored) for p in prepared]

    def _prepared(
        self, ctx: RequestContext, queue: QueueRecord, messages: Sequence[Outgoing]
    ) -> list[QueuedMessage | HeraldError]:
        sender_id = ctx.principal.user_id
        fifo = queue.attributes.get("FifoQueue") == "true"
        limit = int(queue.attributes.get("MaximumMessageSize", qa.DEFAULTS["MaximumMessageSize"]))
        retention = int(queue.attributes.get("MessageRetentionPeriod", "345600"))
        default_delay = int(queue.attributes.get("DelaySeconds", "0"))
        now = self._clock.now()
        prepared: list[QueuedMessage | HeraldError] = []
        for m in messages:
            try:
                prepared.append(
                    self._message(
                        queue, m, fifo, limit, now, now + retention, default_delay, sender_id
                    )
                )
            except HeraldError as exc:
                prepared.append(exc)
        return prepared

    async def _put(
        self, ctx: RequestContext, queue: QueueRecord, records: list[QueuedMessage]
    ) -> list[QueuedMessage]:
        fifo = queue.attributes.get("FifoQueue") == "true"
        if queue.attributes.get("KmsMasterKeyId"):
            if self._encryption is None:
                raise InvalidParameter("This Herald has no key service for encrypted queues.")
            records = await self._encryption.seal(ctx, queue, records)
        try:
            stored = await self._store.enqueue(
                records, records[0].sent_at - DEDUP_WINDOW_SECONDS if fifo else None
            )
        except NotFound:
            self.forget(queue.arn)
            raise QueueDoesNotExist("The specified queue does not exist.") from None
        self.arrived(queue.arn)
        return stored

    def arrived(self, queue_arn: str) -> None:
        """Messages were put in the queue (here or, heard from the store, on another
        node): the long poll waiting longest looks again now. Waking one, not all, keeps
        a burst of empty receives off the store; a poll that takes all it asked for
        wakes the next (there may be more), and so does one woken while it was already
        looking."""
        waiters = self._waiting.get(queue_arn)
        while waiters:
            waiter = next(iter(waiters))
            del waiters[waiter]
            if not waiter.done():
                waiter.set_result(None)
                return

    async def deliver(
        self,
        ctx: RequestContext,
        queue_arn: str,
        message: Outgoing,
    ) -> None:
        """Enqueue a notification for a topic (``ctx`` is the SNS service principal with
        the topic as aws:SourceArn): the queue's policy must allow it, as in AWS."""
        queue = await self._read_queue(queue_arn)
        if queue is None:
            raise QueueDoesNotExist("The specified queue does not exist.")
        await self._authorize(ctx, "SendMessage", queue.arn, queue)
        if queue.attributes.get("FifoQueue") != "true":
            message = _unordered(message)
        await self.enqueue(ctx, queue, [message])

    async def delivery_queue(self, ctx: RequestContext, queue_arn: str) -> QueueRecord | None:
        """The queue, if a notification for it can be written in the publisher's own
        transaction (``ctx`` as for ``deliver``); None for a FIFO queue (ordered through
        the delivery worker), a queue encrypted with a KMS key (sealed by the key
        service), or one that is unknown or refuses SNS. The delivery worker then
        delivers it, or fails it as AWS would."""
        queue = await self._read_queue(queue_arn)
        if (
            queue is None
            or queue.attributes.get("FifoQueue") == "true"
            or queue.attributes.get("KmsMasterKeyId")
        ):
            return None
        try:
            await self._authorize(ctx, "SendMessage", queue.arn, queue)
        except HeraldError:
            return None
        return queue

    def prepare_delivery(
        self, ctx: RequestContext, queue: QueueRecord, message: Outgoing
    ) -> QueuedMessage | None:
        """The record a notification for a queue ``delivery_queue`` gave is stored as;
        None if the queue refuses the message (too large, too many attributes)."""
        (prepared,) = self._prepared(ctx, queue, [_unordered(message)])
        return None if isinstance(prepared, HeraldError) else prepared

    async def receive(
        self,
        ctx: RequestContext,
        url: str | None,
        max_messages: int | None,
        visibility: int | None,
        wait: int | None,
    ) -> tuple[QueueRecord, list[QueuedMessage]]:
        """Up to ``max_messages`` (1-10) messages; waits up to ``wait`` seconds (0-20, or
        the queue's ReceiveMessageWaitTimeSeconds) for one to arrive, without polling the
        store in a loop: a send to the queue wakes the waiter."""
        queue = await self.queue(ctx, url, "ReceiveMessage")
        count = 1 if max_messages is None else max_messages
        if not 1 <= count <= 10:
            raise InvalidParameter(
                f"Value {count} for parameter MaxNumberOfMessages is invalid. Reason: Must be "
                "between 1 and 10, if provided."
            )
        timeout = (
            int(queue.attributes.get("VisibilityTimeout", "30"))
            if visibility is None
            else visibility
        )
        if not 0 <= timeout <= 43200:
            raise InvalidParameter(
                f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be "
                "between 0 and 43200, if provided."
            )
        seconds = (
            int(queue.attributes.get("ReceiveMessageWaitTimeSeconds", "0"))
            if wait is None
            else wait
        )
        if not 0 <= seconds <= 20:
            raise InvalidParameter(
                f"Value {seconds} for parameter WaitTimeSeconds is invalid. Reason: Must be >= "
                "0 and <= 20, if provided."
            )
        deadline = self._clock.now() + seconds
        woken = False  # by an arrival, for the look under way
        while True:
            # Waiting from before the look, so an arrival during it is not missed.
            waiters = self._waiting.setdefault(queue.arn, {})
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiters[waiter] = None
            try:
                messages = await self._store.receive(
                    queue.arn,
                    self._clock.now(),
                    count,
                    timeout,
                    queue.attributes.get("FifoQueue") == "true",
                    _dead_letter(queue),
                    self.arrived,
                )
                woken = False
                remaining = deadline - self._clock.now()
                if messages or remaining <= 0:
                    self._stop_waiting(queue.arn, waiters, waiter)
                    if len(messages) == count or _woken(waiter):
                        self.arrived(queue.arn)  # there may be more, for another poll
                    break
                # Delayed or in-flight messages become visible without a send: look
                # again at least every second.
                try:
                    await asyncio.wait_for(waiter, timeout=min(remaining, RECHECK_SECONDS))
                except TimeoutError:
                    pass
                woken = _woken(waiter)
            except BaseException:
                # A poll woken for messages that leaves without looking (the store failed,
                # the client went away) hands its wake to the next.
                self._stop_waiting(queue.arn, waiters, waiter)
                if woken or _woken(waiter):
                    self.arrived(queue.arn)
                raise
            self._stop_waiting(queue.arn, waiters, waiter)
        return queue, await self._opened(ctx, queue, messages)

    def _stop_waiting(self, queue_arn: str, waiters: Waiters, waiter: asyncio.Future[None]) -> None:
        waiters.pop(waiter, None)
        if not waiters and self._waiting.get(queue_arn) is waiters:
            del self._waiting[queue_arn]

    async def _opened(
        self, ctx: RequestContext, queue: QueueRecord, messages: list[QueuedMessage]
    ) -> list[QueuedMessage]:
        if self._encryption is None:
            return messages
        return [
            replace(m, body=await self._encryption.open(ctx, queue, m), body_format="plain")
            for m in messages
        ]

    async def delete(self, ctx: RequestContext, url: str | None, handle: str | None) -> None:
        queue = await self.queue(ctx, url, "DeleteMessage")
        (failure,) = await self.delete_each(queue, [handle])
        if failure is not None:
            raise failure

    async def delete_each(
        self, queue: QueueRecord, handles: Sequence[str | None]
    ) -> list[HeraldError | None]:
        """Delete the messages of ``handles`` in one store call, for a caller already
        authorised (``queue(..., "DeleteMessage")``); what failed, by entry. Deleting a
        message that is gone already succeeds, as in SQS; a FIFO queue refuses a handle
        whose visibility timeout has passed."""
        failures, valid = _checked_handles(handles)
        fifo = queue.attributes.get("FifoQueue") == "true"
        statuses = (
            await self._store.delete_messages(
                queue.arn, [h for _, h in valid], self._clock.now(), fifo
            )
            if valid
            else []
        )
        for (index, handle), status in zip(valid, statuses, strict=True):
            if status == "expired":
                failures[index] = InvalidParameter(
                    f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The "
                    "receipt handle has expired."
                )
        return failures

    async def change_visibility(
        self, ctx: RequestContext, url: str | None, handle: str | None, timeout: int | None
    ) -> None:
        queue = await self.queue(ctx, url, "ChangeMessageVisibility")
        (failure,) = await self.change_visibility_each(queue, [(handle, timeout)])
        if failure is not None:
            raise failure

    async def change_visibility_each(
        self, queue: QueueRecord, changes: Sequence[tuple[str | None, int | None]]
    ) -> list[HeraldError | None]:
        """Change the visibility timeouts of (handle, seconds) in one store call, for a
        caller already authorised (``queue(..., "ChangeMessageVisibility")``); what
        failed, by entry."""
        failures, valid = _checked_handles([handle for handle, _ in changes])
        now = self._clock.now()
        wanted: list[tuple[int, str, float]] = []
        for index, handle in valid:
            timeout = changes[index][1]
            if timeout is None or not 0 <= timeout <= 43200:
                failures[index] = InvalidParameter(
                    f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: "
                    "Must be between 0 and 43200."
                )
            else:
                wanted.append((index, handle, now + timeout))
        statuses = (
            await self._store.change_visibility(
                queue.arn, [(handle, at) for _, handle, at in wanted], now
            )
            if wanted
            else []
        )
        for (index, handle, _), status in zip(wanted, statuses, strict=True):
            if status == "unknown":
                failures[index] = InvalidParameter(
                    f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message "
                    "does not exist or is not available for visibility timeout change."
                )
        return failures

    # -- helpers -----------------------------------------------------------------------

    def _message(
        self,
        queue: QueueRecord,
        m: Outgoing,
        fifo: bool,
        limit: int,
        now: float,
        expires: float,
        default_delay: int,
        sender_id: str,
    ) -> QueuedMessage:
        if m.body is None or m.body == "":
            raise MissingParameter("The request must contain the parameter MessageBody.")
        # The AWSTraceHeader's value follows the body's rules ("Message system attributes").
        if _INVALID_BODY.search(m.body) or (
            m.trace_header and _INVALID_BODY.search(m.trace_header)
        ):
            raise InvalidMessageContents(
                "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | "
                "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
            )
        attributes = _message_attributes(m.attributes or {})
        size = len(m.body.encode()) + sum(
            len(n.encode()) + len(str(a["DataType"]).encode()) + _value_size(a)
            for n, a in attributes.items()
        )
        if size > limit:
            raise MessageTooLong(
                f"One or more parameters are invalid. Reason: Message must be shorter than "
                f"{limit} bytes.",
                limit,
            )
        # A FIFO queue takes no per-message delay: a DelaySeconds of 0 there is no delay
        # given, and the queue's own applies (as AWS answers).
        given = None if fifo and m.delay_seconds == 0 else m.delay_seconds
        delay = default_delay if given is None else given
        if not 0 <= delay <= 900:
            raise InvalidParameter(
                f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds "
                "must be >= 0 and <= 900."
            )
        group_id, dedup_id = m.group_id, m.dedup_id
        sequence = None
        if fifo:
            if m.delay_seconds:
                raise InvalidParameter(
                    f"Value {m.delay_seconds} for parameter DelaySeconds is invalid. Reason: "
                    "The request include parameter that is not valid for this queue type."
                )
            if not group_id:
                raise MissingParameter("The request must contain the parameter MessageGroupId.")
            _check_id("MessageGroupId", group_id)
            _check_id("MessageDeduplicationId", dedup_id)
            if dedup_id is None:
                if queue.attributes.get("ContentBasedDeduplication") != "true":
                    raise InvalidParameter(
                        "The queue should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly"
                    )
                dedup_id = hashlib.sha256(m.body.encode()).hexdigest()
            if queue.attributes.get("DeduplicationScope") == "messageGroup":
                dedup_id = f"{group_id}\x00{dedup_id}"
            sequence = self._sequence.next(now)
        elif dedup_id is not None:
            raise InvalidParameter(
                "The request include parameter MessageDeduplicationId that is not valid for "
                "this queue type"
            )
        else:
            # A standard queue takes a MessageGroupId (fair queues) by the same rules.
            _check_id("MessageGroupId", group_id)
        return QueuedMessage(
            message_id=ids.uuid7(),
            queue_arn=queue.arn,
            body=m.body.encode(),
            body_format="plain",
            md5_body=qa.md5_body(m.body),
            message_attributes=json.dumps(_json_attributes(attributes)),
            md5_attributes=qa.md5_attributes(attributes),
            sender_id=sender_id,
            sent_at=now,
            visible_at=now + delay,
            expires_at=expires,
            group_id=group_id,
            dedup_id=dedup_id,
            sequence_number=sequence,
            trace_header=m.trace_header,
        )

    async def _check_redrive(
        self, attributes: Mapping[str, str], fifo: bool, source_arn: str
    ) -> None:
        """The dead-letter queue exists, is of the source's kind, and is in the source's
        account and region (SQS: "You must use the same AWS account to create the
        dead-letter queue and the other queues that send messages to it")."""
        text = attributes.get("RedrivePolicy")
        if not text:
            return
        target = json.loads(text)["deadLetterTargetArn"]
        queue = await self._store.get_queue(target)
        if queue is not None and target.split(":")[3:5] != source_arn.split(":")[3:5]:
            raise InvalidParameter(
                f"Value {text} for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                "queue must be in the same account and region as the source queue."
            )
        if queue is None:
            raise InvalidParameter(
                f"Value {text} for parameter RedrivePolicy is invalid. Reason: Dead letter "
                "target does not exist."
            )
        if (queue.attributes.get("FifoQueue") == "true") != fifo:
            raise InvalidParameter(
                f"Value {text} for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                "queue must be same type of queue as the source."
            )

    async def _authorize(
        self, ctx: RequestContext, action: str, resource: str, queue: QueueRecord | None
    ) -> None:
        text = queue.attributes.get("Policy") if queue is not None else None
        policy = self._policy(text) if text else None
        owner = queue.account_id if queue is not None else ctx.principal.account_id
        if action in OWNER_ONLY and ctx.principal.account_id != owner:
            # No queue policy can give these to another account.
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: sqs:{action} on "
                f"resource: {resource}: only the queue's account may"
            )
        if ctx.principal.is_root and ctx.principal.account_id == owner and policy is None:
            return
        decision = await self._authorizer.decide(
            ctx,
            f"sqs:{action}",
            resource,
            resource_account=owner,
            resource_policy=policy,
            resource_policy_key=text,
        )
        if not decision.allowed:
            raise AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: sqs:{action} on "
                f"resource: {resource} because no identity-based policy allows the "
                f"sqs:{action} action"
            )

    def _policy(self, text: str) -> Policy | None:
        if text not in self._policies:
            try:
                self._policies[text] = parse_policy(text, Kind.RESOURCE, "queue policy")
            except MalformedPolicy:
                self._policies[text] = None
            if len(self._policies) > 4096:
                self._policies.clear()
        return self._policies.get(text)


def queue_arn(ctx: RequestContext, url: str) -> str | None:
    """The ARN of the queue a QueueUrl names: its path is /ACCOUNT/NAME on any host."""
    path = url.split("://", 1)[-1].split("/", 1)[-1] if "/" in url else ""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) != 12 or not parts[1]:
        return None
    return f"arn:aws:sqs:{ctx.region}:{parts[0]}:{parts[1]}"


def _dead_letter(queue: QueueRecord) -> tuple[str, int] | None:
    text = queue.attributes.get("RedrivePolicy")
    if not text:
        return None
    policy = json.loads(text)
    return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])


def _unordered(message: Outgoing) -> Outgoing:
    """A notification as a standard queue takes it: without a deduplication id. One from
    a FIFO topic (the only kind that has a deduplication id) comes without its group id
    too, as the queue takes those unordered; one from a standard topic keeps the
    MessageGroupId its publisher gave, for SQS fair queues."""
    group_id = message.group_id if message.dedup_id is None else None
    return Outgoing(message.body, message.delay_seconds, message.attributes, group_id)


def _woken(waiter: asyncio.Future[None]) -> bool:
    """Whether an arrival woke this waiter (rather than a timeout or a cancellation)."""
    return waiter.done() and not waiter.cancelled()


def _checked_handles(
    handles: Sequence[str | None],
) -> tuple[list[HeraldError | None], list[tuple[int, str]]]:
    """The failure of each malformed handle, by position, and the well-formed ones."""
    failures: list[HeraldError | None] = [None] * len(handles)
    valid: list[tuple[int, str]] = []
    for index, handle in enumerate(handles):
        try:
            _check_handle(handle)
        except HeraldError as exc:
            failures[index] = exc
            continue
        assert handle is not None
        valid.append((index, handle))
    return failures, valid


def _check_id(label: str, value: str | None) -> None:
    """A MessageGroupId or MessageDeduplicationId, if given, as SQS takes them."""
    if value is not None and not _FIFO_ID.fullmatch(value):
        raise InvalidParameter(
            f"Value {value} for parameter {label} is invalid. Reason: {label} can only include "
            "alphanumeric and punctuation characters. 1 to 128 in length."
        )


def _check_handle(handle: str | None) -> None:
    if not handle:
        raise MissingParameter("The request must contain the parameter ReceiptHandle.")
    if not _HANDLE.fullmatch(handle):
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle[:64]}" is not a valid receipt handle.'
        )


def _message_attributes(raw: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, object]]:
    if len(raw) > MAX_ATTRIBUTES:
        raise InvalidParameter(
            f"Number of message attributes [{len(raw)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    result: dict[str, dict[str, object]] = {}
    for name, attribute in raw.items():
        bad_name = (
            not _ATTRIBUTE_NAME.fullmatch(name)
            or ".." in name
            or name.startswith(".")
            or name.endswith(".")
            or name.lower().startswith(("aws.", "amazon."))
        )
        if bad_name:
            raise InvalidParameter(f"Message attribute name '{name}' is invalid.")
        data_type = attribute.get("DataType")
        if not isinstance(data_type, str) or not _DATA_TYPE.fullmatch(data_type):
            raise InvalidParameter(
                f"The type of message (user) attribute '{name}' is invalid. You must use only "
                "the following supported type prefixes: Binary, Number, String."
            )
        if data_type.startswith("Binary"):
            value = attribute.get("BinaryValue")
            if not isinstance(value, bytes) or not value:
                raise _empty_attribute(name, "Binary")
            result[name] = {"DataType": data_type, "BinaryValue": value}
        else:
            text = attribute.get("StringValue")
            if not isinstance(text, str) or not text:
                raise _empty_attribute(name, data_type.split(".", 1)[0])
            if data_type.startswith("Number"):
                try:
                    float(text)
                except ValueError:
                    raise InvalidParameter(
                        f"Could not cast message attribute '{name}' value to number."
                    ) from None
            result[name] = {"DataType": data_type, "StringValue": text}
    return result


def _empty_attribute(name: str, kind: str) -> InvalidParameter:
    return InvalidParameter(
        f"Message (user) attribute '{name}' must contain a non-empty value of type '{kind}'."
    )


def _value_size(attribute: Mapping[str, object]) -> int:
    value = attribute.get("BinaryValue") or attribute.get("StringValue") or b""
    return len(value) if isinstance(value, bytes) else len(str(value).encode())


def _json_attributes(attributes: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, str]]:
    out = {}
    for name, a in attributes.items():
        if "BinaryValue" in a:
            value = a["BinaryValue"]
            assert isinstance(value, bytes)
            out[name] = {
                "DataType": str(a["DataType"]),
                "BinaryValue": base64.b64encode(value).decode(),
            }
        else:
            out[name] = {"DataType": str(a["DataType"]), "StringValue": str(a["StringValue"])}
    return out
