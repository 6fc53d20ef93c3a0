"""``herald audit``: the key service's audit trail, filtered, as a table or JSON lines.

Reads the data folder's database directly (a running server may be writing to it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
from pathlib import Path

from herald.store import factory
from herald.store.base_kms import AuditEvent, AuditQuery


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="list the key service's audit trail")
    audit.add_argument("--data-dir", default=".herald", help="the server's data folder")
    audit.add_argument(
        "--database", help="the server's postgresql:// URL (HERALD_DATABASE_URL), if it has one"
    )
    audit.add_argument("--key", help="a key id or key ARN")
    audit.add_argument("--principal", help="the caller's ARN")
    audit.add_argument("--operation", help="an operation, e.g. GenerateDataKey")
    audit.add_argument("--since", help="ISO 8601 time, inclusive (e.g. 2026-11-28T10:00:00Z)")
    audit.add_argument("--until", help="ISO 8601 time, exclusive")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many (1000)")
    audit.add_argument("--json", action="store_true", help="JSON lines instead of a table")


def run(args: argparse.Namespace) -> int:
    url = args.database or os.environ.get("HERALD_DATABASE_URL") or None
    database = Path(args.data_dir) / "herald.db"
    if url is None and not database.exists():
        print(f"herald: no Herald database in {args.data_dir}", file=sys.stderr)
        return 2
    try:
        query = AuditQuery(
            key=args.key,
            principal=args.principal,
            operation=args.operation,
            since=_time(args.since),
            until=_time(args.until),
            limit=max(1, args.limit),
        )
    except ValueError as exc:
        print(f"herald: {exc}", file=sys.stderr)
        return 2
    try:
        events = asyncio.run(_events(url, Path(args.data_dir), query))
    except ValueError as exc:
        print(f"herald: {exc}", file=sys.stderr)
        return 2
    for event in events:
        print(json.dumps(_cloudtrail(event)) if args.json else _row(event))
    return 0


async def _events(url: str | None, data_dir: Path, query: AuditQuery) -> list[AuditEvent]:
    store = factory.make_store(url, data_dir)
    await store.open()
    try:
        return await store.list_audit(query)
    finally:
        await store.close()


def _time(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cloudtrail(event: AuditEvent) -> dict[str, object]:
    """The event with CloudTrail's field names."""
    record: dict[str, object] = {
        "eventID": event.event_id,
        "eventTime": _iso(event.event_time),
        "eventSource": "kms.amazonaws.com",
        "eventName": event.event_name,
        "awsRegion": event.region,
        "userIdentity": {
            "type": event.principal_type,
            "arn": event.principal_arn,
            "accountId": event.principal_account,
        },
        "sourceIPAddress": event.source_ip,
        "userAgent": event.user_agent,
        "requestParameters": event.request_parameters,
        "responseElements": {"keyId": event.response_key_id} if event.response_key_id else None,
        "requestID": event.request_id,
        "resources": [{"ARN": event.key_arn, "type": "AWS::KMS::Key"}] if event.key_arn else [],
    }
    if event.via_service:
        record["userIdentity"] = {**record["userIdentity"], "invokedBy": event.via_service}  # type: ignore[dict-item]
    if event.error_code:
        record["errorCode"] = event.error_code
        record["errorMessage"] = event.error_message
    return record


def _row(event: AuditEvent) -> str:
    outcome = event.error_code or "OK"
    via = f" via {event.via_service}" if event.via_service else ""
    return (
        f"{_iso(event.event_time)}  {event.event_name:<32} {outcome:<28} "
        f"{event.principal_arn}{via}  {event.key_arn or '-'}"
    )
