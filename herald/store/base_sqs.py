"""The store interface for queues (the SQS-compatible part of Herald)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


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
