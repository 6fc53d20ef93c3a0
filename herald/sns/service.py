"""The SNS service: topics, subscriptions and publishing over one store and clock."""

from __future__ import annotations

from collections.abc import Mapping

from herald.clock import Clock
from herald.errors import KeyInvalidState
from herald.iam.authorizer import Authorizer
from herald.iam.identities import Identities
from herald.sns.encryption import (
    DEFAULT_REUSE_SECONDS,
    DataKeyLike,
    KeyService,
    MessageOpener,
    SealingKeys,
    TopicEncryption,
)
from herald.sns.publishing import Publisher
from herald.sns.subscriptions import Subscriptions
from herald.sns.topics import Topics
from herald.store.base import Store
from herald.types import RequestContext


class SNSService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        authorizer: Authorizer | None = None,
        keys: KeyService | None = None,
        data_key_reuse_seconds: float = DEFAULT_REUSE_SECONDS,
    ) -> None:
        """``keys`` is the key service topic encryption uses; without it, a topic with a
        KmsMasterKeyId cannot be published to (KMSInvalidState)."""
        self.topics = Topics(store, clock, authorizer or Authorizer(Identities(store), clock))
        self.subscriptions = Subscriptions(
            store, clock, self.topics, on_change=lambda arn: self.publisher.forget(arn)
        )
        keys = keys or _NoKeyService()
        sealing_keys = SealingKeys(store)
        self.encryption = TopicEncryption(keys, clock, sealing_keys, data_key_reuse_seconds)
        self.opener = MessageOpener(keys, clock, sealing_keys, data_key_reuse_seconds)
        self.publisher = Publisher(store, clock, self.topics, self.encryption)


class _NoKeyService:
    async def generate_data_key(
        self, ctx: RequestContext, reference: str, context: Mapping[str, str]
    ) -> DataKeyLike:
        raise KeyInvalidState("This Herald has no key service configured.")

    async def may_generate(
        self, ctx: RequestContext, reference: str, context: Mapping[str, str]
    ) -> str:
        raise KeyInvalidState("This Herald has no key service configured.")

    async def decrypt(self, ctx: RequestContext, blob: bytes, context: Mapping[str, str]) -> bytes:
        raise KeyInvalidState("This Herald has no key service configured.")
