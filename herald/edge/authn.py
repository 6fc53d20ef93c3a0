"""Authentication: SigV4 claims checked against the credentials in the store.

Three kinds of credentials sign requests: long-term access keys (account roots and IAM
users), temporary credentials from STS (access key ids "ASIA...", which must come with
their session token, X-Amz-Security-Token, and stop working when they expire), and the
keys of event sources (an AWS service principal acting for a source account and ARN).

Credentials are cached in memory after their first use for ``CACHE_TTL_SECONDS``; a key
changed through this process is dropped from the cache at once (``forget``), one changed
by another (``herald admin``) stops working within the TTL.

When an IAM user's access key signs a request, the time, service and region are recorded
for GetAccessKeyLastUsed: at most once per ``USE_RECORD_SECONDS`` per key on this node (a
dict lookup on the request's path), by a task of its own whose failure is logged and never
reaches the request.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import urllib.parse

from herald.auth import sigv4
from herald.clock import Clock
from herald.errors import ExpiredToken, InvalidClientTokenId
from herald.store.base import AccessKeyRecord, KeyStatus, Store
from herald.store.base_iam import EventSourceRecord, KeyUse, SessionRecord
from herald.sts.service import token_digest
from herald.types import Principal

log = logging.getLogger("herald.edge")
_INVALID = "The security token included in the request is invalid."
CACHE_SIZE = 10_000
UNKNOWN_TTL_SECONDS = 5.0
CACHE_TTL_SECONDS = 30.0
USE_RECORD_SECONDS = 60.0

Credential = AccessKeyRecord | SessionRecord | EventSourceRecord


class Authenticator:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[str, tuple[Credential, float]] = {}
        self._principals: dict[str, tuple[Credential, Principal]] = {}
        # Keys looked up and not found, with when: a stream of made-up key ids must not
        # become a stream of store jobs.
        self._unknown: dict[str, float] = {}
        # Access key id -> when this node last recorded a use of it; writes in flight.
        self._used: dict[str, float] = {}
        self._recording: set[asyncio.Task[None]] = set()

    async def authenticate(
        self, request: sigv4.HTTPRequest, claims: sigv4.SignedRequest, now: float
    ) -> Principal:
        """The principal that signed ``request``.

        Raises InvalidClientTokenId (unknown or inactive key, missing or wrong session
        token), ExpiredToken, SignatureMismatch, RequestExpired.
        """
        credential = await self._credential(claims.access_key_id)
        token = request.header("x-amz-security-token") or _query_token(request)
        if credential is None:
            raise InvalidClientTokenId(_INVALID)
        if isinstance(credential, SessionRecord):
            if token is None or not hmac.compare_digest(
                token_digest(token), credential.token_sha256
            ):
                raise InvalidClientTokenId(_INVALID)
            if now >= credential.expires_at:
                raise ExpiredToken("The security token included in the request is expired")
            sigv4.verify(request, claims, credential.secret_access_key, now)
            return self._principal(credential)
        if token is not None:
            # Long-term credentials carry no session token; one that does is not ours.
            raise InvalidClientTokenId(_INVALID)
        if isinstance(credential, EventSourceRecord):
            if not credential.active:
                raise InvalidClientTokenId(_INVALID)
        elif credential.status is not KeyStatus.ACTIVE:
            raise InvalidClientTokenId(_INVALID)
        sigv4.verify(request, claims, credential.secret_access_key, now)
        if isinstance(credential, AccessKeyRecord):
            self._note_use(credential, claims, now)
        return self._principal(credential)

    def _note_use(self, key: AccessKeyRecord, claims: sigv4.SignedRequest, now: float) -> None:
        """Record that ``key`` signed a request, unless this node did within the last
        ``USE_RECORD_SECONDS``: AWS documents the last-used date as approximate, and a
        store write per request would cost every request."""
        noted = self._used.get(key.access_key_id)
        if noted is not None and 0 <= now - noted < USE_RECORD_SECONDS:
            return
        if len(self._used) >= CACHE_SIZE:
            self._used.clear()
        self._used[key.access_key_id] = now
        if ":user/" not in key.principal_arn:
            return  # the account root's keys: IAM reports on its users' keys
        use = KeyUse(now, claims.service, claims.region)
        task = asyncio.get_running_loop().create_task(self._record(key.access_key_id, use))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def _record(self, access_key_id: str, use: KeyUse) -> None:
        try:
            await self._store.record_key_use(access_key_id, use)
        except Exception:
            log.exception("the last use of access key %s could not be recorded", access_key_id)

    def _principal(self, credential: Credential) -> Principal:
        """The principal of a verified credential: the same object for as long as the
        credential record is cached, so the caches keyed by principal find it by
        identity rather than comparing every field."""
        known = self._principals.get(credential.access_key_id)
        if known is not None and known[0] is credential:
            return known[1]
        principal = _principal_of(credential)
        if len(self._principals) >= CACHE_SIZE:
            self._principals.clear()
        self._principals[credential.access_key_id] = (credential, principal)
        return principal

    async def _credential(self, access_key_id: str) -> Credential | None:
        now = self._clock.now()
        cached = self._cache.get(access_key_id)
        if cached is not None and now - cached[1] < CACHE_TTL_SECONDS:
            return cached[0]
        if len(access_key_id) > 128:
            return None
        missed = self._unknown.get(access_key_id)
        if missed is not None and now - missed < UNKNOWN_TTL_SECONDS:
            return None
        found: Credential | None
        if access_key_id.startswith("ASIA"):
            found = await self._store.get_session(access_key_id)
        else:
            found = await self._store.get_access_key(
                access_key_id
            ) or await self._store.get_event_source(access_key_id)
        if found is None:
            if len(self._unknown) >= CACHE_SIZE:
                self._unknown.clear()
            self._unknown[access_key_id] = now
            return None
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[access_key_id] = (found, now)
        return found

    def forget_all(self) -> None:
        """Credentials changed through another node."""
        self._cache.clear()
        self._unknown.clear()
        self._principals.clear()

    def forget(self, access_key_id: str) -> None:
        self._cache.pop(access_key_id, None)
        self._principals.pop(access_key_id, None)
        self._unknown.pop(access_key_id, None)


def _query_token(request: sigv4.HTTPRequest) -> str | None:
    if "security-token" not in request.query.lower():
        return None
    for pair in request.query.split("&"):
        name, _, value = pair.partition("=")
        if name == "X-Amz-Security-Token":
            return urllib.parse.unquote(value)
    return None


def _principal_of(credential: Credential) -> Principal:
    if isinstance(credential, SessionRecord):
        return Principal(
            account_id=credential.account_id,
            arn=credential.principal_arn,
            user_id=credential.user_id,
            access_key_id=credential.access_key_id,
            session=credential.kind.value,
            role_arn=credential.role_arn,
            session_policies=credential.session_policies,
        )
    if isinstance(credential, EventSourceRecord):
        return Principal(
            account_id=credential.source_account,
            arn=credential.service,
            user_id=credential.service,
            access_key_id=credential.access_key_id,
            service=credential.service,
            source_arn=credential.source_arn,
        )
    return Principal(
        account_id=credential.account_id,
        arn=credential.principal_arn,
        user_id=credential.user_id,
        access_key_id=credential.access_key_id,
    )
