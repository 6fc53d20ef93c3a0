"""The delivery worker in process: a real SQLite store, a FixedClock and a real local HTTP
endpoint (tests/e2e/receiver.py), which answers with the statuses it is given, then 200.

Time is stepped, never slept on. A round is ``DeliveryWorker.run_once()``: it sends what
is due at the clock's time and waits for the answers, so when it returns the endpoint has
seen every request of that round. "Due" is worked out as the worker does, the time of the
failed attempt plus the policy's delay, so the clock can be set to exactly that instant.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from herald.clock import FixedClock
from herald.delivery.retry import http_policy
from herald.delivery.worker import DeliveryWorker
from herald.errors import StoreUnavailable
from herald.iam.authorizer import Authorizer
from herald.iam.identities import Identities
from herald.sns.metrics import DELIVERED, FAILED
from herald.sns.publishing import PublishInput
from herald.sns.service import SNSService
from herald.sqs.service import SQSService
from herald.store.sqlite import SQLiteStore
from tests.e2e.receiver import Received, Receiver
from tests.service.context import CTX

T = TypeVar("T")
JUST_BEFORE = 0.001  # seconds before an attempt is due
HOUR = 3600.0

# One retry in each phase: immediate, at 5 s, one backoff retry, at 30 s.
ONE_OF_EACH = {
    "numRetries": 4,
    "numNoDelayRetries": 1,
    "numMinDelayRetries": 1,
    "numMaxDelayRetries": 1,
    "minDelayTarget": 5,
    "maxDelayTarget": 30,
    "backoffFunction": "linear",
}


@dataclass
class World:
    store: SQLiteStore
    clock: FixedClock
    sns: SNSService
    worker: DeliveryWorker
    receiver: Receiver

    async def http_subscription(self, policy: dict[str, Any] | None = None) -> str:
        """A topic with a confirmed http subscription to the receiver; the topic's ARN."""
        topic = await self.sns.topics.create(CTX, "orders", {}, [])
        requested = {"DeliveryPolicy": json.dumps(policy)} if policy else {}
        await self.sns.subscriptions.subscribe(
            CTX, topic, "http", self.receiver.url, requested, return_arn=True
        )
        # The confirmation message goes out at once; its token confirms the subscription.
        assert await self.worker.run_once() == 1
        (confirmation,) = self.receiver.of_type("SubscriptionConfirmation")
        await self.sns.subscriptions.confirm(CTX, topic, confirmation.json()["Token"])
        return topic

    async def publish(self, topic: str, text: str) -> str:
        published = await self.sns.publisher.publish(CTX, topic, None, None, PublishInput(text))
        return published.message_id

    def notifications(self) -> list[Received]:
        return self.receiver.of_type("Notification")

    async def round(self) -> int:
        """One worker round at the clock's time: how many notifications the endpoint got."""
        before = len(self.notifications())
        await self.worker.run_once()
        return len(self.notifications()) - before

    async def sent_only_at(self, due: float) -> None:
        """Nothing goes just before ``due``; one notification goes at ``due``."""
        self.clock.set(due - JUST_BEFORE)
        assert await self.round() == 0, f"sent {JUST_BEFORE} s before it was due"
        self.clock.set(due)
        assert await self.round() == 1, "not sent when due"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP endpoint, in its own thread."""
    started = Receiver().start()
    yield started
    started.stop()


def run(tmp_path: Path, receiver: Receiver, scenario: Callable[[World], Awaitable[T]]) -> T:
    async def main() -> T:
        store = SQLiteStore(tmp_path / "herald.db")
        await store.open()
        clock = FixedClock()
        sns = SNSService(store, clock)
        sqs = SQSService(store, clock, Authorizer(Identities(store), clock))
        worker = DeliveryWorker(store, clock, sqs, sns.opener, "https://herald.test")
        try:
            return await scenario(World(store, clock, sns, worker, receiver))
        finally:
            await worker.close()
            await store.close()

    return asyncio.run(main())


def test_server_errors_are_retried_exactly_when_each_phase_says(
    tmp_path: Path, receiver: Receiver
) -> None:
    async def scenario(w: World) -> None:
        # Given an endpoint that answers 500 every time, and a policy of one retry per phase
        topic = await w.http_subscription({"healthyRetryPolicy": ONE_OF_EACH})
        w.receiver.statuses.extend([500] * 5)
        policy = http_policy(ONE_OF_EACH)
        waits = [policy.delay(n) for n in range(1, 5)]
        assert waits[:2] == [0.0, 5.0] and waits[3] == 30.0
        # When a message is published, Then the first attempt goes at once
        message_id = await w.publish(topic, "hello")
        assert await w.round() == 1
        # And the immediate retry goes in the next round, at the same instant
        assert await w.round() == 1
        # And each later retry goes exactly when due, not before
        for wait in waits[1:]:
            assert await w.store.pending_deliveries() == 1
            assert wait is not None
            await w.sent_only_at(w.clock.now() + wait)
        # And after the fifth attempt (numRetries + 1) the delivery is given up
        assert await w.store.pending_deliveries() == 0
        w.clock.advance(HOUR)
        assert await w.round() == 0
        assert [n.json()["MessageId"] for n in w.notifications()] == [message_id] * 5
        assert w.worker.metrics.counts[(FAILED, topic)] == 5

    run(tmp_path, receiver, scenario)


def test_the_default_http_policy_retries_three_times_20_seconds_apart(
    tmp_path: Path, receiver: Receiver
) -> None:
    async def scenario(w: World) -> None:
        # Given a subscription without a delivery policy, to an endpoint failing every time
        topic = await w.http_subscription()
        w.receiver.statuses.extend([500] * 4)
        # When a message is published
        await w.publish(topic, "hello")
        start = w.clock.now()
        # Then it is attempted at once, then 20, 40 and 60 seconds later, and not before
        assert await w.round() == 1
        for due in (start + 20, start + 40, start + 60):
            await w.sent_only_at(due)
        # And then given up
        assert await w.store.pending_deliveries() == 0
        w.clock.advance(HOUR)
        assert await w.round() == 0
        assert len(w.notifications()) == 4

    run(tmp_path, receiver, scenario)


STATUS_ROWS = {
    "400": (400, False),
    "403": (403, False),
    "404": (404, False),
    "413": (413, False),
    "429 too many requests": (429, True),
    "500": (500, True),
    "503": (503, True),
    # "Amazon SNS considers all 5XX errors and 429 (too many requests sent) errors as
    # retryable ... All other errors are considered as permanent failures"; SNS does not
    # follow redirects.
    "301 redirect": (301, False),
}


@pytest.mark.parametrize(("status", "retried"), STATUS_ROWS.values(), ids=STATUS_ROWS.keys())
def test_only_5xx_and_429_answers_are_retried(
    tmp_path: Path, receiver: Receiver, status: int, retried: bool
) -> None:
    async def scenario(w: World) -> None:
        # Given an endpoint that answers ``status`` once, then 200
        topic = await w.http_subscription()
        w.receiver.statuses.append(status)
        # When a message is published and attempted
        await w.publish(topic, "hello")
        start = w.clock.now()
        assert await w.round() == 1
        # Then a retryable failure is tried again 20 s later (and delivered);
        # any other is given up at once: one attempt, and the row is gone
        if retried:
            assert await w.store.pending_deliveries() == 1
            await w.sent_only_at(start + 20)
        assert await w.store.pending_deliveries() == 0
        w.clock.advance(HOUR)
        assert await w.round() == 0
        assert len(w.notifications()) == (2 if retried else 1)

    run(tmp_path, receiver, scenario)


def test_a_throttled_subscription_gets_one_message_a_second(
    tmp_path: Path, receiver: Receiver
) -> None:
    async def scenario(w: World) -> None:
        # Given a subscription limited to one delivery a second
        topic = await w.http_subscription({"throttlePolicy": {"maxReceivesPerSecond": 1}})
        w.clock.advance(60)
        # When three messages are published at one instant
        ids = {await w.publish(topic, f"message {i}") for i in range(3)}
        start = w.clock.now()
        # Then the first round sends one and holds the other two back
        assert await w.round() == 1
        assert await w.store.pending_deliveries() == 2
        # And they go one second apart, each exactly at its slot
        await w.sent_only_at(start + 1)
        await w.sent_only_at(start + 2)
        assert await w.store.pending_deliveries() == 0
        assert {n.json()["MessageId"] for n in w.notifications()} == ids
        # And being held back was no failure
        assert w.worker.metrics.counts[(FAILED, topic)] == 0
        assert w.worker.metrics.counts[(DELIVERED, topic)] == 3

    run(tmp_path, receiver, scenario)


def test_a_delivery_held_back_by_the_throttle_keeps_its_retries(
    tmp_path: Path, receiver: Receiver
) -> None:
    async def scenario(w: World) -> None:
        # Given one delivery a second and a single retry, 20 s after a failure
        policy = {
            "healthyRetryPolicy": {"numRetries": 1},
            "throttlePolicy": {"maxReceivesPerSecond": 1},
        }
        topic = await w.http_subscription(policy)
        w.clock.advance(60)
        # And an endpoint that takes the first message but fails the second once
        w.receiver.statuses.extend([200, 500])
        await w.publish(topic, "first")
        await w.publish(topic, "second")
        start = w.clock.now()
        # When the second is held back a second, then fails
        assert await w.round() == 1
        await w.sent_only_at(start + 1)
        # Then its one retry is still to come (holding back was not an attempt)
        assert await w.store.pending_deliveries() == 1
        await w.sent_only_at(start + 1 + 20)
        assert await w.store.pending_deliveries() == 0
        assert len(w.notifications()) == 3

    run(tmp_path, receiver, scenario)


def test_the_request_policy_sets_the_content_type(tmp_path: Path, receiver: Receiver) -> None:
    async def scenario(w: World) -> None:
        # Given a subscription whose request policy asks for application/json
        policy = {"requestPolicy": {"headerContentType": "application/json"}}
        topic = await w.http_subscription(policy)
        # When a message is delivered, Then it carries that Content-Type
        await w.publish(topic, "hello")
        assert await w.round() == 1
        assert w.notifications()[0].headers["Content-Type"] == "application/json"

    run(tmp_path, receiver, scenario)


def test_deliveries_handed_over_by_the_publisher_go_without_a_claim(
    tmp_path: Path, receiver: Receiver
) -> None:
    async def scenario(w: World) -> None:
        topic = await w.http_subscription()
        w.sns.publisher.handoff = w.worker
        claims: list[int] = []
        reads: list[str] = []
        claim, read = w.store.claim_deliveries, w.store.get_message

        async def counted_claim(now: float, limit: int, lease: float) -> Any:
            found = await claim(now, limit, lease)
            claims.append(len(found))
            return found

        async def counted_read(message_id: str) -> Any:
            reads.append(message_id)
            return await read(message_id)

        w.store.claim_deliveries = counted_claim  # type: ignore[method-assign]
        w.store.get_message = counted_read  # type: ignore[method-assign]
        message_id = await w.publish(topic, "handed")
        # The worker delivers it in its next round though no claim finds it (it is leased
        # to this worker), and reads no message from the store: the publisher's record
        assert await w.round() == 1
        assert claims == [0] and reads == []
        assert json.loads(w.notifications()[-1].body)["Message"] == "handed"
        assert w.notifications()[-1].headers["x-amz-sns-message-id"] == message_id
        assert await w.store.pending_deliveries() == 0
        # With no room left, a publish is written for claiming instead
        full = DeliveryWorker(
            w.store, w.clock, w.worker._sqs, w.sns.opener, "https://h", max_in_flight=0
        )
        w.sns.publisher.handoff = full
        await w.publish(topic, "claimed")
        assert await w.round() == 1
        assert claims[-1] == 1

    run(tmp_path, receiver, scenario)


def test_a_failing_store_does_not_make_the_worker_spin(tmp_path: Path, receiver: Receiver) -> None:
    async def scenario(w: World) -> None:
        topic = await w.http_subscription()
        w.sns.publisher.handoff = w.worker
        attempts: list[int] = []

        async def failing(ids: list[str]) -> None:
            attempts.append(len(ids))
            # As after a FIFO delivery finishes: a claim is wanted, nothing wakes the loop
            w.worker._claim_wanted = True
            await asyncio.sleep(0)  # a real store call yields to the event loop
            raise StoreUnavailable("the disk is gone")

        w.store.finish_deliveries = failing  # type: ignore[method-assign]
        await w.publish(topic, "m")
        task = asyncio.create_task(w.worker.run())
        await asyncio.sleep(0.5)
        w.worker.stop()
        await asyncio.wait_for(task, 10)
        # Each failed round waits (up to a second, or until woken) before the next: a
        # handful of attempts, not one per turn of the event loop
        assert 1 <= len(attempts) <= 5, len(attempts)

    run(tmp_path, receiver, scenario)


def test_a_handed_delivery_whose_lease_is_nearly_over_is_left_for_a_claim(
    tmp_path: Path, receiver: Receiver
) -> None:
    async def scenario(w: World) -> None:
        topic = await w.http_subscription()
        w.sns.publisher.handoff = w.worker
        real_reserve = w.worker.reserve

        def late(count: int) -> float | None:
            lease = real_reserve(count)
            assert lease is not None
            w.clock.advance(15)  # the commit took 15 s: less than a claimed lease is left
            return lease

        w.worker.reserve = late  # type: ignore[method-assign]
        await w.publish(topic, "slow commit")
        # Not sent now: the attempt could outlast the lease
        assert await w.round() == 0
        # Sent once the lease (30 s and the hand-over's 10 s) has run out, by a claim
        w.clock.advance(26)
        assert await w.round() == 1

    run(tmp_path, receiver, scenario)


def test_publishers_leave_a_share_of_the_room_to_claims(tmp_path: Path, receiver: Receiver) -> None:
    async def scenario(w: World) -> None:
        worker = DeliveryWorker(
            w.store, w.clock, w.worker._sqs, w.sns.opener, "https://h", max_in_flight=32
        )
        # 30 of 32 places may be reserved by publishers; the last two stay for claims
        assert worker.reserve(30) is not None
        assert worker.reserve(1) is None
        worker.unreserve(30)
        assert worker.reserve(1) is not None

    run(tmp_path, receiver, scenario)
