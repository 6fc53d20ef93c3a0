"""The decision cache and the temporary-credential lifecycle, in process, over a real
SQLite store and an injectable clock.

A cached decision must never differ from a fresh one: these tests change exactly one
input at a time (a context key a policy reads, the time, a policy) and check that the
answer follows, and that repeating a request is answered from the cache.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from herald.auth import sigv4
from herald.auth.policy import parse_policy
from herald.auth.policy.document import Kind
from herald.clock import FixedClock
from herald.edge.authn import Authenticator
from herald.errors import ExpiredToken, InvalidClientTokenId
from herald.iam.authorizer import Authorizer
from herald.iam.facade import IAM
from herald.iam.identities import Identities
from herald.store.sqlite import SQLiteStore
from herald.sts.service import STSService
from herald.types import Principal, RequestContext

T = TypeVar("T")
ACCOUNT = "000000000000"
ROOT = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AKROOT")


def ctx(principal: Principal, ip: str = "10.0.0.1", tls: bool = True) -> RequestContext:
    return RequestContext(
        principal=principal,
        region="us-east-1",
        request_id="test",
        secure_transport=tls,
        sigv4=True,
        source_ip=ip,
    )


class World:
    def __init__(self, store: SQLiteStore, clock: FixedClock) -> None:
        self.store = store
        self.clock = clock
        self.authorizer = Authorizer(Identities(store), clock)
        self.iam = IAM(store, clock, self.authorizer)
        self.sts = STSService(store, clock, self.authorizer)

    async def user(self, name: str, *statements: dict[str, Any]) -> Principal:
        user = await self.iam.users.create_user(ctx(ROOT), name, None, [])
        if statements:
            document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
            await self.iam.users.put_user_policy(ctx(ROOT), name, "p", document)
        return Principal(ACCOUNT, user.arn, user.user_id, f"AK{name.upper()}")

    async def allowed(self, principal: Principal, action: str, **kw: Any) -> bool:
        decision = await self.authorizer.decide(
            kw.pop("context_of", None) or ctx(principal), action, "*", **kw
        )
        return decision.allowed


def run(tmp_path: Path, scenario: Callable[[World], Awaitable[T]]) -> T:
    async def main() -> T:
        store = SQLiteStore(tmp_path / "herald.db")
        await store.open()
        try:
            return await scenario(World(store, FixedClock()))
        finally:
            await store.close()

    return asyncio.run(main())


ALLOW_LIST = {"Effect": "Allow", "Action": "sns:ListTopics", "Resource": "*"}


def test_a_repeated_request_is_answered_from_the_cache(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        alice = await w.user("alice", ALLOW_LIST)
        assert await w.allowed(alice, "sns:ListTopics")
        misses = w.authorizer.misses
        for _ in range(5):
            assert await w.allowed(alice, "sns:ListTopics")
        assert w.authorizer.misses == misses
        assert w.authorizer.hits >= 5

    run(tmp_path, scenario)


def test_a_policy_that_reads_the_source_ip_is_decided_per_address(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        bob = await w.user(
            "bob",
            {**ALLOW_LIST, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/24"}}},
        )
        assert await w.allowed(bob, "sns:ListTopics", context_of=ctx(bob, "10.0.0.7"))
        assert not await w.allowed(bob, "sns:ListTopics", context_of=ctx(bob, "10.9.0.7"))
        assert await w.allowed(bob, "sns:ListTopics", context_of=ctx(bob, "10.0.0.8"))
        assert not await w.allowed(bob, "sns:ListTopics", context_of=ctx(bob, "192.0.2.1"))

    run(tmp_path, scenario)


def test_a_policy_that_reads_the_time_is_never_answered_from_the_cache(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        until = "2023-11-14T22:20:00Z"  # FixedClock starts at 2023-11-14T22:13:20Z
        carol = await w.user(
            "carol",
            {**ALLOW_LIST, "Condition": {"DateLessThan": {"aws:CurrentTime": until}}},
        )
        assert await w.allowed(carol, "sns:ListTopics")
        assert await w.allowed(carol, "sns:ListTopics")
        w.clock.advance(600)
        assert not await w.allowed(carol, "sns:ListTopics")
        assert w.authorizer.hits == 0

    run(tmp_path, scenario)


def test_a_changed_policy_changes_the_cached_decision_at_once(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        dave = await w.user("dave", ALLOW_LIST)
        assert await w.allowed(dave, "sns:ListTopics")
        deny = {"Effect": "Deny", "Action": "sns:*", "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
        await w.iam.users.put_user_policy(ctx(ROOT), "dave", "deny", document)
        assert not await w.allowed(dave, "sns:ListTopics")
        await w.iam.users.delete_user_policy(ctx(ROOT), "dave", "deny")
        assert await w.allowed(dave, "sns:ListTopics")

    run(tmp_path, scenario)


def test_a_resource_policy_is_part_of_the_key(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        erin = await w.user("erin")
        text = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": erin.arn}, "Action": "sns:*",
                     "Resource": "*"}
                ],
            }
        )  # fmt: skip
        policy = parse_policy(text, Kind.RESOURCE)
        granted = await w.allowed(
            erin, "sns:Publish", resource_policy=policy, resource_policy_key=text
        )
        refused = await w.allowed(erin, "sns:Publish")
        assert (granted, refused) == (True, False)

    run(tmp_path, scenario)


def test_a_policy_that_reads_resource_tags_follows_the_tags_of_each_request(
    tmp_path: Path,
) -> None:
    """The first-level cache holds no decision whose policies read aws:ResourceTag/*: the
    tags are not in its key, and a retag must change the answer to the same request."""

    async def scenario(w: World) -> None:
        tagged = {**ALLOW_LIST, "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}}
        fay = await w.user("fay", tagged)
        tags = {"team": "a"}

        async def current() -> dict[str, str]:
            return dict(tags)

        assert await w.allowed(fay, "sns:ListTopics", resource_tags=current)
        assert await w.allowed(fay, "sns:ListTopics", resource_tags=current)
        tags["team"] = "b"
        assert not await w.allowed(fay, "sns:ListTopics", resource_tags=current)
        tags["team"] = "a"
        assert await w.allowed(fay, "sns:ListTopics", resource_tags=current)

    run(tmp_path, scenario)


def test_the_context_a_caller_passes_is_part_of_the_request_key(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        via = {**ALLOW_LIST, "Condition": {"StringEquals": {"kms:ViaService": "sns.x"}}}
        gil = await w.user("gil", via)
        assert await w.allowed(gil, "sns:ListTopics", context={"kms:ViaService": "sns.x"})
        hits = w.authorizer.hits
        assert await w.allowed(gil, "sns:ListTopics", context={"kms:ViaService": "sns.x"})
        assert w.authorizer.hits == hits + 1
        assert not await w.allowed(gil, "sns:ListTopics", context={"kms:ViaService": "sqs.x"})
        assert not await w.allowed(gil, "sns:ListTopics")

    run(tmp_path, scenario)


# -- temporary credentials ---------------------------------------------------------------


def _signed(creds: tuple[str, str, str | None], when: float) -> tuple[Any, Any]:
    """A SigV4-signed STS request made with botocore's signer at ``when``."""
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(
        method="POST",
        url="http://localhost/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    moment = datetime.datetime.fromtimestamp(when, datetime.UTC)
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: moment):
        botocore.auth.SigV4Auth(Credentials(*creds), "sts", "us-east-1").add_auth(request)
    http = sigv4.HTTPRequest(
        method="POST",
        path="/",
        query="",
        headers=[("host", "localhost"), *((k.lower(), v) for k, v in request.headers.items())],
        body_sha256=hashlib.sha256(body).hexdigest(),
    )
    return http, sigv4.parse(http)


def test_session_credentials_work_until_they_expire_then_get_expired_token(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        frank = await w.user("frank")
        issued = await w.sts.get_session_token(ctx(frank), "900")
        session = issued.session
        creds = (session.access_key_id, session.secret_access_key, issued.session_token)
        authn = Authenticator(w.store, w.clock)

        now = w.clock.now()
        request, claims = _signed(creds, now)
        principal = await authn.authenticate(request, claims, now)
        assert (principal.arn, principal.session) == (frank.arn, "GetSessionToken")

        w.clock.advance(899)
        request, claims = _signed(creds, w.clock.now())
        await authn.authenticate(request, claims, w.clock.now())

        w.clock.advance(1)
        request, claims = _signed(creds, w.clock.now())
        with pytest.raises(ExpiredToken):
            await authn.authenticate(request, claims, w.clock.now())

        wrong = (creds[0], creds[1], issued.session_token + "x")
        request, claims = _signed(wrong, now)
        with pytest.raises(InvalidClientTokenId):
            await authn.authenticate(request, claims, now)

    run(tmp_path, scenario)


def test_the_session_token_is_not_stored_in_clear(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        gina = await w.user("gina")
        issued = await w.sts.get_session_token(ctx(gina), None)
        stored = await w.store.get_session(issued.session.access_key_id)
        assert stored is not None
        assert issued.session_token not in repr(stored)
        digest = hashlib.sha256(issued.session_token.encode()).hexdigest()
        assert hmac.compare_digest(stored.token_sha256, digest)
        raw = (tmp_path / "herald.db").read_bytes()
        for path in tmp_path.glob("herald.db*"):
            raw += path.read_bytes()
        assert issued.session_token.encode() not in raw
        # 12 hours by default for a user
        assert stored.expires_at - w.clock.now() == pytest.approx(43200, abs=1)

    run(tmp_path, scenario)
