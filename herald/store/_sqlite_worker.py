"""The SQLite worker: one thread owns the connection and commits jobs in groups.

How it works: every store call becomes a job (a function of the connection) queued to the
thread. The thread takes every job waiting, runs them in a single transaction, commits
once, and only then resolves the callers' futures. When a job raises, the transaction is
rolled back and the batch runs again with each job inside its own SAVEPOINT, so a failed
request writes nothing while the others in its batch still commit. With
``synchronous=FULL`` a commit is on disk when it returns, so one fsync covers every
publish that arrived while the previous one was being written: durability does not cost
one fsync per request.

A job called with ``early`` is answered as soon as it has run, before the commit: only
for jobs whose effect may be lost without harm (a receive from a standard queue). It may
see what earlier jobs of its batch wrote, which a failed commit then undoes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from herald.errors import StoreUnavailable
from herald.store.migrations import MIGRATIONS, require_known

log = logging.getLogger("herald.store")
T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]
MAX_BATCH = 512


class SQLiteWorker:
    def __init__(self, path: str) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[tuple[Job, asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alive = False

    async def open(self) -> None:
        """Start the thread, connect and migrate; raises what connecting raised."""
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="herald-sqlite", daemon=True
        )
        self._thread.start()
        await ready

    async def close(self) -> None:
        """Run every job queued so far, then close the connection."""
        if self._thread is None:
            return
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    async def call(self, job: Callable[[sqlite3.Connection], T], *, early: bool = False) -> T:
        """Run ``job`` on the connection; returns once its transaction is committed, or
        with ``early`` as soon as the job has run, before the commit of its batch: for
        jobs whose effect may be lost in a crash or a failed commit without harm (a
        receive from a standard queue: its messages stay visible and are received
        again, as SQS allows; its answer may include messages that earlier jobs of the
        batch wrote and the failed commit undid, whose senders are told it failed). The
        PostgreSQL worker always answers after the commit, since a batch there may be
        run again."""
        if self._loop is None or self._thread is None or not self._alive:
            raise StoreUnavailable("The store is not open.")
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((_Early(job) if early else job, future))
        return await future

    def _connect(self) -> Any:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        try:
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self, ready: asyncio.Future[None]) -> None:
        assert self._loop is not None
        loop = self._loop
        try:
            conn = self._connect()
        except Exception as exc:  # reported to open()'s caller
            failed: list[Outcome] = [(ready, None, exc)]
            loop.call_soon_threadsafe(_settle, failed)
            return
        opened: list[Outcome] = [(ready, None, None)]
        self._alive = True
        loop.call_soon_threadsafe(_settle, opened)
        try:
            while True:
                batch, stop = self._next_batch()
                if batch:
                    loop.call_soon_threadsafe(_settle, self._run_batch(conn, batch))
                if stop:
                    break
        except RuntimeError:
            log.error("the event loop closed before the store; queued work is dropped")
        finally:
            self._alive = False
            conn.close()

    def _run_batch(self, conn: Any, batch: list[tuple[Job, asyncio.Future[Any]]]) -> list[Outcome]:
        loop = self._loop
        assert loop is not None

        def answer(outcome: Outcome) -> None:
            try:
                loop.call_soon_threadsafe(_settle, [outcome])
            except RuntimeError:
                pass  # the event loop has closed: no one waits for this answer

        return _run_batch(conn, batch, answer)

    def _next_batch(self) -> tuple[list[tuple[Job, asyncio.Future[Any]]], bool]:
        """Wait for a job, then take every job already waiting (up to MAX_BATCH)."""
        first = self._jobs.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                nxt = self._jobs.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, True
            batch.append(nxt)
        return batch, False


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    current = row[0] or 0
    require_known(current)
    for version, statements in MIGRATIONS:
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class _Early:
    """A job answered before its batch is committed (``SQLiteWorker.call``)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, conn: sqlite3.Connection) -> Any:
        return self.job(conn)


def _run_batch(
    conn: sqlite3.Connection,
    batch: list[tuple[Job, asyncio.Future[Any]]],
    answer: Callable[[Outcome], object],
) -> list[Outcome]:
    """Run a batch in one transaction; never raises, every job gets an outcome (those of
    early jobs go to ``answer`` as soon as they have run)."""
    try:
        return _commit_batch(conn, batch, answer)
    except Exception as exc:
        # The connection failed under the batch (disk full, I/O error, a failed savepoint):
        # nothing of it is written, and every caller hears so.
        _abandon(conn)
        failure = StoreUnavailable(f"The store could not write: {exc}")
        return [(future, None, failure) for _, future in batch]


def _commit_batch(
    conn: sqlite3.Connection,
    batch: list[tuple[Job, asyncio.Future[Any]]],
    answer: Callable[[Outcome], object],
) -> list[Outcome]:
    if not any(isinstance(job, _Early) for job, _ in batch):
        committed = _commit_plainly(conn, batch)
        if committed is not None:
            return committed
    return _commit_in_savepoints(conn, batch, answer)


def _commit_plainly(
    conn: sqlite3.Connection, batch: list[tuple[Job, asyncio.Future[Any]]]
) -> list[Outcome] | None:
    """Run the jobs one after the other in one transaction and commit; or, as soon as a
    job raises, roll back and return None, and the batch runs again with a savepoint per
    job, so that only the job that raised fails. Two statements fewer per job than with
    savepoints, each of which hands the GIL to the event loop and waits to win it back.
    Jobs may run more than once (the PostgreSQL worker runs a batch again after a lost
    serialization race): they write only through the connection. Early jobs, whose
    answers are given as soon as they run, always go with savepoints."""
    conn.execute("BEGIN IMMEDIATE")
    results = []
    try:
        for job, _ in batch:
            results.append(job(conn))
    except Exception:
        _abandon(conn)
        return None
    conn.execute("COMMIT")
    return [(future, result, None) for (_, future), result in zip(batch, results, strict=True)]


def _commit_in_savepoints(
    conn: sqlite3.Connection,
    batch: list[tuple[Job, asyncio.Future[Any]]],
    answer: Callable[[Outcome], object],
) -> list[Outcome]:
    conn.execute("BEGIN IMMEDIATE")
    outcomes: list[Outcome] = []
    for job, future in batch:
        conn.execute("SAVEPOINT job")
        try:
            result = job(conn)
        except Exception as exc:
            if not conn.in_transaction:
                # SQLite has rolled the whole transaction back on its own (SQLITE_FULL,
                # SQLITE_IOERR, ...): the batch fails as one.
                raise
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            if isinstance(exc, sqlite3.Error):
                exc = StoreUnavailable(f"The store failed: {exc}")
            outcomes.append((future, None, exc))
        else:
            conn.execute("RELEASE job")
            if isinstance(job, _Early):
                answer((future, result, None))
            else:
                outcomes.append((future, result, None))
    conn.execute("COMMIT")
    return outcomes


def _abandon(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is already rolled back or unusable; the next batch says


def _settle(outcomes: list[Outcome]) -> None:
    for future, result, exc in outcomes:
        if future.done():  # cancelled, or an early job's answer already given
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
