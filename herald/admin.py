"""``herald admin``: operator commands that work on the data folder directly.

They open the same database as a running server (SQLite allows both), so an account or a
key made here works at once on the server. Secrets are printed once, to stdout, and never
logged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import sys
from pathlib import Path

from herald import ids
from herald.clock import SystemClock
from herald.config import BOOTSTRAP_ACCOUNT
from herald.store.base import AccessKeyRecord, KeyStatus
from herald.store.sqlite import SQLiteStore

_ACCOUNT = re.compile(r"[0-9]{12}")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser("admin", help="manage accounts and root access keys")
    admin.add_argument("--data-dir", default=".herald", help="the server's data folder")
    groups = admin.add_subparsers(dest="group", required=True)
    accounts = groups.add_parser("accounts", help="accounts").add_subparsers(
        dest="verb", required=True
    )
    create = accounts.add_parser("create", help="create an account; prints its id")
    create.add_argument("--account-id", help="12 digits (default: random)")
    accounts.add_parser("list", help="list accounts")
    keys = groups.add_parser("access-keys", help="root access keys").add_subparsers(
        dest="verb", required=True
    )
    issue = keys.add_parser("create", help="issue a root access key for an account")
    issue.add_argument("--account-id", required=True)


def run(args: argparse.Namespace) -> int:
    database = Path(args.data_dir) / "herald.db"
    if not database.exists():
        print(
            f"herald: no Herald database in {args.data_dir} (start the server once)",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(_run(args, database))
    except ValueError as exc:
        print(f"herald: {exc}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, database: Path) -> int:
    store = SQLiteStore(database)
    await store.open()
    try:
        now = SystemClock().now()
        if args.group == "accounts" and args.verb == "create":
            account = args.account_id or _random_account()
            if not _ACCOUNT.fullmatch(account):
                raise ValueError(f"an account id is 12 digits, not {account!r}")
            if not await store.create_account(account, now):
                raise ValueError(f"account {account} exists already")
            print(account)
        elif args.group == "accounts":
            for account, _ in await store.list_accounts():
                print(account)
        else:
            account = args.account_id
            if account == BOOTSTRAP_ACCOUNT:
                raise ValueError(
                    f"the root key of account {BOOTSTRAP_ACCOUNT} is the one set by "
                    "HERALD_ROOT_ACCESS_KEY_ID/HERALD_ROOT_SECRET_ACCESS_KEY or the "
                    "credentials file"
                )
            if account not in {a for a, _ in await store.list_accounts()}:
                raise ValueError(f"there is no account {account}")
            key = AccessKeyRecord(
                access_key_id=ids.iam_id("AKIA"),
                secret_access_key=ids.secret_access_key(),
                account_id=account,
                principal_arn=f"arn:aws:iam::{account}:root",
                user_id=account,
                status=KeyStatus.ACTIVE,
                created_at=now,
            )
            await store.put_access_key(key)
            print(
                json.dumps(
                    {
                        "Account": account,
                        "AccessKeyId": key.access_key_id,
                        "SecretAccessKey": key.secret_access_key,
                    },
                    indent=2,
                )
            )
        return 0
    finally:
        await store.close()


def _random_account() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)
