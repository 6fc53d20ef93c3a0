"""First start: the bootstrap account and its root access key.

The root key comes from HERALD_ROOT_ACCESS_KEY_ID / HERALD_ROOT_SECRET_ACCESS_KEY when set,
else from ``<data dir>/credentials`` (AWS shared-credentials format, profile ``herald``),
else it is made now with a random secret and written there with mode 0600.
"""

from __future__ import annotations

import configparser
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from herald import ids
from herald.clock import Clock
from herald.config import BOOTSTRAP_ACCOUNT, Settings
from herald.store.base import AccessKeyRecord, KeyStatus, Store

log = logging.getLogger("herald.bootstrap")
PROFILE = "herald"
ROOT_ARN = f"arn:aws:iam::{BOOTSTRAP_ACCOUNT}:root"


@dataclass(frozen=True)
class RootCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    source: str  # "environment", "file" or "created"


def root_credentials(settings: Settings) -> RootCredentials:
    if settings.root_access_key_id and settings.root_secret_access_key:
        return RootCredentials(
            settings.root_access_key_id, settings.root_secret_access_key, "environment"
        )
    path = settings.credentials_path
    if path.exists():
        parser = configparser.ConfigParser()
        parser.read(path)
        section = parser[PROFILE] if parser.has_section(PROFILE) else None
        if section and section.get("aws_access_key_id") and section.get("aws_secret_access_key"):
            return RootCredentials(
                section["aws_access_key_id"], section["aws_secret_access_key"], "file"
            )
    creds = RootCredentials(ids.iam_id("AKIA"), ids.secret_access_key(), "created")
    write_credentials_file(path, creds)
    return creds


def write_credentials_file(path: Path, creds: RootCredentials) -> None:
    text = (
        f"[{PROFILE}]\n"
        f"aws_access_key_id = {creds.access_key_id}\n"
        f"aws_secret_access_key = {creds.secret_access_key}\n"
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


async def bootstrap(store: Store, settings: Settings, clock: Clock) -> RootCredentials:
    """Make sure the bootstrap account and its root key exist in the store."""
    creds = root_credentials(settings)
    now = clock.now()
    await store.ensure_account(BOOTSTRAP_ACCOUNT, now)
    existing = await store.get_access_key(creds.access_key_id)
    if existing is None or existing.secret_access_key != creds.secret_access_key:
        await store.put_access_key(
            AccessKeyRecord(
                access_key_id=creds.access_key_id,
                secret_access_key=creds.secret_access_key,
                account_id=BOOTSTRAP_ACCOUNT,
                principal_arn=ROOT_ARN,
                user_id=BOOTSTRAP_ACCOUNT,
                status=KeyStatus.ACTIVE,
                created_at=now,
            )
        )
    # The bootstrap root has one key: the one configured now. A key it had before (rotated
    # out of the environment or the credentials file) stops working.
    revoked = await store.deactivate_access_keys(ROOT_ARN, keep=creds.access_key_id)
    for key_id in revoked:
        log.warning("root access key %s is no longer configured; it is now Inactive", key_id)
    return creds
