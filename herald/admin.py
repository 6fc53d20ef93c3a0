"""``herald admin``: operator commands that work on the data folder directly.

They open the same database as a running server (SQLite allows both), so an account or a
key made here works at once on the server. Secrets are printed once, to stdout, and never
logged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from herald import config, ids
from herald.clock import SystemClock
from herald.config import BOOTSTRAP_ACCOUNT
from herald.edge.authn import CACHE_TTL_SECONDS
from herald.kms import rootkey
from herald.kms.gate import TOPIC_CONTEXT_KEY
from herald.store import factory
from herald.store.base import AccessKeyRecord, KeyStatus, Store
from herald.store.base_iam import EventSourceRecord
from herald.store.base_kms import AuditQuery

_ACCOUNT = re.compile(r"[0-9]{12}")
_ARN = re.compile(r"arn:[\w-]+:[\w-]+:[\w-]*:\d{0,12}:.+")


# The event sources AWS's SNS encryption guide names ("Enable compatibility between event
# sources from AWS services and encrypted topics"), and CloudWatch for alarms.
EVENT_SOURCE_SERVICES = (
    "cloudwatch.amazonaws.com",
    "codecommit.amazonaws.com",
    "dms.amazonaws.com",
    "ds.amazonaws.com",
    "dynamodb.amazonaws.com",
    "events.amazonaws.com",
    "glacier.amazonaws.com",
    "importexport.amazonaws.com",
    "redshift.amazonaws.com",
    "s3.amazonaws.com",
    "ses.amazonaws.com",
)

Command = Callable[[argparse.Namespace, Store, float], Awaitable[None]]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser("admin", help="manage accounts, root keys and event sources")
    admin.add_argument("--data-dir", default=".herald", help="the server's data folder")
    admin.add_argument(
        "--database", help="the server's postgresql:// URL (HERALD_DATABASE_URL), if it has one"
    )
    groups = admin.add_subparsers(dest="group", required=True)
    accounts = groups.add_parser("accounts", aliases=["account"], help="accounts").add_subparsers(
        dest="verb", required=True
    )
    create = accounts.add_parser("create", help="create an account; prints its id")
    create.add_argument("--account-id", help="12 digits (default: random)")
    accounts.add_parser("list", help="list accounts")
    kms = accounts.add_parser("kms", help="switch the key service on or off for an account")
    kms.add_argument("--account-id", required=True)
    switch = kms.add_mutually_exclusive_group(required=True)
    switch.add_argument("--enable", dest="kms_enabled", action="store_true")
    switch.add_argument("--disable", dest="kms_enabled", action="store_false")
    keys = groups.add_parser("access-keys", help="root access keys").add_subparsers(
        dest="verb", required=True
    )
    issue = keys.add_parser("create", help="issue a root access key for an account")
    issue.add_argument("--account-id", required=True)
    usage = groups.add_parser(
        "kms-requests",
        help="KMS requests made, by operation, key, topic and caller (from the audit trail)",
    )
    usage.add_argument("--topic", help="only requests for this topic ARN")
    usage.set_defaults(verb="list")
    sources = groups.add_parser(
        "event-source",
        help="credentials for an AWS service principal acting for a source account",
    ).add_subparsers(dest="verb", required=True)
    register = sources.add_parser(
        "create", help="register an event source; prints its access key once"
    )
    register.add_argument("--service", required=True, choices=EVENT_SOURCE_SERVICES)
    register.add_argument("--source-account", required=True, help="the account it acts for")
    register.add_argument("--source-arn", help="the resource it acts for (aws:SourceArn)")
    sources.add_parser("list", help="list event sources (no secrets)")
    remove = sources.add_parser("delete", help="delete an event source's credentials")
    remove.add_argument("access_key_id")


def run(args: argparse.Namespace) -> int:
    url = args.database or os.environ.get("HERALD_DATABASE_URL") or None
    database = Path(args.data_dir) / "herald.db"
    if url is None and not database.exists():
        print(
            f"herald: no Herald database in {args.data_dir} (start the server once)",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(_run(args, url))
    except ValueError as exc:
        print(f"herald: {exc}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, url: str | None) -> int:
    # Secrets are sealed with the server's root key, so admin needs the same one.
    settings = config.from_sources({"data_dir": args.data_dir, "database": url}, os.environ)
    root = rootkey.load(settings.root_key, settings.root_key_path, create=False)
    store = factory.make_store(url, settings.data_dir, rootkey.SecretSealer(root))
    await store.open()
    try:
        stored = await store.get_meta(rootkey.CHECK_NAME)
        if stored is not None:
            try:
                rootkey.verify(root, stored)
            except rootkey.WrongRootKey:
                raise ValueError(
                    "the root key is not the one this data folder was sealed with"
                ) from None
        group = "accounts" if args.group == "account" else args.group
        await COMMANDS[(group, args.verb)](args, store, SystemClock().now())
        return 0
    finally:
        await store.close()


async def _create_account(args: argparse.Namespace, store: Store, now: float) -> None:
    account = args.account_id or _random_account()
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(f"an account id is 12 digits, not {account!r}")
    if not await store.create_account(account, now):
        raise ValueError(f"account {account} exists already")
    print(account)


async def _list_accounts(args: argparse.Namespace, store: Store, now: float) -> None:
    for account, _ in await store.list_accounts():
        print(account)


async def _switch_kms(args: argparse.Namespace, store: Store, now: float) -> None:
    if not await store.set_kms_enabled(args.account_id, args.kms_enabled):
        raise ValueError(f"there is no account {args.account_id}")
    state = "on" if args.kms_enabled else "off"
    print(f"key service {state} for {args.account_id}; a running server follows within 30 s")


async def _create_root_key(args: argparse.Namespace, store: Store, now: float) -> None:
    account = args.account_id
    if account == BOOTSTRAP_ACCOUNT:
        raise ValueError(
            f"the root key of account {BOOTSTRAP_ACCOUNT} is the one set by "
            "HERALD_ROOT_ACCESS_KEY_ID/HERALD_ROOT_SECRET_ACCESS_KEY or the "
            "credentials file"
        )
    await _require_account(store, account)
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
    _print_key({"Account": account}, key.access_key_id, key.secret_access_key)


async def _create_event_source(args: argparse.Namespace, store: Store, now: float) -> None:
    await _require_account(store, args.source_account)
    if args.source_arn is not None and not _ARN.fullmatch(args.source_arn):
        raise ValueError(f"--source-arn must be an ARN, not {args.source_arn!r}")
    source = EventSourceRecord(
        access_key_id=ids.iam_id("AKIA"),
        secret_access_key=ids.secret_access_key(),
        service=args.service,
        source_account=args.source_account,
        source_arn=args.source_arn,
        active=True,
        created_at=now,
    )
    await store.put_event_source(source)
    described = {"Service": source.service, "SourceAccount": source.source_account}
    if source.source_arn:
        described["SourceArn"] = source.source_arn
    _print_key(described, source.access_key_id, source.secret_access_key)


async def _list_event_sources(args: argparse.Namespace, store: Store, now: float) -> None:
    for source in await store.list_event_sources():
        print(
            f"{source.access_key_id}\t{source.service}\t{source.source_account}\t"
            f"{source.source_arn or '-'}"
        )


async def _delete_event_source(args: argparse.Namespace, store: Store, now: float) -> None:
    if not await store.delete_event_source(args.access_key_id):
        raise ValueError(f"there is no event source with the key {args.access_key_id}")
    print(f"deleted; a running server refuses the key within {CACHE_TTL_SECONDS:.0f} s")


async def _kms_requests(args: argparse.Namespace, store: Store, now: float) -> None:
    counts: dict[tuple[str, str, str, str], int] = {}
    for event in await store.list_audit(AuditQuery(limit=10**9)):
        context = event.request_parameters.get("EncryptionContext")
        topic = context.get(TOPIC_CONTEXT_KEY) if isinstance(context, dict) else None
        if args.topic is not None and topic != args.topic:
            continue
        slot = (event.event_name, event.key_arn or "-", str(topic or "-"), event.principal_arn)
        counts[slot] = counts.get(slot, 0) + 1
    print("requests\toperation\tkey\ttopic\tcaller")
    for (operation, key, topic, caller), count in sorted(counts.items()):
        print(f"{count}\t{operation}\t{key}\t{topic}\t{caller}")


async def _require_account(store: Store, account: str) -> None:
    if account not in {a for a, _ in await store.list_accounts()}:
        raise ValueError(f"there is no account {account}")


def _print_key(described: dict[str, str], key_id: str, secret: str) -> None:
    print(
        json.dumps(
            {**described, "AccessKeyId": key_id, "SecretAccessKey": secret},
            indent=2,
        )
    )


def _random_account() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


COMMANDS: dict[tuple[str, str], Command] = {
    ("accounts", "create"): _create_account,
    ("accounts", "list"): _list_accounts,
    ("accounts", "kms"): _switch_kms,
    ("access-keys", "create"): _create_root_key,
    ("kms-requests", "list"): _kms_requests,
    ("event-source", "create"): _create_event_source,
    ("event-source", "list"): _list_event_sources,
    ("event-source", "delete"): _delete_event_source,
}
