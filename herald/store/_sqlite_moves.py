"""Message move tasks (dead-letter queue redrive) in SQLite (mixed into SQLiteStore): a
task is leased by the node that runs it, and each batch of moves is one transaction that
renews the lease."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from herald.errors import NotFound
from herald.store._sqlite_sqs import (
    _MESSAGE_COLUMNS,
    _exists,
    _get_queue,
    _message,
    _message_row,
)
from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base_sqs import MoveBatch, MoveTaskRecord, MoveTaskStatus, QueuedMessage

_TASK_COLUMNS = (
    "task_id, source_arn, destination_arn, max_per_second, started_at, starter, status, "
    "to_move, moved, failure_reason, lease"
)
_ACTIVE = "status IN ('RUNNING', 'CANCELLING')"
KEPT_MOVE_TASKS = 10  # of a source queue, as many as ListMessageMoveTasks shows


class SQLiteMoves:
    _worker: SQLiteWorker
    lease_owner: str | None  # whose leases this store writes (see SQLiteDelivery)

    _arrived: Callable[[Any, str], None]  # SQLiteSQS's: messages were put in a queue

    async def start_move_task(self, task: MoveTaskRecord, now: float) -> MoveTaskRecord | None:
        def job(c: sqlite3.Connection) -> MoveTaskRecord | None:
            source = task.source_arn
            if c.execute(
                f"SELECT 1 FROM sqs_move_tasks WHERE source_arn = ? AND {_ACTIVE}", (source,)
            ).fetchone():
                return None
            (count,) = c.execute(
                "SELECT COUNT(*) FROM sqs_messages WHERE queue_arn = ? AND visible_at <= ? "
                "AND expires_at > ?",
                (source, now, now),
            ).fetchone()
            stored = replace(task, status=MoveTaskStatus.RUNNING, to_move=int(count), moved=0)
            c.execute(
                f"INSERT INTO sqs_move_tasks({_TASK_COLUMNS}, lease_until) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
                _task_row(stored),
            )
            c.execute(
                "DELETE FROM sqs_move_tasks WHERE source_arn = ? AND task_id NOT IN (SELECT "
                "task_id FROM sqs_move_tasks WHERE source_arn = ? ORDER BY started_at DESC, "
                "task_id DESC LIMIT ?)",
                (source, source, KEPT_MOVE_TASKS),
            )
            return stored

        result: MoveTaskRecord | None = await self._worker.call(job)
        return result

    async def move_task(self, task_id: str) -> MoveTaskRecord | None:
        result: MoveTaskRecord | None = await self._worker.call(lambda c: _get_task(c, task_id))
        return result

    async def move_tasks(self, source_arn: str, limit: int) -> list[MoveTaskRecord]:
        def job(c: sqlite3.Connection) -> list[MoveTaskRecord]:
            rows = c.execute(
                f"SELECT {_TASK_COLUMNS} FROM sqs_move_tasks WHERE source_arn = ? "
                "ORDER BY started_at DESC, task_id DESC LIMIT ?",
                (source_arn, limit),
            ).fetchall()
            return [_task(r) for r in rows]

        result: list[MoveTaskRecord] = await self._worker.call(job)
        return result

    async def cancel_move_task(self, task_id: str, now: float) -> MoveTaskRecord | None:
        def job(c: sqlite3.Connection) -> MoveTaskRecord | None:
            # A task no node runs is cancelled at once; one a node runs, by that node
            # after the move it may be making (nothing is moved after this commits).
            c.execute(
                "UPDATE sqs_move_tasks SET status = CASE WHEN lease_until > ? THEN "
                "'CANCELLING' ELSE 'CANCELLED' END WHERE task_id = ? AND status = 'RUNNING'",
                (now, task_id),
            )
            return _get_task(c, task_id)

        result: MoveTaskRecord | None = await self._worker.call(job)
        return result

    async def claim_move_task(self, now: float, lease_seconds: float) -> MoveTaskRecord | None:
        claim = self._move_claim()
        result: MoveTaskRecord | None = await self._worker.call(
            lambda c: claim_move_task(c, now, lease_seconds, claim)
        )
        return result

    def _move_claim(self) -> str:
        """A new claim's name: this store's lease owner (PostgreSQL: the node), then a
        random part, so that a node can end the leases of its previous run."""
        return f"{self.lease_owner or 'local'}/{uuid.uuid4().hex}"

    async def release_move_tasks(self) -> int:
        prefix = f"{self.lease_owner}/" if self.lease_owner else ""

        def job(c: sqlite3.Connection) -> int:
            return c.execute(
                "UPDATE sqs_move_tasks SET lease = NULL, lease_until = 0 WHERE lease IS NOT "
                "NULL AND substr(lease, 1, ?) = ?",
                (len(prefix), prefix),
            ).rowcount

        return int(await self._worker.call(job))

    async def next_moves(
        self, task_id: str, lease: str, now: float, limit: int, lease_seconds: float
    ) -> tuple[MoveTaskStatus | None, list[QueuedMessage]]:
        def job(c: sqlite3.Connection) -> tuple[MoveTaskStatus | None, list[QueuedMessage]]:
            task = _held(c, task_id, lease, now + lease_seconds)
            if task is None or task.status is MoveTaskStatus.CANCELLING:
                return _ended(c, task, lease, MoveTaskStatus.CANCELLED, None), []
            queue = _get_queue(c, task.source_arn)
            if queue is None:
                raise NotFound("The specified queue does not exist.")
            # Oldest first (SQS "Learn how to configure a dead-letter queue redrive").
            fifo = queue.attributes.get("FifoQueue") == "true"
            order = "sequence_number" if fifo else "sent_at, message_id"
            rows = c.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM sqs_messages WHERE queue_arn = ? "
                f"AND visible_at <= ? AND expires_at > ? AND sent_at <= ? ORDER BY {order} "
                "LIMIT ?",
                (task.source_arn, now, now, task.started_at, limit),
            ).fetchall()
            return task.status, [_message(r) for r in rows]

        result: tuple[MoveTaskStatus | None, list[QueuedMessage]]
        result = await self._worker.call(job)
        return result

    async def apply_moves(
        self,
        task_id: str,
        lease: str,
        now: float,
        moves: Sequence[tuple[QueuedMessage, QueuedMessage]],
        lease_seconds: float,
    ) -> MoveBatch:
        def job(c: sqlite3.Connection) -> MoveBatch:
            task = _held(c, task_id, lease, now + lease_seconds)
            if task is None or task.status is MoveTaskStatus.CANCELLING:
                return MoveBatch(0, _ended(c, task, lease, MoveTaskStatus.CANCELLED, None))
            moved, missing, present = 0, None, set()
            for old, new in moves:
                if new.queue_arn not in present:
                    if not _exists(c, new.queue_arn):
                        missing = new.queue_arn
                        break
                    present.add(new.queue_arn)
                # Only as it was read: a receive since (or a delete) keeps it where it is.
                if c.execute(
                    "DELETE FROM sqs_messages WHERE message_id = ? AND queue_arn = ? "
                    "AND visible_at <= ? AND expires_at > ? AND receive_count = ?",
                    (old.message_id, task.source_arn, now, now, old.receive_count),
                ).rowcount:
                    c.execute(
                        f"INSERT INTO sqs_messages({_MESSAGE_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        _message_row(new),
                    )
                    moved += 1
            c.execute(
                "UPDATE sqs_move_tasks SET moved = moved + ? WHERE task_id = ?", (moved, task_id)
            )
            for arn in present:
                self._arrived(c, arn)
            return MoveBatch(moved, task.status, missing)

        result: MoveBatch = await self._worker.call(job)
        return result

    async def end_move_task(
        self, task_id: str, lease: str, status: MoveTaskStatus, reason: str | None = None
    ) -> MoveTaskStatus | None:
        def job(c: sqlite3.Connection) -> MoveTaskStatus | None:
            return _ended(c, _held(c, task_id, lease, None), lease, status, reason)

        result: MoveTaskStatus | None = await self._worker.call(job)
        return result


def claim_move_task(
    c: sqlite3.Connection, now: float, lease_seconds: float, claim: str, lock: str = ""
) -> MoveTaskRecord | None:
    """Lease the oldest active task no lease holds to ``claim`` (within a job); PostgreSQL
    passes ``FOR UPDATE SKIP LOCKED`` as ``lock``, so that nodes claim different tasks."""
    row = c.execute(
        f"SELECT task_id FROM sqs_move_tasks WHERE {_ACTIVE} AND lease_until <= ? "
        f"ORDER BY started_at LIMIT 1{lock}",
        (now,),
    ).fetchone()
    if row is None:
        return None
    c.execute(
        "UPDATE sqs_move_tasks SET lease = ?, lease_until = ? WHERE task_id = ?",
        (claim, now + lease_seconds, row[0]),
    )
    return _get_task(c, row[0])


def _held(
    c: sqlite3.Connection, task_id: str, lease: str, until: float | None
) -> MoveTaskRecord | None:
    """The active task if ``lease`` still holds it (renewed to ``until`` if given)."""
    task = _get_task(c, task_id)
    if (
        task is None
        or task.lease != lease
        or task.status
        not in (
            MoveTaskStatus.RUNNING,
            MoveTaskStatus.CANCELLING,
        )
    ):
        return None
    if until is not None:
        c.execute("UPDATE sqs_move_tasks SET lease_until = ? WHERE task_id = ?", (until, task_id))
    return task


def _ended(
    c: sqlite3.Connection,
    task: MoveTaskRecord | None,
    lease: str,
    status: MoveTaskStatus,
    reason: str | None,
) -> MoveTaskStatus | None:
    """End ``task`` held by ``lease`` (a cancelled one as CANCELLED); None if not held."""
    if task is None or task.lease != lease:
        return None
    if task.status is MoveTaskStatus.CANCELLING:
        status, reason = MoveTaskStatus.CANCELLED, None
    c.execute(
        "UPDATE sqs_move_tasks SET status = ?, failure_reason = ?, lease = NULL, "
        "lease_until = 0 WHERE task_id = ?",
        (status.value, reason if status is MoveTaskStatus.FAILED else None, task.task_id),
    )
    return status


def _get_task(c: sqlite3.Connection, task_id: str) -> MoveTaskRecord | None:
    row = c.execute(
        f"SELECT {_TASK_COLUMNS} FROM sqs_move_tasks WHERE task_id = ?", (task_id,)
    ).fetchone()
    return None if row is None else _task(row)


def _task(row: Any) -> MoveTaskRecord:
    return MoveTaskRecord(
        task_id=row[0],
        source_arn=row[1],
        destination_arn=row[2],
        max_per_second=row[3],
        started_at=row[4],
        starter=row[5],
        status=MoveTaskStatus(row[6]),
        to_move=int(row[7]),
        moved=int(row[8]),
        failure_reason=row[9],
        lease=row[10],
    )


def _task_row(t: MoveTaskRecord) -> tuple[Any, ...]:
    return (
        t.task_id, t.source_arn, t.destination_arn, t.max_per_second, t.started_at, t.starter,
        t.status.value, t.to_move, t.moved, t.failure_reason,
    )  # fmt: skip
