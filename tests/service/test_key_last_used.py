"""The recording of access-key use for GetAccessKeyLastUsed, in process over a real SQLite
store and a fixed clock: at most once a minute per key and node, off the request's path,
and a failed write never fails the request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from herald.clock import FixedClock
from herald.edge.authn import USE_RECORD_SECONDS, Authenticator
from herald.errors import StoreUnavailable
from herald.iam.authorizer import Authorizer
from herald.iam.facade import IAM
from herald.iam.identities import Identities
from herald.store.base_iam import KeyUse
from herald.store.sqlite import SQLiteStore
from herald.types import Principal, RequestContext
from tests.service.test_authorizer import _signed

ACCOUNT = "000000000000"
REGION = "us-east-1"


class _CountingStore(SQLiteStore):
    """Counts the key uses written; ``failing`` makes each write fail."""

    def __init__(self, path: Path, failing: bool = False) -> None:
        super().__init__(path)
        self.writes: list[KeyUse] = []
        self.failing = failing

    async def record_key_use(self, access_key_id: str, use: KeyUse) -> None:
        self.writes.append(use)
        if self.failing:
            raise StoreUnavailable("the store could not write")
        await super().record_key_use(access_key_id, use)


async def _keyed_user(store: SQLiteStore, clock: FixedClock) -> tuple[str, str, str | None]:
    """A user of the account with an access key: (key id, secret, no session token)."""
    root = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AKROOT")
    ctx = RequestContext(
        principal=root, region=REGION, request_id="t", secure_transport=True, sigv4=True
    )
    await store.ensure_account(ACCOUNT, clock.now())
    iam = IAM(store, clock, Authorizer(Identities(store), clock))
    await iam.users.create_user(ctx, "recorded", None, [])
    key = await iam.users.create_access_key(ctx, "recorded")
    return key.access_key_id, key.secret_access_key, None


async def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.001)


def test_a_key_is_recorded_at_most_once_a_minute_per_node(tmp_path: Path) -> None:
    async def scenario() -> None:
        store, clock = _CountingStore(tmp_path / "herald.db"), FixedClock()
        await store.open()
        try:
            creds = await _keyed_user(store, clock)
            authn = Authenticator(store, clock)
            # When the key signs a request, Then its use is written (off the request)
            await authn.authenticate(*_signed(creds, clock.now()), clock.now())
            await _eventually(lambda: len(store.writes) == 1)
            # When it signs again within the minute, Then nothing is written; after it, a
            # write records the later use (which the store then holds)
            for step in (USE_RECORD_SECONDS / 2, USE_RECORD_SECONDS / 2):
                clock.advance(step)
                await authn.authenticate(*_signed(creds, clock.now()), clock.now())
            await _eventually(lambda: len(store.writes) == 2)
            assert [w.used_at - store.writes[0].used_at for w in store.writes] == [
                0,
                USE_RECORD_SECONDS,
            ]
            assert await store.get_key_use(creds[0]) == KeyUse(clock.now(), "sts", REGION)
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_failed_write_is_logged_and_the_request_still_authenticates(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        store, clock = _CountingStore(tmp_path / "herald.db", failing=True), FixedClock()
        await store.open()
        try:
            creds = await _keyed_user(store, clock)
            authn = Authenticator(store, clock)
            principal = await authn.authenticate(*_signed(creds, clock.now()), clock.now())
            assert principal.arn == f"arn:aws:iam::{ACCOUNT}:user/recorded"
            await _eventually(lambda: "could not be recorded" in caplog.text)
        finally:
            await store.close()

    with caplog.at_level(logging.ERROR, logger="herald.edge"):
        asyncio.run(scenario())
