"""The Store contract (herald.store.base), run against every backend.

Each backend gets a fresh store in ``tmp_path``. The store is asynchronous; these tests
stay synchronous (no pytest plugin beyond pytest's own) and drive it through one event
loop per test, ``run``, which is the loop the store was opened on.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from herald.errors import (
    NotFound,
    ResourceNotFound,
    StoreUnavailable,
    SubscriptionLimitExceeded,
    TagLimitExceeded,
)
from herald.store.base import (
    AccessKeyRecord,
    KeyStatus,
    MessageRecord,
    QueuedDeliveries,
    SealingKeyRecord,
    Store,
    SubscriptionRecord,
    TopicCounts,
    TopicRecord,
)
from herald.store.base_delivery import DeliveryRecord
from herald.store.postgres import PostgresStore
from herald.store.sqlite import SQLiteStore
from tests import pg

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]

ACCOUNT = "000000000000"
OTHER_ACCOUNT = "111111111111"
REGION = "us-east-1"
NOW = 1_700_000_000.0

# Backends under the contract; PostgreSQL fails, never skips, when it is absent.
BACKENDS: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda folder: SQLiteStore(folder / "herald.db"),
    "postgresql": lambda folder: PostgresStore(pg.schema_url(str(folder))),
}


@pytest.fixture(scope="module", autouse=True)
def _drop_schemas() -> Iterator[None]:
    yield
    pg.drop_created()


@pytest.fixture
def run() -> Iterator[Run[Any]]:
    """Run a coroutine to completion on this test's event loop."""
    with asyncio.Runner() as runner:
        yield runner.run


@pytest.fixture(params=sorted(BACKENDS))
def open_store(
    request: pytest.FixtureRequest, tmp_path: Path, run: Run[Any]
) -> Iterator[Callable[[], Store]]:
    """Open a store over this test's storage; each call is a new instance (a restart)."""
    opened: list[Store] = []

    def open_one() -> Store:
        store = BACKENDS[request.param](tmp_path)
        run(store.open())
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        run(store.close())


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    """An open, empty store."""
    return open_store()


# -- records ---------------------------------------------------------------------------


def topic_record(
    name: str = "orders",
    *,
    account: str = ACCOUNT,
    region: str = REGION,
    attributes: dict[str, str] | None = None,
) -> TopicRecord:
    arn = f"arn:aws:sns:{region}:{account}:{name}"
    return TopicRecord(arn, account, region, name, attributes or {}, NOW)


def subscription_record(
    topic: TopicRecord,
    endpoint: str = "arn:aws:sqs:us-east-1:000000000000:q",
    *,
    protocol: str = "sqs",
    confirmed: bool = True,
    token: str | None = None,
    attributes: dict[str, str] | None = None,
) -> SubscriptionRecord:
    return SubscriptionRecord(
        arn=f"{topic.arn}:{uuid.uuid4()}",
        topic_arn=topic.arn,
        owner=topic.account_id,
        protocol=protocol,
        endpoint=endpoint,
        attributes=attributes or {},
        confirmed=confirmed,
        token=token,
        token_expires_at=NOW + 3 * 86400 if token else None,
        created_at=NOW,
    )


def message_record(topic: TopicRecord, body: bytes = b"hello", **fields: Any) -> MessageRecord:
    values: dict[str, Any] = dict(
        message_id=str(uuid.uuid4()),
        topic_arn=topic.arn,
        subject=None,
        body=body,
        body_format="plain",
        message_structure=None,
        attributes="{}",
        group_id=None,
        deduplication_id=None,
        sequence_number=None,
        publisher_arn=f"arn:aws:iam::{ACCOUNT}:root",
        published_at=NOW,
    )
    values.update(fields)
    return MessageRecord(**values)


def with_topic(store: Store, run: Run[Any], topic: TopicRecord | None = None) -> TopicRecord:
    topic = topic or topic_record()
    run(store.create_topic(topic, {}))
    return topic


# -- topics ----------------------------------------------------------------------------


def test_create_topic_inserts_once_and_then_returns_the_stored_topic(
    store: Store, run: Run[Any]
) -> None:
    # Given a topic created with an attribute and a tag
    first = topic_record(attributes={"DisplayName": "Orders"})
    stored, created = run(store.create_topic(first, {"team": "core"}))
    assert (stored, created) == (first, True)
    # When the same ARN is created again with other attributes and tags
    again = topic_record(attributes={"DisplayName": "Changed"})
    stored, created = run(store.create_topic(again, {"team": "other"}))
    # Then nothing is created and the first topic comes back, unchanged
    assert (stored, created) == (first, False)
    assert run(store.get_topic(first.arn)) == first
    assert run(store.list_tags(first.arn)) == {"team": "core"}


def test_an_unknown_topic_is_none(store: Store, run: Run[Any]) -> None:
    assert run(store.get_topic(topic_record("missing").arn)) is None


def test_set_topic_attributes_sets_and_removes_in_one_step(store: Store, run: Run[Any]) -> None:
    # Given a topic with two attributes
    topic = with_topic(store, run, topic_record(attributes={"DisplayName": "O", "Policy": "{}"}))
    # When one is changed, one added and one removed
    updated = run(
        store.set_topic_attributes(
            topic.arn, {"DisplayName": "Orders", "DeliveryPolicy": "{}"}, ["Policy", "Absent"]
        )
    )
    # Then the returned and the stored record agree on the result
    expected = {"DisplayName": "Orders", "DeliveryPolicy": "{}"}
    assert dict(updated.attributes) == expected
    stored = run(store.get_topic(topic.arn))
    assert stored is not None
    assert dict(stored.attributes) == expected
    assert (stored.name, stored.created_at) == (topic.name, topic.created_at)


def test_set_topic_attributes_of_an_unknown_topic_is_not_found(store: Store, run: Run[Any]) -> None:
    with pytest.raises(NotFound):
        run(store.set_topic_attributes(topic_record("missing").arn, {"DisplayName": "x"}, []))


def test_delete_topic_removes_its_subscriptions_and_tags(store: Store, run: Run[Any]) -> None:
    # Given a topic with a tag and a subscription
    topic = topic_record()
    run(store.create_topic(topic, {"team": "core"}))
    sub, _ = run(store.create_subscription(subscription_record(topic), 100))
    # When the topic is deleted
    run(store.delete_topic(topic.arn))
    # Then the topic and its subscription are gone
    assert run(store.get_topic(topic.arn)) is None
    assert run(store.get_subscription(sub.arn)) is None
    with pytest.raises(ResourceNotFound):
        run(store.list_tags(topic.arn))
    # And a topic created again under the same ARN starts with nothing
    run(store.create_topic(topic, {}))
    assert run(store.list_tags(topic.arn)) == {}
    assert run(store.list_subscriptions_by_topic(topic.arn, None, 100)) == []
    assert run(store.topic_counts(topic.arn)) == TopicCounts(0, 0, 0)


