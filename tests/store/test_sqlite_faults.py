"""The SQLite worker under storage faults: a full disk fails requests, never the server."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from herald.errors import StoreUnavailable
from herald.store._sqlite_worker import SQLiteWorker


def test_a_full_disk_fails_the_batch_and_the_worker_keeps_serving(tmp_path: Path) -> None:
    async def scenario() -> None:
        # Given a worker whose database may grow only a few pages more (a full disk)
        worker = SQLiteWorker(str(tmp_path / "herald.db"))
        await worker.open()
        try:
            await worker.call(lambda c: c.execute("CREATE TABLE big (b BLOB)"))
            pages = await worker.call(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
            await worker.call(lambda c: c.execute(f"PRAGMA max_page_count={pages + 5}"))
            # When a write needs more room than there is
            with pytest.raises(StoreUnavailable, match="could not write"):
                await worker.call(
                    lambda c: c.execute("INSERT INTO big VALUES (?)", (b"x" * 200_000,))
                )
            # Then the worker still answers, and a small write still commits
            await worker.call(lambda c: c.execute("INSERT INTO big VALUES (?)", (b"x",)))
            count = await worker.call(lambda c: c.execute("SELECT COUNT(*) FROM big").fetchone())
            assert count == (1,)
        finally:
            await worker.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))


def test_a_job_that_breaks_the_connection_fails_only_its_batch(tmp_path: Path) -> None:
    async def scenario() -> None:
        # Given a worker
        worker = SQLiteWorker(str(tmp_path / "herald.db"))
        await worker.open()
        try:
            await worker.call(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))

            def rollback_everything(c: sqlite3.Connection) -> None:
                # A job that ends the transaction under the worker's savepoints
                c.execute("ROLLBACK")
                raise sqlite3.OperationalError("simulated I/O error")

            # When such a job runs, Then its caller is told the store failed
            with pytest.raises(StoreUnavailable):
                await worker.call(rollback_everything)
            # And later work is served
            await worker.call(lambda c: c.execute("INSERT INTO t VALUES (1)"))
            assert await worker.call(lambda c: c.execute("SELECT v FROM t").fetchall()) == [(1,)]
        finally:
            await worker.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))
