"""Long polls in process: a real SQLite store counted at its receive calls, a FixedClock,
and the recheck interval raised so that only arrivals wake a waiting poll."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from herald.clock import FixedClock
from herald.errors import StoreUnavailable
from herald.iam.authorizer import Authorizer
from herald.iam.identities import Identities
from herald.sqs import service as sqs_service
from herald.sqs.service import Outgoing, SQSService
from herald.store.base_sqs import QueuedMessage
from herald.store.sqlite import SQLiteStore
from tests.service.context import ACCOUNT, CTX

ANSWER_WITHIN = 10.0  # seconds a woken poll may take on a loaded machine; far below the 60


class CountingStore(SQLiteStore):
    receives = 0
    fail_next = False  # the next receive fails, as a store that is unavailable

    async def receive(self, *args: Any, **kwargs: Any) -> list[QueuedMessage]:
        self.receives += 1
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailable("The store is not open.")
        return await super().receive(*args, **kwargs)


Scenario = Callable[[CountingStore, SQSService, str], Awaitable[None]]


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Scenario) -> None:
    monkeypatch.setattr(sqs_service, "RECHECK_SECONDS", 60.0)

    async def main() -> None:
        store = CountingStore(tmp_path / "herald.db")
        await store.open()
        try:
            clock = FixedClock()
            sqs = SQSService(store, clock, Authorizer(Identities(store), clock))
            await sqs.create_queue(CTX, "polled", {}, {})
            await scenario(store, sqs, f"http://localhost/{ACCOUNT}/polled")
        finally:
            await store.close()

    asyncio.run(main())


async def _waiting(
    store: CountingStore, sqs: SQSService, url: str, n: int, count: int
) -> list[Any]:
    """``n`` polls of up to ``count`` messages, each having looked once and now waiting."""
    polls = [asyncio.create_task(sqs.receive(CTX, url, count, 30, 20)) for _ in range(n)]
    while store.receives < n:
        await asyncio.sleep(0.01)
    await store.ping()  # their looks are answered: they wait
    return polls


def test_a_message_wakes_one_waiting_poll_not_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(store: CountingStore, sqs: SQSService, url: str) -> None:
        # Given three polls waiting on an empty queue
        polls = await _waiting(store, sqs, url, 3, 10)
        # When one message is sent
        await sqs.send(CTX, url, [Outgoing("hello")])
        done, pending = await asyncio.wait(
            polls, timeout=ANSWER_WITHIN, return_when=asyncio.FIRST_COMPLETED
        )
        for _ in range(10):
            await asyncio.sleep(0)
        await store.ping()  # any other poll woken has had its look answered
        # Then one poll got it with one more look at the store; the others still wait
        (first,) = done
        assert [m.body for m in first.result()[1]] == [b"hello"]
        assert store.receives == 4
        assert len(pending) == 2 and not any(p.done() for p in pending)
        for poll in pending:
            poll.cancel()

    _run(tmp_path, monkeypatch, scenario)


def test_a_poll_that_takes_all_it_asked_for_wakes_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(store: CountingStore, sqs: SQSService, url: str) -> None:
        # Given two polls of one message each, waiting
        polls = await _waiting(store, sqs, url, 2, 1)
        # When two messages arrive in one send (one arrival)
        await sqs.send(CTX, url, [Outgoing("one"), Outgoing("two")])
        done, _ = await asyncio.wait(polls, timeout=ANSWER_WITHIN)
        # Then both polls answer, one message each, without waiting for a recheck
        bodies = sorted(m.body for poll in done for m in poll.result()[1])
        assert bodies == [b"one", b"two"]

    _run(tmp_path, monkeypatch, scenario)


def test_a_woken_poll_that_cannot_look_wakes_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(store: CountingStore, sqs: SQSService, url: str) -> None:
        # Given two polls waiting, the first of which will fail to look when woken
        first, second = await _waiting(store, sqs, url, 2, 10)
        store.fail_next = True
        # When a message arrives
        await sqs.send(CTX, url, [Outgoing("hello")])
        # Then the first poll fails, and hands its wake to the second, which gets it
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(first, ANSWER_WITHIN)
        _, messages = await asyncio.wait_for(second, ANSWER_WITHIN)
        assert [m.body for m in messages] == [b"hello"]

    _run(tmp_path, monkeypatch, scenario)


def test_a_move_to_the_dead_letter_queue_wakes_a_poll_waiting_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(store: CountingStore, sqs: SQSService, url: str) -> None:
        # Given a queue whose messages go to a dead-letter queue after one receive, and a
        # message received once and visible again
        dead = await sqs.create_queue(CTX, "dead", {}, {})
        policy = f'{{"deadLetterTargetArn": "{dead.arn}", "maxReceiveCount": "1"}}'
        await sqs.set_attributes(CTX, url, {"RedrivePolicy": policy})
        await sqs.send(CTX, url, [Outgoing("too often")])
        _, first = await sqs.receive(CTX, url, 1, 0, 0)
        assert [m.body for m in first] == [b"too often"]
        # And a poll waiting on the dead-letter queue, having looked once
        looked = store.receives
        poll = asyncio.create_task(sqs.receive(CTX, f"http://localhost/{ACCOUNT}/dead", 10, 30, 20))
        while store.receives == looked:
            await asyncio.sleep(0.01)
        await store.ping()
        assert not poll.done()
        # When a receive on the source queue moves the message
        _, second = await sqs.receive(CTX, url, 1, 0, 0)
        assert second == []
        # Then the waiting poll gets it, without waiting for a recheck
        done, _ = await asyncio.wait([poll], timeout=ANSWER_WITHIN)
        assert done == {poll}
        assert [m.body for m in poll.result()[1]] == [b"too often"]

    _run(tmp_path, monkeypatch, scenario)