def test_deleting_an_unknown_topic_succeeds(store: Store, run: Run[Any]) -> None:
    run(store.delete_topic(topic_record("missing").arn))


def test_list_topics_pages_through_the_accounts_topics_in_arn_order(
    store: Store, run: Run[Any]
) -> None:
    # Given topics created out of order, and topics of another account and region
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for name in names:
        with_topic(store, run, topic_record(name))
    with_topic(store, run, topic_record("alpha", account=OTHER_ACCOUNT))
    with_topic(store, run, topic_record("alpha", region="eu-west-1"))
    # When they are listed two at a time, each page starting after the last ARN
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        page = run(store.list_topics(ACCOUNT, REGION, after, 2))
        if not page:
            break
        pages.append([t.name for t in page])
        after = page[-1].arn
    # Then every topic of the account and region comes once, ordered by ARN
    assert pages == [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]
    assert run(store.count_topics(ACCOUNT, REGION)) == 5
    assert run(store.count_topics(OTHER_ACCOUNT, REGION)) == 1


# -- tags ------------------------------------------------------------------------------


def test_tags_are_added_overwritten_and_removed(store: Store, run: Run[Any]) -> None:
    # Given a topic with one tag
    topic = topic_record()
    run(store.create_topic(topic, {"team": "core"}))
    # When a tag is overwritten, one added, and then one removed
    run(store.tag_resource(topic.arn, {"team": "edge", "env": "prod"}, 50))
    run(store.untag_resource(topic.arn, ["env", "never-set"]))
    # Then the tags are as last written
    assert run(store.list_tags(topic.arn)) == {"team": "edge"}


def test_tagging_up_to_the_limit_counts_overwrites_once(store: Store, run: Run[Any]) -> None:
    # Given a topic with three tags and a limit of four
    topic = topic_record()
    run(store.create_topic(topic, {"a": "1", "b": "2", "c": "3"}))
    # When two tags are written, one of them overwriting
    run(store.tag_resource(topic.arn, {"a": "one", "d": "4"}, 4))
    # Then the topic has exactly four tags
    assert run(store.list_tags(topic.arn)) == {"a": "one", "b": "2", "c": "3", "d": "4"}


def test_tagging_past_the_limit_raises_and_writes_nothing(store: Store, run: Run[Any]) -> None:
    # Given a topic with three tags and a limit of four
    topic = topic_record()
    before = {"a": "1", "b": "2", "c": "3"}
    run(store.create_topic(topic, before))
    # When a request would overwrite one and add two more
    with pytest.raises(TagLimitExceeded):
        run(store.tag_resource(topic.arn, {"a": "changed", "d": "4", "e": "5"}, 4))
    # Then no tag was written, not even the overwrite
    assert run(store.list_tags(topic.arn)) == before


TAG_CALLS: dict[str, Callable[[Store, str], Coroutine[Any, Any, object]]] = {
    "tag_resource": lambda store, arn: store.tag_resource(arn, {"a": "1"}, 50),
    "untag_resource": lambda store, arn: store.untag_resource(arn, ["a"]),
    "list_tags": lambda store, arn: store.list_tags(arn),
}


@pytest.mark.parametrize("call", TAG_CALLS.values(), ids=TAG_CALLS.keys())
def test_tag_calls_on_an_unknown_resource_are_resource_not_found(
    store: Store, run: Run[Any], call: Callable[[Store, str], Coroutine[Any, Any, object]]
) -> None:
    with pytest.raises(ResourceNotFound):
        run(call(store, topic_record("missing").arn))


# -- subscriptions ---------------------------------------------------------------------


def test_a_subscription_is_unique_per_topic_protocol_and_endpoint(
    store: Store, run: Run[Any]
) -> None:
    # Given a topic with an SQS subscription
    topic = with_topic(store, run)
    first, created = run(store.create_subscription(subscription_record(topic), 100))
    assert created
    # When the same protocol and endpoint subscribe again (under a new ARN)
    again, created = run(store.create_subscription(subscription_record(topic), 100))
    # Then the first subscription comes back and nothing is added
    assert (again, created) == (first, False)
    assert run(store.list_subscriptions_by_topic(topic.arn, None, 100)) == [first]


def subscription_variants(topic: TopicRecord, other: TopicRecord) -> dict[str, SubscriptionRecord]:
    return {
        "other endpoint": subscription_record(topic, "arn:aws:sqs:us-east-1:000000000000:q2"),
        "other protocol": subscription_record(topic, protocol="lambda"),
        "other topic": subscription_record(other),
    }


@pytest.mark.parametrize("variant", ["other endpoint", "other protocol", "other topic"])
def test_a_subscription_differing_in_one_part_is_created(
    store: Store, run: Run[Any], variant: str
) -> None:
    # Given a topic with an SQS subscription, and a second topic
    topic = with_topic(store, run)
    other = with_topic(store, run, topic_record("other"))
    run(store.create_subscription(subscription_record(topic), 100))
    # When a subscription differing in one part of (topic, protocol, endpoint) is made
    sub = subscription_variants(topic, other)[variant]
    stored, created = run(store.create_subscription(sub, 100))
    # Then it is a new subscription
    assert (stored, created) == (sub, True)
    assert run(store.get_subscription(sub.arn)) == sub


def test_subscribing_past_the_topics_limit_raises_and_writes_nothing(
    store: Store, run: Run[Any]
) -> None:
    # Given a topic with two subscriptions and a limit of two
    topic = with_topic(store, run)
    for queue in ("q1", "q2"):
        endpoint = f"arn:aws:sqs:us-east-1:000000000000:{queue}"
        run(store.create_subscription(subscription_record(topic, endpoint), 2))
    # When a third subscribes
    third = subscription_record(topic, "arn:aws:sqs:us-east-1:000000000000:q3")
    with pytest.raises(SubscriptionLimitExceeded):
        run(store.create_subscription(third, 2))
    # Then it was not stored
    assert run(store.get_subscription(third.arn)) is None
    assert len(run(store.list_subscriptions_by_topic(topic.arn, None, 100))) == 2


def test_subscribing_to_an_unknown_topic_is_not_found(store: Store, run: Run[Any]) -> None:
    sub = subscription_record(topic_record("missing"))
    with pytest.raises(NotFound):
        run(store.create_subscription(sub, 100))
    assert run(store.get_subscription(sub.arn)) is None


