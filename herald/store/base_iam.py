"""The store interface for roles, managed policies, temporary credentials and event
sources, renames and the last use of access keys (the part of ``Store`` that IAM and STS
need beyond creating, reading and deleting users and groups)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class RoleRecord:
    account_id: str
    name: str
    role_id: str
    arn: str
    path: str
    trust_policy: str
    description: str | None
    max_session_duration: int  # seconds
    tags: Mapping[str, str]
    created_at: float


@dataclass(frozen=True)
class ManagedPolicyRecord:
    arn: str
    account_id: str
    name: str
    policy_id: str
    path: str
    description: str | None
    default_version: str  # "v1"
    attachment_count: int
    tags: Mapping[str, str]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class PolicyVersionRecord:
    policy_arn: str
    version_id: str
    document: str
    is_default: bool
    created_at: float


class SessionKind(StrEnum):
    ASSUMED_ROLE = "AssumeRole"
    SESSION_TOKEN = "GetSessionToken"


@dataclass(frozen=True)
class SessionRecord:
    """Temporary credentials issued by STS. The session token is kept only as its SHA-256:
    a copy of the database does not yield a usable token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    token_sha256: str = field(repr=False)
    account_id: str
    principal_arn: str  # the assumed-role session ARN, or the user's for GetSessionToken
    user_id: str  # "AROA...:session" or the user's id
    kind: SessionKind
    role_arn: str | None
    session_policies: tuple[str, ...]  # documents that narrow the session
    expires_at: float
    created_at: float


@dataclass(frozen=True)
class EventSourceRecord:
    """Credentials with which an AWS service principal (events.amazonaws.com, ...) acts on
    behalf of a source account and source ARN."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    service: str
    source_account: str
    source_arn: str | None
    active: bool
    created_at: float


@dataclass(frozen=True)
class KeyUse:
    """When an access key last signed a request, and the service and region it named."""

    used_at: float
    service: str  # as the signature's credential scope names it: "sns", "iam", ...
    region: str


@dataclass(frozen=True)
class AttachedEntity:
    """A user, group or role that a managed policy is attached to."""

    kind: str  # "User", "Group" or "Role"
    name: str
    entity_id: str
    path: str


class IAMStore(ABC):
    # -- roles -------------------------------------------------------------------------

    @abstractmethod
    async def create_role(self, role: RoleRecord) -> bool:
        """Add a role; False if the account has one of that name."""

    @abstractmethod
    async def get_role(self, account_id: str, name: str) -> RoleRecord | None: ...

    @abstractmethod
    async def list_roles(self, account_id: str) -> list[RoleRecord]:
        """The account's roles, ordered by name."""

    @abstractmethod
    async def update_role(
        self,
        account_id: str,
        name: str,
        *,
        trust_policy: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
    ) -> None:
        """Change the given fields (None: unchanged). Raises NotFound."""

    @abstractmethod
    async def delete_role(self, account_id: str, name: str) -> None:
        """Delete a role without policies. Raises NotFound, InvalidState."""

    # -- managed policies --------------------------------------------------------------

    @abstractmethod
    async def create_managed_policy(self, policy: ManagedPolicyRecord, document: str) -> bool:
        """Add a policy with ``document`` as v1; False if the account has one of that name."""

    @abstractmethod
    async def get_managed_policy(self, arn: str) -> ManagedPolicyRecord | None: ...

    @abstractmethod
    async def list_managed_policies(self, account_id: str) -> list[ManagedPolicyRecord]:
        """The account's policies, ordered by name."""

    @abstractmethod
    async def delete_managed_policy(self, arn: str) -> None:
        """Raises NotFound, InvalidState (attached, or versions besides the default)."""

    @abstractmethod
    async def get_policy_version(self, arn: str, version_id: str) -> PolicyVersionRecord | None: ...

    @abstractmethod
    async def list_policy_versions(self, arn: str) -> list[PolicyVersionRecord]:
        """Newest first."""

    @abstractmethod
    async def create_policy_version(
        self, arn: str, document: str, set_default: bool, now: float, max_versions: int
    ) -> PolicyVersionRecord:
        """Raises NotFound, LimitExceeded (``max_versions`` exist)."""

    @abstractmethod
    async def set_default_policy_version(self, arn: str, version_id: str, now: float) -> None:
        """Raises NotFound."""

    @abstractmethod
    async def delete_policy_version(self, arn: str, version_id: str) -> None:
        """Raises NotFound, InvalidState (the default version)."""

    @abstractmethod
    async def attach_policy(self, principal_arn: str, policy_arn: str, max_attached: int) -> None:
        """Attach (again: no change). Raises NotFound (no such policy), LimitExceeded."""

    @abstractmethod
    async def detach_policy(self, principal_arn: str, policy_arn: str) -> None:
        """Raises NotFound (not attached)."""

    @abstractmethod
    async def list_attached_policies(self, principal_arn: str) -> list[ManagedPolicyRecord]:
        """The policies attached to a user, group or role, ordered by name."""

    @abstractmethod
    async def attached_documents(self, principal_arns: list[str]) -> dict[str, str]:
        """The default version of every policy attached to any of ``principal_arns``,
        by policy ARN."""

    # -- temporary credentials and event sources ---------------------------------------

    @abstractmethod
    async def put_session(self, session: SessionRecord, now: float) -> None:
        """Keep a session; sessions expired before ``now`` are removed on the way."""

    @abstractmethod
    async def get_session(self, access_key_id: str) -> SessionRecord | None: ...

    @abstractmethod
    async def put_event_source(self, source: EventSourceRecord) -> None: ...

    @abstractmethod
    async def get_event_source(self, access_key_id: str) -> EventSourceRecord | None: ...

    @abstractmethod
    async def list_event_sources(self) -> list[EventSourceRecord]: ...

    @abstractmethod
    async def delete_event_source(self, access_key_id: str) -> bool: ...

    # -- renames, attachments by policy, access key use --------------------------------

    @abstractmethod
    async def rename_user(
        self, account_id: str, name: str, new_name: str, new_path: str, new_arn: str
    ) -> list[str]:
        """Give user ``name`` a new name, path and ARN. Its unique id, tags, group
        memberships, inline and attached policies, access keys and GetSessionToken
        sessions follow it; policies that name its old ARN are left as they are.

        Returns the ids of the credentials that now sign as ``new_arn``. Raises NotFound,
        AlreadyExists (another user of the account has ``new_name``, in any case).
        """

    @abstractmethod
    async def rename_group(
        self, account_id: str, name: str, new_name: str, new_path: str, new_arn: str
    ) -> None:
        """Give group ``name`` a new name, path and ARN; its members and its inline and
        attached policies follow it. Raises NotFound, AlreadyExists."""

    @abstractmethod
    async def list_policy_entities(self, policy_arn: str) -> list[AttachedEntity]:
        """The users, groups and roles that the managed policy is attached to."""

    @abstractmethod
    async def record_key_use(self, access_key_id: str, use: KeyUse) -> None:
        """Keep ``use`` as the key's last, unless a later one is kept already; a key that
        no longer exists is no error."""

    @abstractmethod
    async def get_key_use(self, access_key_id: str) -> KeyUse | None:
        """The key's last recorded use; None when it has none (or there is no such key)."""
