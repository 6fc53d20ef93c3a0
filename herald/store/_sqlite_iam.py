"""IAM users, their access keys and inline policies, in SQLite (mixed into SQLiteStore)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from herald.errors import AlreadyExists, InvalidState, LimitExceeded, NotFound
from herald.store._sqlite_roles import refuse_if_attached
from herald.store._sqlite_worker import SQLiteWorker
from herald.store.base import AccessKeyRecord, GroupRecord, KeyStatus, Sealer, UserRecord
from herald.store.base_iam import AttachedEntity, KeyUse

_USER_COLUMNS = "account_id, name, user_id, arn, path, tags, created_at"
_KEY_COLUMNS = "access_key_id, secret, account_id, principal_arn, user_id, status, created_at"


class SQLiteIAM:
    _worker: SQLiteWorker
    _sealer: Sealer

    async def create_user(self, user: UserRecord) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                f"INSERT OR IGNORE INTO iam_users({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user.account_id,
                    user.name,
                    user.user_id,
                    user.arn,
                    user.path,
                    json.dumps(dict(user.tags)),
                    user.created_at,
                ),
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))

    async def get_user(self, account_id: str, name: str) -> UserRecord | None:
        def job(c: sqlite3.Connection) -> UserRecord | None:
            return _get_user(c, account_id, name)

        result: UserRecord | None = await self._worker.call(job)
        return result

    async def list_users(self, account_id: str) -> list[UserRecord]:
        def job(c: sqlite3.Connection) -> list[UserRecord]:
            rows = c.execute(
                f"SELECT {_USER_COLUMNS} FROM iam_users WHERE account_id = ? ORDER BY name",
                (account_id,),
            ).fetchall()
            return [_user(r) for r in rows]

        result: list[UserRecord] = await self._worker.call(job)
        return result

    async def edit_iam_tags(
        self, arn: str, add: Mapping[str, str], remove: Sequence[str], max_tags: int
    ) -> None:
        table = "iam_roles" if ":role/" in arn else "iam_users"

        def job(c: sqlite3.Connection) -> None:
            row = c.execute(f"SELECT tags FROM {table} WHERE arn = ?", (arn,)).fetchone()
            if row is None:
                raise NotFound(f"The {table[4:-1]} with ARN {arn} cannot be found.")
            tags = {k: v for k, v in json.loads(row[0]).items() if k not in set(remove)}
            tags.update(add)
            if len(tags) > max_tags:
                raise LimitExceeded(
                    f"The number of tags has reached the maximum limit of {max_tags}."
                )
            c.execute(f"UPDATE {table} SET tags = ? WHERE arn = ?", (json.dumps(tags), arn))

        await self._worker.call(job)

    async def delete_user(self, account_id: str, name: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            user = _get_user(c, account_id, name)
            if user is None:
                raise NotFound(f"The user with name {name} cannot be found.")
            if c.execute(
                "SELECT 1 FROM access_keys WHERE principal_arn = ?", (user.arn,)
            ).fetchone():
                raise InvalidState("Cannot delete entity, must delete access keys first.")
            if c.execute(
                "SELECT 1 FROM inline_policies WHERE principal_arn = ?", (user.arn,)
            ).fetchone():
                raise InvalidState("Cannot delete entity, must delete policies first.")
            if c.execute(
                "SELECT 1 FROM iam_group_members WHERE account_id = ? AND user_name = ?",
                (account_id, name),
            ).fetchone():
                raise InvalidState("Cannot delete entity, must remove user from all groups first.")
            refuse_if_attached(c, user.arn)
            c.execute("DELETE FROM iam_users WHERE account_id = ? AND name = ?", (account_id, name))

        await self._worker.call(job)

    async def list_access_keys(self, principal_arn: str) -> list[AccessKeyRecord]:
        def job(c: sqlite3.Connection) -> list[AccessKeyRecord]:
            rows = c.execute(
                f"SELECT {_KEY_COLUMNS} FROM access_keys WHERE principal_arn = ? "
                "ORDER BY access_key_id",
                (principal_arn,),
            ).fetchall()
            return [
                AccessKeyRecord(
                    r[0],
                    self._sealer.open(f"access-key:{r[0]}", r[1]),
                    r[2],
                    r[3],
                    r[4],
                    KeyStatus(r[5]),
                    r[6],
                )
                for r in rows
            ]

        result: list[AccessKeyRecord] = await self._worker.call(job)
        return result

    async def add_access_key(self, key: AccessKeyRecord, max_per_principal: int) -> None:
        def job(c: sqlite3.Connection) -> None:
            count = c.execute(
                "SELECT COUNT(*) FROM access_keys WHERE principal_arn = ?", (key.principal_arn,)
            ).fetchone()[0]
            if count >= max_per_principal:
                raise LimitExceeded(
                    f"Cannot exceed quota for AccessKeysPerUser: {max_per_principal}"
                )
            c.execute(
                f"INSERT INTO access_keys({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.access_key_id,
                    self._sealer.seal(f"access-key:{key.access_key_id}", key.secret_access_key),
                    key.account_id,
                    key.principal_arn,
                    key.user_id,
                    key.status.value,
                    key.created_at,
                ),
            )

        await self._worker.call(job)

    async def set_access_key_status(
        self, principal_arn: str, access_key_id: str, status: KeyStatus
    ) -> None:
        def job(c: sqlite3.Connection) -> None:
            cursor = c.execute(
                "UPDATE access_keys SET status = ? WHERE principal_arn = ? AND access_key_id = ?",
                (status.value, principal_arn, access_key_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"The Access Key with id {access_key_id} cannot be found.")

        await self._worker.call(job)

    async def delete_access_key(self, principal_arn: str, access_key_id: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            cursor = c.execute(
                "DELETE FROM access_keys WHERE principal_arn = ? AND access_key_id = ?",
                (principal_arn, access_key_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"The Access Key with id {access_key_id} cannot be found.")

        await self._worker.call(job)

    async def put_inline_policy(
        self, principal_arn: str, name: str, document: str, max_total_chars: int
    ) -> None:
        def job(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO inline_policies(principal_arn, name, document) VALUES (?, ?, ?) "
                "ON CONFLICT(principal_arn, name) DO UPDATE SET document = excluded.document",
                (principal_arn, name, document),
            )
            # IAM quotas: white space does not count towards the inline policy size.
            documents = c.execute(
                "SELECT document FROM inline_policies WHERE principal_arn = ?", (principal_arn,)
            ).fetchall()
            total = sum(len("".join(d[0].split())) for d in documents)
            if total > max_total_chars:
                kind, _, rest = principal_arn.split(":", 5)[-1].partition("/")
                raise LimitExceeded(
                    f"Maximum policy size of {max_total_chars} bytes exceeded for {kind} "
                    f"{rest.rsplit('/', 1)[-1]}"
                )

        await self._worker.call(job)

    async def get_inline_policies(self, principal_arn: str) -> dict[str, str]:
        def job(c: sqlite3.Connection) -> dict[str, str]:
            rows = c.execute(
                "SELECT name, document FROM inline_policies WHERE principal_arn = ? ORDER BY name",
                (principal_arn,),
            ).fetchall()
            return {r[0]: r[1] for r in rows}

        result: dict[str, str] = await self._worker.call(job)
        return result

    async def delete_inline_policy(self, principal_arn: str, name: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            cursor = c.execute(
                "DELETE FROM inline_policies WHERE principal_arn = ? AND name = ?",
                (principal_arn, name),
            )
            if cursor.rowcount == 0:
                kind = principal_arn.split(":", 5)[-1].split("/", 1)[0]
                raise NotFound(f"The {kind} policy with name {name} cannot be found.")

        await self._worker.call(job)

    async def rename_user(
        self, account_id: str, name: str, new_name: str, new_path: str, new_arn: str
    ) -> list[str]:
        def job(c: sqlite3.Connection) -> list[str]:
            user = _get_user(c, account_id, name)
            if user is None:
                raise NotFound(f"The user with name {name} cannot be found.")
            if _taken(c, "iam_users", "user_id", account_id, new_name, user.user_id):
                raise AlreadyExists(f"User with name {new_name} already exists.")
            c.execute(
                "UPDATE iam_users SET name = ?, path = ?, arn = ? WHERE account_id = ? "
                "AND name = ?",
                (new_name, new_path, new_arn, account_id, name),
            )
            c.execute(
                "UPDATE iam_group_members SET user_name = ? WHERE account_id = ? AND user_name = ?",
                (new_name, account_id, name),
            )
            _move(c, user.arn, new_arn, _USER_HELD)
            _follow(c, user.arn, new_arn)
            rows = c.execute(
                "SELECT access_key_id FROM access_keys WHERE principal_arn = ? "
                "UNION ALL SELECT access_key_id FROM sts_sessions WHERE principal_arn = ?",
                (new_arn, new_arn),
            ).fetchall()
            return [r[0] for r in rows]

        result: list[str] = await self._worker.call(job)
        return result

    async def record_key_use(self, access_key_id: str, use: KeyUse) -> None:
        def job(c: sqlite3.Connection) -> None:
            # Nodes record on their own schedules: an older use never replaces a newer.
            c.execute(
                "UPDATE access_keys SET last_used_at = ?, last_used_service = ?, "
                "last_used_region = ? WHERE access_key_id = ? "
                "AND (last_used_at IS NULL OR last_used_at < ?)",
                (use.used_at, use.service, use.region, access_key_id, use.used_at),
            )

        await self._worker.call(job)

    async def get_key_use(self, access_key_id: str) -> KeyUse | None:
        def job(c: sqlite3.Connection) -> KeyUse | None:
            row = c.execute(
                "SELECT last_used_at, last_used_service, last_used_region FROM access_keys "
                "WHERE access_key_id = ?",
                (access_key_id,),
            ).fetchone()
            return None if row is None or row[0] is None else KeyUse(row[0], row[1], row[2])

        result: KeyUse | None = await self._worker.call(job)
        return result

    async def list_policy_entities(self, policy_arn: str) -> list[AttachedEntity]:
        def job(c: sqlite3.Connection) -> list[AttachedEntity]:
            rows = c.execute(_ENTITIES, (policy_arn,) * len(_ENTITY_TABLES)).fetchall()
            return [AttachedEntity(*r) for r in rows]

        result: list[AttachedEntity] = await self._worker.call(job)
        return result


# The rows that refer to a user or a group by its ARN, which follow it when it is renamed
# (of the sessions, only GetSessionToken's carry a user's ARN; AssumeRole's carry their
# assumed-role ARN).
_USER_HELD = ("inline_policies", "policy_attachments", "access_keys", "sts_sessions")
_GROUP_HELD = ("inline_policies", "policy_attachments")

# What a managed policy can be attached to: (kind, table, id column).
_ENTITY_TABLES = (
    ("User", "iam_users", "user_id"),
    ("Group", "iam_groups", "group_id"),
    ("Role", "iam_roles", "role_id"),
)
_ENTITIES = " UNION ALL ".join(
    f"SELECT '{kind}', e.name, e.{column}, e.path FROM policy_attachments a "
    f"JOIN {table} e ON e.arn = a.principal_arn WHERE a.policy_arn = ?"
    for kind, table, column in _ENTITY_TABLES
)


def _taken(
    c: sqlite3.Connection, table: str, id_column: str, account_id: str, name: str, own_id: str
) -> bool:
    """Whether another user or group of the account has ``name``: IAM names are unique
    regardless of case, and an entity may take its own name in another case."""
    return (
        c.execute(
            f"SELECT 1 FROM {table} WHERE account_id = ? AND LOWER(name) = LOWER(?) "
            f"AND {id_column} != ?",
            (account_id, name, own_id),
        ).fetchone()
        is not None
    )


# Resource policies as documents (table, key column, policy column), and those kept as the
# "Policy" attribute; the saved principals (JSON, compact) that act for a user later.
_POLICIES = (("kms_keys", "key_id", "policy"), ("iam_roles", "arn", "trust_policy"))
_POLICY_ATTRIBUTES = ("topics", "sqs_queues")
_SAVED_PRINCIPALS = (
    ("sealing_keys", "publisher_identity"),
    ("messages", "publisher_identity"),
    ("sqs_move_tasks", "starter"),
)


def _follow(c: sqlite3.Connection, old_arn: str, new_arn: str) -> None:
    """What names a renamed user as a principal follows it (IAM, "Renaming an IAM user":
    "any policies that refer to the user as the principal ... are automatically updated"):
    the Principal and NotPrincipal of resource policies (topics, queues, keys, trust
    policies), the grants whose grantee or retiring principal it is, and the saved
    principals that act for it later (a sealed message's publisher at delivery, a move
    task's starter). Policies that name it as a resource are left as they are."""
    like = f"%{old_arn}%"
    for table, key, column in _POLICIES:
        rows = c.execute(
            f"SELECT {key}, {column} FROM {table} WHERE {column} LIKE ?", (like,)
        ).fetchall()
        for row_key, text in rows:
            moved = with_principal(text, old_arn, new_arn)
            if moved is not None:
                c.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (moved, row_key))
    for table in _POLICY_ATTRIBUTES:
        rows = c.execute(
            f"SELECT arn, attributes FROM {table} WHERE attributes LIKE ?", (like,)
        ).fetchall()
        for arn, text in rows:
            attributes = json.loads(text)
            moved = with_principal(attributes.get("Policy") or "", old_arn, new_arn)
            if moved is not None:
                attributes["Policy"] = moved
                c.execute(
                    f"UPDATE {table} SET attributes = ? WHERE arn = ?",
                    (json.dumps(attributes), arn),
                )
    for column in ("grantee_principal", "retiring_principal"):
        c.execute(f"UPDATE kms_grants SET {column} = ? WHERE {column} = ?", (new_arn, old_arn))
    # As saved (compact JSON, the user id after the ARN): the ARN whole, quotes and comma.
    old, new = f'"arn":{json.dumps(old_arn)},', f'"arn":{json.dumps(new_arn)},'
    for table, column in _SAVED_PRINCIPALS:
        c.execute(
            f"UPDATE {table} SET {column} = REPLACE({column}, ?, ?) WHERE {column} LIKE ?",
            (old, new, f"%{old}%"),
        )