def test_a_subscription_is_found_by_its_confirmation_token(store: Store, run: Run[Any]) -> None:
    # Given a pending email subscription with a token
    topic = with_topic(store, run)
    sub = subscription_record(
        topic, "ops@example.com", protocol="email", confirmed=False, token="t0ken"
    )
    run(store.create_subscription(sub, 100))
    # When it is looked up by token, Then it is found; another token finds nothing
    assert run(store.find_subscription_by_token("t0ken")) == sub
    assert run(store.find_subscription_by_token("other")) is None


def test_update_subscription_changes_only_what_it_is_given(store: Store, run: Run[Any]) -> None:
    # Given a pending subscription with attributes and a token
    topic = with_topic(store, run)
    sub = subscription_record(
        topic,
        "https://example.com/hook",
        protocol="https",
        confirmed=False,
        token="first",
        attributes={"RawMessageDelivery": "false", "FilterPolicy": "{}"},
    )
    run(store.create_subscription(sub, 100))
    # When it is confirmed with one attribute changed and one removed
    updated = run(
        store.update_subscription(
            sub.arn, set_={"RawMessageDelivery": "true"}, remove=["FilterPolicy"], confirmed=True
        )
    )
    # Then those change, and its token, expiry and identity stay
    assert dict(updated.attributes) == {"RawMessageDelivery": "true"}
    assert updated.confirmed
    assert (updated.token, updated.token_expires_at) == (sub.token, sub.token_expires_at)
    assert (updated.arn, updated.endpoint, updated.created_at) == (
        sub.arn,
        sub.endpoint,
        sub.created_at,
    )
    assert run(store.get_subscription(sub.arn)) == updated
    # And a new token replaces the old one for look-ups
    run(store.update_subscription(sub.arn, token="second", token_expires_at=NOW + 60))
    assert run(store.find_subscription_by_token("first")) is None
    found = run(store.find_subscription_by_token("second"))
    assert found is not None
    assert (found.arn, found.token_expires_at) == (sub.arn, NOW + 60)


def test_updating_an_unknown_subscription_is_not_found(store: Store, run: Run[Any]) -> None:
    with pytest.raises(NotFound):
        run(store.update_subscription("arn:aws:sns:us-east-1:0:t:nope", confirmed=True))


def test_deleting_a_subscription_counts_it_as_deleted_once(store: Store, run: Run[Any]) -> None:
    # Given a topic with a confirmed and a pending subscription
    topic = with_topic(store, run)
    confirmed, _ = run(store.create_subscription(subscription_record(topic), 100))
    pending = subscription_record(topic, "a@example.com", protocol="email", confirmed=False)
    run(store.create_subscription(pending, 100))
    assert run(store.topic_counts(topic.arn)) == TopicCounts(confirmed=1, pending=1, deleted=0)
    # When the confirmed one is deleted twice
    assert run(store.delete_subscription(confirmed.arn)) is True
    assert run(store.delete_subscription(confirmed.arn)) is False
    # Then it is gone and counted as deleted once
    assert run(store.get_subscription(confirmed.arn)) is None
    assert run(store.topic_counts(topic.arn)) == TopicCounts(confirmed=0, pending=1, deleted=1)


def test_the_counts_of_an_unknown_topic_are_zero(store: Store, run: Run[Any]) -> None:
    assert run(store.topic_counts(topic_record("missing").arn)) == TopicCounts(0, 0, 0)


def test_list_subscriptions_pages_through_the_accounts_topics_in_arn_order(
    store: Store, run: Run[Any]
) -> None:
    # Given subscriptions on two topics of the account and one of another account
    mine = [with_topic(store, run, topic_record(n)) for n in ("a", "b")]
    theirs = with_topic(store, run, topic_record("a", account=OTHER_ACCOUNT))
    subs = [
        run(store.create_subscription(subscription_record(t, f"{t.name}-{i}@x.io", protocol=p), 9))
        for t in mine
        for i, p in enumerate(("email", "email-json"))
    ]
    run(store.create_subscription(subscription_record(theirs), 9))
    expected = sorted(s.arn for s, _ in subs)
    # When they are listed three at a time
    listed: list[str] = []
    after: str | None = None
    while page := run(store.list_subscriptions(ACCOUNT, REGION, after, 3)):
        assert len(page) <= 3
        listed += [s.arn for s in page]
        after = page[-1].arn
    # Then each of the account's subscriptions comes once, in ARN order
    assert listed == expected
    by_topic = run(store.list_subscriptions_by_topic(mine[0].arn, None, 100))
    assert [s.arn for s in by_topic] == sorted(s.arn for s, _ in subs[:2])


# -- messages --------------------------------------------------------------------------


def test_messages_read_back_exactly_as_added(store: Store, run: Run[Any]) -> None:
    # Given a FIFO-style message with every field set, and a plain one
    topic = with_topic(store, run)
    full = message_record(
        topic,
        b"\x00\xffbinary body",
        subject="Subject ሴ",
        message_structure="json",
        attributes='{"k":{"DataType":"String","StringValue":"v"}}',
        group_id="g",
        deduplication_id="d",
        sequence_number="10000000000000000001",
    )
    plain = message_record(topic)
    # When both are added in one call
    run(store.add_messages([full, plain]))
    # Then each reads back field for field, and the topic counts two
    assert run(store.get_message(full.message_id)) == full
    assert run(store.get_message(plain.message_id)) == plain
    assert run(store.count_messages(topic.arn)) == 2
    assert run(store.count_messages(topic_record("other").arn)) == 0
    assert run(store.get_message(str(uuid.uuid4()))) is None


def test_concurrent_add_messages_from_200_tasks_are_all_committed(
    open_store: Callable[[], Store], run: Run[Any]
) -> None:
    # Given a topic
    store = open_store()
    topic = with_topic(store, run)
    messages = [message_record(topic, f"message {i}".encode()) for i in range(200)]

    # When 200 tasks add one message each, at once
    async def publish_all() -> None:
        await asyncio.gather(*(store.add_messages([m]) for m in messages))

    run(publish_all())
    # Then every message is stored, and still is after a restart
    assert run(store.count_messages(topic.arn)) == 200
    run(store.close())
    reopened = open_store()
    assert run(reopened.count_messages(topic.arn)) == 200
    assert all(run(reopened.get_message(m.message_id)) == m for m in messages)


