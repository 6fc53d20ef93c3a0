"""Soak: a million messages through one Herald, with the database size and the server's
memory sampled as it goes (run by hand; about 10 minutes).

    .venv/bin/python benchmarks/soak.py [--messages 1000000] [--minutes 10]

Publishes batches of 10 x 1 KiB messages to a topic with one raw HTTP subscription (a
local receiver), as fast as delivery keeps up with, then keeps sampling until the end:
delivered messages are removed 5 minutes after publication, so the database should stop
growing at about 5 minutes' worth of messages and shrink back (its pages are reused, the
file is not truncated). Prints, every 15 s: messages published and delivered, the size of
herald.db and its WAL, and the server's resident memory.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import urllib.parse

from load import Job, _process, _publish_bodies, _Receiver, start_herald


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _db_mib(folder: str) -> float:
    total = 0
    for name in ("herald.db", "herald.db-wal"):
        try:
            total += os.path.getsize(os.path.join(folder, name))
        except OSError:
            pass
    return total / 2**20


def _messages_rows(folder: str) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{folder}/herald.db?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    server, process = start_herald()
    folder = str(os.path.dirname(server.ca or ""))
    receiver = _Receiver()
    sns = server.client("sns")
    topic = sns.create_topic(Name="soak")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"http://127.0.0.1:{receiver.port}/",
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    while not receiver.tokens:
        time.sleep(0.05)
    sns.confirm_subscription(TopicArn=topic, Token=receiver.tokens[0][1])
    url = urllib.parse.urlsplit(server.http)
    assert url.hostname and url.port
    published = [0]
    stop = threading.Event()

    def publish() -> None:
        bodies = _publish_bodies(topic, batch=True)
        while published[0] < args.messages and not stop.is_set():
            # Keep the backlog of undelivered messages under 20,000.
            if published[0] - receiver.count > 20_000:
                time.sleep(0.2)
                continue
            job = Job(url.hostname or "", url.port or 0, False, None, server.access_key,
                      server.secret, "sns", None, bodies, 10, 8, 2.0)  # fmt: skip
            latencies, _ = _process(job)
            published[0] += 10 * len(latencies)

    thread = threading.Thread(target=publish, daemon=True)
    start = time.monotonic()
    thread.start()
    try:
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(15)
            assert server.pid is not None
            print(
                f"{time.monotonic() - start:6.0f} s: published {published[0]:>9,} "
                f"delivered {receiver.count:>9,}; messages stored {_messages_rows(folder):>8,}; "
                f"database {_db_mib(folder):7.1f} MiB; server RSS {_rss_mib(server.pid):6.1f} MiB",
                flush=True,
            )
    finally:
        stop.set()
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
