"""The store interface for the key service: keys, wrapped backing keys, aliases, and a
small name/value table for facts like the root-key check value.

Backing keys reach the store only wrapped by the root key; the store never sees them in
clear.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
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


@dataclass(frozen=True)
class AuditEvent:
    """One KMS request, allowed or refused, as CloudTrail records it. Never plaintext,
    ciphertext or key material: ``request_parameters`` holds only an allowlist of fields."""

    event_id: str
    event_time: float
    event_name: str
    account_id: str  # the account whose key service served it
    region: str
    key_arn: str | None
    principal_type: str
    principal_arn: str
    principal_account: str
    source_ip: str | None
    user_agent: str | None
    request_parameters: Mapping[str, object]
    response_key_id: str | None
    error_code: str | None
    error_message: str | None
    via_service: str | None  # "sns.amazonaws.com" when a service called for the principal
    request_id: str


@dataclass(frozen=True)
class AuditQuery:
    key: str | None = None  # key ARN or id (matched as the ARN's suffix)
    principal: str | None = None
    operation: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 1000


@dataclass(frozen=True)
class GrantRecord:
    grant_id: str
    key_id: str
    name: str | None
    grantee_principal: str
    retiring_principal: str | None
    operations: tuple[str, ...]
    constraints: Mapping[str, Mapping[str, str]] | None  # EncryptionContextSubset/Equals
    issuing_account: str
    token_sha256: str = field(repr=False)
    created_at: float


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
    async def add_key_version(
        self,
        version: WrappedVersion,
        next_rotation: float | None,
        *,
        due_at: float | None = None,
        max_on_demand: int | None = None,
    ) -> bool:
        """Add the next backing key (and, unless it is on demand, which leaves the schedule
        as it is, the key's next automatic rotation time), in one
        transaction with the checks that make it the next: False, writing nothing, when
        the key's latest version is not the one before ``version`` (another rotation came
        first), when ``due_at`` is not the key's next rotation time any more (a scheduled
        rotation another node made), or when ``version`` is on demand and the key already
        has ``max_on_demand`` on-demand versions."""

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
    async def append_audit(self, event: AuditEvent) -> None: ...

    @abstractmethod
    async def list_audit(self, query: AuditQuery) -> list[AuditEvent]:
        """Matching events, oldest first, at most ``query.limit``."""

    @abstractmethod
    async def kms_enabled(self, account_id: str) -> bool:
        """False when the operator switched the key service off for the account."""

    @abstractmethod
    async def set_kms_enabled(self, account_id: str, enabled: bool) -> bool:
        """False when there is no such account."""

    @abstractmethod
    async def create_grant(
        self,
        grant: GrantRecord,
        max_per_key: int,
        same: Callable[[GrantRecord], bool] | None = None,
    ) -> GrantRecord:
        """Store ``grant``, unless a grant of its key is ``same`` as it: then that grant,
        found in the same transaction (two identical requests make one grant). Raises
        LimitExceeded."""

    @abstractmethod
    async def list_grants(self, key_id: str) -> list[GrantRecord]:
        """The key's grants, oldest first."""

    @abstractmethod
    async def list_retirable_grants(self, retiring_principal: str) -> list[GrantRecord]: ...

    @abstractmethod
    async def find_grant_by_token(self, token_sha256: str) -> GrantRecord | None: ...

    @abstractmethod
    async def delete_grant(self, key_id: str, grant_id: str) -> bool: ...

    @abstractmethod
    async def get_meta(self, name: str) -> bytes | None: ...

    @abstractmethod
    async def put_meta_once(self, name: str, value: bytes) -> bytes:
        """Store ``value`` unless ``name`` has one; return the value that is stored."""
