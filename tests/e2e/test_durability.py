"""Nothing acknowledged is lost: publishes answered 200 are on disk when the server stops,
whether it is stopped gracefully (SIGTERM, in-flight requests finish) or killed (SIGKILL)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from herald.store.sqlite import SQLiteStore
from tests.e2e.harness import HeraldProcess

PUBLISHERS = 8
DEADLINE = 60.0


def _publish_until_stopped(
    herald: HeraldProcess, topic: str, acked: list[str], stop: threading.Event
) -> None:
    sns: Any = herald.client("sns")
    while not stop.is_set():
        try:
            acked.append(sns.publish(TopicArn=topic, Message="durable")["MessageId"])
        except (BotoCoreError, ClientError, OSError, ResponseParserError):
            # The server went away, perhaps between a response's head and its body (an
            # empty body botocore cannot parse); what it acknowledged is what counts.
            return


def _stored(data_dir: Path, ids: list[str]) -> set[str]:
    async def read() -> set[str]:
        store = SQLiteStore(data_dir / "herald.db")
        await store.open()
        try:
            found = await asyncio.gather(*(store.get_message(i) for i in ids))
            return {m.message_id for m in found if m is not None}
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_every_acknowledged_publish_survives_a_stop_under_load(tmp_path: Path, sig: int) -> None:
    # Given a server taking publishes from several concurrent publishers
    herald = HeraldProcess(tmp_path / "data").start()
    topic = herald.client("sns").create_topic(Name="durable")["TopicArn"]  # type: ignore[attr-defined]
    acked: list[list[str]] = [[] for _ in range(PUBLISHERS)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_publish_until_stopped, args=(herald, topic, acked[i], stop))
        for i in range(PUBLISHERS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE
    while sum(map(len, acked)) < 500 and time.monotonic() < deadline:
        time.sleep(0.01)
    # When the server is stopped in the middle of that load
    code = herald.stop(sig)
    stop.set()
    for thread in threads:
        thread.join(DEADLINE)
    # Then it exits as the signal says, and every acknowledged message is in the store
    assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    ids = [message_id for batch in acked for message_id in batch]
    assert len(ids) >= 500
    assert _stored(tmp_path / "data", ids) == set(ids)
