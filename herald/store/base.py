"""The store interface: everything that must survive a restart goes through it.

Records are frozen values; the store never interprets attribute maps, it keeps them.
Every method is one atomic unit: it either happens whole or raises and changes nothing.
No SQL exists outside this package.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from herald.store.base_delivery import DeliveryRecord, DeliveryStore
from herald.store.base_iam import IAMStore
from herald.store.base_kms import KMSStore
from herald.store.base_sqs import QueuedMessage, SQSStore

# A pure function from an attribute map to its replacement; it may raise to refuse.
AttributeEdit = Callable[[Mapping[str, str]], Mapping[str, str]]


class KeyStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(frozen=True)
class AccessKeyRecord:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    account_id: str
    principal_arn: str
    user_id: str
    status: KeyStatus
    created_at: float


@dataclass(frozen=True)
class UserRecord:
    account_id: str
    name: str
    user_id: str
    arn: str
    path: str
    tags: Mapping[str, str]
    created_at: float


@dataclass(frozen=True)
class GroupRecord:
    account_id: str
    name: str
    group_id: str
    arn: str
    path: str
    created_at: float


@dataclass(frozen=True)
class TopicRecord:
    arn: str
    account_id: str
    region: str
    name: str
    attributes: Mapping[str, str]
    created_at: float


@dataclass(frozen=True)
class TopicCounts:
    confirmed: int
    pending: int
    deleted: int


@dataclass(frozen=True)
class SubscriptionRecord:
    arn: str
    topic_arn: str
    owner: str
    protocol: str
    endpoint: str
    attributes: Mapping[str, str]
    confirmed: bool
    token: str | None = field(repr=False)
    token_expires_at: float | None
    created_at: float


# SNS FIFO deduplication: a deduplication id is remembered this long after its publish
# ("Message deduplication for FIFO topics"); the store prunes what is older.
DEDUP_SECONDS = 300.0
# Rows of each kind one prune removes: deleting is about as costly as inserting, and a
# prune holds the store's writes while it runs (1,000 messages: about 20 ms).
PRUNE_BATCH = 1_000
# A sealing key goes once it has sealed nothing for a day (a day of clock skew between
# nodes is harmless) and no stored message of its topic was published while it sealed,
# give or take SEALING_MARGIN_SECONDS: the prune reads only those messages' ids and
# topics, never their bodies, and keeps a key that some of them may not refer to.
SEALING_KEY_KEEP_SECONDS = 86400.0
SEALING_MARGIN_SECONDS = 300.0


@dataclass
class QueuedDeliveries:
    """Deliveries done in a publish's own transaction (``add_messages``), each with the
    queue message it becomes. The store sets ``kept`` to the ids of those it wrote as
    delivery rows instead, their queue being gone."""

    pairs: Sequence[tuple[DeliveryRecord, QueuedMessage]]
    kept: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MessageRecord:
    """A published message as stored. ``body`` is opaque bytes to the store."""

    message_id: str
    topic_arn: str
    subject: str | None
    body: bytes = field(repr=False)
    # How ``body`` is to be read: "plain", "kms-envelope-v1" (the data key's ciphertext in
    # the body) or "kms-envelope-v2" (the body refers to a SealingKeyRecord).
    body_format: str
    message_structure: str | None
    attributes: str  # JSON of the message attributes, as published
    group_id: str | None
    deduplication_id: str | None
    sequence_number: str | None
    publisher_arn: str
    published_at: float
    # JSON of who published (account, user id, role, session policies...): the principal
    # on whose behalf a "kms-envelope-v1" body is decrypted at delivery. Empty otherwise
    # (v2 bodies find it in their sealing key).
    publisher_identity: str = ""


@dataclass(frozen=True)
class SealingKeyRecord:
    """What the sealed bodies of one data key and one publisher share, stored once: the
    data key's ciphertext, the ARN of the key that made it, and the publisher (JSON, as
    ``MessageRecord.publisher_identity``) on whose behalf it is decrypted at delivery.
    It seals bodies from ``created_at`` (about: a body's publish time may precede it by
    the time sealing took) until ``sealing_until`` at the latest."""

    sealing_id: bytes  # 16 random bytes, named by every body it sealed
    topic_arn: str  # the topic whose bodies it seals
    key_arn: str
    data_key: bytes = field(repr=False)
    publisher_identity: str = field(repr=False)
    created_at: float
    sealing_until: float


class Sealer(Protocol):
    """Seals secrets (access-key secrets) before they reach the database; ``purpose``
    names the secret ("access-key:AKIA...") and is bound to the sealed value."""

    def seal(self, purpose: str, secret: str) -> str: ...

    def open(self, purpose: str, stored: str) -> str: ...


class Store(IAMStore, KMSStore, SQSStore, DeliveryStore, ABC):
    """What Herald keeps. Implementations: ``sqlite.SQLiteStore`` (later PostgreSQL)."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    @abstractmethod
    async def close(self) -> None:
        """Finish queued work and release the connection."""

    # -- accounts and credentials ------------------------------------------------------

    @abstractmethod
    async def ensure_account(self, account_id: str, now: float) -> None: ...

    @abstractmethod
    async def create_account(self, account_id: str, now: float) -> bool:
        """Add an account; False if it exists already."""

    @abstractmethod
    async def list_accounts(self) -> list[tuple[str, float]]:
        """Every account as (id, created at), ordered by id."""

    @abstractmethod
    async def put_access_key(self, key: AccessKeyRecord) -> None: ...

    @abstractmethod
    async def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None: ...

    @abstractmethod
    async def deactivate_access_keys(self, principal_arn: str, keep: str) -> list[str]:
        """Set every active key of ``principal_arn`` but ``keep`` Inactive; return their ids."""

    # -- IAM users and inline policies -------------------------------------------------

    @abstractmethod
    async def create_user(self, user: UserRecord) -> bool:
        """Add a user; False if the account has one of that name."""

    @abstractmethod
    async def get_user(self, account_id: str, name: str) -> UserRecord | None: ...

    @abstractmethod
    async def list_users(self, account_id: str) -> list[UserRecord]:
        """The account's users, ordered by name."""

    @abstractmethod
    async def edit_iam_tags(
        self, arn: str, add: Mapping[str, str], remove: Sequence[str], max_tags: int
    ) -> None:
        """Add and remove tags of the user or role ``arn`` in one step.
        Raises NotFound, LimitExceeded (more than ``max_tags`` would result)."""

    @abstractmethod
    async def delete_user(self, account_id: str, name: str) -> None:
        """Delete a user that has no access keys and no policies.
        Raises NotFound, InvalidState (keys or policies remain)."""

    @abstractmethod
    async def list_access_keys(self, principal_arn: str) -> list[AccessKeyRecord]: ...

    @abstractmethod
    async def add_access_key(self, key: AccessKeyRecord, max_per_principal: int) -> None:
        """Add a key unless the principal has ``max_per_principal``. Raises LimitExceeded."""

    @abstractmethod
    async def set_access_key_status(
        self, principal_arn: str, access_key_id: str, status: KeyStatus
    ) -> None:
        """Raises NotFound when the principal has no such key."""

    @abstractmethod
    async def delete_access_key(self, principal_arn: str, access_key_id: str) -> None:
        """Raises NotFound when the principal has no such key."""

    @abstractmethod
    async def put_inline_policy(
        self, principal_arn: str, name: str, document: str, max_total_chars: int
    ) -> None:
        """Add or replace a policy; the principal's policies together stay within
        ``max_total_chars``. Raises LimitExceeded."""

    @abstractmethod
    async def get_inline_policies(self, principal_arn: str) -> dict[str, str]:
        """The principal's inline policies by name."""

    @abstractmethod
    async def delete_inline_policy(self, principal_arn: str, name: str) -> None:
        """Raises NotFound."""

    # -- IAM groups --------------------------------------------------------------------

    @abstractmethod
    async def create_group(self, group: GroupRecord) -> bool:
        """Add a group; False if the account has one of that name."""

    @abstractmethod
    async def get_group(self, account_id: str, name: str) -> GroupRecord | None: ...

    @abstractmethod
    async def list_groups(self, account_id: str) -> list[GroupRecord]:
        """The account's groups, ordered by name."""

    @abstractmethod
    async def delete_group(self, account_id: str, name: str) -> None:
        """Delete a group with no members and no policies.
        Raises NotFound, InvalidState."""

    @abstractmethod
    async def add_group_member(self, account_id: str, group: str, user: str) -> None:
        """Raises NotFound when the group or the user does not exist."""

    @abstractmethod
    async def remove_group_member(self, account_id: str, group: str, user: str) -> None:
        """Raises NotFound when the user is not in the group."""

    @abstractmethod
    async def list_group_members(self, account_id: str, group: str) -> list[UserRecord]: ...

    @abstractmethod
    async def list_groups_for_user(self, account_id: str, user: str) -> list[GroupRecord]: ...

    # -- topics ------------------------------------------------------------------------

    @abstractmethod
    async def create_topic(
        self, topic: TopicRecord, tags: Mapping[str, str]
    ) -> tuple[TopicRecord, bool]:
        """Insert ``topic`` with ``tags`` unless its ARN exists; return (stored, created)."""

    @abstractmethod
    async def get_topic(self, arn: str) -> TopicRecord | None: ...

    @abstractmethod
    async def edit_topic_attributes(self, arn: str, edit: AttributeEdit) -> TopicRecord:
        """Replace the topic's attributes with ``edit(current)``, atomically: no other change
        to the topic comes between the read and the write. Raises NotFound, and whatever
        ``edit`` raises (then nothing changes)."""

    async def set_topic_attributes(
        self, arn: str, set_: Mapping[str, str], remove: Sequence[str]
    ) -> TopicRecord:
        """Set and remove attributes in one step. Raises NotFound."""

        def change(current: Mapping[str, str]) -> Mapping[str, str]:
            updated = {**current, **set_}
            for name in remove:
                updated.pop(name, None)
            return updated

        return await self.edit_topic_attributes(arn, change)

    @abstractmethod
    async def delete_topic(self, arn: str) -> None:
        """Delete the topic, its subscriptions and tags; no error if it is gone."""

    @abstractmethod
    async def list_topics(
        self, account_id: str, region: str, after: str | None, limit: int
    ) -> list[TopicRecord]:
        """Topics ordered by ARN, starting after the ARN ``after``."""

    @abstractmethod
    async def count_topics(self, account_id: str, region: str | None = None) -> int:
        """Topics of the account in ``region``, or in every region when it is None."""

    @abstractmethod
    async def topic_counts(self, arn: str) -> TopicCounts: ...

    # -- tags --------------------------------------------------------------------------

    @abstractmethod
    async def tag_resource(self, arn: str, tags: Mapping[str, str], max_tags: int) -> None:
        """Add or overwrite tags. Raises ResourceNotFound, TagLimitExceeded."""

    @abstractmethod
    async def untag_resource(self, arn: str, keys: Sequence[str]) -> None:
        """Remove tags. Raises ResourceNotFound."""

    @abstractmethod
    async def list_tags(self, arn: str) -> dict[str, str]:
        """Tags of a resource. Raises ResourceNotFound."""

    # -- subscriptions -----------------------------------------------------------------

    @abstractmethod
    async def create_subscription(
        self, sub: SubscriptionRecord, max_per_topic: int
    ) -> tuple[SubscriptionRecord, bool]:
        """Insert ``sub`` unless the topic has one for the same protocol and endpoint;
        return (stored, created). Raises NotFound (topic), SubscriptionLimitExceeded."""

    @abstractmethod
    async def get_subscription(self, arn: str) -> SubscriptionRecord | None: ...

    @abstractmethod
    async def find_subscription_by_token(self, token: str) -> SubscriptionRecord | None: ...

    @abstractmethod
    async def update_subscription(
        self,
        arn: str,
        *,
        set_: Mapping[str, str] | None = None,
        remove: Sequence[str] = (),
        confirmed: bool | None = None,
        token: str | None = None,
        token_expires_at: float | None = None,
    ) -> SubscriptionRecord:
        """Change a subscription in one step. Raises NotFound."""

    @abstractmethod
    async def edit_subscription_attributes(
        self, arn: str, edit: AttributeEdit
    ) -> SubscriptionRecord:
        """Replace the subscription's attributes with ``edit(current)``, atomically.
        Raises NotFound, and whatever ``edit`` raises (then nothing changes)."""

    @abstractmethod
    async def delete_subscription(self, arn: str) -> bool:
        """Delete it; True if it existed (the topic's deleted count grows)."""

    @abstractmethod
    async def list_subscriptions(
        self, account_id: str, region: str, after: str | None, limit: int
    ) -> list[SubscriptionRecord]:
        """Subscriptions to the account's topics in the region, ordered by ARN."""

    @abstractmethod
    async def list_subscriptions_by_topic(
        self, topic_arn: str, after: str | None, limit: int
    ) -> list[SubscriptionRecord]: ...

    # -- messages ----------------------------------------------------------------------

    @abstractmethod
    async def add_messages(
        self,
        messages: Sequence[MessageRecord],
        deliveries: Sequence[DeliveryRecord] = (),
        dedup_since: float | None = None,
        leased_until: float = 0.0,
        queued: QueuedDeliveries | None = None,
        sealing_keys: Sequence[SealingKeyRecord] = (),
    ) -> dict[str, tuple[str, str | None]]:
        """Commit messages and their deliveries durably, together; returns only once they
        are on disk.

        ``sealing_keys`` are those the messages' bodies refer to, written in the same
        transaction unless already stored (a sealer passes one until a commit of it has
        returned).

        ``queued`` are deliveries done in the same transaction: each delivery's queue
        message is added to its queue (standard queues, no deduplication) in place of
        the delivery row, which is written (not leased) only if the queue no longer
        exists, for the delivery worker to fail as it would any delivery to a deleted
        queue; ``queued.kept`` then names those. A message whose deliveries were all
        done so is not kept: nothing would read it.

        With ``leased_until``, the deliveries are written already leased to this node
        until then: its delivery worker is handed them and they are not claimed (by any
        node) before the lease ends.

        With ``dedup_since`` (FIFO topics), a message whose deduplication id was published
        to its topic at or after that time is a duplicate: it is not stored and its
        deliveries are not written. FIFO messages (those with a sequence number) are given
        their final sequence number as they are committed, above any given before in their
        topic (also on other nodes), and their deliveries the same. Returns, by message id:
        for each FIFO message the message id and its final sequence number; for each
        duplicate the id and sequence number of the message first published with that
        deduplication id."""

    @abstractmethod
    async def ping(self) -> None:
        """Raises StoreUnavailable unless the store answers (the health check)."""

    @abstractmethod
    async def prune(self, now: float, audit_before: float) -> int:
        """Remove what nothing needs any more: messages published over 5 minutes ago that
        have no delivery left, deduplication records past their 5 minutes, queue messages
        past their retention period, sealing keys that sealed nothing for
        SEALING_KEY_KEEP_SECONDS and that no message can refer to, and audit events before
        ``audit_before``. Returns the number of rows removed. At most PRUNE_BATCH rows of
        each kind go at a time, so a caller that gets as many or more calls again."""

    @abstractmethod
    async def get_message(self, message_id: str) -> MessageRecord | None: ...

    @abstractmethod
    async def get_sealing_key(self, sealing_id: bytes) -> SealingKeyRecord | None: ...

    @abstractmethod
    async def count_messages(self, topic_arn: str) -> int: ...
