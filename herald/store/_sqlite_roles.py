"""IAM roles, managed policies and their attachments, in SQLite (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from herald.errors import InvalidState, LimitExceeded, NotFound
from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base_iam import ManagedPolicyRecord, PolicyVersionRecord, RoleRecord

_ROLE_COLUMNS = (
    "account_id, name, role_id, arn, path, trust_policy, description, "
    "max_session_duration, tags, created_at"
)
_POLICY_COLUMNS = (
    "arn, account_id, name, policy_id, path, description, default_version, "
    "(SELECT COUNT(*) FROM policy_attachments a WHERE a.policy_arn = managed_policies.arn), "
    "tags, created_at, updated_at"
)


class SQLiteRoles:
    _worker: SQLiteWorker

    async def create_role(self, role: RoleRecord) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                f"INSERT OR IGNORE INTO iam_roles({_ROLE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    role.account_id,
                    role.name,
                    role.role_id,
                    role.arn,
                    role.path,
                    role.trust_policy,
                    role.description,
                    role.max_session_duration,
                    json.dumps(dict(role.tags)),
                    role.created_at,
                ),
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))

    async def get_role(self, account_id: str, name: str) -> RoleRecord | None:
        result: RoleRecord | None = await self._worker.call(
            lambda c: _get_role(c, account_id, name)
        )
        return result

    async def list_roles(self, account_id: str) -> list[RoleRecord]:
        def job(c: sqlite3.Connection) -> list[RoleRecord]:
            rows = c.execute(
                f"SELECT {_ROLE_COLUMNS} FROM iam_roles WHERE account_id = ? ORDER BY name",
                (account_id,),
            ).fetchall()
            return [_role(r) for r in rows]

        result: list[RoleRecord] = await self._worker.call(job)
        return result

    async def update_role(
        self,
        account_id: str,
        name: str,
        *,
        trust_policy: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
    ) -> None:
        changes: dict[str, Any] = {
            "trust_policy": trust_policy,
            "description": description,
            "max_session_duration": max_session_duration,
        }
        changes = {k: v for k, v in changes.items() if v is not None}

        def job(c: sqlite3.Connection) -> None:
            if _get_role(c, account_id, name) is None:
                raise NotFound(f"The role with name {name} cannot be found.")
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                c.execute(
                    f"UPDATE iam_roles SET {assignments} WHERE account_id = ? AND name = ?",
                    (*changes.values(), account_id, name),
                )

        await self._worker.call(job)

    async def delete_role(self, account_id: str, name: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            role = _get_role(c, account_id, name)
            if role is None:
                raise NotFound(f"The role with name {name} cannot be found.")
            if c.execute(
                "SELECT 1 FROM inline_policies WHERE principal_arn = ?", (role.arn,)
            ).fetchone():
                raise InvalidState("Cannot delete entity, must delete policies first.")
            refuse_if_attached(c, role.arn)
            c.execute("DELETE FROM iam_roles WHERE account_id = ? AND name = ?", (account_id, name))

        await self._worker.call(job)

    # -- managed policies --------------------------------------------------------------

    async def create_managed_policy(self, policy: ManagedPolicyRecord, document: str) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "INSERT OR IGNORE INTO managed_policies(arn, account_id, name, policy_id, path, "
                "description, default_version, next_version, tags, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'v1', 2, ?, ?, ?)",
                (
                    policy.arn,
                    policy.account_id,
                    policy.name,
                    policy.policy_id,
                    policy.path,
                    policy.description,
                    json.dumps(dict(policy.tags)),
                    policy.created_at,
                    policy.updated_at,
                ),
            )
            if cursor.rowcount != 1:
                return False
            c.execute(
                "INSERT INTO policy_versions(policy_arn, version_id, document, created_at) "
                "VALUES (?, 'v1', ?, ?)",
                (policy.arn, document, policy.created_at),
            )
            return True

        return bool(await self._worker.call(job))

    async def get_managed_policy(self, arn: str) -> ManagedPolicyRecord | None:
        result: ManagedPolicyRecord | None = await self._worker.call(lambda c: _get_policy(c, arn))
        return result

    async def list_managed_policies(self, account_id: str) -> list[ManagedPolicyRecord]:
        def job(c: sqlite3.Connection) -> list[ManagedPolicyRecord]:
            rows = c.execute(
                f"SELECT {_POLICY_COLUMNS} FROM managed_policies WHERE account_id = ? "
                "ORDER BY name",
                (account_id,),
            ).fetchall()
            return [_policy(r) for r in rows]

        result: list[ManagedPolicyRecord] = await self._worker.call(job)
        return result

    async def delete_managed_policy(self, arn: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            policy = _require_policy(c, arn)
            if policy.attachment_count:
                raise InvalidState("Cannot delete a policy attached to entities.")
            versions = c.execute(
                "SELECT COUNT(*) FROM policy_versions WHERE policy_arn = ?", (arn,)
            ).fetchone()[0]
            if versions > 1:
                raise InvalidState(
                    "This policy has more than one version. Before you delete a policy, you "
                    "must delete the policy's versions. The default version is deleted with "
                    "the policy."
                )
            c.execute("DELETE FROM policy_versions WHERE policy_arn = ?", (arn,))
            c.execute("DELETE FROM managed_policies WHERE arn = ?", (arn,))

        await self._worker.call(job)

    async def get_policy_version(self, arn: str, version_id: str) -> PolicyVersionRecord | None:
        def job(c: sqlite3.Connection) -> PolicyVersionRecord | None:
            policy = _get_policy(c, arn)
            if policy is None:
                return None
            row = c.execute(
                "SELECT version_id, document, created_at FROM policy_versions "
                "WHERE policy_arn = ? AND version_id = ?",
                (arn, version_id),
            ).fetchone()
            if row is None:
                return None
            return PolicyVersionRecord(
                arn, row[0], row[1], row[0] == policy.default_version, row[2]
            )

        result: PolicyVersionRecord | None = await self._worker.call(job)
        return result

    async def list_policy_versions(self, arn: str) -> list[PolicyVersionRecord]:
        def job(c: sqlite3.Connection) -> list[PolicyVersionRecord]:
            policy = _require_policy(c, arn)
            rows = c.execute(
                "SELECT version_id, document, created_at FROM policy_versions "
                "WHERE policy_arn = ? ORDER BY CAST(SUBSTR(version_id, 2) AS INTEGER) DESC",
                (arn,),
            ).fetchall()
            return [
                PolicyVersionRecord(arn, r[0], r[1], r[0] == policy.default_version, r[2])
                for r in rows
            ]

        result: list[PolicyVersionRecord] = await self._worker.call(job)
        return result

    async def create_policy_version(
        self, arn: str, document: str, set_default: bool, now: float, max_versions: int
    ) -> PolicyVersionRecord:
        def job(c: sqlite3.Connection) -> PolicyVersionRecord:
            _require_policy(c, arn)
            count = c.execute(
                "SELECT COUNT(*) FROM policy_versions WHERE policy_arn = ?", (arn,)
            ).fetchone()[0]
            if count >= max_versions:
                raise LimitExceeded(
                    f"A managed policy can have up to {max_versions} versions. Before you "
                    "create a new version, you must delete an existing version."
                )
            number = c.execute(
                "SELECT next_version FROM managed_policies WHERE arn = ?", (arn,)
            ).fetchone()[0]
            version = f"v{number}"
            c.execute(
                "INSERT INTO policy_versions(policy_arn, version_id, document, created_at) "
                "VALUES (?, ?, ?, ?)",
                (arn, version, document, now),
            )
            c.execute(
                "UPDATE managed_policies SET next_version = next_version + 1, updated_at = ?"
                + (", default_version = ?" if set_default else "")
                + " WHERE arn = ?",
                (now, version, arn) if set_default else (now, arn),
            )
            return PolicyVersionRecord(arn, version, document, set_default, now)

        result: PolicyVersionRecord = await self._worker.call(job)
        return result

    async def set_default_policy_version(self, arn: str, version_id: str, now: float) -> None:
        def job(c: sqlite3.Connection) -> None:
            _require_policy(c, arn)
            _require_version(c, arn, version_id)
            c.execute(
                "UPDATE managed_policies SET default_version = ?, updated_at = ? WHERE arn = ?",
                (version_id, now, arn),
            )

        await self._worker.call(job)

    async def delete_policy_version(self, arn: str, version_id: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            policy = _require_policy(c, arn)
            _require_version(c, arn, version_id)
            if version_id == policy.default_version:
                raise InvalidState("Cannot delete the default version of a policy.")
            c.execute(
                "DELETE FROM policy_versions WHERE policy_arn = ? AND version_id = ?",
                (arn, version_id),
            )

        await self._worker.call(job)

    async def attach_policy(self, principal_arn: str, policy_arn: str, max_attached: int) -> None:
        def job(c: sqlite3.Connection) -> None:
            _require_policy(c, policy_arn)
            if c.execute(
                "SELECT 1 FROM policy_attachments WHERE principal_arn = ? AND policy_arn = ?",
                (principal_arn, policy_arn),
            ).fetchone():
                return
            count = c.execute(
                "SELECT COUNT(*) FROM policy_attachments WHERE principal_arn = ?",
                (principal_arn,),
            ).fetchone()[0]
            if count >= max_attached:
                kind = principal_arn.split(":", 5)[-1].split("/", 1)[0].capitalize()
                raise LimitExceeded(f"Cannot exceed quota for PoliciesPer{kind}: {max_attached}")
            c.execute(
                "INSERT INTO policy_attachments(principal_arn, policy_arn) VALUES (?, ?)",
                (principal_arn, policy_arn),
            )

        await self._worker.call(job)

    async def detach_policy(self, principal_arn: str, policy_arn: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            cursor = c.execute(
                "DELETE FROM policy_attachments WHERE principal_arn = ? AND policy_arn = ?",
                (principal_arn, policy_arn),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"Policy {policy_arn} was not found.")

        await self._worker.call(job)

    async def list_attached_policies(self, principal_arn: str) -> list[ManagedPolicyRecord]:
        def job(c: sqlite3.Connection) -> list[ManagedPolicyRecord]:
            rows = c.execute(
                f"SELECT {_POLICY_COLUMNS} FROM managed_policies WHERE arn IN "
                "(SELECT policy_arn FROM policy_attachments WHERE principal_arn = ?) "
                "ORDER BY name",
                (principal_arn,),
            ).fetchall()
            return [_policy(r) for r in rows]

        result: list[ManagedPolicyRecord] = await self._worker.call(job)
        return result

    async def attached_documents(self, principal_arns: list[str]) -> dict[str, str]:
        marks = ", ".join("?" for _ in principal_arns)

        def job(c: sqlite3.Connection) -> dict[str, str]:
            if not principal_arns:
                return {}
            rows = c.execute(
                "SELECT p.arn, v.document FROM policy_attachments a "
                "JOIN managed_policies p ON p.arn = a.policy_arn "
                "JOIN policy_versions v ON v.policy_arn = p.arn "
                "AND v.version_id = p.default_version "
                f"WHERE a.principal_arn IN ({marks}) ORDER BY p.arn",
                principal_arns,
            ).fetchall()
            return {r[0]: r[1] for r in rows}

        result: dict[str, str] = await self._worker.call(job)
        return result


def refuse_if_attached(c: sqlite3.Connection, principal_arn: str) -> None:
    if c.execute(
        "SELECT 1 FROM policy_attachments WHERE principal_arn = ?", (principal_arn,)
    ).fetchone():
        raise InvalidState("Cannot delete entity, must detach all policies first.")


def _role(row: Any) -> RoleRecord:
    return RoleRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]), row[9]
    )


def _get_role(c: sqlite3.Connection, account_id: str, name: str) -> RoleRecord | None:
    row = c.execute(
        f"SELECT {_ROLE_COLUMNS} FROM iam_roles WHERE account_id = ? AND name = ?",
        (account_id, name),
    ).fetchone()
    return None if row is None else _role(row)


def _policy(row: Any) -> ManagedPolicyRecord:
    return ManagedPolicyRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]),
        row[9], row[10],
    )  # fmt: skip


def _get_policy(c: sqlite3.Connection, arn: str) -> ManagedPolicyRecord | None:
    row = c.execute(
        f"SELECT {_POLICY_COLUMNS} FROM managed_policies WHERE arn = ?", (arn,)
    ).fetchone()
    return None if row is None else _policy(row)


def _require_policy(c: sqlite3.Connection, arn: str) -> ManagedPolicyRecord:
    policy = _get_policy(c, arn)
    if policy is None:
        raise NotFound(f"Policy {arn} was not found.")
    return policy


def _require_version(c: sqlite3.Connection, arn: str, version_id: str) -> None:
    if not c.execute(
        "SELECT 1 FROM policy_versions WHERE policy_arn = ? AND version_id = ?",
        (arn, version_id),
    ).fetchone():
        raise NotFound(f"Policy {arn} version {version_id} does not exist or is not attachable.")
