"""A node's mover: it runs the message move tasks (``herald.sqs.moves``) it claims.

The rules: a task runs on one node at a time, the one whose claim (lease) holds it; a
node that dies leaves its tasks to any node once LEASE_SECONDS pass, and a node ends the
leases of its previous run when it starts (and its own when it stops). Each move is one
store transaction: the message leaves the source and its replacement enters the
destination together, or neither does; one received or deleted meanwhile stays as it is.

How it works: one loop claims the tasks no lease holds, at once when a task starts on this
node and otherwise every POLL_SECONDS (one small query a second when there is nothing to
do), and drives each as an asyncio task of its own. A step reads the next messages (which
renews the lease), prepares their replacements (a new message id and enqueue time, the
destination's retention and delay, a FIFO sequence number, the body opened and sealed
again for the destination's key on behalf of the task's starter), replaces them, and
waits as long as the task's rate asks. A task ends COMPLETED when no message of its start
is left to move, CANCELLED after a cancel, FAILED when a destination (or the source) is
gone or the key service refuses, with the error's Query code as its FailureReason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from herald import ids
from herald.clock import Clock
from herald.errors import CallerFault, HeraldError, InvalidParameter, NotFound
from herald.sqs.moves import acting_for
from herald.sqs.service import QueueDoesNotExist, SQSService
from herald.store.base import Store
from herald.store.base_sqs import (
    MoveBatch,
    MoveTaskRecord,
    MoveTaskStatus,
    QueuedMessage,
    QueueRecord,
)
from herald.types import RequestContext

log = logging.getLogger("herald.sqs")
LEASE_SECONDS = 10.0  # renewed at every step, which takes at most a second or so
POLL_SECONDS = 1.0
BATCH = 100  # messages a step moves at most
MAX_TASKS = 8  # tasks a node runs at once


class Mover:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        queues: SQSService,
        reason_of: Callable[[HeraldError], str],
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        """``reason_of`` names an error as a task's FailureReason (its wire code)."""
        self._store = store
        self._clock = clock
        self._queues = queues
        self._reason_of = reason_of
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._woken = asyncio.Event()
        self._driving: set[asyncio.Task[None]] = set()
        self._stopping = False

    def wake(self) -> None:
        """A task may be waiting to be claimed (one started on this node)."""
        self._woken.set()

    def stop(self) -> None:
        self._stopping = True
        self._woken.set()

    async def run(self) -> None:
        """Claim and drive tasks until ``stop``; then end this node's leases."""
        await self._release()
        try:
            while not self._stopping:
                self._woken.clear()
                if len(self._driving) < MAX_TASKS and await self._claim_one():
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), self._poll)
        finally:
            for driving in self._driving:
                driving.cancel()
            await asyncio.gather(*self._driving, return_exceptions=True)
            await self._release()

    async def _claim_one(self) -> bool:
        try:
            task = await self._store.claim_move_task(self._clock.now(), self._lease)
        except Exception:
            log.exception("message move tasks could not be claimed; trying again")
            return False
        if task is None:
            return False
        driving = asyncio.create_task(self._drive(task))
        self._driving.add(driving)
        driving.add_done_callback(self._driven)
        return True

    def _driven(self, driving: asyncio.Task[None]) -> None:
        self._driving.discard(driving)
        self._woken.set()  # room for another task

    async def _release(self) -> None:
        try:
            await self._store.release_move_tasks()
        except Exception:
            log.exception("the leases of message move tasks could not be ended")

    async def _drive(self, task: MoveTaskRecord) -> None:
        assert task.lease is not None
        try:
            while await self._step(task, task.lease):
                pass
        except NotFound:
            await self._fail(task, task.lease, _gone())
        except CallerFault as exc:
            await self._fail(task, task.lease, exc)
        except Exception:
            # Herald's own failure (the store, the key service): the lease lapses and a node
            # takes the task up again.
            log.exception("message move task %s stopped; it is taken up again", task.task_id)

    async def _step(self, task: MoveTaskRecord, lease: str) -> bool:
        """Move the next messages; whether there may be more to move."""
        began = time.monotonic()
        limit = min(BATCH, task.max_per_second or BATCH)
        status, messages = await self._store.next_moves(
            task.task_id, lease, self._clock.now(), limit, self._lease
        )
        if status is not MoveTaskStatus.RUNNING:
            return False  # cancelled (and so ended), or another claim has it
        if not messages:
            await self._store.end_move_task(task.task_id, lease, MoveTaskStatus.COMPLETED)
            return False
        moves, failure = await self._prepared(task, messages)
        outcome = MoveBatch(0, status)
        if moves:
            outcome = await self._store.apply_moves(
                task.task_id, lease, self._clock.now(), moves, self._lease
            )
            if outcome.moved:
                for arn in {new.queue_arn for _, new in moves}:
                    self._queues.arrived(arn)
        if outcome.status is not MoveTaskStatus.RUNNING:
            return False
        if outcome.missing is not None or failure is not None:
            await self._fail(task, lease, failure or _gone())
            return False
        if task.max_per_second:
            # The rate is a ceiling: a step of n messages takes n / rate seconds at least.
            pause = len(messages) / task.max_per_second - (time.monotonic() - began)
            await asyncio.sleep(max(0.0, pause))
        else:
            await asyncio.sleep(0)  # let requests run between steps
        return True

    async def _prepared(
        self, task: MoveTaskRecord, messages: list[QueuedMessage]
    ) -> tuple[list[tuple[QueuedMessage, QueuedMessage]], CallerFault | None]:
        """(message, replacement) for the messages up to the first that cannot move, and
        why that one cannot."""
        source = await self._store.get_queue(task.source_arn)
        if source is None:
            return [], _gone()
        queues: dict[str, QueueRecord | None] = {}
        ctx = acting_for(task)
        moves: list[tuple[QueuedMessage, QueuedMessage]] = []
        for message in messages:
            target = task.destination_arn or message.dead_letter_source
            if target is None:
                return moves, _gone()  # sent to the queue itself: it has no source
            if target not in queues:
                queues[target] = destination = await self._store.get_queue(target)
                if destination is not None:
                    # The starter sends every message where it goes: a message's source
                    # queue may no longer feed this one, or deny the starter SendMessage.
                    try:
                        await self._queues.authorize(ctx, destination, ("SendMessage",))
                    except CallerFault as exc:
                        return moves, exc
            destination = queues[target]
            if destination is None:
                return moves, _gone()
            sealing = _sealing(message, destination)
            try:
                replacement = await self._replacement(
                    ctx if sealing else None, source, message, destination
                )
            except CallerFault as exc:  # the key service refused the starter
                return moves, exc
            moves.append((message, replacement))
        return moves, None

    async def _replacement(
        self,
        ctx: RequestContext | None,
        source: QueueRecord,
        message: QueuedMessage,
        destination: QueueRecord,
    ) -> QueuedMessage:
        """The message as a new one in ``destination`` ("The redrive task resets the
        retention period. ... assigned a new messageID and enqueueTime"); ``ctx`` opens
        and seals its body when it must be (see ``_sealing``)."""
        now = self._clock.now()
        attributes = destination.attributes
        encryption = self._queues.encryption
        body = message.body
        if ctx is not None:
            if encryption is None:
                raise InvalidParameter("This Herald has no key service for encrypted queues.")
            body = await encryption.open(ctx, source, message)
        fifo = attributes.get("FifoQueue") == "true"
        moved = replace(
            message,
            message_id=ids.uuid7(),
            queue_arn=destination.arn,
            body=body,
            body_format="plain",
            sent_at=now,
            visible_at=now + int(attributes.get("DelaySeconds", "0")),
            expires_at=now + int(attributes.get("MessageRetentionPeriod", "345600")),
            receive_count=0,
            first_received_at=None,
            receipt_handle=None,
            sequence_number=self._queues.sequence_number(now) if fifo else None,
            dead_letter_source=None,
        )
        if ctx is not None and encryption is not None:
            (moved,) = await encryption.seal(ctx, destination, [moved])
        return moved

    async def _fail(self, task: MoveTaskRecord, lease: str, error: CallerFault) -> None:
        try:
            await self._store.end_move_task(
                task.task_id, lease, MoveTaskStatus.FAILED, self._reason_of(error)
            )
        except Exception:
            log.exception("message move task %s could not be ended", task.task_id)


def _sealing(message: QueuedMessage, destination: QueueRecord) -> bool:
    """Whether moving the message needs the key service: its body is sealed, or the
    destination seals bodies."""
    return message.body_format != "plain" or bool(destination.attributes.get("KmsMasterKeyId"))


def _gone() -> QueueDoesNotExist:
    return QueueDoesNotExist("The specified queue does not exist.")
