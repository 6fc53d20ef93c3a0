"""Topic encryption in process, over a real SQLite store, the real key service and an
injectable clock: the KMS request formula R = B / D x (2 x P) over a simulated hour,
stored messages read back through the store and decrypted through the key service, and
the backlog and turn-off rules."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from herald.clock import FixedClock
from herald.errors import InvalidCiphertext, KMSAccessDenied, StoreUnavailable
from herald.iam.authorizer import Authorizer
from herald.iam.facade import IAM
from herald.iam.identities import Identities
from herald.kms import envelope, rootkey
from herald.kms.access import KeyAccess
from herald.kms.crypto import Crypto
from herald.kms.for_services import ServiceKeys
from herald.kms.gate import Gate, Quotas
from herald.kms.service import KMSService
from herald.sns.encryption import SealingKeys, body_aad, publisher_identity
from herald.sns.publishing import PublishInput
from herald.sns.service import SNSService
from herald.store.base import MessageRecord
from herald.store.sqlite import SQLiteStore
from herald.types import Principal, RequestContext

T = TypeVar("T")
ACCOUNT = "000000000000"
REGION = "us-east-1"
ROOT = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AKROOT")
REUSE = 300


def ctx(principal: Principal = ROOT) -> RequestContext:
    return RequestContext(principal, REGION, "req", True, True, "127.0.0.1")


class World:
    def __init__(self, store: SQLiteStore, clock: FixedClock, root: rootkey.RootKey) -> None:
        self.store = store
        self.clock = clock
        authorizer = Authorizer(Identities(store), clock)
        access = KeyAccess(store, authorizer, root)
        self.keys = KMSService(store, clock, access, root)
        self.gate = Gate(store, clock, Quotas(10**6, 10**6), lambda e: type(e).__name__)
        service_keys = ServiceKeys(self.keys, Crypto(store, access), access, self.gate, "sns")
        self.service_keys = service_keys
        self.sns = SNSService(store, clock, authorizer, service_keys, REUSE)
        # Another node on the same store: caches of its own
        self.other_node = SNSService(store, clock, authorizer, service_keys, REUSE)
        self.iam = IAM(store, clock, authorizer)

    def requests(self, operation: str) -> int:
        return sum(n for (op, *_), n in self.gate.counts.items() if op == operation)

    async def publisher(self, name: str, topic: str) -> Principal:
        user = await self.iam.users.create_user(ctx(), name, None, [])
        document = (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
            '["sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}]}'
        )
        await self.iam.users.put_user_policy(ctx(), name, "publish", document)
        return Principal(ACCOUNT, user.arn, user.user_id, f"AK{name.upper()}")

    def sealing_keys_written(self, fail_first: bool = False) -> list[int]:
        """From now on, the number of sealing keys each commit of messages carries (the
        first such commit failing, with ``fail_first``)."""
        written: list[int] = []
        add_messages = self.store.add_messages

        async def counted(*args: Any, **kwargs: Any) -> Any:
            written.append(len(kwargs.get("sealing_keys", ())))
            if fail_first and len(written) == 1:
                raise StoreUnavailable("The store is not open.")
            return await add_messages(*args, **kwargs)

        self.store.add_messages = counted  # type: ignore[method-assign]
        return written

    async def deliver(self, message_id: str) -> bytes:
        """What delivery will do: read the stored message, open its body."""
        record = await self.store.get_message(message_id)
        assert record is not None
        return await self.sns.opener.body(record, REGION)


def run(tmp_path: Path, scenario: Callable[[World], Awaitable[T]]) -> T:
    async def main() -> T:
        store = SQLiteStore(tmp_path / "herald.db")
        await store.open()
        try:
            root = rootkey.load(None, tmp_path / "root.key")
            return await scenario(World(store, FixedClock(), root))
        finally:
            await store.close()

    return asyncio.run(main())


async def _encrypted_topic(w: World, name: str, key: str) -> str:
    return await w.sns.topics.create(ctx(), name, {"KmsMasterKeyId": key}, [])


def test_kms_requests_over_a_simulated_hour_follow_the_formula(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key = await w.keys.create_key(
            ctx(),
            description=None,
            key_usage=None,
            key_spec=None,
            origin=None,
            policy=None,
            bypass_lockout_check=False,
            tags=[],
            multi_region=False,
        )
        topic = await _encrypted_topic(w, "hourly", key.key_id)
        hour = 3600

        # AWS's example publishes every second; every 5 seconds gives the same count (the
        # formula depends on the period D, not on the rate) in a fifth of the test's time.
        every = 5

        async def publish_for_an_hour(publishers: list[Principal]) -> None:
            for second in range(0, hour, every):
                for number, principal in enumerate(publishers):
                    body = f"second {second} from {number}"
                    published = await w.sns.publisher.publish(
                        ctx(principal), topic, None, None, PublishInput(body)
                    )
                    assert await w.deliver(published.message_id) == body.encode()
                w.clock.advance(every)

        # One publisher, publishing for an hour: B / D x (2 x P) = 24
        first = await w.publisher("p1", topic)
        await publish_for_an_hour([first])
        assert (w.requests("GenerateDataKey"), w.requests("Decrypt")) == (12, 12)
        assert w.requests("GenerateDataKey") + w.requests("Decrypt") == hour // REUSE * 2 * 1

        # Then three publishers for the next hour: 72 more
        others = [await w.publisher(f"p{n}", topic) for n in (2, 3)]
        await publish_for_an_hour([first, *others])
        assert (w.requests("GenerateDataKey"), w.requests("Decrypt")) == (12 + 36, 12 + 36)
        assert w.requests("GenerateDataKey") + w.requests("Decrypt") == 24 + hour // REUSE * 2 * 3

    run(tmp_path, scenario)


def test_a_stored_message_opens_through_the_key_service_and_follows_turn_on_and_off(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "switching", {}, [])

        async def publish(body: str) -> str:
            published = await w.sns.publisher.publish(ctx(), topic, None, None, PublishInput(body))
            return published.message_id

        before = await publish("before encryption")
        await w.sns.topics.set_attribute(ctx(), topic, "KmsMasterKeyId", "alias/aws/sns")
        during = await publish("while encrypted")
        await w.sns.topics.set_attribute(ctx(), topic, "KmsMasterKeyId", "")
        after = await publish("after encryption")

        formats = []
        for message_id in (before, during, after):
            record = await w.store.get_message(message_id)
            assert record is not None
            formats.append(record.body_format)
        assert formats == ["plain", "kms-envelope-v2", "plain"]
        sealed = await w.store.get_message(during)
        assert sealed is not None and b"while encrypted" not in sealed.body
        # Stored encrypted, still delivered decrypted after encryption was turned off
        assert await w.deliver(during) == b"while encrypted"
        assert await w.deliver(before) == b"before encryption"
        managed = await w.keys.describe(ctx(), "alias/aws/sns")
        assert managed.manager.value == "AWS"

    run(tmp_path, scenario)


def test_a_reused_data_key_honours_a_time_condition_to_the_second(tmp_path: Path) -> None:
    """Publishes reusing a data key answer the key checks from a memo; a policy that
    reads the time must still refuse from the second its condition ends."""

    async def scenario(w: World) -> None:
        # A customer managed key with the default policy: IAM policies decide
        key = await w.keys.create_key(
            ctx(), description=None, key_usage=None, key_spec=None, origin=None,
            policy=None, bypass_lockout_check=False, tags=[], multi_region=False,
        )  # fmt: skip
        topic = await _encrypted_topic(w, "timed", key.key_id)
        user = await w.iam.users.create_user(ctx(), "timed", None, [])
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(w.clock.now() + 10))
        document = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
             "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": until}}},
        ]})  # fmt: skip
        await w.iam.users.put_user_policy(ctx(), "timed", "p", document)
        principal = Principal(ACCOUNT, user.arn, user.user_id, "AKTIMED")
        for _ in range(10):  # within the ten seconds, many publishes a second
            for _ in range(3):
                await w.sns.publisher.publish(ctx(principal), topic, None, None, PublishInput("m"))
            w.clock.advance(1)
        # From the second the condition ends, the next publish is refused at once
        with pytest.raises(KMSAccessDenied):
            await w.sns.publisher.publish(ctx(principal), topic, None, None, PublishInput("m"))
        assert w.requests("GenerateDataKey") == 1  # the data key itself was reused

    run(tmp_path, scenario)


def test_bodies_name_one_stored_sealing_key_per_data_key_and_publisher(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "compact", {"KmsMasterKeyId": "alias/aws/sns"}, [])
        first, second = await w.publisher("p1", topic), await w.publisher("p2", topic)
        written = w.sealing_keys_written()
        # When two publishers publish three messages each, within one reuse period
        sent: dict[str, tuple[Principal, bytes]] = {}
        for principal in (first, second, first, second, first, second):
            body = f"from {principal.arn} {len(sent)}".encode()
            published = await w.sns.publisher.publish(
                ctx(principal), topic, None, None, PublishInput(body.decode())
            )
            sent[published.message_id] = (principal, body)
        # Then each publisher's sealing key went to the store with its first message only
        assert written == [1, 1, 0, 0, 0, 0]
        ((keys,),) = await w.store._call(
            lambda c: c.execute("SELECT COUNT(*) FROM sealing_keys").fetchall()
        )
        assert keys == 2
        # And every row holds its body sealed, 45 bytes longer, and no publisher identity
        for message_id, (principal, body) in sent.items():
            record = await w.store.get_message(message_id)
            assert record is not None and record.body_format == "kms-envelope-v2"
            assert len(record.body) == len(body) + 45 and body not in record.body
            assert record.publisher_identity == ""
            # And another node, which never saw the keys, opens it for the same publisher
            assert await w.other_node.opener.body(record, REGION) == body
            known = await SealingKeys(w.store).get(record.body[1:17])
            assert known is not None and known[1] == principal
        # With one Decrypt per data key (the other node's cache holds each after its first)
        assert w.requests("Decrypt") == 2

    run(tmp_path, scenario)


def test_a_body_sealed_by_an_earlier_version_still_opens(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "older", {"KmsMasterKeyId": "alias/aws/sns"}, [])
        principal = await w.publisher("old", topic)
        # Given a message stored as version 1 wrote it: the data key's ciphertext in the
        # body, the publisher in the row
        context = {"aws:sns:topicArn": topic}
        data_key = await w.service_keys.generate_data_key(ctx(principal), "alias/aws/sns", context)
        message_id = "0b6f9a30-4c8d-4b8e-9d8e-2f1f6c1d2e3f"
        body = envelope.seal(
            envelope.cipher(data_key.plaintext),
            envelope.header(data_key.key_arn, data_key.blob),
            b"sealed long ago",
            body_aad(topic, message_id),
        )
        record = MessageRecord(
            message_id, topic, None, body, "kms-envelope-v1", None, "{}", None, None, None,
            principal.arn, w.clock.now(), publisher_identity(principal),
        )  # fmt: skip
        await w.store.add_messages([record])
        # Then it opens, through a Decrypt for its publisher
        assert await w.deliver(message_id) == b"sealed long ago"
        assert w.requests("Decrypt") == 1

    run(tmp_path, scenario)


def test_a_body_whose_sealing_key_is_not_stored_does_not_open(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "orphan", {"KmsMasterKeyId": "alias/aws/sns"}, [])
        published = await w.sns.publisher.publish(ctx(), topic, None, None, PublishInput("m"))
        await w.store._call(lambda c: c.execute("DELETE FROM sealing_keys"))
        record = await w.store.get_message(published.message_id)
        assert record is not None
        with pytest.raises(InvalidCiphertext):
            await w.other_node.opener.body(record, REGION)

    run(tmp_path, scenario)


def test_a_full_sealing_cache_forgets_the_keys_that_seal_no_more_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import herald.sns.encryption

    monkeypatch.setattr(herald.sns.encryption, "CACHE_SIZE", 2)

    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "full", {"KmsMasterKeyId": "alias/aws/sns"}, [])
        first, second, third = [await w.publisher(f"f{n}", topic) for n in (1, 2, 3)]
        written = w.sealing_keys_written()

        async def publish(principal: Principal) -> None:
            await w.sns.publisher.publish(ctx(principal), topic, None, None, PublishInput("m"))

        # Given a sealing that ended and one that still seals, filling the cache
        await publish(first)
        w.clock.advance(REUSE - 10)
        await publish(second)
        w.clock.advance(20)
        # When a third publisher needs room, then the second still seals from the cache:
        # its key is not written again
        await publish(third)
        await publish(second)
        assert written == [1, 1, 1, 0]

    run(tmp_path, scenario)


def test_a_sealing_key_whose_commit_failed_goes_with_the_next_publish(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "retry", {"KmsMasterKeyId": "alias/aws/sns"}, [])
        written = w.sealing_keys_written(fail_first=True)
        # Given a publish whose commit failed (it was not acknowledged)
        with pytest.raises(StoreUnavailable):
            await w.sns.publisher.publish(ctx(), topic, None, None, PublishInput("lost"))
        # When the next publishes reuse the data key
        first = await w.sns.publisher.publish(ctx(), topic, None, None, PublishInput("kept"))
        await w.sns.publisher.publish(ctx(), topic, None, None, PublishInput("again"))
        # Then the first of them wrote the sealing key, and another node opens its message
        assert written == [1, 1, 0]
        record = await w.store.get_message(first.message_id)
        assert record is not None
        assert await w.other_node.opener.body(record, REGION) == b"kept"

    run(tmp_path, scenario)


def test_a_clock_stepped_back_makes_a_new_data_key(tmp_path: Path) -> None:
    """A sealing key records when its data key seals (the prune relies on it): a data key
    made in the clock's future seals nothing now."""

    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "steps", {"KmsMasterKeyId": "alias/aws/sns"}, [])
        ids = []
        for step in (0, -60, 10):
            w.clock.advance(step)
            published = await w.sns.publisher.publish(ctx(), topic, None, None, PublishInput("m"))
            record = await w.store.get_message(published.message_id)
            assert record is not None
            ids.append(record.body[1:17])
        # The step back made a second data key; ten seconds on, it is reused
        assert w.requests("GenerateDataKey") == 2
        assert ids[0] != ids[1] == ids[2]

    run(tmp_path, scenario)


def test_concurrent_first_publishes_store_their_sealing_key_once(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        topic = await w.sns.topics.create(ctx(), "burst", {"KmsMasterKeyId": "alias/aws/sns"}, [])
        written = w.sealing_keys_written()
        # When many publishes seal before any of their commits has returned
        published = await asyncio.gather(
            *(
                w.sns.publisher.publish(ctx(), topic, None, None, PublishInput(f"m{n}"))
                for n in range(20)
            )
        )
        # Then those that sealed before the first commit returned carried the key (at
        # least the first), which is stored once, and every message opens
        assert written[0] == 1 and set(written) <= {0, 1}
        assert written == sorted(written, reverse=True)  # none after one that did not
        ((keys,),) = await w.store._call(
            lambda c: c.execute("SELECT COUNT(*) FROM sealing_keys").fetchall()
        )
        assert keys == 1
        for n, answer in enumerate(published):
            record = await w.store.get_message(answer.message_id)
            assert record is not None
            assert await w.other_node.opener.body(record, REGION) == f"m{n}".encode()

    run(tmp_path, scenario)
