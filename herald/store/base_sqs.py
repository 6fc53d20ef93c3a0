"""The store interface for queues (the SQS-compatible part of Herald)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class QueueRecord:
    arn: str
    account_id: str
    region: str
    name: str
    attributes: Mapping[str, str]  # the settable ones, as set (defaults filled in)
    tags: Mapping[str, str]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class QueuedMessage:
    """A message in a queue. ``body`` is opaque to the store."""

    message_id: str
    queue_arn: str
    body: bytes = field(repr=False)
    body_format: str  # "plain" (later: sealed envelopes)
    md5_body: str
    message_attributes: str  # JSON
    md5_attributes: str | None
    sender_id: str
    sent_at: float
    visible_at: float
    expires_at: float
    receive_count: int = 0
    first_received_at: float | None = None
    receipt_handle: str | None = None
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None
    dead_letter_source: str | None = None  # the queue it was moved from, in a DLQ
    trace_header: str | None = None  # the AWSTraceHeader system attribute, as sent


@dataclass(frozen=True)
class QueueCounts:
    visible: int
    in_flight: int
    delayed: int


class MoveTaskStatus(StrEnum):
    """A message move task's status, as stored and as SQS names it."""

    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"  # cancelled while a node runs it: that node ends it
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


ACTIVE_MOVES = (MoveTaskStatus.RUNNING, MoveTaskStatus.CANCELLING)


@dataclass(frozen=True)
class MoveTaskRecord:
    """A message move task (StartMessageMoveTask): it moves the messages that were in the
    source queue when it started (sent at or before ``started_at``, epoch seconds) to the
    destination, or each back to its dead-letter source when that is None."""

    task_id: str
    source_arn: str
    destination_arn: str | None
    max_per_second: int | None
    started_at: float
    starter: str = field(repr=False)  # who started it (JSON), for the key service
    status: MoveTaskStatus = MoveTaskStatus.RUNNING
    to_move: int = 0  # visible messages in the source at the start
    moved: int = 0
    failure_reason: str | None = None
    lease: str | None = None  # the claim of the node running it, while one does


@dataclass(frozen=True)
class MoveBatch:
    """What ``apply_moves`` did: ``moved`` messages; the task's status after (None once
    the claim lost it); and the first destination found deleted, if one was (none of the
    moves from there on were made)."""

    moved: int
    status: MoveTaskStatus | None
    missing: str | None = None


