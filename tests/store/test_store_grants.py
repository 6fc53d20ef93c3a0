"""The store's grant calls, on both backends: a grant asked for again with the same name
and parameters is found in the transaction that would store it, so two nodes answering
identical CreateGrant requests at once make one grant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from herald.errors import LimitExceeded
from herald.store.base import Store
from herald.store.base_kms import GrantRecord
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