def test_a_failing_call_among_concurrent_ones_rolls_back_only_itself(
    store: Store, run: Run[Any]
) -> None:
    # Given a topic with three tags, a limit of four, and many writes ready to go at once
    topic = topic_record()
    run(store.create_topic(topic, {"a": "1", "b": "2", "c": "3"}))
    messages = [message_record(topic) for _ in range(100)]
    others = [topic_record(f"t{i}") for i in range(50)]

    async def together() -> list[object]:
        calls: list[Awaitable[object]] = [store.add_messages([m]) for m in messages[:50]]
        # This one writes two tags before it finds the limit passed, then raises.
        calls.append(store.tag_resource(topic.arn, {"a": "x", "d": "4", "e": "5"}, 4))
        calls.append(store.set_topic_attributes(topic_record("gone").arn, {"x": "y"}, []))
        calls += [store.create_topic(t, {"n": t.name}) for t in others]
        calls += [store.add_messages([m]) for m in messages[50:]]
        return await asyncio.gather(*calls, return_exceptions=True)

    # When they run concurrently
    outcomes = run(together())
    # Then exactly the two bad calls failed, each with its own error
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert [type(f) for f in failures] == [TagLimitExceeded, NotFound]
    # And the failed tag write left nothing behind, while every other write committed
    assert run(store.list_tags(topic.arn)) == {"a": "1", "b": "2", "c": "3"}
    assert run(store.count_messages(topic.arn)) == 100
    assert all(run(store.list_tags(t.arn)) == {"n": t.name} for t in others)
    assert run(store.count_topics(ACCOUNT, REGION)) == 51


# -- credentials and lifecycle ---------------------------------------------------------


def access_key(secret: str = "s3cret", status: KeyStatus = KeyStatus.ACTIVE) -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key_id="AKIAHERALDSTORETEST1",
        secret_access_key=secret,
        account_id=ACCOUNT,
        principal_arn=f"arn:aws:iam::{ACCOUNT}:root",
        user_id=ACCOUNT,
        status=status,
        created_at=NOW,
    )


def test_an_access_key_is_stored_and_replaced(store: Store, run: Run[Any]) -> None:
    # Given an account (created twice: the second time is a no-op) and a key
    run(store.ensure_account(ACCOUNT, NOW))
    run(store.ensure_account(ACCOUNT, NOW + 1))
    run(store.put_access_key(access_key()))
    assert run(store.get_access_key("AKIAHERALDSTORETEST1")) == access_key()
    # When the key is put again with another secret and status
    replaced = access_key("n3w", KeyStatus.INACTIVE)
    run(store.put_access_key(replaced))
    # Then the new one is what is read back
    assert run(store.get_access_key("AKIAHERALDSTORETEST1")) == replaced
    assert run(store.get_access_key("AKIAUNKNOWN")) is None


def test_everything_survives_closing_and_reopening(
    open_store: Callable[[], Store], run: Run[Any]
) -> None:
    # Given a store holding a key, a topic with tags, a subscription and a message
    store = open_store()
    run(store.ensure_account(ACCOUNT, NOW))
    run(store.put_access_key(access_key()))
    topic = topic_record(attributes={"DisplayName": "Orders"})
    run(store.create_topic(topic, {"team": "core"}))
    sub, _ = run(
        store.create_subscription(
            subscription_record(
                topic, "a@example.com", protocol="email", confirmed=False, token="tok"
            ),
            100,
        )
    )
    gone, _ = run(store.create_subscription(subscription_record(topic), 100))
    run(store.delete_subscription(gone.arn))
    message = message_record(topic, b"kept")
    run(store.add_messages([message]))
    # When it is closed and a new store is opened over the same storage
    run(store.close())
    reopened = open_store()
    # Then everything reads back as it was
    assert run(reopened.get_access_key("AKIAHERALDSTORETEST1")) == access_key()
    assert run(reopened.get_topic(topic.arn)) == topic
    assert run(reopened.list_tags(topic.arn)) == {"team": "core"}
    assert run(reopened.get_subscription(sub.arn)) == sub
    assert run(reopened.find_subscription_by_token("tok")) == sub
    assert run(reopened.topic_counts(topic.arn)) == TopicCounts(confirmed=0, pending=1, deleted=1)
    assert run(reopened.get_message(message.message_id)) == message


def test_a_closed_store_refuses_calls(store: Store, run: Run[Any]) -> None:
    # Given a store that was open and is now closed
    run(store.close())
    # When it is called, Then it says it is unavailable
    with pytest.raises(StoreUnavailable):
        run(store.get_topic(topic_record().arn))
    # And closing it again is harmless
    run(store.close())


# -- FIFO deduplication and pruning ------------------------------------------------------


def _delivery_of(message: MessageRecord) -> DeliveryRecord:
    return DeliveryRecord(
        delivery_id=str(uuid.uuid4()),
        message_id=message.message_id,
        topic_arn=message.topic_arn,
        subscription_arn=f"{message.topic_arn}:{uuid.uuid4()}",
        protocol="sqs",
        endpoint="arn:aws:sqs:us-east-1:000000000000:q",
        raw=False,
        attempts=0,
        next_attempt_at=message.published_at,
        created_at=message.published_at,
    )


def test_a_deduplication_id_seen_within_the_interval_makes_a_duplicate(
    store: Store, run: Run[Any]
) -> None:
    # Given a FIFO topic's message with deduplication id "d"
    topic = with_topic(store, run)
    first = message_record(topic, deduplication_id="d", sequence_number="1", group_id="g")
    assert run(store.add_messages([first], [_delivery_of(first)], NOW - 300)) == {
        first.message_id: (first.message_id, f"{1:020d}")
    }
    # When the same id comes again in the interval (twice in one batch, and with another)
    fields = {"group_id": "g", "published_at": NOW + 10}
    again = message_record(topic, deduplication_id="d", sequence_number="2", **fields)
    other = message_record(topic, deduplication_id="e", sequence_number="3", **fields)
    twice = message_record(topic, deduplication_id="e", sequence_number="4", **fields)
    found = run(
        store.add_messages(
            [again, other, twice],
            [_delivery_of(m) for m in (again, other, twice)],
            NOW + 10 - 300,
        )
    )
    # Then the repeats are duplicates of the first of each id, neither stored nor delivered
    assert found == {
        again.message_id: (first.message_id, f"{1:020d}"),
        other.message_id: (other.message_id, f"{3:020d}"),
        twice.message_id: (other.message_id, f"{3:020d}"),
    }
    assert run(store.get_message(again.message_id)) is None
    assert run(store.get_message(other.message_id)) == replace(other, sequence_number=f"{3:020d}")
    assert run(store.pending_deliveries()) == 2
    # And after the interval the id is new again
    later = message_record(topic, deduplication_id="d", published_at=NOW + 400)
    assert run(store.add_messages([later], [], NOW + 400 - 300)) == {}


def test_fifo_sequence_numbers_follow_the_commits_not_the_proposals(
    store: Store, run: Run[Any]
) -> None:
    # Given a FIFO message numbered 500 by its publisher
    topic = with_topic(store, run)
    first = message_record(topic, sequence_number="500", group_id="g")
    run(store.add_messages([first]))
    # When a later commit brings a smaller proposal (another node's clock, a slow publish)
    second = message_record(topic, sequence_number="20", group_id="g")
    found = run(store.add_messages([second]))
    # Then it is numbered after the first, and so is the message as stored
    assert found == {second.message_id: (second.message_id, f"{501:020d}")}
    stored = run(store.get_message(second.message_id))
    assert stored is not None and stored.sequence_number == f"{501:020d}"


