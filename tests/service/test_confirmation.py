"""The confirmation token flow, in process, over a real SQLite store.

Delivery (which sends the token to the endpoint) is a later feature, so these tests read
the token from the store, as the confirmation message will carry it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from herald.clock import FixedClock
from herald.errors import InvalidParameter
from herald.sns.service import SNSService
from herald.sns.subscriptions import TOKEN_LIFETIME_SECONDS
from herald.store.sqlite import SQLiteStore
from tests.service.context import CTX

T = TypeVar("T")


def run(
    tmp_path: Path, scenario: Callable[[SNSService, SQLiteStore, FixedClock], Awaitable[T]]
) -> T:
    async def main() -> T:
        store = SQLiteStore(tmp_path / "herald.db")
        await store.open()
        try:
            clock = FixedClock()
            return await scenario(SNSService(store, clock), store, clock)
        finally:
            await store.close()

    return asyncio.run(main())


async def _pending_http(sns: SNSService, store: SQLiteStore) -> tuple[str, str, str]:
    topic = await sns.topics.create(CTX, "orders", {}, [])
    arn = await sns.subscriptions.subscribe(
        CTX, topic, "https", "https://example.com/hook", {}, return_arn=True
    )
    sub = await store.get_subscription(arn)
    assert sub is not None and sub.token is not None
    return topic, arn, sub.token


def test_a_pending_subscription_is_confirmed_by_its_token(tmp_path: Path) -> None:
    async def scenario(sns: SNSService, store: SQLiteStore, clock: FixedClock) -> None:
        # Given a pending https subscription
        topic, arn, token = await _pending_http(sns, store)
        assert (await sns.subscriptions.get_attributes(CTX, arn))["PendingConfirmation"] == "true"
        # When it is confirmed with its token (twice: confirming again is harmless)
        first = await sns.subscriptions.confirm(CTX, topic, token)
        second = await sns.subscriptions.confirm(CTX, topic, token)
        # Then it is confirmed, and listed by its ARN
        attributes = await sns.subscriptions.get_attributes(CTX, arn)
        assert first == second == arn
        assert attributes["PendingConfirmation"] == "false"
        assert attributes["ConfirmationWasAuthenticated"] == "true"
        counts = await store.topic_counts(topic)
        assert (counts.confirmed, counts.pending) == (1, 0)

    run(tmp_path, scenario)


def test_a_token_is_refused_for_another_topic_and_after_it_expires(tmp_path: Path) -> None:
    async def scenario(sns: SNSService, store: SQLiteStore, clock: FixedClock) -> None:
        # Given a pending subscription and a second topic
        topic, _, token = await _pending_http(sns, store)
        other = await sns.topics.create(CTX, "other", {}, [])
        # When its token is used for the other topic, Then it is refused
        with pytest.raises(InvalidParameter, match=r"^Invalid parameter: Token$"):
            await sns.subscriptions.confirm(CTX, other, token)
        # When the token's lifetime has passed, Then it is refused too
        clock.advance(TOKEN_LIFETIME_SECONDS + 1)
        with pytest.raises(InvalidParameter, match=r"^Invalid parameter: Token$"):
            await sns.subscriptions.confirm(CTX, topic, token)

    run(tmp_path, scenario)


def test_a_sqs_subscription_in_the_same_account_needs_no_token(tmp_path: Path) -> None:
    async def scenario(sns: SNSService, store: SQLiteStore, clock: FixedClock) -> None:
        # Given a topic
        topic = await sns.topics.create(CTX, "orders", {}, [])
        # When a queue of the same account and one of another account subscribe
        same = await sns.subscriptions.subscribe(
            CTX, topic, "sqs", "arn:aws:sqs:us-east-1:000000000000:q", {}, return_arn=False
        )
        other = await sns.subscriptions.subscribe(
            CTX, topic, "sqs", "arn:aws:sqs:us-east-1:111122223333:q", {}, return_arn=False
        )
        # Then the first is confirmed at once and the second waits for confirmation
        assert same.startswith(topic + ":")
        assert other == "pending confirmation"

    run(tmp_path, scenario)
