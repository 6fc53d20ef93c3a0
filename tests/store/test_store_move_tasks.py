"""The store's message move tasks (dead-letter queue redrive), on both backends: one active
task per source queue, claims under a lease that one node holds at a time and another
takes over once it ends, moves that are whole (a message is in exactly one queue after)
and skip what a receive took meanwhile, cancels that stop the moving at once, and tasks
that outlive a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from herald.errors import NotFound
from herald.store.base import Store
from herald.store.base_sqs import MoveTaskRecord, MoveTaskStatus, QueuedMessage
from herald.store.postgres import PostgresStore
from tests.store import test_store_contract as contract
from tests.store.test_store_contract import NOW, Run, _queue, _queued

# The contract's fixtures: a store of each backend, and its event loop.
_drop_schemas = contract._drop_schemas
run = contract.run
open_store = contract.open_store
store = contract.store

LEASE = 10.0
RUNNING, CANCELLING = MoveTaskStatus.RUNNING, MoveTaskStatus.CANCELLING
COMPLETED, CANCELLED, FAILED = (
    MoveTaskStatus.COMPLETED,
    MoveTaskStatus.CANCELLED,
    MoveTaskStatus.FAILED,
)


def _task(source: str, destination: str | None = None, at: float = NOW) -> MoveTaskRecord:
    return MoveTaskRecord(str(uuid.uuid4()), source, destination, None, at, "{}")


def _dead_letters(store: Store, run: Run[Any], count: int) -> tuple[str, str, list[bytes]]:
    """(dead-letter queue, its source queue, bodies): ``count`` messages in the first,
    sent before NOW, each dead-lettered from the second."""
    dead, source = _queue(store, run), _queue(store, run)
    bodies = [b"m%d" % n for n in range(count)]
    run(
        store.enqueue(
            [
                _queued(dead, b, NOW - 100 + n, dead_letter_source=source)
                for n, b in enumerate(bodies)
            ],
            None,
        )
    )
    return dead, source, bodies


def _replacement(message: QueuedMessage, destination: str, now: float) -> QueuedMessage:
    return replace(
        message,
        message_id=str(uuid.uuid4()),
        queue_arn=destination,
        sent_at=now,
        visible_at=now,
        expires_at=now + 3600,
        receive_count=0,
        dead_letter_source=None,
    )


def _bodies(store: Store, run: Run[Any], queue: str, at: float) -> list[bytes]:
    return sorted(m.body for m in run(store.receive(queue, at, 10, 0, False, None)))


def test_one_task_is_active_per_source_and_counts_what_is_visible_at_its_start(
    store: Store, run: Run[Any]
) -> None:
    # Given a dead-letter queue of three messages, one of them in flight
    dead, _, _ = _dead_letters(store, run, 3)
    run(store.receive(dead, NOW - 50, 1, 60, False, None))
    # When a task starts, then a second on the same source
    first = run(store.start_move_task(_task(dead), NOW))
    second = run(store.start_move_task(_task(dead, at=NOW + 1), NOW + 1))
    # Then the first runs with the two visible messages to move, and the second is refused
    assert first is not None and (first.status, first.to_move, first.moved) == (RUNNING, 2, 0)
    assert second is None
    assert run(store.move_tasks(dead, 10)) == [first]
    # Once it ends another may start, and the latest comes first (10 at most are kept)
    claimed = run(store.claim_move_task(NOW + 2, LEASE))
    assert claimed is not None and claimed.lease
    assert run(store.end_move_task(first.task_id, claimed.lease, COMPLETED)) is COMPLETED
    for n in range(11):
        task = run(store.start_move_task(_task(dead, at=NOW + 10 + n), NOW + 10 + n))
        assert task is not None
        assert run(store.cancel_move_task(task.task_id, NOW + 10 + n)).status is CANCELLED  # type: ignore[union-attr]
    listed = run(store.move_tasks(dead, 20))
    assert len(listed) == 10
    assert [t.started_at for t in listed] == sorted((t.started_at for t in listed), reverse=True)
    assert run(store.move_tasks(dead, 1)) == listed[:1]


def test_a_move_is_whole_and_leaves_what_a_receive_took_meanwhile(
    store: Store, run: Run[Any]
) -> None:
    # Given a task over a dead-letter queue of three messages, and a message sent after it
    dead, source, bodies = _dead_letters(store, run, 3)
    task = run(store.start_move_task(_task(dead), NOW))
    assert task is not None
    run(store.enqueue([_queued(dead, b"later", NOW + 1)], None))
    claimed = run(store.claim_move_task(NOW + 1, LEASE))
    assert claimed is not None and claimed.lease is not None
    # When the next moves are read, oldest first, without the later message
    status, messages = run(store.next_moves(task.task_id, claimed.lease, NOW + 2, 10, LEASE))
    assert status is RUNNING
    assert [m.body for m in messages] == bodies
    # And one of them is received before the moves are applied
    (taken,) = run(store.receive(dead, NOW + 2, 1, 60, False, None))
    moves = [(m, _replacement(m, m.dead_letter_source or "", NOW + 3)) for m in messages]
    batch = run(store.apply_moves(task.task_id, claimed.lease, NOW + 3, moves, LEASE))
    # Then the other two moved, and the one received stayed, in flight, where it was
    assert (batch.moved, batch.status, batch.missing) == (2, RUNNING, None)
    assert _bodies(store, run, source, NOW + 4) == sorted(set(bodies) - {taken.body})
    assert _bodies(store, run, dead, NOW + 100) == sorted([taken.body, b"later"])
    # And applying the same moves again moves nothing twice
    again = run(store.apply_moves(task.task_id, claimed.lease, NOW + 200, moves, LEASE))
    assert again.moved == 0
    stored = run(store.move_task(task.task_id))
    assert stored is not None and stored.moved == 2


def test_a_destination_deleted_stops_the_moves_at_it(store: Store, run: Run[Any]) -> None:
    dead, source, _ = _dead_letters(store, run, 2)
    task = run(store.start_move_task(_task(dead), NOW))
    claimed = run(store.claim_move_task(NOW, LEASE))
    assert task is not None and claimed is not None and claimed.lease is not None
    _, messages = run(store.next_moves(task.task_id, claimed.lease, NOW, 10, LEASE))
    gone = "arn:aws:sqs:us-east-1:000000000000:gone"
    moves = [
        (messages[0], _replacement(messages[0], source, NOW)),
        (messages[1], _replacement(messages[1], gone, NOW)),
    ]
    batch = run(store.apply_moves(task.task_id, claimed.lease, NOW, moves, LEASE))
    assert (batch.moved, batch.missing) == (1, gone)
    assert _bodies(store, run, dead, NOW + 1) == [messages[1].body]
    # Ended as failed, with its reason, the task holds no lease and shows how far it got
    assert run(store.end_move_task(task.task_id, claimed.lease, FAILED, "Gone")) is FAILED
    ended = run(store.move_task(task.task_id))
    assert ended is not None
    assert (ended.status, ended.failure_reason, ended.moved, ended.lease) == (
        FAILED,
        "Gone",
        1,
        None,
    )


def test_a_cancel_stops_the_moving_at_once(store: Store, run: Run[Any]) -> None:
    # Given a task a claim holds, whose next moves were read
    dead, _, _ = _dead_letters(store, run, 2)
    task = run(store.start_move_task(_task(dead), NOW))
    claimed = run(store.claim_move_task(NOW, LEASE))
    assert task is not None and claimed is not None and claimed.lease is not None
    _, messages = run(store.next_moves(task.task_id, claimed.lease, NOW, 10, LEASE))
    # When it is cancelled
    cancelled = run(store.cancel_move_task(task.task_id, NOW + 1))
    assert cancelled is not None and cancelled.status is CANCELLING
    # Then the moves read before are not made, and the task ends CANCELLED
    moves = [(m, _replacement(m, m.dead_letter_source or "", NOW + 2)) for m in messages]
    batch = run(store.apply_moves(task.task_id, claimed.lease, NOW + 2, moves, LEASE))
    assert (batch.moved, batch.status) == (0, CANCELLED)
    assert len(run(store.receive(dead, NOW + 3, 10, 0, False, None))) == 2
    ended = run(store.move_task(task.task_id))
    assert ended is not None and (ended.status, ended.moved) == (CANCELLED, 0)
    # And a task no claim holds is cancelled outright; a finished one stays as it was
    other = run(store.start_move_task(_task(dead, at=NOW + 5), NOW + 5))
    assert other is not None
    assert run(store.cancel_move_task(other.task_id, NOW + 5)).status is CANCELLED  # type: ignore[union-attr]
    assert run(store.cancel_move_task(task.task_id, NOW + 6)) == ended
    assert run(store.cancel_move_task("no-such-task", NOW)) is None


def test_one_claim_holds_a_task_until_its_lease_ends_then_another_takes_it_over(
    open_store: Callable[[], Store], run: Run[Any]
) -> None:
    # Given two nodes over one database, and a task the first claims
    a, b = open_store(), open_store()
    dead, _, _ = _dead_letters(a, run, 2)
    task = run(a.start_move_task(_task(dead), NOW))
    assert task is not None
    first = run(a.claim_move_task(NOW, LEASE))
    assert first is not None and first.lease is not None
    # While its lease holds (renewed by each step) the other node cannot claim it, nor
    # end it by starting (PostgreSQL: a node ends only its own previous run's leases)
    if isinstance(b, PostgresStore):
        assert run(b.release_move_tasks()) == 0
    assert run(b.claim_move_task(NOW + LEASE - 1, LEASE)) is None
    run(a.next_moves(task.task_id, first.lease, NOW + 5, 1, LEASE))
    assert run(b.claim_move_task(NOW + LEASE + 1, LEASE)) is None
    # When the first node stops renewing it, the other takes the task over
    second = run(b.claim_move_task(NOW + 5 + LEASE, LEASE))
    assert second is not None and second.lease not in (None, first.lease)
    # And the first claim can no longer read, move or end it
    status, messages = run(a.next_moves(task.task_id, first.lease, NOW + 16, 10, LEASE))
    assert (status, messages) == (None, [])
    assert second.lease is not None
    _, mine = run(b.next_moves(task.task_id, second.lease, NOW + 16, 10, LEASE))
    moves = [(m, _replacement(m, m.dead_letter_source or "", NOW + 16)) for m in mine]
    assert run(a.apply_moves(task.task_id, first.lease, NOW + 16, moves, LEASE)).status is None
    assert run(a.end_move_task(task.task_id, first.lease, COMPLETED)) is None
    assert run(b.apply_moves(task.task_id, second.lease, NOW + 16, moves, LEASE)).moved == 2


@pytest.mark.parametrize("attempt", range(2))
def test_two_nodes_claiming_at_once_get_each_task_once(
    open_store: Callable[[], Store], run: Run[Any], attempt: int
) -> None:
    # Given two nodes and three tasks of three sources
    nodes = [open_store(), open_store()]
    tasks = []
    for _ in range(3):
        dead, _, _ = _dead_letters(nodes[0], run, 1)
        tasks.append(run(nodes[0].start_move_task(_task(dead), NOW)))

    async def together() -> list[MoveTaskRecord | None]:
        return await asyncio.gather(*(nodes[i % 2].claim_move_task(NOW, LEASE) for i in range(8)))

    # When both claim many times at once, then each task is claimed exactly once
    claimed = [t for t in run(together()) if t is not None]
    assert sorted(t.task_id for t in claimed) == sorted(t.task_id for t in tasks if t)


def test_a_task_outlives_a_restart_and_its_lease_ends_with_the_run(
    open_store: Callable[[], Store], run: Run[Any]
) -> None:
    # Given a task claimed by a run that then stops without ending it (a crash)
    store = open_store()
    dead, _, _ = _dead_letters(store, run, 1)
    task = run(store.start_move_task(_task(dead), NOW))
    assert task is not None and run(store.claim_move_task(NOW, LEASE)) is not None
    run(store.close())
    # When the store opens again (the same node) and ends its previous run's leases
    again = _reopened(store, open_store, run)
    try:
        kept = run(again.move_task(task.task_id))
        assert kept is not None and replace(kept, lease=None) == task
        assert run(again.claim_move_task(NOW + 1, LEASE)) is None
        assert run(again.release_move_tasks()) == 1
        # Then the task is claimed at once, with nothing lost
        claimed = run(again.claim_move_task(NOW + 1, LEASE))
        assert claimed is not None and (claimed.task_id, claimed.to_move) == (task.task_id, 1)
    finally:
        if again is not store and isinstance(again, PostgresStore):
            run(again.close())


def _reopened(store: Store, open_store: Callable[[], Store], run: Run[Any]) -> Store:
    """The store opened again by the same node (PostgreSQL: the same node id)."""
    if not isinstance(store, PostgresStore):
        return open_store()
    again = PostgresStore(store._url, node_id=store.node_id)
    run(again.open())
    return again


def test_the_next_moves_of_a_task_whose_source_is_gone_are_refused(
    store: Store, run: Run[Any]
) -> None:
    dead, _, _ = _dead_letters(store, run, 1)
    task = run(store.start_move_task(_task(dead), NOW))
    claimed = run(store.claim_move_task(NOW, LEASE))
    assert task is not None and claimed is not None and claimed.lease is not None
    # A source deleted takes its tasks along
    run(store.delete_queue(dead, NOW))
    assert run(store.next_moves(task.task_id, claimed.lease, NOW, 10, LEASE)) == (None, [])
    assert run(store.move_tasks(dead, 10)) == []
    # And a task whose source row is missing while it runs is refused with NotFound
    other, _, _ = _dead_letters(store, run, 1)
    task = run(store.start_move_task(_task(other), NOW))
    claimed = run(store.claim_move_task(NOW, LEASE))
    assert task is not None and claimed is not None and claimed.lease is not None
    run(store.purge_queue(other, NOW, 0))
    status, messages = run(store.next_moves(task.task_id, claimed.lease, NOW, 10, LEASE))
    assert (status, messages) == (RUNNING, [])
    run(_drop_queue_row(store, other))
    with pytest.raises(NotFound):
        run(store.next_moves(task.task_id, claimed.lease, NOW, 10, LEASE))


async def _drop_queue_row(store: Store, arn: str) -> None:
    """Remove a queue's row only (as a queue deleted between two statements would be)."""
    call = store._call  # type: ignore[attr-defined]
    await call(lambda c: c.execute("DELETE FROM sqs_queues WHERE arn = ?", (arn,)))