def test_only_the_first_undelivered_message_of_a_fifo_group_is_claimed(
    store: Store, run: Run[Any]
) -> None:
    # Given three messages of one group and one of another, at one subscription
    topic = with_topic(store, run)
    messages = [message_record(topic, sequence_number=str(n), group_id="g") for n in (1, 2, 3)]
    messages.append(message_record(topic, sequence_number="4", group_id="h"))
    deliveries = [
        replace(_delivery_of(m), subscription_arn="s", group_key=f"s\n{m.group_id}")
        for m in messages
    ]
    run(store.add_messages(messages, deliveries))
    # When deliveries are claimed, twice
    first = run(store.claim_deliveries(NOW + 1, 10, 30))
    again = run(store.claim_deliveries(NOW + 1, 10, 30))
    # Then each group gives only its head, once, and the next comes when the head is done
    assert sorted(d.message_id for d in first) == sorted(
        [messages[0].message_id, messages[3].message_id]
    )
    assert again == []
    run(store.finish_deliveries([d.delivery_id for d in first]))
    after = run(store.claim_deliveries(NOW + 1, 10, 30))
    assert [d.message_id for d in after] == [messages[1].message_id]


def test_deliveries_written_leased_are_not_claimed_until_the_lease_ends(
    store: Store, run: Run[Any]
) -> None:
    # Given a message whose deliveries a publisher hands to its own worker, leased to NOW+30
    topic = with_topic(store, run)
    handed = message_record(topic)
    other = message_record(topic)
    run(store.add_messages([handed], [_delivery_of(handed)], leased_until=NOW + 30))
    run(store.add_messages([other], [_delivery_of(other)]))
    # When deliveries are claimed during the lease, then after it
    during = run(store.claim_deliveries(NOW + 1, 10, 60))
    after = run(store.claim_deliveries(NOW + 31, 10, 30))
    # Then only the unleased one is claimed at first; the handed one only once its lease
    # ended (its worker died without finishing it)
    assert [d.message_id for d in during] == [other.message_id]
    assert [d.message_id for d in after] == [handed.message_id]


def test_prune_removes_delivered_messages_after_the_interval_and_keeps_the_rest(
    store: Store, run: Run[Any]
) -> None:
    # Given an old message with a delivery left, an old one without, and a recent one
    topic = with_topic(store, run)
    pending = message_record(topic)
    done = message_record(topic)
    recent = message_record(topic, published_at=NOW + 290)
    run(store.add_messages([pending, done, recent], [_delivery_of(pending)]))
    # When the store is pruned 5 minutes after the first two
    removed = run(store.prune(NOW + 301, NOW - 86400))
    # Then only the delivered old one is gone
    assert removed == 1
    assert run(store.get_message(done.message_id)) is None
    assert run(store.get_message(pending.message_id)) == pending
    assert run(store.get_message(recent.message_id)) == recent


def test_prune_removes_a_bounded_number_of_each_kind_at_a_time(store: Store, run: Run[Any]) -> None:
    from herald.store.base import PRUNE_BATCH

    # Given more old delivered messages, FIFO deduplication records and expired queue
    # messages than one prune removes of each
    topic = with_topic(store, run)
    count = PRUNE_BATCH + 3
    messages = [replace(message_record(topic), deduplication_id=f"d{n}") for n in range(count)]
    run(store.add_messages(messages, dedup_since=NOW - 300))
    arn = _queue(store, run)
    run(store.enqueue([_queued(arn, b"old", retention=60) for _ in range(count)], None))
    # And audit events past their retention

    async def audit() -> None:
        await asyncio.gather(*(store.append_audit(_audit_event(NOW - 10)) for _ in range(count)))

    run(audit())
    # When the store is pruned once, then each kind lost at most PRUNE_BATCH rows
    first = run(store.prune(NOW + 301, NOW))
    assert first == 4 * PRUNE_BATCH
    # And the calls that follow remove the rest, then nothing
    assert run(store.prune(NOW + 301, NOW)) == 4 * 3
    assert run(store.prune(NOW + 301, NOW)) == 0
    assert run(store.get_message(messages[0].message_id)) is None
    # And a deduplication id is free again: its message is published anew
    again = replace(message_record(topic, published_at=NOW + 301), deduplication_id="d0")
    assert run(store.add_messages([again], dedup_since=NOW + 1)) == {}


def _sealing_key(topic: TopicRecord, created_at: float = NOW) -> SealingKeyRecord:
    return SealingKeyRecord(
        sealing_id=uuid.uuid4().bytes,
        topic_arn=topic.arn,
        key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid4()}",
        data_key=uuid.uuid4().bytes * 8,
        publisher_identity='{"account":"000000000000","arn":"arn:aws:iam::000000000000:root"}',
        created_at=created_at,
        sealing_until=created_at + 300,
    )


def _sealed_with(topic: TopicRecord, key: SealingKeyRecord, **fields: Any) -> MessageRecord:
    """A message whose body is a version 2 envelope naming ``key``."""
    body = b"\x02" + key.sealing_id + b"n" * 12 + b"sealed body and its tag"
    return message_record(topic, body, body_format="kms-envelope-v2", **fields)


def test_sealing_keys_are_written_with_messages_and_read_back(store: Store, run: Run[Any]) -> None:
    # Given a sealing key written with the first message that names it, then again with
    # a second (a sealer passes it until a commit of it has returned)
    topic = with_topic(store, run)
    key = _sealing_key(topic)
    first, second = _sealed_with(topic, key), _sealed_with(topic, key)
    run(store.add_messages([first], sealing_keys=[key]))
    run(store.add_messages([second], sealing_keys=[key]))
    # Then the key reads back as written, once, and the messages as written
    assert run(store.get_sealing_key(key.sealing_id)) == key
    assert run(store.get_sealing_key(uuid.uuid4().bytes)) is None
    assert run(store.get_message(first.message_id)) == first
    assert run(store.get_message(second.message_id)) == second


