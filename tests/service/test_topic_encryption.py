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
from typing import TypeVar

import pytest

from herald.clock import FixedClock
from herald.errors import KMSAccessDenied
from herald.iam.authorizer import Authorizer
from herald.iam.facade import IAM
from herald.iam.identities import Identities
from herald.kms import rootkey
from herald.kms.access import KeyAccess
from herald.kms.crypto import Crypto
from herald.kms.for_services import ServiceKeys
from herald.kms.gate import Gate, Quotas
from herald.kms.service import KMSService
from herald.sns.publishing import PublishInput
from herald.sns.service import SNSService
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
        self.sns = SNSService(store, clock, authorizer, service_keys, REUSE)
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

        async def publish_for_an_hour(publishers: list[Principal]) -> None:
            for second in range(hour):
                for number, principal in enumerate(publishers):
                    body = f"second {second} from {number}"
                    published = await w.sns.publisher.publish(
                        ctx(principal), topic, None, None, PublishInput(body)
                    )
                    assert await w.deliver(published.message_id) == body.encode()
                w.clock.advance(1)

        # One publisher, publishing every second for an hour: B / D x (2 x P) = 24
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
        assert formats == ["plain", "kms-envelope-v1", "plain"]
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
