"""The store interface for the key service: keys, wrapped backing keys, aliases, and a
small name/value table for facts like the root-key check value.

Backing keys reach the store only wrapped by the root key; the store never sees them in
clear.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class KeyState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"


class KeyManager(StrEnum):
    CUSTOMER = "CUSTOMER"
    AWS = "AWS"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    account_id: str
    region: str
    arn: str
    description: str
    key_usage: str  # ENCRYPT_DECRYPT
    key_spec: str  # SYMMETRIC_DEFAULT
    origin: str  # AWS_KMS
    manager: KeyManager
    state: KeyState
    policy: str
    created_at: float
    deletion_date: float | None
    pending_window_days: int | None
    rotation_period_days: int | None  # None: automatic rotation off
    next_rotation: float | None
    tags: Mapping[str, str]


@dataclass(frozen=True)
class KeyVersion:
    """A backing key: ``material`` is the clear key, only ever in memory."""

    key_id: str
    version: int
    material: bytes = field(repr=False)
    created_at: float
    on_demand: bool = False


@dataclass(frozen=True)
class AliasRecord:
    account_id: str
    region: str
    name: str  # "alias/..."
    key_id: str
    created_at: float
    updated_at: float

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:{self.name}"


@dataclass(frozen=True)
class WrappedVersion:
    key_id: str
    version: int
    wrapped: bytes = field(repr=False)
    created_at: float
    on_demand: bool


class KMSStore(ABC):
    @abstractmethod
    async def create_key(self, key: KeyRecord, first: WrappedVersion) -> None: ...

    @abstractmethod
    async def get_key(self, key_id: str) -> KeyRecord | None: ...

    @abstractmethod
    async def list_keys(self, account_id: str, region: str) -> list[KeyRecord]:
        """Ordered by key id."""

    @abstractmethod
    async def update_key(self, key_id: str, changes: Mapping[str, object]) -> KeyRecord:
        """Set the named KeyRecord fields. Raises NotFound."""

    @abstractmethod
    async def keys_due(self, now: float) -> list[KeyRecord]:
        """Keys whose scheduled deletion or automatic rotation falls at or before ``now``."""

    @abstractmethod
    async def key_versions(self, key_id: str) -> list[WrappedVersion]:
        """Every backing key of ``key_id``, oldest first."""

    @abstractmethod
    async def add_key_version(self, version: WrappedVersion, next_rotation: float | None) -> None:
        """Add the next backing key (and the key's next automatic rotation time)."""

    @abstractmethod
    async def delete_key(self, key_id: str) -> None:
        """Remove a key, its backing keys and its aliases for good."""

    @abstractmethod
    async def create_alias(self, alias: AliasRecord, max_per_account: int) -> bool:
        """False if the name exists in the account and region. Raises LimitExceeded."""

    @abstractmethod
    async def get_alias(self, account_id: str, region: str, name: str) -> AliasRecord | None: ...

    @abstractmethod
    async def list_aliases(
        self, account_id: str, region: str, key_id: str | None = None
    ) -> list[AliasRecord]:
        """Ordered by name."""

    @abstractmethod
    async def retarget_alias(
        self, account_id: str, region: str, name: str, key_id: str, now: float
    ) -> None:
        """Raises NotFound."""

    @abstractmethod
    async def delete_alias(self, account_id: str, region: str, name: str) -> bool: ...

    @abstractmethod
    async def get_meta(self, name: str) -> bytes | None: ...

    @abstractmethod
    async def put_meta_once(self, name: str, value: bytes) -> bytes:
        """Store ``value`` unless ``name`` has one; return the value that is stored."""