def test_a_sealing_key_goes_a_day_after_it_sealed_once_no_message_of_its_time_is_left(
    store: Store, run: Run[Any]
) -> None:
    from herald.store.base import SEALING_KEY_KEEP_SECONDS, SEALING_MARGIN_SECONDS

    # Given keys of one topic, each in its own time and with a message left to deliver:
    # published while it sealed, just before it was made (within the margin: the publish
    # time is taken before sealing), just past the margin, and of another topic
    topic = with_topic(store, run)
    other = with_topic(store, run, topic_record(name="other"))
    during, before, after, elsewhere = (_sealing_key(topic, NOW + n * 10_000) for n in range(4))
    recent = _sealing_key(topic, NOW + 30_000 + SEALING_KEY_KEEP_SECONDS)
    margin = SEALING_MARGIN_SECONDS
    messages = [
        _sealed_with(topic, during, published_at=during.created_at + 10),
        message_record(topic, published_at=before.created_at - margin + 1),
        message_record(topic, published_at=after.sealing_until + margin + 1),
        message_record(other, published_at=elsewhere.created_at + 10),
    ]
    deliveries = [_delivery_of(m) for m in messages]
    keys = [during, before, after, elsewhere, recent]
    run(store.add_messages(messages, deliveries, sealing_keys=keys))
    # When the store is pruned a day after the last of them stopped sealing
    later = elsewhere.sealing_until + SEALING_KEY_KEEP_SECONDS + 1
    run(store.prune(later, NOW - 86400))
    # Then those a message of their topic and time may name stay, and no other; the
    # last one still sealed a day ago
    kept = {k.sealing_id for k in keys if run(store.get_sealing_key(k.sealing_id))}
    assert kept == {during.sealing_id, before.sealing_id, recent.sealing_id}
    # And once the messages are delivered, they and the keys of their time go too
    run(store.finish_deliveries([d.delivery_id for d in deliveries]))
    run(store.prune(later, NOW - 86400))
    kept = {k.sealing_id for k in keys if run(store.get_sealing_key(k.sealing_id))}
    assert kept == {recent.sealing_id}
    assert run(store.get_message(messages[0].message_id)) is None


def _audit_event(at: float) -> Any:
    from herald.store.base_kms import AuditEvent

    return AuditEvent(
        str(uuid.uuid4()), at, "Decrypt", "000000000000", "us-east-1", None, "Root",
        "arn:aws:iam::000000000000:root", "000000000000", None, None, {}, None, None, None,
        None, "req",
    )  # fmt: skip


def test_a_postgresql_store_reconnects_after_losing_its_connection(
    tmp_path: Path, run: Run[Any]
) -> None:
    import psycopg

    # Given an open PostgreSQL store with a topic
    store = PostgresStore(pg.schema_url(str(tmp_path)) + "&application_name=herald-reconnect")
    run(store.open())
    try:
        topic = with_topic(store, run)
        # When the server ends its connection (a restart, a dropped network)
        with psycopg.connect(pg.base_url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'herald-reconnect'"
            )
        # Then at most the call in flight fails, and the store works again
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(run(store.get_topic(topic.arn)) is not None)
            except StoreUnavailable:
                outcomes.append(False)
        assert outcomes[-2:] == [True, True]
    finally:
        run(store.close())


def _queue(store: Store, run: Run[Any]) -> str:
    from herald.store.base_sqs import QueueRecord

    name = f"q-{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:sqs:us-east-1:000000000000:{name}"
    run(store.create_queue(QueueRecord(arn, "000000000000", "us-east-1", name, {}, {}, NOW, NOW)))
    return arn


def test_a_queue_is_purged_once_per_interval_whoever_asks(store: Store, run: Run[Any]) -> None:
    # Given a queue purged at NOW
    arn = _queue(store, run)
    assert run(store.purge_queue(arn, NOW, 60)) is True
    # When it is purged again within the 60 s, then after them
    again = run(store.purge_queue(arn, NOW + 59, 60))
    later = run(store.purge_queue(arn, NOW + 60, 60))
    # Then the store refuses the first and allows the second
    assert (again, later) == (False, True)


def test_a_deleted_queue_is_remembered_as_deleted_from_that_time(
    store: Store, run: Run[Any]
) -> None:
    arn = _queue(store, run)
    assert run(store.deleted_since(arn, NOW - 60)) is False
    assert run(store.delete_queue(arn, NOW)) is True
    assert run(store.deleted_since(arn, NOW - 60)) is True  # within the cool-down
    assert run(store.deleted_since(arn, NOW + 1)) is False  # after it
    # Deleting a queue that does not exist remembers nothing
    other = "arn:aws:sqs:us-east-1:000000000000:never"
    assert run(store.delete_queue(other, NOW)) is False
    assert run(store.deleted_since(other, NOW - 60)) is False


def test_nothing_is_enqueued_in_a_queue_that_no_longer_exists(store: Store, run: Run[Any]) -> None:
    from herald.errors import NotFound
    from herald.store.base_sqs import QueuedMessage

    # Given a queue deleted (through another node, whose sender still had it cached)
    arn = _queue(store, run)
    run(store.delete_queue(arn, NOW))
    message = QueuedMessage(
        str(uuid.uuid4()), arn, b"m", "plain", "md5", "{}", None, "sender", NOW, NOW, NOW + 60
    )
    # When a message is enqueued in it, then the store refuses and keeps nothing
    with pytest.raises(NotFound):
        run(store.enqueue([message], None))
    run(store.create_queue(replace_queue(arn)))
    assert run(store.receive(arn, NOW + 1, 10, 30, False, None)) == []


def replace_queue(arn: str) -> Any:
    from herald.store.base_sqs import QueueRecord

    name = arn.rsplit(":", 1)[1]
    return QueueRecord(arn, "000000000000", "us-east-1", name, {}, {}, NOW, NOW)


def _queued(
    arn: str, body: bytes, at: float = NOW, retention: float = 3600.0, **fields: Any
) -> Any:
    from herald.store.base_sqs import QueuedMessage

    return QueuedMessage(
        str(uuid.uuid4()), arn, body, "plain", "md5", "{}", None, "sender", at, at,
        at + retention, **fields,
    )  # fmt: skip


def test_a_queue_message_keeps_its_trace_header_through_a_move_to_the_dead_letter_queue(
    store: Store, run: Run[Any]
) -> None:
    # Given a queue whose messages go to a dead-letter queue after one receive, holding a
    # message sent with a trace header
    source, dead = _queue(store, run), _queue(store, run)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793"
    run(store.enqueue([_queued(source, b"traced", trace_header=trace)], None))
    # When it is received, then received again (and so moved)
    (first,) = run(store.receive(source, NOW + 1, 10, 0, False, (dead, 1)))
    assert run(store.receive(source, NOW + 2, 10, 0, False, (dead, 1))) == []
    # Then it carries its trace header each time it is read
    (moved,) = run(store.receive(dead, NOW + 3, 10, 0, False, None))
    assert first.trace_header == moved.trace_header == trace


