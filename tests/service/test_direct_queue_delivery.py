"""Notifications to standard SQS queues written in the publish's own transaction: in
process, with a real SQLite store, a FixedClock and the publisher's worker never run
unless a test says so, so what is in a queue after a publish was put there by the
publish itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from herald.clock import FixedClock
from herald.delivery.worker import DeliveryWorker
from herald.iam.authorizer import Authorizer
from herald.iam.identities import Identities
from herald.sns.metrics import DELIVERED, FAILED
from herald.sns.publishing import PublishInput
from herald.sns.service import SNSService
from herald.sqs.service import SQSService
from herald.store.sqlite import SQLiteStore
from tests.service.context import ACCOUNT, CTX


def _sns_may(effect: str) -> str:
    """A queue policy: SNS may (Allow) or may not (Deny) send to the queue."""
    statement = {
        "Effect": effect,
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


ALLOW_SNS = {"Policy": _sns_may("Allow")}


@dataclass
class World:
    store: SQLiteStore
    clock: FixedClock
    sns: SNSService
    sqs: SQSService
    worker: DeliveryWorker

    async def subscribed_queue(
        self, topic: str, name: str, queue: dict[str, str], subscription: dict[str, str]
    ) -> str:
        """A queue subscribed to ``topic`` (whose policy lets SNS send, unless ``queue``
        says otherwise); its URL."""
        await self.sqs.create_queue(CTX, name, {**ALLOW_SNS, **queue}, {})
        arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
        await self.sns.subscriptions.subscribe(CTX, topic, "sqs", arn, subscription, True)
        return f"http://localhost/{ACCOUNT}/{name}"

    async def bodies(self, url: str) -> list[str]:
        """The bodies of the messages now in the queue, received."""
        _, messages = await self.sqs.receive(CTX, url, 10, 30, 0)
        return [m.body.decode() for m in messages]

    async def pending_deliveries(self) -> int:
        """Delivery rows in the store (whoever holds them)."""
        count: int = await self.store._call(
            lambda c: c.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
        )
        return count


def run(tmp_path: Path, scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        store = SQLiteStore(tmp_path / "herald.db")
        await store.open()
        clock = FixedClock()
        sns = SNSService(store, clock)
        sqs = SQSService(store, clock, Authorizer(Identities(store), clock))
        worker = DeliveryWorker(store, clock, sqs, sns.opener, "https://herald.test")
        sns.publisher.handoff = worker
        try:
            await scenario(World(store, clock, sns, sqs, worker))
        finally:
            await worker.close()
            await store.close()

    asyncio.run(main())


def test_a_notification_is_in_a_standard_queue_when_the_publish_returns(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        # Given a topic with a raw and a JSON-document subscription of two standard queues
        topic = await w.sns.topics.create(CTX, "orders", {}, [])
        raw = await w.subscribed_queue(topic, "raw", {}, {"RawMessageDelivery": "true"})
        documents = await w.subscribed_queue(topic, "documents", {}, {})
        # When a message is published (and the worker never runs)
        message = PublishInput("order 1", subject="new order")
        published = await w.sns.publisher.publish(CTX, topic, None, None, message)
        # Then both queues hold it already: the raw one the message alone, the other the
        # signed notification document
        assert await w.bodies(raw) == ["order 1"]
        (text,) = await w.bodies(documents)
        document = json.loads(text)
        assert document["Type"] == "Notification"
        assert document["MessageId"] == published.message_id
        assert (document["Message"], document["Subject"]) == ("order 1", "new order")
        assert document["Signature"]
        # And no delivery is left for the worker, and both count as delivered
        assert await w.pending_deliveries() == 0
        assert w.worker.metrics.counts[(DELIVERED, topic)] == 2

    run(tmp_path, scenario)


def test_a_queue_that_refuses_sns_is_left_to_the_worker_which_fails_it(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        # Given a queue whose policy denies SNS, and one that accepts
        topic = await w.sns.topics.create(CTX, "orders", {}, [])
        refusing = await w.subscribed_queue(topic, "refusing", {"Policy": _sns_may("Deny")}, {})
        accepting = await w.subscribed_queue(topic, "accepting", {}, {})
        # When a message is published
        await w.sns.publisher.publish(CTX, topic, None, None, PublishInput("order 2"))
        # Then the accepting queue has it, and the refusing one's delivery is left
        assert len(await w.bodies(accepting)) == 1
        assert await w.pending_deliveries() == 1
        # And the worker's attempt fails it as a client-side error: nothing is enqueued
        await w.worker.run_once()
        assert await w.bodies(refusing) == []
        assert w.worker.metrics.counts[(FAILED, topic)] == 1
        assert w.worker.metrics.counts[(DELIVERED, topic)] == 1

    run(tmp_path, scenario)


def test_a_queue_deleted_before_the_commit_gets_a_delivery_instead(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        # Given a subscribed queue that is deleted in the store (as through another node)
        # while this node's SQS service still has it cached
        topic = await w.sns.topics.create(CTX, "orders", {}, [])
        url = await w.subscribed_queue(topic, "gone", {}, {"RawMessageDelivery": "true"})
        await w.sns.publisher.publish(CTX, topic, None, None, PublishInput("order 0"))
        assert await w.bodies(url) == ["order 0"]  # written directly; the queue is cached
        assert await w.pending_deliveries() == 0
        await w.store.delete_queue(f"arn:aws:sqs:us-east-1:{ACCOUNT}:gone", w.clock.now())
        # When a message is published
        await w.sns.publisher.publish(CTX, topic, None, None, PublishInput("order 3"))
        # Then its delivery was written in place of the queue message, for the worker,
        # and it is not counted as delivered (only the first message is)
        assert await w.pending_deliveries() == 1
        assert w.worker.metrics.counts[(DELIVERED, topic)] == 1

    run(tmp_path, scenario)
