"""Deliveries and signing keys in SQLite (mixed into SQLiteStore)."""

from __future__ import annotations

import sqlite3
from typing import Any

from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base import Sealer
from herald.store.base_delivery import DeliveryRecord, SigningKey

_COLUMNS = (
    "delivery_id, message_id, topic_arn, subscription_arn, protocol, endpoint, raw, attempts, "
    "next_attempt_at, created_at, kind, token, group_key, sequence"
)
# Due, not leased, and (FIFO) the first undelivered delivery of its message group.
_CLAIMABLE = (
    "next_attempt_at <= ? AND lease_until <= ? AND (group_key IS NULL OR NOT EXISTS "
    "(SELECT 1 FROM deliveries e WHERE e.group_key = deliveries.group_key "
    "AND e.sequence < deliveries.sequence))"
)


class SQLiteDelivery:
    _worker: SQLiteWorker
    _sealer: Sealer
    # Whose leases this store writes: one process owns an SQLite folder (None); each
    # PostgreSQL node names itself.
    lease_owner: str | None = None

    async def claim_deliveries(
        self, now: float, limit: int, lease_seconds: float
    ) -> list[DeliveryRecord]:
        def job(c: sqlite3.Connection) -> list[DeliveryRecord]:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE {_CLAIMABLE} "
                "ORDER BY next_attempt_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            c.executemany(
                "UPDATE deliveries SET lease_until = ? WHERE delivery_id = ?",
                [(now + lease_seconds, r[0]) for r in rows],
            )
            return [_delivery(r) for r in rows]

        result: list[DeliveryRecord] = await self._worker.call(job)
        return result

    async def release_leases(self) -> int:
        # One Herald process owns an SQLite data folder, so a lease found at start was
        # held by a run that ended (kill -9, power loss): its deliveries are due now.
        def job(c: sqlite3.Connection) -> int:
            return c.execute("UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0").rowcount

        result: int = await self._worker.call(job)
        return result

    async def finish_delivery(self, delivery_id: str) -> None:
        await self._worker.call(
            lambda c: c.execute("DELETE FROM deliveries WHERE delivery_id = ?", (delivery_id,))
        )

    async def finish_deliveries(self, delivery_ids: list[str]) -> None:
        if not delivery_ids:
            return
        await self._worker.call(
            lambda c: c.executemany(
                "DELETE FROM deliveries WHERE delivery_id = ?", [(d,) for d in delivery_ids]
            )
        )

    async def add_deliveries(self, deliveries: list[DeliveryRecord]) -> None:
        if deliveries:
            await self._worker.call(lambda c: insert_deliveries(c, deliveries))

    async def retry_delivery(
        self, delivery_id: str, next_attempt_at: float, error: str, *, failed: bool = True
    ) -> None:
        await self._worker.call(
            lambda c: c.execute(
                "UPDATE deliveries SET attempts = attempts + ?, next_attempt_at = ?, "
                "lease_until = 0, last_error = ? WHERE delivery_id = ?",
                (int(failed), next_attempt_at, error[:1024], delivery_id),
            )
        )

    async def keep_resubscription(
        self, token: str, topic_arn: str, subscription: str, expires_at: float
    ) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM resubscriptions WHERE expires_at < ?", (expires_at - 7 * 86400,))
            c.execute(
                "INSERT INTO resubscriptions(token, topic_arn, subscription, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (token, topic_arn, subscription, expires_at),
            )

        await self._worker.call(job)

    async def take_resubscription(self, token: str, topic_arn: str, now: float) -> str | None:
        def job(c: sqlite3.Connection) -> str | None:
            row = c.execute(
                "SELECT subscription FROM resubscriptions "
                "WHERE token = ? AND topic_arn = ? AND expires_at >= ?",
                (token, topic_arn, now),
            ).fetchone()
            if row is None:
                return None
            c.execute("DELETE FROM resubscriptions WHERE token = ?", (token,))
            return str(row[0])

        result: str | None = await self._worker.call(job)
        return result

    async def pending_deliveries(self) -> int:
        def job(c: sqlite3.Connection) -> int:
            return int(c.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

        result: int = await self._worker.call(job)
        return result

    async def get_signing_key(self, region: str) -> SigningKey | None:
        found = [k for k in await self.list_signing_keys() if k.region == region]
        return found[0] if found else None

    async def list_signing_keys(self) -> list[SigningKey]:
        def job(c: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return list(
                c.execute("SELECT region, private_key, certificate, created_at FROM signing_keys")
            )

        rows = await self._worker.call(job)
        return [
            SigningKey(
                r[0], self._sealer.open(f"signing-key:{r[0]}", r[1]).encode(), r[2].encode(), r[3]
            )
            for r in rows
        ]

    async def signing_key(self, region: str, make: SigningKey) -> SigningKey:
        sealed = self._sealer.seal(f"signing-key:{region}", make.private_key.decode())

        def job(c: sqlite3.Connection) -> tuple[Any, ...]:
            c.execute(
                "INSERT OR IGNORE INTO signing_keys(region, private_key, certificate, created_at) "
                "VALUES (?, ?, ?, ?)",
                (region, sealed, make.certificate.decode(), make.created_at),
            )
            row: tuple[Any, ...] = c.execute(
                "SELECT private_key, certificate, created_at FROM signing_keys WHERE region = ?",
                (region,),
            ).fetchone()
            return row

        row = await self._worker.call(job)
        private = self._sealer.open(f"signing-key:{region}", row[0]).encode()
        return SigningKey(region, private, row[1].encode(), row[2])


def insert_deliveries(
    c: sqlite3.Connection,
    deliveries: list[DeliveryRecord],
    leased_until: float = 0.0,
    owner: str | None = None,
) -> None:
    c.executemany(
        f"INSERT INTO deliveries({_COLUMNS}, lease_until, lease_owner) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                d.delivery_id,
                d.message_id,
                d.topic_arn,
                d.subscription_arn,
                d.protocol,
                d.endpoint,
                int(d.raw),
                d.attempts,
                d.next_attempt_at,
                d.created_at,
                d.kind,
                d.token,
                d.group_key,
                d.sequence,
                leased_until,
                owner if leased_until else None,
            )
            for d in deliveries
        ],
    )


def _delivery(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        bool(row[6]),
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
    )