def test_expired_queue_messages_are_never_received_and_prune_removes_them(
    store: Store, run: Run[Any]
) -> None:
    # Given a queue holding one message kept 60 s and one kept an hour
    arn = _queue(store, run)
    run(store.enqueue([_queued(arn, b"short", retention=60), _queued(arn, b"long")], None))
    # When a receive looks after the first has expired
    received = run(store.receive(arn, NOW + 61, 10, 0, False, None))
    # Then only the second comes, and the expired one is counted nowhere
    assert [m.body for m in received] == [b"long"]
    assert run(store.queue_counts(arn, NOW + 61)).visible == 1
    # And a prune removes it for good, while the other stays
    assert run(store.prune(NOW + 61, 0)) == 1
    assert [m.body for m in run(store.receive(arn, NOW + 62, 10, 0, False, None))] == [b"long"]


def test_a_receive_fills_up_after_moving_messages_to_the_dead_letter_queue(
    store: Store, run: Run[Any]
) -> None:
    # Given two messages received once already, ahead of two fresh ones
    arn, dead = _queue(store, run), _queue(store, run)
    old = [_queued(arn, b"old-1", NOW), _queued(arn, b"old-2", NOW + 1)]
    run(store.enqueue(old, None))
    assert len(run(store.receive(arn, NOW + 2, 10, 0, False, None))) == 2
    run(store.enqueue([_queued(arn, b"new-1", NOW + 3), _queued(arn, b"new-2", NOW + 4)], None))
    # When two are asked for with a maxReceiveCount of 1
    received = run(store.receive(arn, NOW + 5, 2, 30, False, (dead, 1)))
    # Then the old ones went to the dead-letter queue and the fresh ones came
    assert sorted(m.body for m in received) == [b"new-1", b"new-2"]
    moved = run(store.receive(dead, NOW + 5, 10, 30, False, None))
    assert sorted(m.body for m in moved) == [b"old-1", b"old-2"]


def test_a_receive_that_reads_again_returns_no_message_twice(store: Store, run: Run[Any]) -> None:
    # Given a message received once already, ahead of a fresh one, and a maxReceiveCount
    # of 1: a receive of two moves the first and must read again for a second message
    arn, dead = _queue(store, run), _queue(store, run)
    run(store.enqueue([_queued(arn, b"old", NOW)], None))
    assert len(run(store.receive(arn, NOW + 1, 10, 0, False, None))) == 1
    run(store.enqueue([_queued(arn, b"fresh", NOW + 2)], None))
    # When two are asked for with no visibility timeout (the fresh one stays visible)
    received = run(store.receive(arn, NOW + 3, 2, 0, False, (dead, 1)))
    # Then the fresh one comes once
    assert [m.body for m in received] == [b"fresh"]


def test_a_queue_that_is_its_own_dead_letter_queue_keeps_its_messages_receivable(
    store: Store, run: Run[Any]
) -> None:
    # Given a message received once from a queue whose dead-letter queue is itself
    arn = _queue(store, run)
    run(store.enqueue([_queued(arn, b"loop")], None))
    assert len(run(store.receive(arn, NOW + 1, 1, 0, False, (arn, 1)))) == 1
    # When it is received again past its maxReceiveCount, then it comes (a move to where
    # it is would leave it unreceivable for good, ahead of every fresh message)
    (again,) = run(store.receive(arn, NOW + 2, 1, 0, False, (arn, 1)))
    assert (again.body, again.receive_count) == (b"loop", 2)


def test_messages_for_the_dead_letter_queue_do_not_hold_back_fresh_ones(
    store: Store, run: Run[Any]
) -> None:
    # Given thirty messages received once, ahead of a fresh one
    arn, dead = _queue(store, run), _queue(store, run)
    run(store.enqueue([_queued(arn, f"old-{i}".encode(), NOW + i / 100) for i in range(30)], None))
    assert len(run(store.receive(arn, NOW + 1, 10, 0, False, None))) == 10
    assert len(run(store.receive(arn, NOW + 1, 10, 0, False, None))) == 10
    assert len(run(store.receive(arn, NOW + 1, 10, 0, False, None))) == 10
    run(store.enqueue([_queued(arn, b"fresh", NOW + 2)], None))
    # When one message is asked for with a maxReceiveCount of 1
    received = run(store.receive(arn, NOW + 3, 1, 30, False, (dead, 1)))
    # Then the fresh one comes at once, and the thirty are in the dead-letter queue
    assert [m.body for m in received] == [b"fresh"]
    assert run(store.queue_counts(dead, NOW + 3)).visible == 30


def test_receipts_are_deleted_and_changed_by_the_batch_each_with_its_outcome(
    store: Store, run: Run[Any]
) -> None:
    # Given two messages in flight
    arn = _queue(store, run)
    run(store.enqueue([_queued(arn, b"a"), _queued(arn, b"b", NOW + 1)], None))
    first, second = run(store.receive(arn, NOW + 2, 10, 30, False, None))
    assert first.receipt_handle and second.receipt_handle
    unknown = "x" * 64
    # When visibility is changed for one known handle and one unknown, in one call
    changed = run(
        store.change_visibility(arn, [(first.receipt_handle, NOW + 2), (unknown, NOW)], NOW + 2)
    )
    # Then each has its outcome, and the known one is visible again
    assert changed == ["ok", "unknown"]
    (again,) = run(store.receive(arn, NOW + 3, 10, 30, False, None))
    assert again.body == b"a"
    # When both are deleted with an unknown handle between them, in one call
    handles = [again.receipt_handle or "", unknown, second.receipt_handle]
    assert run(store.delete_messages(arn, handles, NOW + 4, False)) == [
        "deleted",
        "gone",
        "deleted",
    ]
    # Then the queue is empty
    from herald.store.base_sqs import QueueCounts

    assert run(store.queue_counts(arn, NOW + 4)) == QueueCounts(0, 0, 0)


def test_a_fifo_receipt_past_its_visibility_timeout_is_refused_by_the_batch(
    store: Store, run: Run[Any]
) -> None:
    arn = _queue(store, run)
    run(store.enqueue([_queued(arn, b"a", group_id="g", sequence_number="1")], None))
    (message,) = run(store.receive(arn, NOW + 1, 10, 30, True, None))
    handle = message.receipt_handle or ""
    assert run(store.delete_messages(arn, [handle], NOW + 31, True)) == ["expired"]
    assert run(store.delete_messages(arn, [handle], NOW + 2, True)) == ["deleted"]


