"""The embedded store: SQLite in WAL mode (see ``_sqlite_worker`` for how it commits).

Each method is one job run on the worker's connection, so it happens whole or not at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from herald.errors import (
    NotFound,
    ResourceNotFound,
    SubscriptionLimitExceeded,
    TagLimitExceeded,
)
from herald.store._sqlite_delivery import SQLiteDelivery, insert_deliveries
from herald.store._sqlite_iam import SQLiteGroups, SQLiteIAM
from herald.store._sqlite_kms import SQLiteKMS
from herald.store._sqlite_kms_log import SQLiteKMSLog
from herald.store._sqlite_moves import SQLiteMoves
from herald.store._sqlite_roles import SQLiteRoles
from herald.store._sqlite_sessions import SQLiteSessions
from herald.store._sqlite_sqs import SQLiteSQS
from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base import (
    DEDUP_SECONDS,
    PRUNE_BATCH,
    SEALING_KEY_KEEP_SECONDS,
    SEALING_MARGIN_SECONDS,
    AccessKeyRecord,
    AttributeEdit,
    KeyStatus,
    MessageRecord,
    QueuedDeliveries,
    Sealer,
    SealingKeyRecord,
    Store,
    SubscriptionRecord,
    TopicCounts,
    TopicRecord,
)
from herald.store.base_delivery import DeliveryRecord


def _admit(
    c: sqlite3.Connection, messages: Sequence[MessageRecord], dedup_since: float | None
) -> tuple[dict[str, tuple[str, str | None]], dict[str, str]]:
    """(duplicates, numbered), messages taken in order (see ``Store.add_messages``):
    the duplicates among ``messages`` by their deduplication ids, and the final sequence
    numbers of the FIFO messages that are not duplicates."""
    duplicates: dict[str, tuple[str, str | None]] = {}
    numbered: dict[str, str] = {}
    for m in messages:
        if dedup_since is not None and m.deduplication_id is not None:
            row = c.execute(
                "SELECT message_id, sequence_number FROM sns_dedup "
                "WHERE topic_arn = ? AND dedup_id = ? AND published_at >= ?",
                (m.topic_arn, m.deduplication_id, dedup_since),
            ).fetchone()
            if row is not None:
                duplicates[m.message_id] = (str(row[0]), row[1])
                continue
        number = m.sequence_number
        if number is not None:
            # Larger than any given before in the topic (also by other nodes): the
            # publisher's proposal, or the last one plus one.
            last = c.execute(
                "SELECT last_sequence FROM sns_sequences WHERE topic_arn = ?", (m.topic_arn,)
            ).fetchone()
            number = f"{max(int(number), (int(last[0]) if last else 0) + 1):020d}"
            c.execute(
                "INSERT OR REPLACE INTO sns_sequences(topic_arn, last_sequence) VALUES (?, ?)",
                (m.topic_arn, number),
            )
            numbered[m.message_id] = number
        if dedup_since is not None and m.deduplication_id is not None:
            c.execute(
                "INSERT OR REPLACE INTO sns_dedup(topic_arn, dedup_id, message_id, "
                "sequence_number, published_at) VALUES (?, ?, ?, ?, ?)",
                (m.topic_arn, m.deduplication_id, m.message_id, number, m.published_at),
            )
    return duplicates, numbered


class SQLiteStore(
    SQLiteIAM,
    SQLiteGroups,
    SQLiteRoles,
    SQLiteSessions,
    SQLiteKMS,
    SQLiteKMSLog,
    SQLiteSQS,
    SQLiteMoves,
    SQLiteDelivery,
    Store,
):
    def __init__(self, path: Path | str, sealer: Sealer | None = None) -> None:
        """``sealer`` seals access-key secrets at rest (the server passes one made from the
        root key); without one they are kept as given."""
        self._worker = SQLiteWorker(str(path))
        self._call = self._worker.call
        self._sealer: Sealer = sealer or _Unsealed()

    async def open(self) -> None:
        await self._worker.open()

    async def close(self) -> None:
        await self._worker.close()

    # -- accounts and credentials ------------------------------------------------------

    async def ensure_account(self, account_id: str, now: float) -> None:
        await self._call(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO accounts(id, created_at) VALUES (?, ?)", (account_id, now)
            )
        )

    async def create_account(self, account_id: str, now: float) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "INSERT OR IGNORE INTO accounts(id, created_at) VALUES (?, ?)", (account_id, now)
            )
            return cursor.rowcount == 1

        return await self._call(job)

    async def list_accounts(self) -> list[tuple[str, float]]:
        def job(c: sqlite3.Connection) -> list[tuple[str, float]]:
            rows = c.execute("SELECT id, created_at FROM accounts ORDER BY id").fetchall()
            return [(r[0], r[1]) for r in rows]

        return await self._call(job)

    async def put_access_key(self, key: AccessKeyRecord) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT OR REPLACE INTO access_keys(access_key_id, secret, account_id, "
                "principal_arn, user_id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.access_key_id,
                    self._sealer.seal(f"access-key:{key.access_key_id}", key.secret_access_key),
                    key.account_id,
                    key.principal_arn,
                    key.user_id,
                    key.status.value,
                    key.created_at,
                ),
            )

        await self._call(job)

    async def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        def job(c: sqlite3.Connection) -> AccessKeyRecord | None:
            row = c.execute(
                "SELECT access_key_id, secret, account_id, principal_arn, user_id, status, "
                "created_at FROM access_keys WHERE access_key_id = ?",
                (access_key_id,),
            ).fetchone()
            if row is None:
                return None
            secret = self._sealer.open(f"access-key:{row[0]}", row[1])
            return AccessKeyRecord(
                row[0], secret, row[2], row[3], row[4], KeyStatus(row[5]), row[6]
            )

        return await self._call(job)

    async def deactivate_access_keys(self, principal_arn: str, keep: str) -> list[str]:
        def job(c: sqlite3.Connection) -> list[str]:
            rows = c.execute(
                "SELECT access_key_id FROM access_keys WHERE principal_arn = ? "
                "AND access_key_id != ? AND status = ?",
                (principal_arn, keep, KeyStatus.ACTIVE.value),
            ).fetchall()
            c.executemany(
                "UPDATE access_keys SET status = ? WHERE access_key_id = ?",
                [(KeyStatus.INACTIVE.value, r[0]) for r in rows],
            )
            return [r[0] for r in rows]

        return await self._call(job)

    # -- topics ------------------------------------------------------------------------

    async def create_topic(
        self, topic: TopicRecord, tags: Mapping[str, str]
    ) -> tuple[TopicRecord, bool]:
        def job(c: sqlite3.Connection) -> tuple[TopicRecord, bool]:
            existing = _get_topic(c, topic.arn)
            if existing is not None:
                return existing, False
            c.execute(
                "INSERT INTO topics(arn, account_id, region, name, attributes, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    topic.arn,
                    topic.account_id,
                    topic.region,
                    topic.name,
                    json.dumps(dict(topic.attributes)),
                    topic.created_at,
                ),
            )
            c.executemany(
                "INSERT INTO tags(resource_arn, key, value) VALUES (?, ?, ?)",
                [(topic.arn, k, v) for k, v in tags.items()],
            )
            return topic, True

        return await self._call(job)

    async def get_topic(self, arn: str) -> TopicRecord | None:
        return await self._call(lambda c: _get_topic(c, arn))

    async def edit_topic_attributes(self, arn: str, edit: AttributeEdit) -> TopicRecord:
        def job(c: sqlite3.Connection) -> TopicRecord:
            topic = _get_topic(c, arn)
            if topic is None:
                raise NotFound("Topic does not exist")
            attributes = dict(edit(topic.attributes))
            c.execute(
                "UPDATE topics SET attributes = ? WHERE arn = ?", (json.dumps(attributes), arn)
            )
            return TopicRecord(
                topic.arn, topic.account_id, topic.region, topic.name, attributes, topic.created_at
            )

        return await self._call(job)

    async def delete_topic(self, arn: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM subscriptions WHERE topic_arn = ?", (arn,))
            c.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))
            c.execute("DELETE FROM topics WHERE arn = ?", (arn,))

        await self._call(job)

    async def list_topics(
        self, account_id: str, region: str, after: str | None, limit: int
    ) -> list[TopicRecord]:
        def job(c: sqlite3.Connection) -> list[TopicRecord]:
            rows = c.execute(
                f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE account_id = ? AND region = ? "
                "AND arn > ? ORDER BY arn LIMIT ?",
                (account_id, region, after or "", limit),
            ).fetchall()
            return [_topic(r) for r in rows]

        return await self._call(job)

    async def count_topics(self, account_id: str, region: str | None = None) -> int:
        def job(c: sqlite3.Connection) -> int:
            if region is None:
                row = c.execute(
                    "SELECT COUNT(*) FROM topics WHERE account_id = ?", (account_id,)
                ).fetchone()
            else:
                row = c.execute(
                    "SELECT COUNT(*) FROM topics WHERE account_id = ? AND region = ?",
                    (account_id, region),
                ).fetchone()
            return int(row[0])

        return await self._call(job)

    async def topic_counts(self, arn: str) -> TopicCounts:
        def job(c: sqlite3.Connection) -> TopicCounts:
            row = c.execute(
                "SELECT COALESCE(SUM(confirmed), 0), COALESCE(SUM(1 - confirmed), 0) "
                "FROM subscriptions WHERE topic_arn = ?",
                (arn,),
            ).fetchone()
            deleted = c.execute(
                "SELECT subscriptions_deleted FROM topics WHERE arn = ?", (arn,)
            ).fetchone()
            return TopicCounts(int(row[0]), int(row[1]), int(deleted[0]) if deleted else 0)

        return await self._call(job)

    # -- tags --------------------------------------------------------------------------

    async def tag_resource(self, arn: str, tags: Mapping[str, str], max_tags: int) -> None:
        def job(c: sqlite3.Connection) -> None:
            _require_resource(c, arn)
            c.executemany(
                "INSERT INTO tags(resource_arn, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(resource_arn, key) DO UPDATE SET value = excluded.value",
                [(arn, k, v) for k, v in tags.items()],
            )
            count = c.execute(
                "SELECT COUNT(*) FROM tags WHERE resource_arn = ?", (arn,)
            ).fetchone()[0]
            if count > max_tags:
                raise TagLimitExceeded(
                    "Could not complete request: tag quota of per resource exceeded"
                )

        await self._call(job)

    async def untag_resource(self, arn: str, keys: Sequence[str]) -> None:
        def job(c: sqlite3.Connection) -> None:
            _require_resource(c, arn)
            c.executemany(
                "DELETE FROM tags WHERE resource_arn = ? AND key = ?", [(arn, k) for k in keys]
            )

        await self._call(job)

    async def list_tags(self, arn: str) -> dict[str, str]:
        def job(c: sqlite3.Connection) -> dict[str, str]:
            _require_resource(c, arn)
            rows = c.execute(
                "SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key", (arn,)
            ).fetchall()
            return {k: v for k, v in rows}

        return await self._call(job)

    # -- subscriptions -----------------------------------------------------------------

    async def create_subscription(
        self, sub: SubscriptionRecord, max_per_topic: int
    ) -> tuple[SubscriptionRecord, bool]:
        def job(c: sqlite3.Connection) -> tuple[SubscriptionRecord, bool]:
            if _get_topic(c, sub.topic_arn) is None:
                raise NotFound("Topic does not exist")
            row = c.execute(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions "
                "WHERE topic_arn = ? AND protocol = ? AND endpoint = ?",
                (sub.topic_arn, sub.protocol, sub.endpoint),
            ).fetchone()
            if row is not None:
                return _subscription(row), False
            count = c.execute(
                "SELECT COUNT(*) FROM subscriptions WHERE topic_arn = ?", (sub.topic_arn,)
            ).fetchone()[0]
            if count >= max_per_topic:
                raise SubscriptionLimitExceeded("Too many subscriptions for this topic.")
            c.execute(
                f"INSERT INTO subscriptions({_SUB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sub.arn,
                    sub.topic_arn,
                    sub.owner,
                    sub.protocol,
                    sub.endpoint,
                    json.dumps(dict(sub.attributes)),
                    int(sub.confirmed),
                    sub.token,
                    sub.token_expires_at,
                    sub.created_at,
                ),
            )
            return sub, True

        return await self._call(job)

    async def get_subscription(self, arn: str) -> SubscriptionRecord | None:
        return await self._call(lambda c: _get_subscription(c, "arn", arn))

    async def find_subscription_by_token(self, token: str) -> SubscriptionRecord | None:
        return await self._call(lambda c: _get_subscription(c, "token", token))

    async def update_subscription(
        self,
        arn: str,
        *,
        set_: Mapping[str, str] | None = None,
        remove: Sequence[str] = (),
        confirmed: bool | None = None,
        token: str | None = None,
        token_expires_at: float | None = None,
    ) -> SubscriptionRecord:
        def job(c: sqlite3.Connection) -> SubscriptionRecord:
            sub = _get_subscription(c, "arn", arn)
            if sub is None:
                raise NotFound("Subscription does not exist")
            attributes = dict(sub.attributes)
            attributes.update(set_ or {})
            for name in remove:
                attributes.pop(name, None)
            new_confirmed = sub.confirmed if confirmed is None else confirmed
            new_token = sub.token if token is None else token
            new_expiry = sub.token_expires_at if token_expires_at is None else token_expires_at
            c.execute(
                "UPDATE subscriptions SET attributes = ?, confirmed = ?, token = ?, "
                "token_expires_at = ? WHERE arn = ?",
                (json.dumps(attributes), int(new_confirmed), new_token, new_expiry, arn),
            )
            return SubscriptionRecord(
                sub.arn,
                sub.topic_arn,
                sub.owner,
                sub.protocol,
                sub.endpoint,
                attributes,
                new_confirmed,
                new_token,
                new_expiry,
                sub.created_at,
            )

        return await self._call(job)

    async def edit_subscription_attributes(
        self, arn: str, edit: AttributeEdit
    ) -> SubscriptionRecord:
        def job(c: sqlite3.Connection) -> SubscriptionRecord:
            sub = _get_subscription(c, "arn", arn)
            if sub is None:
                raise NotFound("Subscription does not exist")
            attributes = dict(edit(sub.attributes))
            c.execute(
                "UPDATE subscriptions SET attributes = ? WHERE arn = ?",
                (json.dumps(attributes), arn),
            )
            return replace(sub, attributes=attributes)

        return await self._call(job)

    async def delete_subscription(self, arn: str) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            row = c.execute("SELECT topic_arn FROM subscriptions WHERE arn = ?", (arn,)).fetchone()
            if row is None:
                return False
            c.execute("DELETE FROM subscriptions WHERE arn = ?", (arn,))
            c.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))
            c.execute(
                "UPDATE topics SET subscriptions_deleted = subscriptions_deleted + 1 WHERE arn = ?",
                (row[0],),
            )
            return True

        return await self._call(job)

    async def list_subscriptions(
        self, account_id: str, region: str, after: str | None, limit: int
    ) -> list[SubscriptionRecord]:
        def job(c: sqlite3.Connection) -> list[SubscriptionRecord]:
            rows = c.execute(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE topic_arn IN "
                "(SELECT arn FROM topics WHERE account_id = ? AND region = ?) "
                "AND arn > ? ORDER BY arn LIMIT ?",
                (account_id, region, after or "", limit),
            ).fetchall()
            return [_subscription(r) for r in rows]

        return await self._call(job)

    async def list_subscriptions_by_topic(
        self, topic_arn: str, after: str | None, limit: int
    ) -> list[SubscriptionRecord]:
        def job(c: sqlite3.Connection) -> list[SubscriptionRecord]:
            rows = c.execute(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE topic_arn = ? AND arn > ? "
                "ORDER BY arn LIMIT ?",
                (topic_arn, after or "", limit),
            ).fetchall()
            return [_subscription(r) for r in rows]

        return await self._call(job)

    # -- messages ----------------------------------------------------------------------

    async def add_messages(
        self,
        messages: Sequence[MessageRecord],
        deliveries: Sequence[DeliveryRecord] = (),
        dedup_since: float | None = None,
        leased_until: float = 0.0,
        queued: QueuedDeliveries | None = None,
        sealing_keys: Sequence[SealingKeyRecord] = (),
    ) -> dict[str, tuple[str, str | None]]:
        owner = self.lease_owner
        keys = [
            (k.sealing_id, k.topic_arn, k.key_arn, k.data_key, k.publisher_identity,
             k.created_at, k.sealing_until)
            for k in sealing_keys
        ]  # fmt: skip
        rows = [
            (
                m.message_id,
                m.topic_arn,
                m.subject,
                m.body,
                m.body_format,
                m.message_structure,
                m.attributes,
                m.group_id,
                m.deduplication_id,
                m.sequence_number,
                m.publisher_arn,
                m.published_at,
                m.publisher_identity or None,
            )
            for m in messages
        ]

        def job(c: sqlite3.Connection) -> dict[str, tuple[str, str | None]]:
            # FIFO: duplicates dropped, sequence numbers in the order of the commits.
            duplicates, numbered = _admit(c, messages, dedup_since)
            # A message whose deliveries were all put in their queues is kept by no one.
            done = self._enqueue_deliveries(c, queued) if queued is not None else set()
            done -= {d.message_id for d in deliveries}
            if keys:
                c.executemany(
                    f"INSERT OR IGNORE INTO sealing_keys({_SEALING_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    keys,
                )
            c.executemany(
                f"INSERT INTO messages({_MESSAGE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*r[:9], numbered.get(r[0], r[9]), *r[10:])
                    for r in rows
                    if r[0] not in duplicates and r[0] not in done
                ],
            )
            insert_deliveries(
                c,
                [
                    replace(d, sequence=numbered.get(d.message_id, d.sequence))
                    for d in deliveries
                    if d.message_id not in duplicates
                ],
                leased_until,
                owner,
            )
            return {**{k: (k, v) for k, v in numbered.items()}, **duplicates}

        result: dict[str, tuple[str, str | None]] = await self._call(job)
        return result

    async def ping(self) -> None:
        await self._call(lambda c: c.execute("SELECT 1").fetchone())

    async def prune(self, now: float, audit_before: float) -> int:
        def job(c: sqlite3.Connection) -> int:
            window = now - DEDUP_SECONDS
            removed = c.execute(
                "DELETE FROM messages WHERE message_id IN (SELECT m.message_id FROM messages m "
                "WHERE m.published_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d "
                "WHERE d.message_id = m.message_id) LIMIT ?)",
                (window, PRUNE_BATCH),
            ).rowcount
            removed += c.execute(
                "DELETE FROM sns_dedup WHERE (topic_arn, dedup_id) IN (SELECT topic_arn, "
                "dedup_id FROM sns_dedup WHERE published_at < ? LIMIT ?)",
                (window, PRUNE_BATCH),
            ).rowcount
            removed += c.execute(
                "DELETE FROM sqs_messages WHERE message_id IN (SELECT message_id "
                "FROM sqs_messages WHERE expires_at <= ? LIMIT ?)",
                (now, PRUNE_BATCH),
            ).rowcount
            # Only the messages of its topic published while a key sealed can name it,
            # found through messages_by_time; their topic is read, not their bodies (which
            # follow it in the row and can fill overflow pages).
            removed += c.execute(
                "DELETE FROM sealing_keys WHERE sealing_id IN (SELECT k.sealing_id "
                "FROM sealing_keys k WHERE k.sealing_until < ? AND NOT EXISTS (SELECT 1 "
                "FROM messages m WHERE m.published_at >= k.created_at - ? "
                "AND m.published_at <= k.sealing_until + ? AND m.topic_arn = k.topic_arn) "
                "LIMIT ?)",
                (
                    now - SEALING_KEY_KEEP_SECONDS,
                    SEALING_MARGIN_SECONDS,
                    SEALING_MARGIN_SECONDS,
                    PRUNE_BATCH,
                ),
            ).rowcount
            # Queue cool-downs last 60 seconds; an hour keeps clock skew between nodes safe.
            c.execute("DELETE FROM sqs_cooldowns WHERE at < ?", (now - 3600,))
            removed += c.execute(
                "DELETE FROM kms_audit WHERE event_id IN (SELECT event_id FROM kms_audit "
                "WHERE event_time < ? LIMIT ?)",
                (audit_before, PRUNE_BATCH),
            ).rowcount
            return int(removed)

        result: int = await self._call(job)
        return result

    async def get_message(self, message_id: str) -> MessageRecord | None:
        def job(c: sqlite3.Connection) -> MessageRecord | None:
            row = c.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE message_id = ?", (message_id,)
            ).fetchone()
            if row is None:
                return None
            return MessageRecord(
                message_id=row[0],
                topic_arn=row[1],
                subject=row[2],
                body=bytes(row[3]),
                body_format=row[4],
                message_structure=row[5],
                attributes=row[6],
                group_id=row[7],
                deduplication_id=row[8],
                sequence_number=row[9],
                publisher_arn=row[10],
                published_at=row[11],
                publisher_identity=row[12] or "",
            )

        return await self._call(job)

    async def get_sealing_key(self, sealing_id: bytes) -> SealingKeyRecord | None:
        def job(c: sqlite3.Connection) -> SealingKeyRecord | None:
            row = c.execute(
                f"SELECT {_SEALING_COLUMNS} FROM sealing_keys WHERE sealing_id = ?",
                (sealing_id,),
            ).fetchone()
            if row is None:
                return None
            return SealingKeyRecord(
                bytes(row[0]), row[1], row[2], bytes(row[3]), row[4], row[5], row[6]
            )

        return await self._call(job)

    async def count_messages(self, topic_arn: str) -> int:
        def job(c: sqlite3.Connection) -> int:
            row = c.execute(
                "SELECT COUNT(*) FROM messages WHERE topic_arn = ?", (topic_arn,)
            ).fetchone()
            return int(row[0])

        return await self._call(job)


# -- helpers run on the store thread ---------------------------------------------------

_TOPIC_COLUMNS = "arn, account_id, region, name, attributes, created_at"
_SUB_COLUMNS = (
    "arn, topic_arn, owner, protocol, endpoint, attributes, confirmed, token, "
    "token_expires_at, created_at"
)
_SEALING_COLUMNS = (
    "sealing_id, topic_arn, key_arn, data_key, publisher_identity, created_at, sealing_until"
)
_MESSAGE_COLUMNS = (
    "message_id, topic_arn, subject, body, body_format, message_structure, attributes, "
    "group_id, deduplication_id, sequence_number, publisher_arn, published_at, "
    "publisher_identity"
)


def _topic(row: Sequence[Any]) -> TopicRecord:
    return TopicRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])


def _get_topic(c: sqlite3.Connection, arn: str) -> TopicRecord | None:
    row = c.execute(f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE arn = ?", (arn,)).fetchone()
    return None if row is None else _topic(row)


def _subscription(row: Sequence[Any]) -> SubscriptionRecord:
    return SubscriptionRecord(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        json.loads(row[5]),
        bool(row[6]),
        row[7],
        row[8],
        row[9],
    )


def _get_subscription(c: sqlite3.Connection, column: str, value: str) -> SubscriptionRecord | None:
    assert column in ("arn", "token")
    row = c.execute(
        f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE {column} = ?", (value,)
    ).fetchone()
    return None if row is None else _subscription(row)


def _require_resource(c: sqlite3.Connection, arn: str) -> None:
    found = c.execute("SELECT 1 FROM topics WHERE arn = ?", (arn,)).fetchone()
    if found is None:
        raise ResourceNotFound("Resource does not exist")


class _Unsealed:
    def seal(self, purpose: str, secret: str) -> str:
        return secret

    def open(self, purpose: str, stored: str) -> str:
        return stored
