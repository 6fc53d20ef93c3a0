"""The PostgreSQL store, for several Herald nodes sharing one database.

It runs the SQLite store's jobs (``_pg_worker`` translates their dialect) with the same
versioned migrations, and differs where several nodes must agree:

- deliveries and message move tasks are claimed with row locks that other nodes skip
  (``FOR UPDATE SKIP LOCKED``) under a lease in this node's name; at start a node takes
  back only the leases of its own previous run, since other nodes may hold the rest;
- every method that changes what nodes cache announces the change once it is committed
  (``NOTIFY herald_changes``, with its kind and this node's id), and a listener thread
  hands what other nodes announce to a ``ChangeFeed`` (see ``herald.changes``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from herald import changes
from herald.changes import ChangeFeed
from herald.store._pg_worker import PGWorker
from herald.store._pg_worker import connect as pg_connect
from herald.store._sqlite_delivery import _CLAIMABLE, _COLUMNS, _delivery
from herald.store._sqlite_moves import claim_move_task
from herald.store.base import Sealer
from herald.store.base_delivery import DeliveryRecord
from herald.store.base_sqs import MoveTaskRecord
from herald.store.sqlite import SQLiteStore

log = logging.getLogger("herald.store")
CHANNEL = "herald_changes"


class DuplicateNode(Exception):
    """Another running node has this node's id."""


# The store methods that change what nodes cache, by the kind of change. (Not
# record_key_use: no node caches when a key was last used, and announcing it would make
# every node drop its credentials once a minute per key in use.)
ANNOUNCED = {
    changes.SNS: (
        "rename_user",  # resource policies follow a renamed user: of topics, queues, keys
        "create_topic", "edit_topic_attributes", "set_topic_attributes", "delete_topic",
        "tag_resource", "untag_resource", "create_subscription", "update_subscription",
        "edit_subscription_attributes", "delete_subscription",
    ),
    changes.IAM: (
        "put_access_key", "deactivate_access_keys", "create_user", "edit_iam_tags",
        "delete_user", "add_access_key", "set_access_key_status", "delete_access_key",
        "put_inline_policy", "delete_inline_policy", "create_group", "delete_group",
        "add_group_member", "remove_group_member", "create_role", "update_role",
        "delete_role", "create_managed_policy", "delete_managed_policy",
        "create_policy_version", "set_default_policy_version", "delete_policy_version",
        "attach_policy", "detach_policy", "put_event_source", "delete_event_source",
        "rename_user", "rename_group",
    ),
    changes.KMS: (
        "rename_user",
        "create_key", "update_key", "add_key_version", "delete_key", "create_alias",
        "retarget_alias", "delete_alias", "set_kms_enabled", "create_grant", "delete_grant",
    ),
    changes.SQS: (
        "rename_user",
        "create_queue", "delete_queue", "set_queue_attributes", "edit_queue_tags",
    ),
}  # fmt: skip