def test_a_fifo_receive_skips_more_groups_in_flight_than_sql_can_bind(
    store: Store, run: Run[Any]
) -> None:
    # Given a FIFO queue with more groups in flight than a statement takes bound values
    # (SQLite: lowered here from its 250,000 to 100; PostgreSQL: 65,535, too many for a
    # quick test, so there this checks only that busy groups are skipped)
    arn = _queue(store, run)
    groups = 150
    if not isinstance(store, PostgresStore):  # (a subclass of SQLiteStore)
        limit = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
        run(store._call(lambda c: c.setlimit(limit, 100)))
    run(
        store.enqueue(
            [
                _queued(arn, b"m", group_id=f"g{n}", sequence_number=f"{n:020d}")
                for n in range(groups)
            ],
            None,
        )
    )
    assert len(run(store.receive(arn, NOW + 1, groups, 30, True, None))) == groups
    # And a message of a busy group behind a message of a free one
    run(
        store.enqueue(
            [
                _queued(arn, b"busy", group_id="g7", sequence_number=f"{groups:020d}"),
                _queued(arn, b"free", group_id="new", sequence_number=f"{groups + 1:020d}"),
            ],
            None,
        )
    )
    # When the queue is received from, then only the free group's message comes
    received = run(store.receive(arn, NOW + 2, 10, 30, True, None))
    assert [m.body for m in received] == [b"free"]


def test_deliveries_done_in_the_publish_are_queue_messages_unless_the_queue_is_gone(
    store: Store, run: Run[Any]
) -> None:
    # Given a topic's message with two deliveries done in the publish: one to a queue
    # that exists, one to a queue deleted meanwhile
    topic = with_topic(store, run)
    message = message_record(topic)
    present, deleted = _queue(store, run), _queue(store, run)
    run(store.delete_queue(deleted, NOW))
    to_present = replace(_delivery_of(message), endpoint=present)
    to_deleted = replace(_delivery_of(message), endpoint=deleted)
    queued = QueuedDeliveries(
        [
            (to_present, _queued(present, b"for present")),
            (to_deleted, _queued(deleted, b"for deleted")),
        ]
    )
    # When they are committed with the message
    run(store.add_messages([message], [], None, queued=queued))
    assert queued.kept == {to_deleted.delivery_id}
    # Then the existing queue holds its message, and only the other delivery is a row
    received = run(store.receive(present, NOW + 1, 10, 30, False, None))
    assert [m.body for m in received] == [b"for present"]
    claimed = run(store.claim_deliveries(NOW + 1, 10, 30))
    assert [d.delivery_id for d in claimed] == [to_deleted.delivery_id]
    assert run(store.get_message(message.message_id)) == message


def test_a_message_whose_deliveries_are_all_in_their_queues_is_not_kept(
    store: Store, run: Run[Any]
) -> None:
    # Given two messages: one delivered to a queue in the publish alone, one that also
    # has an HTTP delivery left
    topic = with_topic(store, run)
    queue = _queue(store, run)
    alone, with_http = message_record(topic), message_record(topic)
    queued = QueuedDeliveries(
        [
            (replace(_delivery_of(m), endpoint=queue), _queued(queue, m.body))
            for m in (alone, with_http)
        ]
    )
    http = replace(_delivery_of(with_http), protocol="https", endpoint="https://example.com")
    # When they are committed
    run(store.add_messages([alone, with_http], [http], None, queued=queued))
    # Then both are in the queue, and only the one an HTTP delivery will read is kept
    assert len(run(store.receive(queue, NOW + 1, 10, 30, False, None))) == 2
    assert run(store.get_message(alone.message_id)) is None
    assert run(store.get_message(with_http.message_id)) == with_http


def test_nothing_moves_to_a_dead_letter_queue_that_was_deleted(store: Store, run: Run[Any]) -> None:
    # Given a message received once, and its queue's dead-letter queue deleted since
    arn, dead = _queue(store, run), _queue(store, run)
    run(store.enqueue([_queued(arn, b"kept")], None))
    assert len(run(store.receive(arn, NOW + 1, 1, 0, False, (dead, 1)))) == 1
    run(store.delete_queue(dead, NOW + 1))
    # When it is received past its maxReceiveCount, then it comes, not lost in a queue
    # that no longer exists
    received = run(store.receive(arn, NOW + 2, 1, 0, False, (dead, 1)))
    assert [m.body for m in received] == [b"kept"]


def test_a_store_migrated_by_a_newer_herald_is_not_opened(
    open_store: Callable[[], Store], run: Run[Any]
) -> None:
    from herald.store.migrations import LATEST

    # Given a store whose schema a later Herald advanced
    store = open_store()
    run(store._call(lambda c: c.execute(  # type: ignore[attr-defined]
        "INSERT INTO schema_version(version) VALUES (?)", (LATEST + 1,)
    )))  # fmt: skip
    run(store.close())
    # When this Herald opens it, then it refuses, naming both versions
    with pytest.raises(Exception, match=f"version {LATEST + 1}, newer than this Herald's {LATEST}"):
        open_store()


@pytest.mark.parametrize(
    ("extended", "wanted"),
    [(0, []), (1, [b"foo"]), (2, [b"foo", b"bar"])],
    ids=["first", "second", "third"],
)
def test_a_fifo_group_gives_its_visible_messages_before_the_first_in_flight(
    store: Store, run: Run[Any], extended: int, wanted: list[bytes]
) -> None:
    # Given three messages of one group, all received with a visibility timeout of 1 s,
    # then one of them kept in flight for 4 s (LocalStack's
    # test_fifo_group_visibility_extends_with_change_message_visibility, validated)
    arn = _queue(store, run)
    bodies = [b"foo", b"bar", b"baz"]
    run(store.enqueue([
        _queued(arn, body, group_id="g", sequence_number=f"{n:020d}")
        for n, body in enumerate(bodies)
    ], None))  # fmt: skip
    received = run(store.receive(arn, NOW + 1, 10, 1, True, None))
    assert [m.body for m in received] == bodies
    handle = received[extended].receipt_handle or ""
    assert run(store.change_visibility(arn, [(handle, NOW + 5)], NOW + 1)) == ["ok"]
    # When the queue is received from once the others are visible again
    again = run(store.receive(arn, NOW + 3, 10, 30, True, None))
    # Then only those before the one in flight come, in order
    assert [m.body for m in again] == wanted


def test_a_fifo_groups_first_message_made_visible_comes_while_later_ones_are_in_flight(
    store: Store, run: Run[Any]
) -> None:
    # Given three messages of one group in flight, and a free group's message behind them
    arn = _queue(store, run)
    run(store.enqueue([
        _queued(arn, body, group_id=group, sequence_number=f"{n:020d}")
        for n, (body, group) in enumerate(((b"a1", "A"), (b"a2", "A"), (b"a3", "A")))
    ], None))  # fmt: skip
    first, _, _ = run(store.receive(arn, NOW + 1, 10, 30, True, None))
    run(store.enqueue([_queued(arn, b"b1", group_id="B", sequence_number=f"{9:020d}")], None))
    # When the first is made visible again (visibility 0)
    assert run(store.change_visibility(arn, [(first.receipt_handle or "", NOW + 2)], NOW + 2))
    # Then it comes again, and the free group's message, but not those still in flight
    again = run(store.receive(arn, NOW + 2, 10, 30, True, None))
    assert [m.body for m in again] == [b"a1", b"b1"]
