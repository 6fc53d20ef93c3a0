"""The key service's records in SQLite (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from herald.errors import LimitExceeded, NotFound
from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base_kms import AliasRecord, KeyManager, KeyRecord, KeyState, WrappedVersion

_KEY_COLUMNS = (
    "key_id, account_id, region, arn, description, key_usage, key_spec, origin, manager, "
    "state, policy, created_at, deletion_date, pending_window_days, rotation_period_days, "
    "next_rotation, tags"
)
_UPDATABLE = frozenset(
    {
        "description",
        "state",
        "policy",
        "deletion_date",
        "pending_window_days",
        "rotation_period_days",
        "next_rotation",
        "tags",
    }
)
_ALIAS_COLUMNS = "account_id, region, name, key_id, created_at, updated_at"


class SQLiteKMS:
    _worker: SQLiteWorker

    async def create_key(self, key: KeyRecord, first: WrappedVersion) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute(
                f"INSERT INTO kms_keys({_KEY_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _key_row(key),
            )
            _insert_version(c, first)

        await self._worker.call(job)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        result: KeyRecord | None = await self._worker.call(lambda c: _get_key(c, key_id))
        return result

    async def list_keys(self, account_id: str, region: str) -> list[KeyRecord]:
        def job(c: sqlite3.Connection) -> list[KeyRecord]:
            rows = c.execute(
                f"SELECT {_KEY_COLUMNS} FROM kms_keys WHERE account_id = ? AND region = ? "
                "ORDER BY key_id",
                (account_id, region),
            ).fetchall()
            return [_key(r) for r in rows]

        result: list[KeyRecord] = await self._worker.call(job)
        return result

    async def update_key(self, key_id: str, changes: Mapping[str, object]) -> KeyRecord:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = [
            json.dumps(dict(v)) if k == "tags" else (v.value if k == "state" else v)  # type: ignore[call-overload, attr-defined]
            for k, v in changes.items()
        ]

        def job(c: sqlite3.Connection) -> KeyRecord:
            if changes:
                assignments = ", ".join(f"{k} = ?" for k in changes)
                c.execute(f"UPDATE kms_keys SET {assignments} WHERE key_id = ?", (*values, key_id))
            key = _get_key(c, key_id)
            if key is None:
                raise NotFound(f"Key '{key_id}' does not exist")
            return key

        result: KeyRecord = await self._worker.call(job)
        return result

    async def keys_due(self, now: float) -> list[KeyRecord]:
        def job(c: sqlite3.Connection) -> list[KeyRecord]:
            rows = c.execute(
                f"SELECT {_KEY_COLUMNS} FROM kms_keys WHERE (state = 'PendingDeletion' AND "
                "deletion_date <= ?) OR next_rotation <= ? ORDER BY key_id",
                (now, now),
            ).fetchall()
            return [_key(r) for r in rows]

        result: list[KeyRecord] = await self._worker.call(job)
        return result

    async def key_versions(self, key_id: str) -> list[WrappedVersion]:
        def job(c: sqlite3.Connection) -> list[WrappedVersion]:
            rows = c.execute(
                "SELECT key_id, version, wrapped, created_at, on_demand FROM kms_key_versions "
                "WHERE key_id = ? ORDER BY version",
                (key_id,),
            ).fetchall()
            return [WrappedVersion(r[0], r[1], bytes(r[2]), r[3], bool(r[4])) for r in rows]

        result: list[WrappedVersion] = await self._worker.call(job)
        return result

    async def add_key_version(
        self,
        version: WrappedVersion,
        next_rotation: float | None,
        *,
        due_at: float | None = None,
        max_on_demand: int | None = None,
    ) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            latest, on_demand = c.execute(
                "SELECT MAX(version), COALESCE(SUM(on_demand), 0) FROM kms_key_versions "
                "WHERE key_id = ?",
                (version.key_id,),
            ).fetchone()
            if (latest or 0) != version.version - 1:
                return False
            if version.on_demand and max_on_demand is not None and on_demand >= max_on_demand:
                return False
            if due_at is not None:
                row = c.execute(
                    "SELECT next_rotation FROM kms_keys WHERE key_id = ?", (version.key_id,)
                ).fetchone()
                if row is None or row[0] != due_at:
                    return False
            _insert_version(c, version)
            if not version.on_demand:
                c.execute(
                    "UPDATE kms_keys SET next_rotation = ? WHERE key_id = ?",
                    (next_rotation, version.key_id),
                )
            return True

        added: bool = await self._worker.call(job)
        return added

    async def delete_key(self, key_id: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM kms_key_versions WHERE key_id = ?", (key_id,))
            c.execute("DELETE FROM kms_aliases WHERE key_id = ?", (key_id,))
            c.execute("DELETE FROM kms_keys WHERE key_id = ?", (key_id,))

        await self._worker.call(job)

    async def create_alias(self, alias: AliasRecord, max_per_account: int) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            count = c.execute(
                "SELECT COUNT(*) FROM kms_aliases WHERE account_id = ? AND region = ?",
                (alias.account_id, alias.region),
            ).fetchone()[0]
            if count >= max_per_account:
                raise LimitExceeded(
                    f"Too many aliases in the account and region (the limit is {max_per_account})."
                )
            cursor = c.execute(
                f"INSERT OR IGNORE INTO kms_aliases({_ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    alias.account_id,
                    alias.region,
                    alias.name,
                    alias.key_id,
                    alias.created_at,
                    alias.updated_at,
                ),
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))

    async def get_alias(self, account_id: str, region: str, name: str) -> AliasRecord | None:
        def job(c: sqlite3.Connection) -> AliasRecord | None:
            row = c.execute(
                f"SELECT {_ALIAS_COLUMNS} FROM kms_aliases "
                "WHERE account_id = ? AND region = ? AND name = ?",
                (account_id, region, name),
            ).fetchone()
            return None if row is None else AliasRecord(*row)

        result: AliasRecord | None = await self._worker.call(job)
        return result

    async def list_aliases(
        self, account_id: str, region: str, key_id: str | None = None
    ) -> list[AliasRecord]:
        def job(c: sqlite3.Connection) -> list[AliasRecord]:
            query = f"SELECT {_ALIAS_COLUMNS} FROM kms_aliases WHERE account_id = ? AND region = ?"
            args: tuple[str, ...] = (account_id, region)
            if key_id is not None:
                query += " AND key_id = ?"
                args += (key_id,)
            rows = c.execute(query + " ORDER BY name", args).fetchall()
            return [AliasRecord(*r) for r in rows]

        result: list[AliasRecord] = await self._worker.call(job)
        return result

    async def retarget_alias(
        self, account_id: str, region: str, name: str, key_id: str, now: float
    ) -> None:
        def job(c: sqlite3.Connection) -> None:
            cursor = c.execute(
                "UPDATE kms_aliases SET key_id = ?, updated_at = ? "
                "WHERE account_id = ? AND region = ? AND name = ?",
                (key_id, now, account_id, region, name),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"Alias arn:aws:kms:{region}:{account_id}:{name} is not found.")

        await self._worker.call(job)

    async def delete_alias(self, account_id: str, region: str, name: str) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "DELETE FROM kms_aliases WHERE account_id = ? AND region = ? AND name = ?",
                (account_id, region, name),
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))

    async def get_meta(self, name: str) -> bytes | None:
        def job(c: sqlite3.Connection) -> bytes | None:
            row = c.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            return None if row is None else bytes(row[0])

        result: bytes | None = await self._worker.call(job)
        return result

    async def put_meta_once(self, name: str, value: bytes) -> bytes:
        def job(c: sqlite3.Connection) -> bytes:
            c.execute("INSERT OR IGNORE INTO meta(name, value) VALUES (?, ?)", (name, value))
            return bytes(c.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])

        result: bytes = await self._worker.call(job)
        return result


def _insert_version(c: sqlite3.Connection, version: WrappedVersion) -> None:
    c.execute(
        "INSERT INTO kms_key_versions(key_id, version, wrapped, created_at, on_demand) "
        "VALUES (?, ?, ?, ?, ?)",
        (version.key_id, version.version, version.wrapped, version.created_at, version.on_demand),
    )


def _key_row(key: KeyRecord) -> tuple[Any, ...]:
    return (
        key.key_id, key.account_id, key.region, key.arn, key.description, key.key_usage,
        key.key_spec, key.origin, key.manager.value, key.state.value, key.policy,
        key.created_at, key.deletion_date, key.pending_window_days, key.rotation_period_days,
        key.next_rotation, json.dumps(dict(key.tags)),
    )  # fmt: skip


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        key_id=row[0],
        account_id=row[1],
        region=row[2],
        arn=row[3],
        description=row[4],
        key_usage=row[5],
        key_spec=row[6],
        origin=row[7],
        manager=KeyManager(row[8]),
        state=KeyState(row[9]),
        policy=row[10],
        created_at=row[11],
        deletion_date=row[12],
        pending_window_days=row[13],
        rotation_period_days=row[14],
        next_rotation=row[15],
        tags=json.loads(row[16]),
    )


def _get_key(c: sqlite3.Connection, key_id: str) -> KeyRecord | None:
    row = c.execute(f"SELECT {_KEY_COLUMNS} FROM kms_keys WHERE key_id = ?", (key_id,)).fetchone()
    return None if row is None else _key(row)
