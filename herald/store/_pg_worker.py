"""The PostgreSQL worker: the SQLite worker's design (one thread, jobs committed in
groups, each job in its own savepoint) over a psycopg connection, so both stores run the
same jobs.

The jobs are written for SQLite's connection API and dialect; ``PGConnection`` gives them
that API and translates the few differences as each statement is first seen: ``?``
placeholders, ``INSERT OR IGNORE`` / ``INSERT OR REPLACE``, ``rowid``, and the column types
of the migrations (BLOB, INTEGER). Transactions are SERIALIZABLE, so the read-then-write
jobs that SQLite's single writer made safe stay safe when several Herald nodes share the
database; a batch that loses a serialization race is run again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from herald.errors import StoreUnavailable
from herald.store._sqlite_worker import Job, Outcome, SQLiteWorker
from herald.store.migrations import MIGRATIONS, require_known

log = logging.getLogger("herald.store")
RETRIES = 20
MIGRATION_LOCK = 0x4845524C  # pg_advisory_lock key: "HERL"

# Tables whose INSERT OR REPLACE needs its conflict target spelled out.
_PRIMARY_KEYS = {
    "sqs_dedup": ("queue_arn", "dedup_id"),
    "access_keys": ("access_key_id",),
    "sns_dedup": ("topic_arn", "dedup_id"),
    "sns_sequences": ("topic_arn",),
    "sqs_cooldowns": ("queue_arn", "kind"),
}
_INSERT_OR = re.compile(
    r"^\s*INSERT OR (IGNORE|REPLACE) INTO (\w+)\s*\(([^)]*)\)(.*)$", re.S | re.I
)


def translate(sql: str) -> str:
    """SQLite's dialect, as the jobs write it, in PostgreSQL's."""
    out = sql.replace("%", "%%").replace("?", "%s")
    match = _INSERT_OR.match(out)
    if match:
        kind, table, columns, rest = match.groups()
        out = f"INSERT INTO {table}({columns}){rest}"
        if kind.upper() == "IGNORE":
            out += " ON CONFLICT DO NOTHING"
        else:
            keys = _PRIMARY_KEYS[table]
            names = [c.strip() for c in columns.split(",")]
            updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n not in keys)
            out += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    return re.sub(r"\browid\b", "ctid", out)


def translate_schema(statement: str) -> str:
    """A migration statement for PostgreSQL: BYTEA for BLOB, BIGINT for INTEGER."""
    out = re.sub(r"\bBLOB\b", "BYTEA", statement)
    return re.sub(r"\bINTEGER\b", "BIGINT", out)


def connect(url: str) -> psycopg.Connection[Any]:
    # Fail fast on a server that does not answer; notice a silently dropped connection.
    return psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=10,
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
    )


class PGConnection:
    """The part of sqlite3.Connection the jobs use, over a psycopg connection."""

    def __init__(self, conn: psycopg.Connection[Any], url: str) -> None:
        self._conn = conn
        self._url = url
        self._sql: dict[str, str] = {}

    @property
    def closed(self) -> bool:
        return bool(self._conn.closed)

    def reconnect(self) -> None:
        """A new connection in place of a lost one (raises if the server is still away)."""
        try:
            self._conn.close()
        except psycopg.Error:
            pass
        self._conn = connect(self._url)

    def _translated(self, sql: str) -> str:
        found = self._sql.get(sql)
        if found is None:
            found = self._sql[sql] = translate(sql)
        return found

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(self._translated(sql), _values(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self._conn.cursor()
        cursor.executemany(self._translated(sql), [_values(r) for r in rows])
        return cursor

    def control(self, sql: str) -> None:
        """A transaction control statement (never prepared)."""
        self._conn.execute(sql, prepare=False)

    @property
    def in_transaction(self) -> bool:
        status = self._conn.info.transaction_status
        return status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self._conn.close()


def _values(params: Sequence[Any]) -> tuple[Any, ...]:
    """Parameters as SQLite takes them: booleans are the integers 1 and 0."""
    return tuple(int(v) if isinstance(v, bool) else v for v in params)


class PGWorker(SQLiteWorker):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._url = url

    def _connect(self) -> PGConnection:
        conn = connect(self._url)
        try:
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return PGConnection(conn, self._url)

    def _run_batch(
        self, conn: PGConnection, batch: list[tuple[Job, asyncio.Future[Any]]]
    ) -> list[Outcome]:
        if conn.closed:
            # The connection was lost (the server restarted, the network dropped it): this
            # batch gets a new one, or fails if the server is still away.
            try:
                conn.reconnect()
                log.warning("reconnected to PostgreSQL")
            except psycopg.Error as exc:
                log.error("PostgreSQL is unreachable: %s", exc)
                failure = StoreUnavailable("The store is unreachable.")
                return [(future, None, failure) for _, future in batch]
        for attempt in range(RETRIES):
            try:
                return _commit_batch(conn, batch)
            except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
                _abandon(conn)
                log.debug("a batch lost a serialization race; running it again (%d)", attempt)
                # A short random pause, growing, so racing nodes do not meet again at once.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            except Exception:
                # Details (which may quote stored values) go to the log, not to clients.
                log.exception("a batch of %d store jobs failed", len(batch))
                _abandon(conn)
                failure = StoreUnavailable("The store could not complete the request.")
                return [(future, None, failure) for _, future in batch]
        failure = StoreUnavailable("The store is too busy: a write kept conflicting.")
        return [(future, None, failure) for _, future in batch]


def _commit_batch(
    conn: PGConnection, batch: list[tuple[Job, asyncio.Future[Any]]]
) -> list[Outcome]:
    conn.control("BEGIN ISOLATION LEVEL SERIALIZABLE")
    outcomes: list[Outcome] = []
    for job, future in batch:
        conn.control("SAVEPOINT job")
        try:
            result = job(conn)  # type: ignore[arg-type]  # the sqlite3 API, see PGConnection
        except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
            raise  # the whole batch is run again
        except Exception as exc:
            if isinstance(exc, psycopg.OperationalError) or not conn.in_transaction:
                raise
            conn.control("ROLLBACK TO SAVEPOINT job")
            conn.control("RELEASE SAVEPOINT job")
            if isinstance(exc, psycopg.Error):
                log.error("a store job failed: %s", exc)
                exc = StoreUnavailable("The store could not complete the request.")
            outcomes.append((future, None, exc))
        else:
            conn.control("RELEASE SAVEPOINT job")
            outcomes.append((future, result, None))
    conn.control("COMMIT")
    return outcomes


def _abandon(conn: PGConnection) -> None:
    if conn.in_transaction:
        try:
            conn.control("ROLLBACK")
        except psycopg.Error:
            pass  # the connection is unusable; the next batch says so


def _migrate(conn: psycopg.Connection[Any]) -> None:
    """The same versioned migrations as SQLite; one node at a time (an advisory lock)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = (row[0] if row else None) or 0
        require_known(current)
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            with conn.transaction():
                for statement in statements:
                    conn.execute(translate_schema(statement))
                conn.execute("INSERT INTO schema_version(version) VALUES (%s)", (version,))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