class PostgresStore(SQLiteStore):
    def __init__(self, url: str, sealer: Sealer | None = None, node_id: str | None = None) -> None:
        """``node_id`` names this node across restarts (the server keeps it in its data
        folder), so that it can take back the leases its previous run held."""
        super().__init__(":memory:", sealer)
        self._url = url
        self._worker = PGWorker(url)
        self._call = self._worker.call
        self.node_id = self.lease_owner = node_id or uuid.uuid4().hex
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        for kind, names in ANNOUNCED.items():
            for name in names:
                setattr(self, name, self._announcing(kind, getattr(self, name)))

    def _announcing(
        self, kind: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def announced(*args: Any, **kwargs: Any) -> Any:
            result = await method(*args, **kwargs)
            payload = f"{self.node_id}:{kind}"
            try:
                await self._worker.call(
                    lambda c: c.execute("SELECT pg_notify(?, ?)", (CHANNEL, payload))
                )
            except Exception:
                # The change is committed; only other nodes' caches miss the news, and
                # those that cannot hear reconnect and forget everything.
                log.exception("a change could not be announced to other nodes")
            return result

        return announced

    def _arrived(self, c: Any, queue_arn: str) -> None:
        # Within the enqueue's own transaction: heard once it commits, never if it does
        # not; PostgreSQL sends one of identical notices of one transaction.
        payload = f"{self.node_id}:{changes.ARRIVAL}:{queue_arn}"
        c.execute("SELECT pg_notify(?, ?)", (CHANNEL, payload))

    async def listen(self, feed: ChangeFeed) -> None:
        """Hand the changes other nodes announce to ``feed`` (on this event loop)."""
        loop = asyncio.get_running_loop()
        ready = threading.Event()
        failed: list[BaseException] = []

        def connect() -> psycopg.Connection[Any]:
            conn = pg_connect(self._url)
            # One running node per node id: a copied data folder would otherwise make two
            # nodes ignore each other's changes and take each other's leases.
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.node_id,))
            if not row.fetchone()[0]:  # type: ignore[index]
                conn.close()
                raise DuplicateNode(
                    f"another running node has this node's id ({self.node_id}); give each "
                    "node its own data folder (copy root.key, not node-id)"
                )
            conn.execute(f"LISTEN {CHANNEL}")
            return conn

        def run() -> None:
            try:
                conn = connect()
            except Exception as exc:
                failed.append(exc)
                ready.set()
                return
            ready.set()
            while not self._stop.is_set():
                try:
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            node, _, rest = note.payload.partition(":")
                            kind, _, detail = rest.partition(":")
                            if node != self.node_id:
                                loop.call_soon_threadsafe(feed.hear, kind, detail)
                except psycopg.Error as exc:
                    log.error("stopped hearing other nodes' changes (%s); reconnecting", exc)
                    conn.close()
                    again = self._reconnect(connect)
                    if again is None:
                        return
                    conn = again
                    # What others changed meanwhile was not heard: forget everything.
                    for kind in changes.KINDS:
                        loop.call_soon_threadsafe(feed.hear, kind)
                except RuntimeError:
                    break  # the event loop closed first
            conn.close()

        self._listener = threading.Thread(target=run, name="herald-pg-listen", daemon=True)
        self._listener.start()
        await asyncio.to_thread(ready.wait)
        if failed:
            raise failed[0]

    def _reconnect(
        self, connect: Callable[[], psycopg.Connection[Any]]
    ) -> psycopg.Connection[Any] | None:
        """A new listening connection, trying every second until stopped."""
        while not self._stop.wait(1.0):
            try:
                conn = connect()
            except (psycopg.Error, DuplicateNode) as exc:
                log.error("cannot listen to other nodes yet: %s", exc)
                continue
            log.warning("hearing other nodes' changes again")
            return conn
        return None

    async def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5)
            self._listener = None
        await super().close()

    async def claim_deliveries(
        self, now: float, limit: int, lease_seconds: float
    ) -> list[DeliveryRecord]:
        def job(c: Any) -> list[DeliveryRecord]:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE {_CLAIMABLE} "
                "ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED",
                (now, now, limit),
            ).fetchall()
            if rows:
                c.executemany(
                    "UPDATE deliveries SET lease_until = ?, lease_owner = ? WHERE delivery_id = ?",
                    [(now + lease_seconds, self.node_id, r[0]) for r in rows],
                )
            return [_delivery(r) for r in rows]

        result: list[DeliveryRecord] = await self._worker.call(job)
        return result

    async def release_leases(self) -> int:
        # Only this node's own (held by its previous run); other nodes' leases end when
        # they run out.
        def job(c: Any) -> int:
            return int(
                c.execute(
                    "UPDATE deliveries SET lease_until = 0 WHERE lease_owner = ? "
                    "AND lease_until > 0",
                    (self.node_id,),
                ).rowcount
            )

        result: int = await self._worker.call(job)
        return result

    async def claim_move_task(self, now: float, lease_seconds: float) -> MoveTaskRecord | None:
        claim = self._move_claim()
        result: MoveTaskRecord | None = await self._worker.call(
            lambda c: claim_move_task(c, now, lease_seconds, claim, " FOR UPDATE SKIP LOCKED")
        )
        return result
