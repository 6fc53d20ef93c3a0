"""The key service's audit trail, grants and per-account switch, in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from herald.errors import LimitExceeded
from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base_kms import AuditEvent, AuditQuery, GrantRecord

_AUDIT_COLUMNS = (
    "event_id, event_time, event_name, account_id, region, key_arn, principal_type, "
    "principal_arn, principal_account, source_ip, user_agent, request_parameters, "
    "response_key_id, error_code, error_message, via_service, request_id"
)
_GRANT_COLUMNS = (
    "grant_id, key_id, name, grantee_principal, retiring_principal, operations, constraints, "
    "issuing_account, token_sha256, created_at"
)


class SQLiteKMSLog:
    _worker: SQLiteWorker

    async def append_audit(self, event: AuditEvent) -> None:
        row = (
            event.event_id, event.event_time, event.event_name, event.account_id, event.region,
            event.key_arn, event.principal_type, event.principal_arn, event.principal_account,
            event.source_ip, event.user_agent, json.dumps(dict(event.request_parameters)),
            event.response_key_id, event.error_code, event.error_message, event.via_service,
            event.request_id,
        )  # fmt: skip
        marks = ", ".join("?" for _ in row)
        await self._worker.call(
            lambda c: c.execute(f"INSERT INTO kms_audit({_AUDIT_COLUMNS}) VALUES ({marks})", row)
        )

    async def list_audit(self, query: AuditQuery) -> list[AuditEvent]:
        clauses: list[str] = []
        args: list[object] = []
        if query.key is not None:
            clauses.append("(key_arn = ? OR key_arn LIKE ?)")
            args += [query.key, "%:key/" + query.key]
        if query.principal is not None:
            clauses.append("principal_arn = ?")
            args.append(query.principal)
        if query.operation is not None:
            clauses.append("event_name = ?")
            args.append(query.operation)
        if query.since is not None:
            clauses.append("event_time >= ?")
            args.append(query.since)
        if query.until is not None:
            clauses.append("event_time < ?")
            args.append(query.until)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""

        def job(c: sqlite3.Connection) -> list[AuditEvent]:
            rows = c.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM kms_audit {where} "
                "ORDER BY event_time, rowid LIMIT ?",
                (*args, query.limit),
            ).fetchall()
            return [_event(r) for r in rows]

        result: list[AuditEvent] = await self._worker.call(job)
        return result

    async def kms_enabled(self, account_id: str) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            row = c.execute("SELECT kms_enabled FROM accounts WHERE id = ?", (account_id,))
            found = row.fetchone()
            return found is None or bool(found[0])

        return bool(await self._worker.call(job))

    async def set_kms_enabled(self, account_id: str, enabled: bool) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "UPDATE accounts SET kms_enabled = ? WHERE id = ?", (int(enabled), account_id)
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))

    async def create_grant(
        self,
        grant: GrantRecord,
        max_per_key: int,
        same: Callable[[GrantRecord], bool] | None = None,
    ) -> GrantRecord:
        row = (
            grant.grant_id, grant.key_id, grant.name, grant.grantee_principal,
            grant.retiring_principal, json.dumps(list(grant.operations)),
            None if grant.constraints is None else json.dumps(grant.constraints),
            grant.issuing_account, grant.token_sha256, grant.created_at,
        )  # fmt: skip

        def job(c: sqlite3.Connection) -> GrantRecord:
            if same is not None:
                rows = c.execute(
                    f"SELECT {_GRANT_COLUMNS} FROM kms_grants WHERE key_id = ? "
                    "ORDER BY created_at, grant_id",
                    (grant.key_id,),
                ).fetchall()
                found = next((g for g in map(_grant, rows) if same(g)), None)
                if found is not None:
                    return found
            count = c.execute(
                "SELECT COUNT(*) FROM kms_grants WHERE key_id = ?", (grant.key_id,)
            ).fetchone()[0]
            if count >= max_per_key:
                raise LimitExceeded(f"A key can have at most {max_per_key} grants.")
            c.execute(
                f"INSERT INTO kms_grants({_GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return grant

        stored: GrantRecord = await self._worker.call(job)
        return stored

    async def list_grants(self, key_id: str) -> list[GrantRecord]:
        return await self._grants("key_id = ?", key_id)

    async def list_retirable_grants(self, retiring_principal: str) -> list[GrantRecord]:
        return await self._grants("retiring_principal = ?", retiring_principal)

    async def find_grant_by_token(self, token_sha256: str) -> GrantRecord | None:
        found = await self._grants("token_sha256 = ?", token_sha256)
        return found[0] if found else None

    async def delete_grant(self, key_id: str, grant_id: str) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "DELETE FROM kms_grants WHERE key_id = ? AND grant_id = ?", (key_id, grant_id)
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))

    async def _grants(self, condition: str, value: str) -> list[GrantRecord]:
        def job(c: sqlite3.Connection) -> list[GrantRecord]:
            rows = c.execute(
                f"SELECT {_GRANT_COLUMNS} FROM kms_grants WHERE {condition} "
                "ORDER BY created_at, grant_id",
                (value,),
            ).fetchall()
            return [_grant(r) for r in rows]

        result: list[GrantRecord] = await self._worker.call(job)
        return result


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
        row[10], json.loads(row[11]), row[12], row[13], row[14], row[15], row[16],
    )  # fmt: skip


def _grant(row: Any) -> GrantRecord:
    return GrantRecord(
        grant_id=row[0],
        key_id=row[1],
        name=row[2],
        grantee_principal=row[3],
        retiring_principal=row[4],
        operations=tuple(json.loads(row[5])),
        constraints=None if row[6] is None else json.loads(row[6]),
        issuing_account=row[7],
        token_sha256=row[8],
        created_at=row[9],
    )
