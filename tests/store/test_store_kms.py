"""The store's key service calls that must decide in one transaction, on both backends: a
grant asked for again with the same name and parameters is found in the transaction that
would store it (two nodes answering identical CreateGrant requests make one grant), and a
backing key is added only as the next one (two nodes rotating one key make no gap, no
clash, no rotation twice and no more on-demand rotations than the limit)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from herald.errors import LimitExceeded
from herald.store.base import Store
from herald.store.base_kms import (
    GrantRecord,
    KeyManager,
    KeyRecord,
    KeyState,
    WrappedVersion,
)
from tests.store import test_store_contract as contract
from tests.store.test_store_contract import NOW, Run

# The contract's fixtures: a store of each backend, and its event loop.
_drop_schemas = contract._drop_schemas
run = contract.run
open_store = contract.open_store
store = contract.store

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def _grant(
    name: str | None = "reader", grantee: str = "arn:aws:iam::000000000000:user/a"
) -> GrantRecord:
    return GrantRecord(
        grant_id=uuid.uuid4().hex,
        key_id=KEY_ID,
        name=name,
        grantee_principal=grantee,
        retiring_principal=None,
        operations=("Decrypt",),
        constraints=None,
        issuing_account="arn:aws:iam::000000000000:root",
        token_sha256=uuid.uuid4().hex,
        created_at=NOW,
    )


def _same_as(grant: GrantRecord) -> Callable[[GrantRecord], bool]:
    return lambda other: (
        (other.name, other.grantee_principal)
        == (
            grant.name,
            grant.grantee_principal,
        )
    )


def test_a_grant_is_stored_unless_one_is_the_same(store: Store, run: Run[Any]) -> None:
    first, again, other = _grant(), _grant(), _grant(grantee="arn:aws:iam::000000000000:user/b")
    # A new grant is stored and answered as itself
    assert run(store.create_grant(first, 10, _same_as(first))) is first
    # One the same as a stored grant is not stored: the stored one is the answer
    assert run(store.create_grant(again, 10, _same_as(again))) == first
    # Without the comparison, or when none is the same, it is stored
    assert run(store.create_grant(other, 10, _same_as(other))) is other
    assert run(store.create_grant(again, 10)) is again
    stored = run(store.list_grants(KEY_ID))
    assert sorted(g.grant_id for g in stored) == sorted(g.grant_id for g in (first, other, again))


def test_the_same_grant_is_found_before_the_limit_is_counted(store: Store, run: Run[Any]) -> None:
    first = _grant()
    run(store.create_grant(first, 1))
    # A key at its limit still answers a request for a grant it has
    again = _grant()
    assert run(store.create_grant(again, 1, _same_as(again))) == first
    different = _grant(name="other")
    with pytest.raises(LimitExceeded):
        run(store.create_grant(different, 1, _same_as(different)))


@pytest.mark.parametrize("attempt", range(3))
def test_identical_grants_asked_of_two_nodes_at_once_make_one(
    open_store: Callable[[], Store], run: Run[Any], attempt: int
) -> None:
    # Given two stores over one database (two nodes), and 20 identical requests
    nodes = [open_store(), open_store()]
    asked = [_grant() for _ in range(20)]

    async def together() -> list[GrantRecord]:
        return await asyncio.gather(
            *(nodes[i % 2].create_grant(g, 50, _same_as(g)) for i, g in enumerate(asked))
        )

    # When they all run at once
    answers = run(together())
    # Then one grant is stored, and every request is answered with it
    stored = run(nodes[0].list_grants(KEY_ID))
    assert len(stored) == 1
    assert {a.grant_id for a in answers} == {stored[0].grant_id}


# -- backing keys ------------------------------------------------------------------------


def _key(next_rotation: float | None = None) -> KeyRecord:
    return KeyRecord(
        key_id=KEY_ID,
        account_id="000000000000",
        region="us-east-1",
        arn=f"arn:aws:kms:us-east-1:000000000000:key/{KEY_ID}",
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        manager=KeyManager.CUSTOMER,
        state=KeyState.ENABLED,
        policy="{}",
        created_at=NOW,
        deletion_date=None,
        pending_window_days=None,
        rotation_period_days=None if next_rotation is None else 90,
        next_rotation=next_rotation,
        tags={},
    )


def _version(number: int, on_demand: bool = True) -> WrappedVersion:
    return WrappedVersion(KEY_ID, number, b"wrapped-%d" % number, NOW, on_demand)


def test_a_backing_key_is_added_only_as_the_next(store: Store, run: Run[Any]) -> None:
    run(store.create_key(_key(), _version(1, on_demand=False)))
    # A version that is not the next is refused and writes nothing
    assert run(store.add_key_version(_version(3), None)) is False
    assert run(store.add_key_version(_version(1), None)) is False
    assert run(store.add_key_version(_version(2), None)) is True
    # Nor may two rotations that read the same latest version both add theirs
    assert run(store.add_key_version(_version(2), None)) is False
    assert [v.version for v in run(store.key_versions(KEY_ID))] == [1, 2]


def test_on_demand_backing_keys_stop_at_the_limit(store: Store, run: Run[Any]) -> None:
    run(store.create_key(_key(), _version(1, on_demand=False)))
    assert run(store.add_key_version(_version(2), None, max_on_demand=2)) is True
    assert run(store.add_key_version(_version(3), None, max_on_demand=2)) is True
    assert run(store.add_key_version(_version(4), None, max_on_demand=2)) is False
    # A scheduled rotation is not counted against it
    assert run(store.add_key_version(_version(4, on_demand=False), None, max_on_demand=2))


def test_a_scheduled_rotation_is_made_once_and_an_on_demand_one_keeps_the_schedule(
    store: Store, run: Run[Any]
) -> None:
    due = NOW + 90 * 86400
    run(store.create_key(_key(next_rotation=due), _version(1, on_demand=False)))
    # An on-demand rotation leaves the next automatic rotation where it was
    assert run(store.add_key_version(_version(2), NOW + 1))
    key = run(store.get_key(KEY_ID))
    assert key is not None and key.next_rotation == due
    # The rotation due is made, and sets the next one
    later = due + 90 * 86400
    assert run(store.add_key_version(_version(3, on_demand=False), later, due_at=due))
    # The same rotation made again (another node saw it due too) is not
    assert not run(store.add_key_version(_version(4, on_demand=False), later, due_at=due))
    key = run(store.get_key(KEY_ID))
    assert key is not None and key.next_rotation == later
    assert [v.version for v in run(store.key_versions(KEY_ID))] == [1, 2, 3]
