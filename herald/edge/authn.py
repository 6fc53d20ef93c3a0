"""Authentication: SigV4 claims checked against the access keys in the store.

Access keys are cached in memory after their first use; a key changed through this process
is dropped from the cache at once (``forget``).
"""

from __future__ import annotations

from herald.auth import sigv4
from herald.clock import Clock
from herald.errors import InvalidClientTokenId
from herald.store.base import AccessKeyRecord, KeyStatus, Store
from herald.types import Principal

_INVALID = "The security token included in the request is invalid."
CACHE_SIZE = 10_000
UNKNOWN_TTL_SECONDS = 5.0


class Authenticator:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[str, AccessKeyRecord] = {}
        # Keys looked up and not found, with when: a stream of made-up key ids must not
        # become a stream of store jobs.
        self._unknown: dict[str, float] = {}

    async def authenticate(
        self, request: sigv4.HTTPRequest, claims: sigv4.SignedRequest, now: float
    ) -> Principal:
        """The principal that signed ``request``.

        Raises InvalidClientTokenId (unknown or inactive key), SignatureMismatch,
        RequestExpired.
        """
        key = await self._key(claims.access_key_id)
        if key is None or key.status is not KeyStatus.ACTIVE:
            raise InvalidClientTokenId(_INVALID)
        sigv4.verify(request, claims, key.secret_access_key, now)
        return Principal(
            account_id=key.account_id,
            arn=key.principal_arn,
            user_id=key.user_id,
            access_key_id=key.access_key_id,
        )

    async def _key(self, access_key_id: str) -> AccessKeyRecord | None:
        cached = self._cache.get(access_key_id)
        if cached is not None:
            return cached
        if len(access_key_id) > 128:
            return None
        now = self._clock.now()
        missed = self._unknown.get(access_key_id)
        if missed is not None and now - missed < UNKNOWN_TTL_SECONDS:
            return None
        key = await self._store.get_access_key(access_key_id)
        if key is None:
            if len(self._unknown) >= CACHE_SIZE:
                self._unknown.clear()
            self._unknown[access_key_id] = now
            return None
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[access_key_id] = key
        return key

    def forget(self, access_key_id: str) -> None:
        self._cache.pop(access_key_id, None)
        self._unknown.pop(access_key_id, None)