def with_principal(text: str, old_arn: str, new_arn: str) -> str | None:
    """Policy ``text`` with ``old_arn`` replaced by ``new_arn`` where a statement names it
    as an AWS principal (Principal or NotPrincipal); None if it names it nowhere so."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    changed = False
    for statement in statements if isinstance(statements, list) else []:
        for field in ("Principal", "NotPrincipal"):
            principal = statement.get(field) if isinstance(statement, dict) else None
            if not isinstance(principal, dict):
                continue
            named = principal.get("AWS")
            if named == old_arn:
                principal["AWS"] = new_arn
                changed = True
            elif isinstance(named, list) and old_arn in named:
                principal["AWS"] = [new_arn if n == old_arn else n for n in named]
                changed = True
    return json.dumps(document) if changed else None


def _move(c: sqlite3.Connection, old_arn: str, new_arn: str, tables: tuple[str, ...]) -> None:
    for table in tables:
        c.execute(
            f"UPDATE {table} SET principal_arn = ? WHERE principal_arn = ?", (new_arn, old_arn)
        )


def _user(row: Any) -> UserRecord:
    return UserRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])


def _get_user(c: sqlite3.Connection, account_id: str, name: str) -> UserRecord | None:
    row = c.execute(
        f"SELECT {_USER_COLUMNS} FROM iam_users WHERE account_id = ? AND name = ?",
        (account_id, name),
    ).fetchone()
    return None if row is None else _user(row)


class SQLiteGroups:
    _worker: SQLiteWorker

    async def create_group(self, group: GroupRecord) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                f"INSERT OR IGNORE INTO iam_groups({_GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    group.account_id,
                    group.name,
                    group.group_id,
                    group.arn,
                    group.path,
                    group.created_at,
                ),
            )
            return cursor.rowcount == 1

        return bool(await self._worker.call(job))

    async def get_group(self, account_id: str, name: str) -> GroupRecord | None:
        def job(c: sqlite3.Connection) -> GroupRecord | None:
            return _get_group(c, account_id, name)

        result: GroupRecord | None = await self._worker.call(job)
        return result

    async def list_groups(self, account_id: str) -> list[GroupRecord]:
        def job(c: sqlite3.Connection) -> list[GroupRecord]:
            rows = c.execute(
                f"SELECT {_GROUP_COLUMNS} FROM iam_groups WHERE account_id = ? ORDER BY name",
                (account_id,),
            ).fetchall()
            return [GroupRecord(*r) for r in rows]

        result: list[GroupRecord] = await self._worker.call(job)
        return result

    async def delete_group(self, account_id: str, name: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            group = _get_group(c, account_id, name)
            if group is None:
                raise NotFound(f"The group with name {name} cannot be found.")
            if c.execute(
                "SELECT 1 FROM iam_group_members WHERE account_id = ? AND group_name = ?",
                (account_id, name),
            ).fetchone():
                raise InvalidState("Cannot delete entity, must remove users from group first.")
            if c.execute(
                "SELECT 1 FROM inline_policies WHERE principal_arn = ?", (group.arn,)
            ).fetchone():
                raise InvalidState("Cannot delete entity, must delete policies first.")
            refuse_if_attached(c, group.arn)
            c.execute(
                "DELETE FROM iam_groups WHERE account_id = ? AND name = ?", (account_id, name)
            )

        await self._worker.call(job)

    async def add_group_member(self, account_id: str, group: str, user: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            if _get_group(c, account_id, group) is None:
                raise NotFound(f"The group with name {group} cannot be found.")
            if _get_user(c, account_id, user) is None:
                raise NotFound(f"The user with name {user} cannot be found.")
            c.execute(
                "INSERT OR IGNORE INTO iam_group_members(account_id, group_name, user_name) "
                "VALUES (?, ?, ?)",
                (account_id, group, user),
            )

        await self._worker.call(job)

    async def remove_group_member(self, account_id: str, group: str, user: str) -> None:
        def job(c: sqlite3.Connection) -> None:
            if _get_group(c, account_id, group) is None:
                raise NotFound(f"The group with name {group} cannot be found.")
            cursor = c.execute(
                "DELETE FROM iam_group_members WHERE account_id = ? AND group_name = ? "
                "AND user_name = ?",
                (account_id, group, user),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"The user with name {user} cannot be found.")

        await self._worker.call(job)

    async def list_group_members(self, account_id: str, group: str) -> list[UserRecord]:
        columns = ", ".join("u." + n for n in _USER_COLUMNS.split(", "))

        def job(c: sqlite3.Connection) -> list[UserRecord]:
            rows = c.execute(
                f"SELECT {columns} FROM iam_group_members m JOIN iam_users u "
                "ON u.account_id = m.account_id AND u.name = m.user_name "
                "WHERE m.account_id = ? AND m.group_name = ? ORDER BY u.name",
                (account_id, group),
            ).fetchall()
            return [_user(r) for r in rows]

        result: list[UserRecord] = await self._worker.call(job)
        return result

    async def list_groups_for_user(self, account_id: str, user: str) -> list[GroupRecord]:
        columns = ", ".join("g." + n for n in _GROUP_COLUMNS.split(", "))

        def job(c: sqlite3.Connection) -> list[GroupRecord]:
            rows = c.execute(
                f"SELECT {columns} FROM iam_group_members m JOIN iam_groups g "
                "ON g.account_id = m.account_id AND g.name = m.group_name "
                "WHERE m.account_id = ? AND m.user_name = ? ORDER BY g.name",
                (account_id, user),
            ).fetchall()
            return [GroupRecord(*r) for r in rows]

        result: list[GroupRecord] = await self._worker.call(job)
        return result

    async def rename_group(
        self, account_id: str, name: str, new_name: str, new_path: str, new_arn: str
    ) -> None:
        def job(c: sqlite3.Connection) -> None:
            group = _get_group(c, account_id, name)
            if group is None:
                raise NotFound(f"The group with name {name} cannot be found.")
            if _taken(c, "iam_groups", "group_id", account_id, new_name, group.group_id):
                raise AlreadyExists(f"Group with name {new_name} already exists.")
            c.execute(
                "UPDATE iam_groups SET name = ?, path = ?, arn = ? WHERE account_id = ? "
                "AND name = ?",
                (new_name, new_path, new_arn, account_id, name),
            )
            c.execute(
                "UPDATE iam_group_members SET group_name = ? WHERE account_id = ? "
                "AND group_name = ?",
                (new_name, account_id, name),
            )
            _move(c, group.arn, new_arn, _GROUP_HELD)

        await self._worker.call(job)


_GROUP_COLUMNS = "account_id, name, group_id, arn, path, created_at"


def _get_group(c: sqlite3.Connection, account_id: str, name: str) -> GroupRecord | None:
    row = c.execute(
        f"SELECT {_GROUP_COLUMNS} FROM iam_groups WHERE account_id = ? AND name = ?",
        (account_id, name),
    ).fetchone()
    return None if row is None else GroupRecord(*row)
