"""The store interface for deliveries: one row per (message, subscription) written with
the message, before the publish is acknowledged, and removed once delivered."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeliveryRecord:
    delivery_id: str
    message_id: str
    topic_arn: str
    subscription_arn: str
    protocol: str
    endpoint: str
    raw: bool
    attempts: int
    next_attempt_at: float
    created_at: float
    # "Notification" (of message_id), "SubscriptionConfirmation" or
    # "UnsubscribeConfirmation" (message_id is then the id of that message, and token the
    # token its SubscribeURL carries).
    kind: str = "Notification"
    token: str | None = field(default=None, repr=False)
    # FIFO topics: the subscription and message group ("ARN\ngroup"), delivered one at a
    # time in sequence order (the store fills ``sequence`` in when it commits the message).
    group_key: str | None = None
    sequence: str | None = None


@dataclass(frozen=True)
class SigningKey:
    region: str
    private_key: bytes = field(repr=False)  # PEM, sealed by the store's sealer at rest
    certificate: bytes  # PEM
    created_at: float


class DeliveryStore(ABC):
    @abstractmethod
    async def claim_deliveries(
        self, now: float, limit: int, lease_seconds: float
    ) -> list[DeliveryRecord]:
        """Due deliveries no one holds, now held for ``lease_seconds``: a node that dies
        leaves them to be taken again when the lease ends."""

    @abstractmethod
    async def release_leases(self) -> int:
        """At start: release the leases of deliveries that no live worker can hold (with
        an embedded database, every lease was held by an earlier run of this process).
        Returns how many were released."""

    @abstractmethod
    async def finish_delivery(self, delivery_id: str) -> None:
        """Delivered (or given up): the row goes."""

    @abstractmethod
    async def finish_deliveries(self, delivery_ids: list[str]) -> None:
        """Many at once."""

    @abstractmethod
    async def add_deliveries(self, deliveries: list[DeliveryRecord]) -> None:
        """Deliveries that are not of a new message (confirmation messages)."""

    @abstractmethod
    async def retry_delivery(
        self, delivery_id: str, next_attempt_at: float, error: str, *, failed: bool = True
    ) -> None:
        """Try again at ``next_attempt_at``; ``failed`` counts an attempt (a delivery held
        back by a throttle policy was not attempted)."""

    @abstractmethod
    async def keep_resubscription(
        self, token: str, topic_arn: str, subscription: str, expires_at: float
    ) -> None:
        """An ended subscription (``subscription`` is its JSON) that ``token`` can restore."""

    @abstractmethod
    async def take_resubscription(self, token: str, topic_arn: str, now: float) -> str | None:
        """The subscription JSON kept under ``token`` for the topic, if not expired; taken
        once."""

    @abstractmethod
    async def pending_deliveries(self) -> int: ...

    @abstractmethod
    async def get_signing_key(self, region: str) -> SigningKey | None: ...

    @abstractmethod
    async def list_signing_keys(self) -> list[SigningKey]: ...

    @abstractmethod
    async def signing_key(self, region: str, make: SigningKey) -> SigningKey:
        """The region's signing key: the stored one, or ``make`` stored now."""
