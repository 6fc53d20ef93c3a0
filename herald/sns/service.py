"""The SNS service: topics, subscriptions and publishing over one store and clock."""

from __future__ import annotations

from herald.clock import Clock
from herald.iam.authorizer import Authorizer
from herald.iam.identities import Identities
from herald.sns.publishing import Publisher
from herald.sns.subscriptions import Subscriptions
from herald.sns.topics import Topics
from herald.store.base import Store


class SNSService:
    def __init__(self, store: Store, clock: Clock, authorizer: Authorizer | None = None) -> None:
        self.topics = Topics(store, clock, authorizer or Authorizer(Identities(store), clock))
        self.subscriptions = Subscriptions(store, clock, self.topics)
        self.publisher = Publisher(store, clock, self.topics)
