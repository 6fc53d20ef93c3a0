"""The key service in process, over a real SQLite store and an injectable clock: scheduled
deletion and automatic rotation by ``tick``, the AWS managed key and kms:ViaService,
grants, the audit trail, quotas and the per-account switch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from herald.clock import FixedClock
from herald.errors import (
    AccessDenied,
    HeraldError,
    InvalidCiphertext,
    LimitExceeded,
    NotFound,
    OptInRequired,
    Throttled,
    ValidationFailed,
)
from herald.iam.authorizer import Authorizer
from herald.iam.facade import IAM
from herald.iam.identities import Identities
from herald.kms import rootkey
from herald.kms.access import KeyAccess
from herald.kms.crypto import Crypto
from herald.kms.gate import Gate, Quotas
from herald.kms.grants import Grants
from herald.kms.keys import KeyState
from herald.kms.service import DAY, MAX_ON_DEMAND_ROTATIONS, KMSService
from herald.store.base import Store
from herald.store.base_kms import AuditQuery
from herald.store.postgres import PostgresStore
from herald.store.sqlite import SQLiteStore
from herald.types import Principal, RequestContext
from tests import pg

T = TypeVar("T")
ACCOUNT = "000000000000"
ROOT = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AKROOT")


def ctx(principal: Principal = ROOT) -> RequestContext:
    return RequestContext(principal, "us-east-1", "req-1", True, True, "10.0.0.1", "tests")


class World:
    def __init__(self, store: Store, clock: FixedClock, root: rootkey.RootKey) -> None:
        self.store = store
        self.clock = clock
        self.authorizer = Authorizer(Identities(store), clock)
        self.access = KeyAccess(store, self.authorizer, root)
        self.keys = KMSService(store, clock, self.access, root)
        self.crypto = Crypto(store, self.access)
        self.grants = Grants(store, clock, self.access)
        self.iam = IAM(store, clock, self.authorizer)

    async def key(self) -> str:
        key = await self.keys.create_key(
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
        return key.key_id

    async def user(self, name: str) -> Principal:
        user = await self.iam.users.create_user(ctx(), name, None, [])
        return Principal(ACCOUNT, user.arn, user.user_id, f"AK{name.upper()}")


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


def test_a_key_is_destroyed_when_its_deletion_date_passes(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key_id = await w.key()
        sealed = await w.crypto.encrypt(ctx(), key_id, b"secret", {})
        await w.keys.schedule_deletion(ctx(), key_id, 7)
        w.clock.advance(7 * DAY - 1)
        assert await w.keys.tick() == []
        assert (await w.keys.describe(ctx(), key_id)).state is KeyState.PENDING_DELETION
        w.clock.advance(1)
        assert await w.keys.tick() == [key_id]
        with pytest.raises(NotFound):
            await w.keys.describe(ctx(), key_id)
        assert await w.store.key_versions(key_id) == []
        with pytest.raises(InvalidCiphertext):
            await w.crypto.decrypt(ctx(), sealed.blob, {})

    run(tmp_path, scenario)


def test_a_cancelled_deletion_keeps_the_key_disabled_and_whole(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key_id = await w.key()
        sealed = await w.crypto.encrypt(ctx(), key_id, b"secret", {})
        await w.keys.schedule_deletion(ctx(), key_id, 30)
        await w.keys.cancel_deletion(ctx(), key_id)
        w.clock.advance(31 * DAY)
        assert await w.keys.tick() == []
        key = await w.keys.describe(ctx(), key_id)
        assert (key.state, key.deletion_date) == (KeyState.DISABLED, None)
        await w.keys.enable(ctx(), key_id)
        assert (await w.crypto.decrypt(ctx(), sealed.blob, {})).plaintext == b"secret"

    run(tmp_path, scenario)


def test_automatic_rotation_adds_a_backing_key_each_period(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key_id = await w.key()
        old = await w.crypto.encrypt(ctx(), key_id, b"before", {"a": "1"})
        await w.keys.enable_rotation(ctx(), key_id, 90)
        w.clock.advance(90 * DAY)
        await w.keys.tick()
        new = await w.crypto.encrypt(ctx(), key_id, b"after", {})
        assert int.from_bytes(old.blob[17:21], "big") == 1
        assert int.from_bytes(new.blob[17:21], "big") == 2
        assert (await w.crypto.decrypt(ctx(), old.blob, {"a": "1"})).plaintext == b"before"
        _, rotations = await w.keys.rotations(ctx(), key_id)
        assert [r.on_demand for r in rotations] == [False]
        w.clock.advance(90 * DAY)
        await w.keys.tick()
        assert len(await w.store.key_versions(key_id)) == 3

    run(tmp_path, scenario)


def test_automatic_rotations_do_not_count_against_the_on_demand_limit(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        # Given a key rotated automatically, then on demand up to the limit
        key_id = await w.key()
        await w.keys.enable_rotation(ctx(), key_id, 90)
        w.clock.advance(90 * DAY)
        await w.keys.tick()
        for _ in range(MAX_ON_DEMAND_ROTATIONS):
            await w.keys.rotate_now(ctx(), key_id)
        # When it is rotated on demand once more, Then that is refused
        with pytest.raises(LimitExceeded):
            await w.keys.rotate_now(ctx(), key_id)
        # And automatic rotation goes on
        w.clock.advance(90 * DAY)
        await w.keys.tick()
        _, rotations = await w.keys.rotations(ctx(), key_id)
        assert [r.on_demand for r in rotations] == (
            [False] + [True] * MAX_ON_DEMAND_ROTATIONS + [False]
        )

    run(tmp_path, scenario)


NODE_STORES: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda folder: SQLiteStore(folder / "herald.db"),
    "postgresql": lambda folder: PostgresStore(pg.schema_url(str(folder))),
}


@pytest.fixture(params=sorted(NODE_STORES))
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param
    pg.drop_created()


def run_two_nodes(
    tmp_path: Path, backend: str, scenario: Callable[[World, World], Awaitable[T]]
) -> T:
    """``scenario`` with two key services over two stores of one database: two nodes."""

    async def main() -> T:
        stores = [NODE_STORES[backend](tmp_path), NODE_STORES[backend](tmp_path)]
        for store in stores:
            await store.open()
        try:
            root = rootkey.load(None, tmp_path / "root.key")
            clock = FixedClock()
            return await scenario(World(stores[0], clock, root), World(stores[1], clock, root))
        finally:
            for store in stores:
                await store.close()

    return asyncio.run(main())


def test_on_demand_rotations_on_two_nodes_at_once_stop_at_the_limit(
    tmp_path: Path, backend: str
) -> None:
    async def scenario(a: World, b: World) -> None:
        # Given a key, and more on-demand rotations than the limit asked of two nodes at once
        key_id = await a.key()
        asked = [(a, b)[i % 2].keys.rotate_now(ctx(), key_id) for i in range(30)]
        outcomes = await asyncio.gather(*asked, return_exceptions=True)
        # Then exactly the limit's worth are made, the others refused, none lost to a race
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(refused) == 30 - MAX_ON_DEMAND_ROTATIONS
        assert all(isinstance(o, LimitExceeded) for o in refused), refused
        versions = await b.store.key_versions(key_id)
        assert [v.version for v in versions] == list(range(1, MAX_ON_DEMAND_ROTATIONS + 2))
        # And every backing key decrypts what it sealed
        sealed = await b.crypto.encrypt(ctx(), key_id, b"latest", {})
        assert (await a.crypto.decrypt(ctx(), sealed.blob, {})).plaintext == b"latest"

    run_two_nodes(tmp_path, backend, scenario)


def test_a_rotation_due_is_made_once_when_two_nodes_tick_at_once(
    tmp_path: Path, backend: str
) -> None:
    async def scenario(a: World, b: World) -> None:
        # Given a key whose automatic rotation is due, seen as due by both nodes
        key_id = await a.key()
        await a.keys.enable_rotation(ctx(), key_id, 90)
        a.clock.advance(90 * DAY)
        # When both nodes tick at once, Then the key is rotated once
        await asyncio.gather(a.keys.tick(), b.keys.tick())
        assert [v.version for v in await a.store.key_versions(key_id)] == [1, 2]
        # And once more a period later
        a.clock.advance(90 * DAY)
        await asyncio.gather(b.keys.tick(), a.keys.tick())
        assert [v.version for v in await a.store.key_versions(key_id)] == [1, 2, 3]

    run_two_nodes(tmp_path, backend, scenario)


def test_an_on_demand_rotation_leaves_the_automatic_schedule(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key_id = await w.key()
        await w.keys.enable_rotation(ctx(), key_id, 90)
        due = (await w.keys.describe(ctx(), key_id)).next_rotation
        w.clock.advance(DAY)
        await w.keys.rotate_now(ctx(), key_id)
        assert (await w.keys.describe(ctx(), key_id)).next_rotation == due

    run(tmp_path, scenario)


def test_every_tag_over_its_length_is_reported_as_aws_does(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key_id = await w.key()
        with pytest.raises(ValidationFailed) as caught:
            await w.keys.tag(ctx(), key_id, [("k" * 129, "v"), ("", "v"), ("ok", None)])
        assert caught.value.message == (
            f"3 validation errors detected: Value '{'k' * 129}' at 'tags.1.member.tagKey' "
            "failed to satisfy constraint: Member must have length less than or equal to 128; "
            "Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must "
            "have length greater than or equal to 1; Value null at 'tags.3.member.tagValue' "
            "failed to satisfy constraint: Member must not be null"
        )

    run(tmp_path, scenario)


def test_the_aws_managed_key_serves_only_through_its_service(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key = await w.keys.managed_key(ACCOUNT, "us-east-1", "sns")
        assert (await w.keys.managed_key(ACCOUNT, "us-east-1", "sns")).key_id == key.key_id
        alice = await w.user("alice")
        policy = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [policy]})
        await w.iam.users.put_user_policy(ctx(), "alice", "kms", document)
        with pytest.raises(AccessDenied):
            await w.crypto.generate_data_key(ctx(alice), "alias/aws/sns", {}, "AES_256", None)
        via = "sns.us-east-1.amazonaws.com"
        data_key = await w.crypto.generate_data_key(
            ctx(alice), "alias/aws/sns", {}, "AES_256", None, via=via
        )
        assert len(data_key.plaintext) == 32
        with pytest.raises(AccessDenied):
            await w.crypto.generate_data_key(
                ctx(alice), "alias/aws/sns", {}, "AES_256", None, via="sqs.us-east-1.amazonaws.com"
            )
        with pytest.raises(AccessDenied):
            await w.keys.disable(ctx(), key.key_id)
        assert (await w.keys.describe(ctx(), "alias/aws/sns")).manager.value == "AWS"

    run(tmp_path, scenario)


def test_a_grant_allows_its_operations_within_its_constraints(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key_id = await w.key()
        bob = await w.user("bob")
        with pytest.raises(AccessDenied):
            await w.crypto.encrypt(ctx(bob), key_id, b"x", {"team": "blue"})
        grant_id, token = await w.grants.create(
            ctx(),
            key_id,
            bob.arn,
            ["Encrypt"],
            bob.arn,
            {"EncryptionContextSubset": {"team": "blue"}},
            "blue-only",
        )
        await w.crypto.encrypt(ctx(bob), key_id, b"x", {"team": "blue", "more": "1"})
        with pytest.raises(AccessDenied):
            await w.crypto.encrypt(ctx(bob), key_id, b"x", {"team": "red"})
        with pytest.raises(AccessDenied):
            await w.crypto.generate_data_key(ctx(bob), key_id, {"team": "blue"}, "AES_256", None)
        _, listed = await w.grants.list_grants(ctx(), key_id, None, None)
        assert [g.grant_id for g in listed] == [grant_id]
        assert token not in repr(listed[0])
        await w.grants.retire(ctx(bob), token, None, None)
        with pytest.raises(AccessDenied):
            await w.crypto.encrypt(ctx(bob), key_id, b"x", {"team": "blue"})

    run(tmp_path, scenario)


def test_an_explicit_deny_overrides_a_grant(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        key_id = await w.key()
        carol = await w.user("carol")
        deny = {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
        await w.iam.users.put_user_policy(ctx(), "carol", "deny", document)
        await w.grants.create(ctx(), key_id, carol.arn, ["Encrypt"], None, None, None)
        with pytest.raises(AccessDenied):
            await w.crypto.encrypt(ctx(carol), key_id, b"x", {})

    run(tmp_path, scenario)


def _gate(w: World, **quotas: Any) -> Gate:
    return Gate(w.store, w.clock, Quotas(**quotas), lambda exc: type(exc).__name__)


def test_the_audit_trail_records_allowed_and_refused_requests_without_secrets(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        gate = _gate(w)
        key_id = await w.key()
        secret = b"plaintext that must not be logged"
        params = {"KeyId": key_id, "Plaintext": "c2VjcmV0", "EncryptionContext": {"a": "1"}}

        async def encrypt() -> dict[str, Any]:
            sealed = await w.crypto.encrypt(ctx(), key_id, secret, {"a": "1"})
            return {"KeyId": sealed.key.arn, "CiphertextBlob": "..."}

        await gate.run(ctx(), "Encrypt", params, encrypt)
        dave = await w.user("dave")

        async def refused() -> dict[str, Any]:
            await w.crypto.encrypt(ctx(dave), key_id, secret, {})
            return {}

        with pytest.raises(AccessDenied):
            await gate.run(ctx(dave), "Encrypt", {"KeyId": key_id}, refused)
        events = await w.store.list_audit(AuditQuery(key=key_id))
        assert [(e.event_name, e.error_code) for e in events] == [
            ("Encrypt", None),
            ("Encrypt", "AccessDenied"),
        ]
        assert events[0].request_parameters == {"KeyId": key_id, "EncryptionContext": {"a": "1"}}
        assert events[0].principal_type == "Root"
        assert (events[1].principal_type, events[1].principal_arn) == ("IAMUser", dave.arn)
        assert events[0].source_ip == "10.0.0.1" and events[0].user_agent == "tests"
        only_dave = await w.store.list_audit(AuditQuery(principal=dave.arn))
        assert len(only_dave) == 1
        assert sum(gate.counts.values()) == 2
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("herald.db*"))
        assert secret not in raw and b"c2VjcmV0" not in raw

    run(tmp_path, scenario)


def test_requests_over_the_quota_are_throttled(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        now = [0.0]
        gate = Gate(
            w.store,
            w.clock,
            Quotas(crypto_rps=3, management_rps=1, now=lambda: now[0]),
            lambda exc: type(exc).__name__,
        )

        async def nothing() -> dict[str, Any]:
            return {}

        for _ in range(3):
            await gate.run(ctx(), "GenerateRandom", {}, nothing)
        with pytest.raises(Throttled):
            await gate.run(ctx(), "GenerateRandom", {}, nothing)
        await gate.run(ctx(), "ListKeys", {}, nothing)  # its own bucket
        now[0] += 1.0
        await gate.run(ctx(), "GenerateRandom", {}, nothing)

    run(tmp_path, scenario)


def test_an_account_with_the_key_service_switched_off_gets_opt_in_required(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        await w.store.ensure_account(ACCOUNT, 0.0)
        gate = _gate(w)

        async def nothing() -> dict[str, Any]:
            return {}

        await gate.run(ctx(), "ListKeys", {}, nothing)
        assert await w.store.set_kms_enabled(ACCOUNT, False)
        w.clock.advance(31)
        with pytest.raises(OptInRequired):
            await gate.run(ctx(), "ListKeys", {}, nothing)
        events = await w.store.list_audit(AuditQuery(operation="ListKeys"))
        assert [e.error_code for e in events] == [None, "OptInRequired"]
        assert isinstance(OptInRequired("x"), HeraldError)

    run(tmp_path, scenario)
