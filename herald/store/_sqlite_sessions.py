"""STS sessions and event-source credentials, in SQLite (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base import Sealer
from herald.store.base_iam import EventSourceRecord, SessionKind, SessionRecord

_SESSION_COLUMNS = (
    "access_key_id, secret, token_sha256, account_id, principal_arn, user_id, kind, "
    "role_arn, session_policies, expires_at, created_at"
)
_SOURCE_COLUMNS = "access_key_id, secret, service, source_account, source_arn, status, created_at"


class SQLiteSessions:
    _worker: SQLiteWorker
    _sealer: Sealer

    async def put_session(self, session: SessionRecord, now: float) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM sts_sessions WHERE expires_at < ?", (now,))
            c.execute(
                f"INSERT INTO sts_sessions({_SESSION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.access_key_id,
                    self._sealer.seal(
                        f"session:{session.access_key_id}", session.secret_access_key
                    ),
                    session.token_sha256,
                    session.account_id,
                    session.principal_arn,
                    session.user_id,
                    session.kind.value,
                    session.role_arn,
                    json.dumps(list(session.session_policies)),
                    session.expires_at,
                    session.created_at,
                ),
            )

        await self._worker.call(job)

    async def get_session(self, access_key_id: str) -> SessionRecord | None:
        def job(c: sqlite3.Connection) -> SessionRecord | None:
            row = c.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sts_sessions WHERE access_key_id = ?",
                (access_key_id,),
            ).fetchone()
            if row is None:
                return None
            return _session((row[0], self._sealer.open(f"session:{row[0]}", row[1]), *row[2:]))

        result: SessionRecord | None = await self._worker.call(job)
        return result

    async def put_event_source(self, source: EventSourceRecord) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute(
                f"INSERT INTO event_sources({_SOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    source.access_key_id,
                    self._sealer.seal(
                        f"event-source:{source.access_key_id}", source.secret_access_key
                    ),
                    source.service,
                    source.source_account,
                    source.source_arn,
                    "Active" if source.active else "Inactive",
                    source.created_at,
                ),
            )

        await self._worker.call(job)

    async def get_event_source(self, access_key_id: str) -> EventSourceRecord | None:
        def job(c: sqlite3.Connection) -> EventSourceRecord | None:
            row = c.execute(
                f"SELECT {_SOURCE_COLUMNS} FROM event_sources WHERE access_key_id = ?",
                (access_key_id,),
            ).fetchone()
            if row is None:
                return None
            return _source((row[0], self._sealer.open(f"event-source:{row[0]}", row[1]), *row[2:]))

        result: EventSourceRecord | None = await self._worker.call(job)
        return result

    async def list_event_sources(self) -> list[EventSourceRecord]:
        def job(c: sqlite3.Connection) -> list[EventSourceRecord]:
            rows = c.execute(
                f"SELECT {_SOURCE_COLUMNS} FROM event_sources ORDER BY created_at"
            ).fetchall()
            return [_source((r[0], "", *r[2:])) for r in rows]  # listed without secrets

        result: list[EventSourceRecord] = await self._worker.call(job)
        return result

    async def delete_event_source(self, access_key_id: str) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "DELETE FROM event_sources WHERE access_key_id = ?", (access_key_id,)
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))


def _session(row: Any) -> SessionRecord:
    return SessionRecord(
        access_key_id=row[0],
        secret_access_key=row[1],
        token_sha256=row[2],
        account_id=row[3],
        principal_arn=row[4],
        user_id=row[5],
        kind=SessionKind(row[6]),
        role_arn=row[7],
        session_policies=tuple(json.loads(row[8])),
        expires_at=row[9],
        created_at=row[10],
    )


def _source(row: Any) -> EventSourceRecord:
    return EventSourceRecord(row[0], row[1], row[2], row[3], row[4], row[5] == "Active", row[6])
