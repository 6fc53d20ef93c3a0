"""Dead-letter queue redrive: StartMessageMoveTask, ListMessageMoveTasks and
CancelMessageMoveTask (SQS API Reference; "Learn how to configure a dead-letter queue
redrive" in the SQS Developer Guide). A node's ``Mover`` (``herald.sqs.mover``) does the
moving; this module decides what may start, shows tasks and cancels them.

The rules, as AWS states and answers them:

- The source is a dead-letter queue: some queue's RedrivePolicy names it (of its account
  and region). Without DestinationArn each message goes back to the queue it was
  dead-lettered from (its DeadLetterQueueSourceArn); a destination must be a queue of the
  source's type.
- One active (RUNNING or CANCELLING) task per source queue; the store decides, across
  nodes. A task moves the messages in the source when it starts, oldest first:
  ApproximateNumberOfMessagesToMove counts those visible then. Each moved message is a new
  one (a new MessageId and enqueue time, the destination's retention), as AWS says.
- MaxNumberOfMessagesPerSecond is 1 to 500; without it the mover goes as fast as it can.
- A task handle is base64 JSON of the task id and the source ARN, as AWS's are; only a
  RUNNING task shows one and can be cancelled.
- Permissions (the Developer Guide's minimum for a redrive): to start, the action itself,
  sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the source and
  sqs:SendMessage on the destination (every queue the source is the dead-letter queue of,
  without one); to cancel, the same on the source; to list, the action and
  sqs:GetQueueAttributes. The three actions are the queue owner's only. Keys of encrypted
  queues are used on behalf of the principal who started the task.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from herald.clock import Clock
from herald.errors import InvalidParameter, NotFound
from herald.store.base import Store
from herald.store.base_sqs import MoveTaskRecord, MoveTaskStatus, QueueRecord
from herald.types import Principal, RequestContext

if TYPE_CHECKING:
    from herald.sqs.service import SQSService

MAX_RATE = 500  # messages a second
MAX_RESULTS = 10
START = ("StartMessageMoveTask", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
CANCEL = ("CancelMessageMoveTask", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
LIST = ("ListMessageMoveTasks", "GetQueueAttributes")
_ARN = re.compile(r"arn:[^:]+:([^:]*):([^:]*):([^:]*):(.+)")


class MoveTaskNotFound(NotFound):
    """A queue or task named for a move task does not exist (ResourceNotFoundException)."""


class MessageMoves:
    def __init__(self, store: Store, clock: Clock, queues: SQSService) -> None:
        self._store = store
        self._clock = clock
        self._queues = queues
        self.on_start: Callable[[], None] | None = None  # a node's mover, woken at once

    async def start(
        self,
        ctx: RequestContext,
        source_arn: str | None,
        destination_arn: str | None,
        rate: int | None,
    ) -> MoveTaskRecord:
        """Start moving the dead-letter queue ``source_arn``'s messages (``rate`` a
        second at most). Raises MissingParameter, InvalidParameter (not a dead-letter
        queue, a task already active, a bad rate or ARN), MoveTaskNotFound (no such
        queue), AccessDenied."""
        if rate is not None and not 1 <= rate <= MAX_RATE:
            raise InvalidParameter(
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                f"Reason: Must be between 1 and {MAX_RATE}."
            )
        source = await self._queue(ctx, "SourceArn", source_arn, START)
        feeders = await self._queues.feeders(source)
        if not feeders:
            raise InvalidParameter("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn:
            destination = await self._queue(
                ctx, "DestinationArn", destination_arn, ("SendMessage",)
            )
            if _fifo(destination) != _fifo(source):
                raise InvalidParameter(
                    "The destination queue must be of the same type as the source queue."
                )
        else:
            for feeder in feeders:
                await self._queues.authorize(ctx, feeder, ("SendMessage",))
        now = self._clock.now()
        task = MoveTaskRecord(
            task_id=str(uuid.uuid4()),
            source_arn=source.arn,
            destination_arn=destination_arn or None,
            max_per_second=rate,
            started_at=now,
            starter=_identity(ctx.principal),
        )
        started = await self._store.start_move_task(task, now)
        if started is None:
            raise InvalidParameter(
                "There is already a task running. Only one active task is allowed for a "
                "source queue arn at a given time."
            )
        if self.on_start is not None:
            self.on_start()
        return started

    async def list(
        self, ctx: RequestContext, source_arn: str | None, max_results: int | None
    ) -> list[MoveTaskRecord]:
        """The source queue's latest tasks (``max_results``, 1 to 10, default 1), most
        recent first. Raises as ``start``."""
        if max_results is not None and not 1 <= max_results <= MAX_RESULTS:
            raise InvalidParameter(
                f"Value {max_results} for parameter MaxResults is invalid. Reason: Must be "
                f"between 1 and {MAX_RESULTS}."
            )
        source = await self._queue(ctx, "SourceArn", source_arn, LIST)
        return await self._store.move_tasks(source.arn, max_results or 1)

    async def cancel(self, ctx: RequestContext, handle: str | None) -> MoveTaskRecord:
        """Cancel the RUNNING task of ``handle``: the task as cancelled, with the messages
        moved so far (none is moved after). Raises MissingParameter, InvalidParameter (a
        malformed handle, a task not RUNNING), MoveTaskNotFound, AccessDenied."""
        if not handle:
            raise _missing("TaskHandle")
        task_id, source_arn = read_handle(handle)
        source = await self._queue(ctx, "SourceArn", source_arn, CANCEL)
        task = await self._store.move_task(task_id)
        if task is None or task.source_arn != source.arn:
            raise MoveTaskNotFound("Task does not exist.")
        if task.status is MoveTaskStatus.RUNNING:
            cancelled = await self._store.cancel_move_task(task_id, self._clock.now())
            if cancelled is not None and cancelled.status in _CANCELLED:
                return cancelled
        raise InvalidParameter(
            "A message movement task can only be cancelled when its status is RUNNING."
        )

    async def _queue(
        self, ctx: RequestContext, name: str, arn: str | None, actions: Sequence[str]
    ) -> QueueRecord:
        if not arn:
            raise _missing(name)
        match = _ARN.fullmatch(arn)
        if match is None:
            raise InvalidParameter(
                f"You must use this format to specify the {name}: "
                "arn:<partition>:<service>:<region>:<account-id>:<resource-id>"
            )
        # A queue of this endpoint's region, as SQS's endpoints are regional.
        service, region = match[1], match[2]
        queue = None
        if service == "sqs" and region == ctx.region:
            queue = await self._queues.queue_at(ctx, arn, actions)
        if queue is None:
            raise MoveTaskNotFound(
                f"The resource that you specified for the {name} parameter doesn't exist."
            )
        return queue


_CANCELLED = (MoveTaskStatus.CANCELLING, MoveTaskStatus.CANCELLED)


def task_handle(task: MoveTaskRecord) -> str:
    document = json.dumps(
        {"taskId": task.task_id, "sourceArn": task.source_arn}, separators=(",", ":")
    )
    return base64.b64encode(document.encode()).decode()


def read_handle(handle: str) -> tuple[str, str]:
    """(task id, source ARN) of a task handle; raises InvalidParameter."""
    try:
        document = json.loads(base64.b64decode(handle, validate=True))
        task_id, source_arn = document["taskId"], document["sourceArn"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidParameter("Value for parameter TaskHandle is invalid.") from None
    if not isinstance(task_id, str) or not isinstance(source_arn, str):
        raise InvalidParameter("Value for parameter TaskHandle is invalid.")
    return task_id, source_arn


def acting_for(task: MoveTaskRecord) -> RequestContext:
    """The context in which a mover acts for the principal who started ``task``: the
    sends it authorizes and the keys it uses."""
    fields = json.loads(task.starter)
    fields["session_policies"] = tuple(fields.get("session_policies") or ())
    return RequestContext(
        principal=Principal(**fields),
        region=task.source_arn.split(":")[3],
        request_id=f"message-move-task-{task.task_id}",
        secure_transport=True,
        sigv4=True,
    )


def _identity(principal: Principal) -> str:
    return json.dumps(dataclasses.asdict(principal), separators=(",", ":"))


def _fifo(queue: QueueRecord) -> bool:
    return queue.attributes.get("FifoQueue") == "true"


def _missing(name: str) -> InvalidParameter:
    # Imported here: the service module, which defines it, imports this one.
    from herald.sqs.service import MissingParameter

    return MissingParameter(f"The request must contain the parameter {name}.")
