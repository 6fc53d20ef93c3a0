"""Queues and their messages in SQLite (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from herald.errors import LimitExceeded, NotFound
from herald.store._sqlite_delivery import insert_deliveries
from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base import QueuedDeliveries
from herald.store.base_sqs import (
    QueueCounts,
    QueuedMessage,
    QueueRecord,
)

_QUEUE_COLUMNS = "arn, account_id, region, name, attributes, tags, created_at, updated_at"
_MESSAGE_COLUMNS = (
    "message_id, queue_arn, body, body_format, md5_body, message_attributes, md5_attributes, "
    "sender_id, sent_at, visible_at, expires_at, receive_count, first_received_at, "
    "receipt_handle, group_id, dedup_id, sequence_number, dead_letter_source, trace_header"
)


log = logging.getLogger("herald.store")
DEAD_LETTER_MOVES = 1000  # messages a receive moves to the dead-letter queue at most


class SQLiteSQS:
    _worker: SQLiteWorker

    def _arrived(self, c: Any, queue_arn: str) -> None:
        """Messages were put in the queue (within the job): one process owns an SQLite
        store, whose SQS service wakes its own long polls; PostgreSQL tells other nodes."""

    def _enqueue_deliveries(self, c: sqlite3.Connection, queued: QueuedDeliveries) -> set[str]:
        """Within a publish: each delivery's message into its (standard) queue; the
        delivery row instead where the queue no longer exists (named in
        ``queued.kept``). Returns the ids of the messages that have no delivery row left
        so."""
        pairs = queued.pairs
        present = {arn for arn in {q.queue_arn for _, q in pairs} if _exists(c, arn)}
        c.executemany(
            f"INSERT INTO sqs_messages({_MESSAGE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_message_row(q) for _, q in pairs if q.queue_arn in present],
        )
        kept = [d for d, q in pairs if q.queue_arn not in present]
        insert_deliveries(c, kept)
        queued.kept = frozenset(d.delivery_id for d in kept)  # set again if run again
        for arn in present:
            self._arrived(c, arn)
        return {d.message_id for d, _ in pairs} - {d.message_id for d in kept}

    async def create_queue(self, queue: QueueRecord) -> tuple[QueueRecord, bool]:
        def job(c: sqlite3.Connection) -> tuple[QueueRecord, bool]:
            cursor = c.execute(
                f"INSERT OR IGNORE INTO sqs_queues({_QUEUE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    queue.arn,
                    queue.account_id,
                    queue.region,
                    queue.name,
                    json.dumps(dict(queue.attributes)),
                    json.dumps(dict(queue.tags)),
                    queue.created_at,
                    queue.updated_at,
                ),
            )
            existing = _get_queue(c, queue.arn)
            assert existing is not None
            return existing, cursor.rowcount == 1

        result: tuple[QueueRecord, bool] = await self._worker.call(job)
        return result

    async def get_queue(self, arn: str) -> QueueRecord | None:
        result: QueueRecord | None = await self._worker.call(lambda c: _get_queue(c, arn))
        return result

    async def list_queues(self, account_id: str, region: str, prefix: str) -> list[QueueRecord]:
        def job(c: sqlite3.Connection) -> list[QueueRecord]:
            rows = c.execute(
                f"SELECT {_QUEUE_COLUMNS} FROM sqs_queues WHERE account_id = ? AND region = ? "
                "AND substr(name, 1, ?) = ? ORDER BY name",
                (account_id, region, len(prefix), prefix),
            ).fetchall()
            return [_queue(r) for r in rows]

        result: list[QueueRecord] = await self._worker.call(job)
        return result

    async def delete_queue(self, arn: str, now: float = 0.0) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            c.execute("DELETE FROM sqs_messages WHERE queue_arn = ?", (arn,))
            c.execute("DELETE FROM sqs_dedup WHERE queue_arn = ?", (arn,))
            c.execute("DELETE FROM sqs_cooldowns WHERE queue_arn = ?", (arn,))
            c.execute("DELETE FROM sqs_move_tasks WHERE source_arn = ?", (arn,))
            deleted = c.execute("DELETE FROM sqs_queues WHERE arn = ?", (arn,)).rowcount == 1
            if deleted:
                c.execute(
                    "INSERT INTO sqs_cooldowns(queue_arn, kind, at) VALUES (?, 'deleted', ?)",
                    (arn, now),
                )
            return deleted

        return bool(await self._worker.call(job))

    async def deleted_since(self, arn: str, since: float) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            row = c.execute(
                "SELECT 1 FROM sqs_cooldowns WHERE queue_arn = ? AND kind = 'deleted' AND at >= ?",
                (arn, since),
            ).fetchone()
            return row is not None

        return bool(await self._worker.call(job))

    async def set_queue_attributes(
        self,
        arn: str,
        changes: Mapping[str, str] | Callable[[Mapping[str, str]], Mapping[str, str]],
        now: float,
    ) -> QueueRecord:
        def job(c: sqlite3.Connection) -> QueueRecord:
            queue = _get_queue(c, arn)
            if queue is None:
                raise NotFound("The specified queue does not exist.")
            made = changes(queue.attributes) if callable(changes) else changes
            merged = {**queue.attributes, **made}
            merged = {k: v for k, v in merged.items() if v != ""}
            c.execute(
                "UPDATE sqs_queues SET attributes = ?, updated_at = ? WHERE arn = ?",
                (json.dumps(merged), now, arn),
            )
            return replace(queue, attributes=merged, updated_at=now)

        result: QueueRecord = await self._worker.call(job)
        return result

    async def edit_queue_tags(
        self, arn: str, add: Mapping[str, str], remove: Sequence[str], max_tags: int
    ) -> None:
        def job(c: sqlite3.Connection) -> None:
            queue = _get_queue(c, arn)
            if queue is None:
                raise NotFound("The specified queue does not exist.")
            tags = {k: v for k, v in queue.tags.items() if k not in set(remove)}
            tags.update(add)
            if len(tags) > max_tags:
                raise LimitExceeded(f"Too many tags added for queue {queue.name}.")
            c.execute("UPDATE sqs_queues SET tags = ? WHERE arn = ?", (json.dumps(tags), arn))

        await self._worker.call(job)

    async def enqueue(
        self, messages: Sequence[QueuedMessage], dedup_since: float | None
    ) -> list[QueuedMessage]:
        def job(c: sqlite3.Connection) -> list[QueuedMessage]:
            # A queue deleted through another node may still be cached by the sender's.
            if messages and not _exists(c, messages[0].queue_arn):
                raise NotFound("The specified queue does not exist.")
            if dedup_since is not None and messages:
                c.execute(
                    "DELETE FROM sqs_dedup WHERE queue_arn = ? AND sent_at < ?",
                    (messages[0].queue_arn, dedup_since),
                )
            stored = []
            for message in messages:
                if dedup_since is not None and message.dedup_id is not None:
                    # A duplicate is answered as the first message (its id and sequence
                    # number) with the digests of what this request sent, which the
                    # sender's SDK checks.
                    row = c.execute(
                        "SELECT message_id, sequence_number FROM sqs_messages "
                        "WHERE queue_arn = ? AND dedup_id = ? AND sent_at >= ?",
                        (message.queue_arn, message.dedup_id, dedup_since),
                    ).fetchone()
                    if row is not None:
                        stored.append(replace(message, message_id=row[0], sequence_number=row[1]))
                        continue
                    row = c.execute(
                        "SELECT message_id, sequence_number FROM sqs_dedup WHERE queue_arn = ? "
                        "AND dedup_id = ? AND sent_at >= ?",
                        (message.queue_arn, message.dedup_id, dedup_since),
                    ).fetchone()
                    if row is not None:
                        stored.append(replace(message, message_id=row[0], sequence_number=row[1]))
                        continue
                    c.execute(
                        "INSERT OR REPLACE INTO sqs_dedup(queue_arn, dedup_id, message_id, "
                        "sequence_number, sent_at) VALUES (?, ?, ?, ?, ?)",
                        (
                            message.queue_arn,
                            message.dedup_id,
                            message.message_id,
                            message.sequence_number,
                            message.sent_at,
                        ),
                    )
                c.execute(
                    f"INSERT INTO sqs_messages({_MESSAGE_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _message_row(message),
                )
                stored.append(message)
            if messages:
                self._arrived(c, messages[0].queue_arn)
            return stored

        result: list[QueuedMessage] = await self._worker.call(job)
        return result

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
        def job(c: sqlite3.Connection) -> tuple[list[QueuedMessage], str | None]:
            # Expired messages are skipped here and removed by ``prune``: removing them
            # here would read the whole queue on every receive.
            order = "sequence_number" if fifo else "visible_at, sent_at"
            # Of a group with a message in flight, only the visible messages before the
            # first one in flight may be received (SQS FIFO delivery logic; AWS answers
            # so when a later message's visibility was extended, or an earlier one's
            # ended). Each busy group's first sequence number in flight is read once, in
            # SQL, not bound per group, which fails past the statement's limit (SQLite:
            # 32,766 unless built otherwise; PostgreSQL: 65,535).
            joined = (
                "LEFT JOIN (SELECT group_id AS busy_group, MIN(sequence_number) AS busy_from "
                "FROM sqs_messages WHERE queue_arn = ? AND visible_at > ? AND receive_count > 0 "
                "AND expires_at > ? AND group_id IS NOT NULL GROUP BY group_id) busy "
                "ON busy_group = group_id "
                if fifo
                else ""
            )
            excluded = "AND (busy_from IS NULL OR sequence_number < busy_from) " if fifo else ""
            busy = (queue_arn, now, now) if fifo else ()
            # Visible messages received maxReceiveCount times and not deleted go to the
            # dead-letter queue as they are (SQS "Using dead-letter queues"), a bounded
            # number at a time, before any is chosen: none stands in front of the fresh
            # ones. Not to a queue deleted since, where no one could ever receive them, nor
            # to the queue itself: those are received here as before.
            target = dead_letter
            if target is not None and (target[0] == queue_arn or not _exists(c, target[0])):
                target = None
            below = ""
            arrived = None
            if target is not None:
                cursor = c.execute(
                    "UPDATE sqs_messages SET queue_arn = ?, visible_at = ?, receipt_handle = NULL, "
                    "dead_letter_source = COALESCE(dead_letter_source, ?) WHERE message_id IN "
                    f"(SELECT message_id FROM sqs_messages {joined}WHERE queue_arn = ? "
                    "AND visible_at <= ? "
                    f"AND expires_at > ? AND receive_count >= ? {excluded}LIMIT ?)",
                    (target[0], now, queue_arn, *busy, queue_arn, now, now, target[1],
                     DEAD_LETTER_MOVES),
                )  # fmt: skip
                below = "AND receive_count < ? "
                if cursor.rowcount > 0:
                    arrived = target[0]
                    self._arrived(c, arrived)
            rows = c.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM sqs_messages {joined}WHERE queue_arn = ? "
                f"AND visible_at <= ? AND expires_at > ? {below}{excluded}"
                f"ORDER BY {order} LIMIT ?",
                (*busy, queue_arn, now, now, *([target[1]] if target else []), max_messages),
            ).fetchall()
            chosen: list[QueuedMessage] = []
            for row in rows:
                message = _message(row)
                handle = secrets.token_urlsafe(48)
                first = message.first_received_at or now
                c.execute(
                    "UPDATE sqs_messages SET visible_at = ?, receive_count = receive_count + 1, "
                    "first_received_at = ?, receipt_handle = ? WHERE message_id = ?",
                    (now + visibility_timeout, first, handle, message.message_id),
                )
                chosen.append(
                    replace(
                        message,
                        visible_at=now + visibility_timeout,
                        receive_count=message.receive_count + 1,
                        first_received_at=first,
                        receipt_handle=handle,
                    )
                )
            # One call may return several messages of a group, in order; later calls skip
            # those behind any of them still in flight (SQS FIFO delivery logic).
            return chosen, arrived

        # A standard queue's receive is answered before the commit (SQLite): lost in a
        # crash, it leaves its messages visible, to be received again (SQS delivers at
        # least once). A FIFO receive waits: it holds its message group.
        result: tuple[list[QueuedMessage], str | None]
        result = await self._worker.call(job, early=not fifo)
        chosen, arrived = result
        if arrived is not None and moved is not None:
            try:
                moved(arrived)
            except Exception:  # the messages are taken: the receive must still answer
                log.exception("a dead-letter queue's long polls could not be woken")
        return chosen

    async def delete_messages(
        self, queue_arn: str, receipt_handles: Sequence[str], now: float, fifo: bool
    ) -> list[str]:
        def job(c: sqlite3.Connection) -> list[str]:
            return [_delete(c, queue_arn, handle, now, fifo) for handle in receipt_handles]

        result: list[str] = await self._worker.call(job)
        return result

    async def change_visibility(
        self, queue_arn: str, changes: Sequence[tuple[str, float]], now: float
    ) -> list[str]:
        def job(c: sqlite3.Connection) -> list[str]:
            return [
                "ok"
                if c.execute(
                    "UPDATE sqs_messages SET visible_at = ? WHERE queue_arn = ? "
                    "AND receipt_handle = ?",
                    (visible_at, queue_arn, handle),
                ).rowcount
                else "unknown"
                for handle, visible_at in changes
            ]

        result: list[str] = await self._worker.call(job)
        return result

    async def purge_queue(self, queue_arn: str, now: float = 0.0, interval: float = 0.0) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            row = c.execute(
                "SELECT at FROM sqs_cooldowns WHERE queue_arn = ? AND kind = 'purged'",
                (queue_arn,),
            ).fetchone()
            if row is not None and now - row[0] < interval:
                return False
            c.execute(
                "INSERT OR REPLACE INTO sqs_cooldowns(queue_arn, kind, at) VALUES (?, 'purged', ?)",
                (queue_arn, now),
            )
            c.execute("DELETE FROM sqs_messages WHERE queue_arn = ?", (queue_arn,))
            return True

        return bool(await self._worker.call(job))

    async def queue_counts(self, queue_arn: str, now: float) -> QueueCounts:
        def job(c: sqlite3.Connection) -> QueueCounts:
            row = c.execute(
                "SELECT "
                "SUM(CASE WHEN visible_at <= ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN visible_at > ? AND receive_count > 0 THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN visible_at > ? AND receive_count = 0 THEN 1 ELSE 0 END) "
                "FROM sqs_messages WHERE queue_arn = ? AND expires_at > ?",
                (now, now, now, queue_arn, now),
            ).fetchone()
            return QueueCounts(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))

        result: QueueCounts = await self._worker.call(job)
        return result


def _delete(c: sqlite3.Connection, queue_arn: str, handle: str, now: float, fifo: bool) -> str:
    if fifo:
        row = c.execute(
            "SELECT visible_at FROM sqs_messages WHERE queue_arn = ? AND receipt_handle = ?",
            (queue_arn, handle),
        ).fetchone()
        if row is not None and row[0] <= now:
            return "expired"
    cursor = c.execute(
        "DELETE FROM sqs_messages WHERE queue_arn = ? AND receipt_handle = ?",
        (queue_arn, handle),
    )
    return "deleted" if cursor.rowcount == 1 else "gone"


def _exists(c: sqlite3.Connection, arn: str) -> bool:
    """Whether the queue exists (within a job)."""
    return c.execute("SELECT 1 FROM sqs_queues WHERE arn = ?", (arn,)).fetchone() is not None


def _get_queue(c: sqlite3.Connection, arn: str) -> QueueRecord | None:
    row = c.execute(f"SELECT {_QUEUE_COLUMNS} FROM sqs_queues WHERE arn = ?", (arn,)).fetchone()
    return None if row is None else _queue(row)


def _queue(row: Any) -> QueueRecord:
    return QueueRecord(
        row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]), row[6], row[7]
    )


def _message_row(m: QueuedMessage) -> tuple[Any, ...]:
    return (
        m.message_id, m.queue_arn, m.body, m.body_format, m.md5_body, m.message_attributes,
        m.md5_attributes, m.sender_id, m.sent_at, m.visible_at, m.expires_at, m.receive_count,
        m.first_received_at, m.receipt_handle, m.group_id, m.dedup_id, m.sequence_number,
        m.dead_letter_source, m.trace_header,
    )  # fmt: skip


def _message(row: Any) -> QueuedMessage:
    return QueuedMessage(
        message_id=row[0],
        queue_arn=row[1],
        body=bytes(row[2]),
        body_format=row[3],
        md5_body=row[4],
        message_attributes=row[5],
        md5_attributes=row[6],
        sender_id=row[7],
        sent_at=row[8],
        visible_at=row[9],
        expires_at=row[10],
        receive_count=row[11],
        first_received_at=row[12],
        receipt_handle=row[13],
        group_id=row[14],
        dedup_id=row[15],
        sequence_number=row[16],
        dead_letter_source=row[17],
        trace_header=row[18],
    )