class SQSStore(ABC):
    @abstractmethod
    async def create_queue(self, queue: QueueRecord) -> tuple[QueueRecord, bool]:
        """The queue of that ARN (created now, or the existing one) and whether it is new."""

    @abstractmethod
    async def get_queue(self, arn: str) -> QueueRecord | None: ...

    @abstractmethod
    async def list_queues(self, account_id: str, region: str, prefix: str) -> list[QueueRecord]:
        """Ordered by name."""

    @abstractmethod
    async def delete_queue(self, arn: str, now: float = 0.0) -> bool:
        """Delete the queue and its messages; ``now`` is remembered for
        ``deleted_since``."""

    @abstractmethod
    async def deleted_since(self, arn: str, since: float) -> bool:
        """Whether a queue of this ARN was deleted at or after ``since``."""

    @abstractmethod
    async def set_queue_attributes(
        self,
        arn: str,
        changes: Mapping[str, str] | Callable[[Mapping[str, str]], Mapping[str, str]],
        now: float,
    ) -> QueueRecord:
        """Merge ``changes`` into the attributes ("" removes one); given a function, the
        changes it makes of the current attributes, in the same transaction (an edit that
        another's cannot undo, as AddPermission needs). Raises NotFound, and what the
        function raises."""

    @abstractmethod
    async def edit_queue_tags(
        self, arn: str, add: Mapping[str, str], remove: Sequence[str], max_tags: int
    ) -> None:
        """Raises NotFound, LimitExceeded."""

    @abstractmethod
    async def enqueue(
        self, messages: Sequence[QueuedMessage], dedup_since: float | None
    ) -> list[QueuedMessage]:
        """Add messages; with ``dedup_since`` (FIFO) a message whose deduplication id was
        seen in the queue since then is not added again: the earlier one is returned in
        its place."""

    @abstractmethod
    async def receive(
        self,
        queue_arn: str,
        now: float,
        max_messages: int,
        visibility_timeout: float,
        fifo: bool,
        dead_letter: tuple[str, int] | None,
        moved: Callable[[str], None] | None = None,
    ) -> list[QueuedMessage]:
        """Up to ``max_messages`` visible messages, now in flight with new receipt
        handles; expired ones are skipped (``prune`` removes them), and with
        ``dead_letter`` (queue ARN, maxReceiveCount) those received too often move there:
        ``moved`` then hears the dead-letter queue's ARN (on the caller's event loop) and
        other nodes hear of the arrival as of a send. FIFO: oldest first, and of a group
        with a message in flight only the messages before it."""

    @abstractmethod
    async def delete_messages(
        self, queue_arn: str, receipt_handles: Sequence[str], now: float, fifo: bool
    ) -> list[str]:
        """For each handle, in one transaction: "deleted", "gone" (no message has that
        handle) or, for FIFO queues, "expired" (the handle's visibility timeout has
        passed; nothing is deleted)."""

    @abstractmethod
    async def change_visibility(
        self, queue_arn: str, changes: Sequence[tuple[str, float]], now: float
    ) -> list[str]:
        """Set each (receipt handle, visible at), in one transaction: "ok" or "unknown"
        (no message has that handle)."""

    @abstractmethod
    async def purge_queue(self, queue_arn: str, now: float = 0.0, interval: float = 0.0) -> bool:
        """Remove the queue's messages, unless it was purged less than ``interval``
        seconds before ``now`` (then False, nothing removed); one decides at a time."""

    @abstractmethod
    async def queue_counts(self, queue_arn: str, now: float) -> QueueCounts: ...

    # -- message move tasks (dead-letter queue redrive) ----------------------------------

    @abstractmethod
    async def start_move_task(self, task: MoveTaskRecord, now: float) -> MoveTaskRecord | None:
        """Store a new RUNNING task, with the source's visible messages at ``now`` as its
        ``to_move``; None (nothing stored) while the source has an active task. Only the
        10 latest tasks of a source are kept."""

    @abstractmethod
    async def move_task(self, task_id: str) -> MoveTaskRecord | None: ...

    @abstractmethod
    async def move_tasks(self, source_arn: str, limit: int) -> list[MoveTaskRecord]:
        """The source's latest tasks, most recent first."""

    @abstractmethod
    async def cancel_move_task(self, task_id: str, now: float) -> MoveTaskRecord | None:
        """A RUNNING task becomes CANCELLING while a node's lease holds it (that node ends
        it), CANCELLED otherwise; others stay as they are. The task after, or None."""

    @abstractmethod
    async def claim_move_task(self, now: float, lease_seconds: float) -> MoveTaskRecord | None:
        """An active task no lease holds (the oldest), now leased by a new claim named in
        its ``lease``; one claim holds a task at a time, on any node."""

    @abstractmethod
    async def release_move_tasks(self) -> int:
        """End the leases this store's previous run held (SQLite: every lease)."""

    @abstractmethod
    async def next_moves(
        self, task_id: str, lease: str, now: float, limit: int, lease_seconds: float
    ) -> tuple[MoveTaskStatus | None, list[QueuedMessage]]:
        """For a claim that holds the task (its lease renewed): its status and the next
        ``limit`` messages to move, oldest first (visible, unexpired, sent by the task's
        start). A CANCELLING task becomes CANCELLED here; (None, []) once the claim lost
        the task. Raises NotFound when the source queue no longer exists."""

    @abstractmethod
    async def apply_moves(
        self,
        task_id: str,
        lease: str,
        now: float,
        moves: Sequence[tuple[QueuedMessage, QueuedMessage]],
        lease_seconds: float,
    ) -> MoveBatch:
        """In one transaction, for a claim that holds a RUNNING task: each (message read by
        ``next_moves``, its replacement) whose message is still in the source as read
        (visible, received no more times) is removed and its replacement stored, counted
        in the task's ``moved``; other nodes hear of the arrivals as of a send."""

    @abstractmethod
    async def end_move_task(
        self, task_id: str, lease: str, status: MoveTaskStatus, reason: str | None = None
    ) -> MoveTaskStatus | None:
        """End a task its claim holds with ``status`` (a CANCELLING one: CANCELLED); the
        status it ended with, or None once the claim lost the task."""
