"""The SQLite worker under storage faults: a full disk fails requests, never the server."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
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


def _holder() -> tuple[threading.Event, threading.Event, Callable[[sqlite3.Connection], None]]:
    """A job that says when it runs and then holds its batch open until released."""
    held, release = threading.Event(), threading.Event()

    def hold(c: sqlite3.Connection) -> None:
        held.set()
        release.wait(30)

    return held, release, hold


def test_an_early_job_is_answered_before_its_batch_commits(tmp_path: Path) -> None:
    async def scenario() -> None:
        worker = SQLiteWorker(str(tmp_path / "herald.db"))
        await worker.open()
        (held1, release1, hold1), (held2, release2, hold2) = _holder(), _holder()
        try:
            # Given a batch of three jobs queued behind a job that occupies the thread: an
            # early one, one that holds the batch open until told, an ordinary one
            first = asyncio.ensure_future(worker.call(hold1))
            await asyncio.to_thread(held1.wait, 30)
            early = asyncio.ensure_future(worker.call(lambda c: 42, early=True))
            holding = asyncio.ensure_future(worker.call(hold2))
            ordinary = asyncio.ensure_future(worker.call(lambda c: c.execute("SELECT 1")))
            await asyncio.sleep(0.05)  # the three are queued
            release1.set()
            await first
            # When the batch is held open inside its second job
            await asyncio.to_thread(held2.wait, 30)
            # Then the early job has its answer, and the others wait for the commit
            assert await asyncio.wait_for(early, 30) == 42
            assert not holding.done() and not ordinary.done()
            release2.set()
            await asyncio.wait_for(asyncio.gather(holding, ordinary), 30)
        finally:
            release1.set()
            release2.set()
            await worker.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))


def test_an_early_answer_stands_when_its_batch_then_fails(tmp_path: Path) -> None:
    async def scenario() -> None:
        worker = SQLiteWorker(str(tmp_path / "herald.db"))
        await worker.open()
        try:
            await worker.call(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))
            held, release, hold = _holder()

            def rollback_everything(c: sqlite3.Connection) -> None:
                c.execute("ROLLBACK")
                raise sqlite3.OperationalError("simulated I/O error")

            # Given an early job batched with one that breaks the transaction after it
            first = asyncio.ensure_future(worker.call(hold))
            await asyncio.to_thread(held.wait, 30)
            early = asyncio.ensure_future(worker.call(lambda c: "answered", early=True))
            broken = asyncio.ensure_future(worker.call(rollback_everything))
            await asyncio.sleep(0.05)
            release.set()
            await first
            # When the batch fails, Then the early answer stands and the other fails
            assert await asyncio.wait_for(early, 30) == "answered"
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(broken, 30)
            # And the worker goes on serving
            assert await worker.call(lambda c: c.execute("SELECT 1").fetchone()) == (1,)
        finally:
            release.set()
            await worker.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))


def test_a_job_that_raises_fails_alone_and_its_batch_commits_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        worker = SQLiteWorker(str(tmp_path / "herald.db"))
        await worker.open()
        try:
            await worker.call(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))
            held, release, hold = _holder()
            runs: list[int] = []

            def insert(value: int) -> Callable[[sqlite3.Connection], int]:
                def job(c: sqlite3.Connection) -> int:
                    runs.append(value)
                    c.execute("INSERT INTO t VALUES (?)", (value,))
                    return value

                return job

            def half_then_raise(c: sqlite3.Connection) -> None:
                c.execute("INSERT INTO t VALUES (99)")
                raise ValueError("refused after writing")

            # Given a batch of writes with, in its middle, one that writes and then raises
            first = asyncio.ensure_future(worker.call(hold))
            await asyncio.to_thread(held.wait, 30)
            calls = [worker.call(insert(1)), worker.call(half_then_raise)]
            calls += [worker.call(insert(2)), worker.call(insert(3))]
            outcomes = asyncio.gather(*calls, return_exceptions=True)
            await asyncio.sleep(0.05)
            release.set()
            await first
            # Then only that call fails, with its own error; the others are answered
            results = await asyncio.wait_for(outcomes, 30)
            assert results[0] == 1 and results[2:] == [2, 3]
            assert isinstance(results[1], ValueError)
            # And each of their rows is written once, none of the failed one's
            rows = await worker.call(lambda c: c.execute("SELECT v FROM t ORDER BY v").fetchall())
            assert rows == [(1,), (2,), (3,)]
            # (the batch ran twice: plainly, then with a savepoint per job)
            assert runs == [1, 1, 2, 3]
        finally:
            release.set()
            await worker.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))
